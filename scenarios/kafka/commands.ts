// Partition views and waits live in the stack (stacks/kafka/partitions.ts); named here too for the labs that
// import them from this file.
export {
  notInSync,
  partText,
  sameSet,
  untilInSync,
  untilLeaderRefuses,
} from '../../stacks/kafka/partitions.ts';

import type { Evidence, Op } from '../../src/engine/history.ts';
import { lastObservation } from '../../src/engine/history.ts';
import type { ParamSpec } from '../../src/params.ts';
import { CONTROLLER_ID_BASE, INTERNAL_PORT, kafkaParams, ZK_CLIENT_PORT } from '../../stacks/kafka/config.ts';
import { electionArgs } from '../../stacks/kafka/elections.ts';

/** Every Kafka lab runs in both modes from one file: this parameter picks the cluster. */
export const modeParam = {
  type: 'enum',
  default: 'kraft',
  choices: ['kraft', 'zookeeper'],
  describe: 'KRaft (Raft metadata quorum) or ZooKeeper mode (removed in Kafka 4.0)',
} as const satisfies ParamSpec;

/** An integer parameter in one line: its default, what it is, and its bounds. */
export function intParam(dflt: number, describe: string, min = 1, max?: number): Extract<ParamSpec, { type: 'int' }> {
  return { type: 'int', default: dflt, min, ...(max === undefined ? {} : { max }), describe };
}

/**
 * The runs the tests make of a Kafka lab: on Kafka 3.9 the defaults and each of `extra` in
 * both modes, and each of `kraftOnly` (isolated controllers) in KRaft mode; on Kafka 4.4
 * (KRaft only) the defaults, or each of `kraftOnly` where the lab has them.
 */
export function bothModes(
  extra: Record<string, string>[] = [],
  kraftOnly: Record<string, string>[] = [],
): Record<string, string>[] {
  return [
    ...['kraft', 'zookeeper'].flatMap((mode) => [{}, ...extra].map((v) => ({ mode, ...v }))),
    ...kraftOnly.map((v) => ({ mode: 'kraft', ...v })),
    ...(kraftOnly.length ? kraftOnly : [{}]).map((v) => ({ version: '4.4', mode: 'kraft', ...v })),
  ];
}

/** What the notes get wrong about Kafka, said once and reused by the labs' `notes`. */
export const OUTDATED =
  'The notes predate two changes: Kafka 4.0 removed ZooKeeper mode (3.9, run here by default, is the last line ' +
  'with both; --param version=4.4 runs Kafka 4.4, KRaft only), and `kafka-topics.sh --zookeeper` was removed in ' +
  '3.0 already (use --bootstrap-server); 4.0 also removed `kafka-console-producer.sh --broker-list` (lines 1330, ' +
  '1337, 1448), which 3.9 still takes.';

/**
 * A Kafka tool run inside `node`, as a trainee types it: `node` is a node (kafka1) or a
 * step var naming one (leader: `{@leader}`, `{leader}`). Brokers are asked through their
 * own listener; a controller-only node through kafka1's. The step's sheet holds it.
 */
export function kafkaTool(node: string, tool: string, ...args: string[]): string {
  const broker = hostOf(node).startsWith('controller') ? 'kafka1' : hostOf(node);
  const server =
    tool === 'zookeeper-shell.sh' ? [`zk1:${ZK_CLIENT_PORT}`] : ['--bootstrap-server', `${broker}:${INTERNAL_PORT}`];
  const quoted = [tool, ...server, ...args].map((a) => (/^[\w@%+=:,./{}-]+$/.test(a) ? a : `'${a}'`));
  return `docker exec {@${node}} ${quoted.join(' ')}`;
}

/** A node's host name in a command: the node itself, or `{var}` for a step var naming one. */
function hostOf(node: string): string {
  return /^[a-z]+\d+$/.test(node) ? node : `{${node}}`;
}

/** The commands a trainee can type to see the controller in this mode, run on `node`. */
export function controllerCommands(mode: string, node = 'kafka1'): string[] {
  return mode === 'zookeeper'
    ? [
        kafkaTool(node, 'zookeeper-shell.sh', 'get', '/controller'),
        kafkaTool(node, 'zookeeper-shell.sh', 'ls', '/brokers/ids'),
      ]
    : [kafkaTool(node, 'kafka-metadata-quorum.sh', 'describe', '--status')];
}

export function describeTopicCommand(topic: string, node = 'kafka1'): string {
  return kafkaTool(node, 'kafka-topics.sh', '--describe', '--topic', topic);
}

/** The topic's configuration, as kafka-configs.sh describes it. */
export function topicConfigCommand(topic: string, node = 'kafka1'): string {
  return kafkaTool(node, 'kafka-configs.sh', '--describe', '--entity-type', 'topics', '--entity-name', topic);
}

/** An interactive console producer on `node` with producer properties (`acks=all`). */
export function consoleProducerCommand(node: string, topic: string, ...props: string[]): string {
  const args = props.flatMap((x) => ['--producer-property', x]);
  return kafkaTool(node, 'kafka-console-producer.sh', '--topic', topic, ...args).replace(
    /^docker exec /,
    'docker exec -it ',
  );
}

/** kafka-leader-election.sh for one partition, run on `node`. */
export function electionCommand(
  node: string,
  type: 'unclean' | 'preferred',
  topic: string,
  partition: number | string = 0,
): string {
  const [tool, ...args] = electionArgs(type, topic, partition) as [string, ...string[]];
  return kafkaTool(node, tool, ...args);
}

/** kcat on this machine listing the cluster: the step's var `bootstrap` holds the host endpoints. */
export const KCAT_LIST = 'kcat -b {bootstrap} -L';

export function groupCommand(group: string, node = 'kafka1'): string {
  return kafkaTool(node, 'kafka-consumer-groups.sh', '--describe', '--group', group);
}

/** kafka-consumer-groups.sh listing every group, as typed on kafka1. */
export const LIST_GROUPS = kafkaTool('kafka1', 'kafka-consumer-groups.sh', '--list');

/** kafka-topics.sh listing the under-replicated partitions, as typed on `node`. */
export function underReplicatedCommand(node: string): string {
  return kafkaTool(node, 'kafka-topics.sh', '--describe', '--under-replicated-partitions');
}

/** "kafka2" for narration, with its numeric id: "kafka2 (id 2)". */
export function named(node: string | undefined): string {
  if (!node) return 'none';
  const n = Number(node.replace(/\D/g, ''));
  return `${node} (id ${node.startsWith('controller') ? CONTROLLER_ID_BASE + n : n})`;
}

/** KRaft labs that teach the controllers can also run them on nodes of their own. */
export const layoutParam = kafkaParams.layout;

/** Where the KRaft controllers run, in a sentence for narration. */
export function kraftRoles(layout: string): string {
  return layout === 'isolated'
    ? `controller1..3 are controllers only (process.roles=controller, ids ${CONTROLLER_ID_BASE + 1}..` +
        `${CONTROLLER_ID_BASE + 3}) and kafka1..3 brokers only, as production clusters run them`
    : 'kafka1..3 are "combined" nodes (process.roles=broker,controller), each a controller and a broker: ' +
        'fine for a lab, not recommended in production';
}

/** The mode the evidence was produced in (observed at the start of every Kafka lab). */
export function modeOf(ev: Evidence): string {
  return String(lastObservation(ev, 'mode') ?? '?');
}

/** The Kafka error name a failed operation carries (the client writes "TYPE: message"). */
export function errorType(o: Op): string | undefined {
  return /^([A-Z_]+)(:|$)/.exec(o.error ?? '')?.[1];
}

/** How a dead broker is noticed in `mode`, for narration: the session time-out here and in production. */
export function sessionTimeoutText(mode: string): string {
  return mode === 'zookeeper'
    ? 'zookeeper.session.timeout.ms (6 s here, 18 s in production)'
    : 'broker.session.timeout.ms (6 s here, 9 s in production)';
}

/** How a silent follower leaves the ISR, for narration. */
export const LAG_TIME_TEXT = 'replica.lag.time.max.ms (10 s here, 30 s in production)';

/** An enum parameter in one line: its choices (the first is the default) and what they mean. */
export function enumParam<const C extends readonly [string, ...string[]]>(choices: C, describe: string) {
  return { type: 'enum', default: choices[0], choices, describe } as const;
}

/** Why every Kafka lab sets acks explicitly, said once for the labs' `notes`. */
export const ACKS_DEFAULT =
  "Since Kafka 3.0 the Java producer's default is acks=all with enable.idempotence=true: acks=1 is a choice, and " +
  'every lab sets acks explicitly.';
