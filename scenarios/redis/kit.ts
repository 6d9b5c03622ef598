// What a Redis lab imports: the engine's lab kit, the stack (clients, replication and
// Sentinel views, the recorded workload) and what the Redis labs share (commands to try,
// waits, evidence readers).
import type { Check } from '../../src/checkers/check.ts';
import { idsOf } from '../../src/checkers/delivery.ts';
import { completions, type Evidence } from '../../src/engine/history.ts';
import type { LabContext } from '../../src/engine/lab.ts';
import type { StartedRedis } from '../../stacks/redis/stack.ts';

export * from '../../src/checkers/failover.ts';
export * from '../../src/kit.ts';
export { classify, RedisClient, RedisError, withDirect } from '../../stacks/redis/client.ts';
export { sentinelProblems } from '../../stacks/redis/health.ts';
export * from '../../stacks/redis/replication.ts';
export * from '../../stacks/redis/sentinel.ts';
export { redis, StartedRedis } from '../../stacks/redis/stack.ts';
export * from '../../stacks/redis/workload.ts';

/** redis-cli inside a node: what a trainee can type during a step. */
export function redisCli(r: StartedRedis, node: string, command: string): string {
  const port = r.isSentinel(node) ? 26379 : 6379;
  return `docker exec -it ${r.cluster.node(node).containerName} redis-cli -p ${port} ${command}`;
}

/** The same from the host, through the published port (Debian's redis-tools). */
export function hostCli(r: StartedRedis, node: string, command: string): string {
  const [host, port] = r.endpoint(node).split(':');
  return `redis-cli -h ${host} -p ${port} ${command}`;
}

/**
 * After `old` was killed: waits (without deciding) until every Sentinel names the same
 * other primary; returns it with the ms since `since`, or the answers last seen.
 */
export async function untilFailover(
  lab: LabContext<StartedRedis, unknown>,
  old: string,
  since: number,
): Promise<{ chosen?: string; ms?: number; answers: Record<string, string> }> {
  const r = lab.stack;
  let answers: Record<string, string> = {};
  const chosen = await lab.until(
    `every Sentinel to name a primary other than ${old}`,
    async () => {
      const agreed = await r.agreedPrimary(old);
      if (!agreed.done) answers = JSON.parse(agreed.seen) as Record<string, string>;
      return agreed;
    },
    // Long enough to see a failover retried after a split vote (2 x failover-timeout).
    { timeoutMs: 30_000, intervalMs: 50 },
  );
  if (!chosen) return { answers };
  return { chosen, ms: Date.now() - since, answers: Object.fromEntries(r.sentinels.map((s) => [s, chosen])) };
}

/** The ids every completed final read (`read-all`) returned. */
export function readIds(ev: Evidence): string[] {
  return completions(ev.ops, 'read-all')
    .filter((o) => o.type === 'ok')
    .flatMap((o) => idsOf(o.value));
}

/** Without a final read nothing says which writes survived: loss can be neither shown nor ruled out. */
export function finalReadMissing(ev: Evidence): Check | undefined {
  if (completions(ev.ops, 'read-all').some((o) => o.type === 'ok')) return undefined;
  return {
    name: 'the final read shows which writes survived',
    ok: 'unknown',
    expected: 'a read of every key after the failover',
    observed: 'no final read completed',
  };
}
