// What a Redis lab imports: the engine's lab kit, the stack (clients, replication and
// Sentinel views, the recorded workload) and what the Redis labs share (commands to try,
// the Sentinel proof, waits, observations) and their pure checks (checks.ts).
import { type Op, observed } from '../../src/engine/history.ts';
import type { LabContext, StepText } from '../../src/engine/lab.ts';
import { type RedisClient, withDirect } from '../../stacks/redis/client.ts';
import { describeKeys, describeLinks } from '../../stacks/redis/replication.ts';
import { describeSentinelView, sentinelViewsProblems } from '../../stacks/redis/sentinel.ts';
import { type StartedRedis, settingsOf } from '../../stacks/redis/stack.ts';
import { RedisWorkload } from '../../stacks/redis/workload.ts';

export * from '../../src/checkers/failover.ts';
export * from '../../src/kit.ts';
export { classify, RedisClient, RedisError, withDirect } from '../../stacks/redis/client.ts';
export { FAILOVER_TIMEOUT_MS } from '../../stacks/redis/config.ts';
export { sentinelProblems } from '../../stacks/redis/health.ts';
export * from '../../stacks/redis/replication.ts';
export * from '../../stacks/redis/sentinel.ts';
export { redis, StartedRedis } from '../../stacks/redis/stack.ts';
export * from '../../stacks/redis/workload.ts';
export * from './checks.ts';

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

/** The primary (the one the Sentinel proof found, else the first) and the other data nodes. */
export function primaryAndReplicas(lab: RedisLab): { primary: string; replicas: string[] } {
  const r = lab.stack;
  const primary = observed<{ primaryBefore: string }>(lab.history.evidence()).primaryBefore ?? r.firstPrimary;
  return { primary, replicas: r.dataNodes.filter((n) => n !== primary) };
}

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
    // Long enough to see a failover retried after two split votes (2 x failover-timeout each).
    { timeoutMs: 50_000, intervalMs: 50 },
  );
  const ms = chosen ? Date.now() - since : null;
  const epochs = await r.failoverEpochs();
  const split = epochs.length > 1 ? `: ${epochs.length - 1} split vote(s), retried 2 x failover-timeout later` : '';
  lab.observe('failoverEpochs', epochs, `the Sentinels voted in epoch(s) ${epochs.join(', ') || 'none'}${split}`);
  lab.observe('sentinelAnswers', chosen ? Object.fromEntries(r.sentinels.map((s) => [s, chosen])) : answers);
  lab.observe('primaryAfter', chosen ?? null, chosen ? `every Sentinel now names ${chosen}` : 'no new primary');
  lab.observe('failoverMs', ms, chosen ? `the Sentinels agreed on it ${ms} ms after the ${what}` : 'none in 50 s');
  return chosen ?? old;
}

/**
 * Waits (without deciding, up to `timeoutMs`) until every replica follows `primary` with
 * its link up and its offset caught up; every data node's link then.
 */
export function untilLinked(lab: RedisLab, primary: string, replicas: string[], timeoutMs: number) {
  const linked = () => lab.stack.linksCaughtUp(primary, replicas);
  return lab.until('every replica linked to the primary with its offset caught up', linked, {
    timeoutMs,
    intervalMs: 100,
  });
}

/** untilLinked, then every data node's link (the last seen, if the wait gave up), observed as `name`. */
export async function observeLinks(
  lab: RedisLab,
  primary: string,
  replicas: string[],
  timeoutMs: number,
  name: string,
) {
  const links = (await untilLinked(lab, primary, replicas, timeoutMs)) ?? (await lab.stack.links());
  return lab.observe(name, links, describeLinks(links));
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

/**
 * Waits (without deciding) until `primary` has heard nothing from its `replicas` for 2 s
 * (their acknowledgements, one a second, stop: the primary notices before anyone), then
 * records how long (`silentFor`) and every node's keys and offset (`cut`).
 */
export async function observeCut(lab: RedisLab, primary: string, replicas: string[]): Promise<void> {
  const r = lab.stack;
  const silent = () => r.silent(primary, replicas.length, 2);
  const lags = await lab.until('the replicas silent for 2 s', silent, { timeoutMs: 15_000, intervalMs: 100 });
  if (lags) lab.observe('silentFor', lags, `${primary} last heard from its replicas ${lags.join(' and ')} s ago`);
  const view = await r.data(primary, replicas);
  lab.observe('cut', view, describeKeys(view));
}

/**
 * A write through the Sentinel client `app` (`write` records it), and where it landed:
 * the node the client is connected to and the name that node announces (`clientNodeAfter`).
 */
export async function observeLanding(lab: RedisLab, app: RedisClient, write: () => Promise<Op>): Promise<void> {
  const op = await write();
  const endpointNode = lab.stack.nodeAt(app.remote);
  const announced = await app.announcedName().catch(() => undefined);
  const said = `the write went to ${endpointNode} (which calls itself ${announced}): ${op.type}`;
  lab.observe('clientNodeAfter', { endpointNode, announced, write: op.type }, said);
  if (app.lastError) lab.say(`ioredis' last complaint while it searched: "${app.lastError}"`);
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
