import type { LabContext } from '../../src/engine/lab.ts';
import type { NodeSpec } from '../../src/runtime/node.ts';
import {
  CONFIG_PATH,
  CONTROLLER_PORT,
  IMAGES,
  type KafkaParams,
  nodeId,
  serverProperties,
  ZK_CLIENT_PORT,
  zkNames,
} from './config.ts';
import type { StartedKafka } from './stack.ts';
import { describeQuorum, KafkaWireError, type QuorumStatus } from './wire.ts';

/**
 * ZooKeeper to KRaft migration (Kafka 3.9 docs, "ZooKeeper to KRaft Migration"; KIP-866).
 * With `migration=true` a ZooKeeper-mode cluster also gets KRaft controllers controller1..3
 * (ids 101..103) that idle until `provisionControllers` gives them a configuration and the
 * ZooKeeper cluster's id. The phases of a node's configuration:
 *
 *   controller 'migrating'  process.roles=controller + zookeeper.metadata.migration.enable=true,
 *                           zookeeper.connect, inter.broker.listener.name (it sends RPCs to ZK brokers)
 *   broker     'migrating'  its ZooKeeper-mode config + the migration flag, controller.quorum.voters,
 *                           controller.listener.names and CONTROLLER in the security protocol map
 *   broker     'kraft'      process.roles=broker, node.id = its broker.id, no zookeeper.connect
 *   controller 'kraft'      the migration flag and zookeeper.connect removed: migration finalised
 *
 * Every KRaft rendering is the stack's own isolated-layout one (config.ts), so a migrated
 * cluster is configured like a cluster made in KRaft mode. Kafka 4.x cannot migrate: the
 * migration must be done on 3.x before upgrading.
 */
export const MIGRATION_CONTROLLERS = ['controller1', 'controller2', 'controller3'];
export type MigrationPhase = 'migrating' | 'kraft';
/** Written by the lab: the id the KRaft controllers are formatted with (the entrypoint reads KAFKA_CLUSTER_ID). */
const CLUSTER_ID_FILE = '/etc/kafka/cluster.id';
/** Logged by the active controller once ZooKeeper's metadata is in the KRaft log. */
export const MIGRATED_LINE = 'Completed migration of metadata from ZooKeeper to KRaft';

/** The container command: (controllers) wait for the cluster id, export it, start as the image does. */
function launcher(waitForId: boolean): string[] {
  const script = [
    waitForId ? `while [ ! -s ${CLUSTER_ID_FILE} ]; do sleep 0.5; done` : ':',
    `if [ -s ${CLUSTER_ID_FILE} ]; then export KAFKA_CLUSTER_ID="$(cat ${CLUSTER_ID_FILE})"; fi`,
    'exec /opt/kafka/bin/kafka-entrypoint.sh',
  ].join('\n');
  return ['sh', '-c', script];
}

/** The stack's nodes, with the idle controllers and the brokers' launcher when `migration` is on. */
export function withMigration(p: KafkaParams, nodes: NodeSpec[]): NodeSpec[] {
  if (!p.migration) return nodes;
  const controllers = MIGRATION_CONTROLLERS.map(
    (name): NodeSpec => ({
      name,
      image: IMAGES['3.9'],
      cmd: launcher(true),
      ports: { controller: CONTROLLER_PORT },
      env: { KAFKA_HEAP_OPTS: `-Xms64m -Xmx${Math.min(192, p.heapMb)}m` },
      memoryMb: Math.min(192, p.heapMb) + 320,
    }),
  );
  const brokers = nodes.map((n) => (n.name.startsWith('kafka') ? { ...n, cmd: launcher(false) } : n));
  return [...brokers, ...controllers];
}

/** A node's server.properties in a phase of the migration (the header's table). */
export function migrationConfig(p: KafkaParams, node: string, phase: MigrationPhase): string {
  const kraft = serverProperties({ ...p, mode: 'kraft', layout: 'isolated' }, node);
  if (phase === 'kraft') return kraft;
  const zk = zkNames(p)
    .map((z) => `${z}:${ZK_CLIENT_PORT}`)
    .join(',');
  const voters = MIGRATION_CONTROLLERS.map((n) => `${nodeId(n)}@${n}:${CONTROLLER_PORT}`).join(',');
  const extra = node.startsWith('controller')
    ? ['zookeeper.metadata.migration.enable=true', `zookeeper.connect=${zk}`, 'inter.broker.listener.name=INTERNAL']
    : [
        'zookeeper.metadata.migration.enable=true',
        `controller.quorum.voters=${voters}`,
        'controller.listener.names=CONTROLLER',
        'listener.security.protocol.map=INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,EXTERNAL:PLAINTEXT',
      ];
  const base = node.startsWith('controller') ? kraft : serverProperties(p, node);
  return `${base}# ZooKeeper to KRaft migration\n${extra.join('\n')}\n`;
}

/** The ZooKeeper cluster's id (/cluster/id), which the KRaft controllers must be formatted with. */
export async function zkClusterId(k: StartedKafka): Promise<string> {
  const raw = await k.admin.znode('/cluster/id');
  const id = raw ? (JSON.parse(raw) as { id?: string }).id : undefined;
  if (!id) throw new Error(`no cluster id in /cluster/id (${raw ?? 'absent'})`);
  return id;
}

/** Writes a node's configuration for `phase` (and the cluster id) into its container. */
async function writeConfig(k: StartedKafka, node: string, phase: MigrationPhase, clusterId: string): Promise<void> {
  const n = k.cluster.node(node);
  const config = migrationConfig(k.params, node, phase).replace(/@HOSTPORT:external@/g, () =>
    String(n.hostPort('external')),
  );
  await n.writeFiles([
    { path: CONFIG_PATH, content: config },
    { path: CLUSTER_ID_FILE, content: `${clusterId}\n` },
  ]);
}

/** Configures the idle controllers for the migration; they format their logs with `clusterId` and start. */
export async function provisionControllers(k: StartedKafka, clusterId: string): Promise<void> {
  for (const c of MIGRATION_CONTROLLERS) await writeConfig(k, c, 'migrating', clusterId);
}

/** Restarts a node with its configuration for `phase` (SIGTERM: a controlled shutdown first). */
export async function rollNode(k: StartedKafka, node: string, phase: MigrationPhase, clusterId: string) {
  await writeConfig(k, node, phase, clusterId);
  await k.cluster.node(node).restart(60);
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
    (e: unknown) => e instanceof KafkaWireError,
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
