// What a Redis lab imports: the engine's lab kit, the stack (clients, replication and
// Sentinel views, the recorded workload) and what the Redis labs share (commands to try,
// the Sentinel proof, waits, evidence readers).
import { type Check, check } from '../../src/checkers/check.ts';
import { idsOf, sample } from '../../src/checkers/delivery.ts';
import { completions, type Evidence, type Op } from '../../src/engine/history.ts';
import type { LabContext, StepText } from '../../src/engine/lab.ts';
import { withDirect } from '../../stacks/redis/client.ts';
import { describeSentinelView, sentinelViewsProblems } from '../../stacks/redis/sentinel.ts';
import { type StartedRedis, settingsOf } from '../../stacks/redis/stack.ts';
import { RedisWorkload } from '../../stacks/redis/workload.ts';

export * from '../../src/checkers/failover.ts';
export * from '../../src/kit.ts';
export { classify, RedisClient, RedisError, withDirect } from '../../stacks/redis/client.ts';
export { sentinelProblems } from '../../stacks/redis/health.ts';
export * from '../../stacks/redis/replication.ts';
export * from '../../stacks/redis/sentinel.ts';
export { redis, StartedRedis } from '../../stacks/redis/stack.ts';
export * from '../../stacks/redis/workload.ts';

type RedisLab = LabContext<StartedRedis, unknown>;

/** redis-cli inside a data node (a node, or a step var naming one): a step's command to try. */
export function redisCli(node: string, command: string): string {
  return `docker exec -it {@${node}} redis-cli ${command}`;
}

/** The same against a Sentinel's port. */
export function sentinelCli(node: string, command: string): string {
  return `docker exec -it {@${node}} redis-cli -p 26379 ${command}`;
}

const PROBE_KEY = 'midlab:probe';

/** The step that proves Sentinel and replication work: the Sentinel labs declare it as `proof`. */
export const sentinelProof: StepText<unknown> = {
  title: 'Sentinel and replication work before any fault',
  narration:
    'Each Sentinel (SENTINEL MASTER / REPLICAS / SENTINELS mymaster) must name the same primary unflagged, use ' +
    'quorum {quorum}, list both replicas with link ok and know the {others} other Sentinels, or they could not ' +
    'agree on a failover; a probe write must reach every replica (WAIT counts them); and the primary must run ' +
    'the settings the lesson needs ({config}).',
  commands: [sentinelCli('sentinel1', 'SENTINEL MASTER mymaster'), redisCli('redis1', 'INFO replication')],
};

/** The deployment the Sentinel labs start: a primary, two replicas, three Sentinels, failure detection in 2 s. */
export const SENTINEL_TOPOLOGY = { replicas: 2, sentinels: 3, downAfterMs: 2000 };

/**
 * The mechanism the Sentinel labs stand on, read before any fault (step `proof`): the
 * Sentinels agree on a primary and see what a failover needs, a probe write reaches every
 * replica, and the primary runs the settings the lab asked for (persistence,
 * min-replicas-to-write). Records `primaryBefore`, `sentinels` and `probeWait`; returns
 * the reasons it does not hold.
 */
export async function proveSentinels(lab: RedisLab): Promise<string[]> {
  const r = lab.stack;
  const config = settingsOf(r.layout);
  const reasons: string[] = [];
  const said = Object.entries(config).map(([k, v]) => `${k} ${v || '""'}`);
  const vars = { quorum: r.layout.quorum, others: r.sentinels.length - 1, config: said.join(', ') };
  await lab.step(
    'proof',
    async () => {
      const agreed = await r.agreedPrimary();
      if (!agreed.done) return reasons.push(`the Sentinels do not agree on a primary: ${agreed.seen}`);
      const primary = lab.observe('primaryBefore', agreed.value, `every Sentinel names ${agreed.value} the primary`);
      const replicas = r.dataNodes.filter((n) => n !== primary);
      const views = await Promise.all(r.sentinels.map((s) => r.sentinelView(s)));
      lab.observe('sentinels', views, views.map(describeSentinelView).join('; '));
      reasons.push(...sentinelViewsProblems(views, primary, replicas, r.layout.quorum));
      for (const [name, want] of Object.entries(config)) {
        const got = await withDirect(r.endpoint(primary), (c) => c.configGet(name));
        if (got !== want) reasons.push(`${name} is "${got}" on ${primary}, the lesson needs "${want}"`);
      }
      const probe = await new RedisWorkload(lab.history, r).probe(primary, replicas, PROBE_KEY);
      const waited = `WAIT ${replicas.length} 2000 after a probe write: ${probe.acked} acknowledged it`;
      lab.observe('probeWait', probe.acked, waited);
      reasons.push(...probe.problems);
      if (!reasons.length) lab.say(`the probe write is on ${replicas.join(' and ')}: replication is on`);
    },
    { vars },
  );
  return reasons;
}

/**
 * After `old` was killed or cut off at `since` (a Date.now()): waits (without deciding)
 * until every Sentinel names the same other primary, and records it (`primaryAfter`), the
 * ms it took (`failoverMs`) and each Sentinel's answer (`sentinelAnswers`, last seen when
 * they never agreed). Returns the new primary, or `old`.
 */
export async function untilFailover(lab: RedisLab, old: string, since: number, what: string): Promise<string> {
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
  const ms = chosen ? Date.now() - since : null;
  lab.observe('sentinelAnswers', chosen ? Object.fromEntries(r.sentinels.map((s) => [s, chosen])) : answers);
  lab.observe('primaryAfter', chosen ?? null, chosen ? `every Sentinel now names ${chosen}` : 'no new primary');
  lab.observe('failoverMs', ms, chosen ? `the Sentinels agreed on it ${ms} ms after the ${what}` : 'none in 30 s');
  return chosen ?? old;
}

/** Waits (without deciding) until every replica has applied `primary`'s stream as of now; each node's offset. */
export async function untilCaughtUp(
  lab: RedisLab,
  primary: string,
  replicas: string[],
): Promise<Record<string, number> | undefined> {
  const r = lab.stack;
  const target = (await r.replication(primary)).masterReplOffset;
  const caughtUp = () => r.caughtUp(primary, replicas, target);
  return lab.until(`every replica at offset ${target}`, caughtUp, { timeoutMs: 10_000, intervalMs: 50 });
}

/** The final read (`read-all`) of every identified write on the primary the Sentinels name now. */
export async function readFinal(lab: RedisLab): Promise<void> {
  const r = lab.stack;
  const primary = await r.primary();
  const rd = await withDirect(r.endpoint(primary), (c) => new RedisWorkload(lab.history, r).readIds('final-reader', c));
  if (!rd.ok) throw rd.error;
  const keys = rd.result.ids.length;
  lab.observe('finalRead', { primary, keys }, `${primary} holds ${keys} of the written keys`);
}

/** The id an identified write carries. */
export function idOf(o: { value?: unknown }): string {
  return idsOf(o.value)[0] ?? '';
}

/**
 * Whether the final read lost all of `writes` (acknowledged writes of one window) or
 * none of them; `lost` holds the lost ids. Holds only for a window that has writes.
 */
export function windowLoss(name: string, writes: Op[], lost: Set<string>, want: 'all' | 'none'): Check {
  const gone = writes.filter((o) => lost.has(idOf(o)));
  return check(
    name,
    writes.length > 0 && gone.length === (want === 'all' ? writes.length : 0),
    `${want === 'all' ? 'every one' : 'none'} of > 0 acknowledged writes lost`,
    `${gone.length} of ${writes.length} lost${gone.length ? ` (${sample(gone.map(idOf))})` : ''}`,
  );
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
