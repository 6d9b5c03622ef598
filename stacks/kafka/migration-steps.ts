import type { LabContext } from '../../src/engine/lab.ts';
import { describeQuorum, type QuorumStatus } from './admin-reads.ts';
import { CONTROLLER_PORT } from './config.ts';
import { kafkaErrorType } from './errors.ts';
import { MIGRATION_CONTROLLERS, type MigrationPhase, rollNode, writeConfig } from './migration.ts';
import type { StartedKafka } from './stack.ts';

/**
 * The ZooKeeper to KRaft migration's steps as a lab performs them (each waited for with the
 * lab's `until`, so a step that never completes is recorded, not thrown), and its reads:
 * the KRaft quorum, the controllers' logs (the migration state) and the /migration znode.
 */

/**
 * Configures the idle controllers for the migration: they format their logs with `clusterId`,
 * start, elect a leader and record PRE_MIGRATION. Waited for, as the lab says.
 */
export async function provisionControllers(lab: Steps, clusterId: string): Promise<void> {
  for (const c of MIGRATION_CONTROLLERS) await writeConfig(lab.stack, c, 'migrating', clusterId);
  const q = await untilQuorum(lab);
  lab.say(`KRaft quorum of controller1..3 formed; leader ${q?.leaderId ?? 'none'}`);
  await untilMigrationState(lab, 'PRE_MIGRATION');
}

/** The KRaft quorum as its leader tells it (DescribeQuorum on the controllers' published ports). */
export async function controllerQuorum(k: StartedKafka): Promise<QuorumStatus> {
  const ends = MIGRATION_CONTROLLERS.map((c) => k.cluster.node(c).endpoint('controller'));
  return Promise.any(ends.map((e) => describeQuorum(e, 1500)));
}

type Waits = Pick<LabContext<StartedKafka, unknown>, 'until' | 'stack'>;
type Steps = Pick<LabContext<StartedKafka, unknown>, 'until' | 'stack' | 'say' | 'observe'>;

/** The KRaft quorum once it has a leader and all three voters replicate (undefined: not in `timeoutMs`). */
export function untilQuorum(lab: Waits, timeoutMs = 120_000): Promise<QuorumStatus | undefined> {
  return lab.until(
    'a KRaft controller quorum with a leader and 3 voters replicating',
    async () => {
      const q = await controllerQuorum(lab.stack).catch(() => undefined);
      const ok = q && q.leaderId >= 0 && q.voters.length === 3 && q.voters.every((v) => v.logEndOffset >= 0);
      return ok ? { done: true, value: q } : { done: false, seen: q ? `leader ${q.leaderId}` : 'no leader' };
    },
    { timeoutMs, intervalMs: 500 },
  );
}

/** Ms until `broker` is in the cluster metadata again and every partition has its full ISR (undefined: not in time). */
export async function untilServing(lab: Waits, broker: string, timeoutMs = 120_000): Promise<number | undefined> {
  const t0 = Date.now();
  const ok = await lab.until(
    `${broker} back, every partition with its full ISR`,
    async () => {
      const parts = await lab.stack.admin.partitions().catch(() => []);
      const live: string[] = await lab.stack.admin.liveBrokers().catch(() => []);
      const short = parts.filter((p) => !p.leader || p.isr.length < p.replicas.length);
      return parts.length > 0 && short.length === 0 && live.includes(broker)
        ? { done: true, value: true }
        : { done: false, seen: `live ${live.join(',')}; ${short.length} partition(s) short of their ISR` };
    },
    { timeoutMs, intervalMs: 500 },
  );
  return ok ? Date.now() - t0 : undefined;
}

/** Waits until the controllers' logs show migration state `state` (or a later one); the state reached. */
export function untilMigrationState(lab: Waits, state: string, timeoutMs = 120_000): Promise<string | undefined> {
  const want = stateRank(state);
  return lab.until(
    `migration state ${state}`,
    async () => {
      const now = await migrationState(lab.stack);
      return stateRank(now) >= want ? { done: true, value: now } : { done: false, seen: now };
    },
    { timeoutMs, intervalMs: 1000 },
  );
}

/** The controllers' log lines (of every start) that contain `text`. */
export async function controllerLines(k: StartedKafka, text: string | RegExp): Promise<string[]> {
  const logs = await Promise.all(
    MIGRATION_CONTROLLERS.map((c) =>
      k.cluster
        .node(c)
        .logs()
        .catch(() => ''),
    ),
  );
  return logs.flatMap((l, i) =>
    l
      .split('\n')
      .filter((x) => (typeof text === 'string' ? x.includes(text) : text.test(x)))
      .map((x) => `${MIGRATION_CONTROLLERS[i]}: ${x.trim()}`),
  );
}

/** The /migration znode (the KRaft controller's record of the migration), parsed; undefined when absent. */
export async function migrationZnode(k: StartedKafka): Promise<Record<string, unknown> | undefined> {
  const raw = await k.admin.znode('/migration');
  return raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
}

/** `kafka-metadata-quorum.sh` inside a controller, as a trainee would type it (for the sheet). */
export function quorumCommand(node = 'controller1'): string {
  return `docker exec {@${node}} kafka-metadata-quorum.sh --bootstrap-controller ${node}:${CONTROLLER_PORT} describe --status`;
}

/** ZkMigrationState, in the order a migration goes through it (the controller's metric of that name). */
export const MIGRATION_STATES = ['NONE', 'PRE_MIGRATION', 'MIGRATION', 'POST_MIGRATION'] as const;
/** A state's place in MIGRATION_STATES (-1: unknown). */
export function stateRank(state: string): number {
  return (MIGRATION_STATES as readonly string[]).indexOf(state);
}
const STATE_LINE = /changing the migration state from (\w+) to (\w+)/;

/**
 * The migration state the controllers' logs show: the furthest any of them has logged
 * ("Replayed a ZkMigrationStateRecord changing the migration state from X to Y"; a
 * restarted controller replays the earlier ones, and the state only moves forward).
 * 'NONE' when no controller has logged one.
 */
export async function migrationState(k: StartedKafka): Promise<string> {
  const seen = (await controllerLines(k, STATE_LINE)).map((l) => STATE_LINE.exec(l)?.[2] ?? 'NONE');
  return seen.reduce((a, b) => (stateRank(b) > stateRank(a) ? b : a), 'NONE');
}

/** Whether `node`'s Kafka answers on its CONTROLLER port (a follower answers too, with an error code). */
export async function controllerAnswers(k: StartedKafka, node: string): Promise<boolean> {
  return describeQuorum(k.cluster.node(node).endpoint('controller'), 1500).then(
    () => true,
    (e: unknown) => kafkaErrorType(e) !== undefined,
  );
}

/** What the lab records after each phase: the migration state, /migration and /controller. */
export interface PhaseState {
  phase: string;
  state: string;
  znode?: { kraft_controller_id?: number };
  controller?: string;
}

/** Observes the migration as ZooKeeper and the controllers' logs show it now, as `migration`. */
export async function observeMigration(lab: Steps, phase: string): Promise<void> {
  const k = lab.stack;
  const [state, znode, controller] = [
    await migrationState(k),
    await migrationZnode(k),
    await k.admin.znode('/controller'),
  ];
  const s: PhaseState = { phase, state, znode, controller };
  const text = `${phase}: migration state ${state}; /migration ${JSON.stringify(znode) ?? 'absent'}; /controller ${controller}`;
  lab.observe('migration', s, text);
}

/** Rolls the brokers one by one into `phase`, each waited for until every partition has its full ISR again. */
export async function rollBrokers(lab: Steps, phase: MigrationPhase, clusterId: string): Promise<void> {
  for (const b of lab.stack.brokers) {
    await rollNode(lab.stack, b, phase, clusterId);
    const ms = await untilServing(lab, b);
    lab.say(`${b} restarted (${phase}); every partition in sync again after ${ms ?? '> 120000'} ms`);
  }
}

/** Rolls the controllers one by one without the migration flag, each waited for until it answers and the quorum has a leader. */
export async function rollControllers(lab: Steps, clusterId: string): Promise<void> {
  for (const c of MIGRATION_CONTROLLERS) {
    await rollNode(lab.stack, c, 'kraft', clusterId);
    await lab.until(
      `${c} answering`,
      async () =>
        (await controllerAnswers(lab.stack, c)) ? { done: true, value: c } : { done: false, seen: 'no answer' },
      { timeoutMs: 120_000 },
    );
    const q = await untilQuorum(lab);
    lab.say(`${c} restarted without the migration flag; quorum leader ${q?.leaderId ?? 'none'}`);
  }
}

/** Once the migration is finalised: the handle becomes a KRaft cluster's, and ZooKeeper is stopped. Its nodes. */
export async function stopZooKeeper(k: StartedKafka): Promise<string[]> {
  const zks = k.zookeepers;
  await k.migratedToKraft();
  for (const z of zks) await k.cluster.node(z).stop();
  return zks;
}
