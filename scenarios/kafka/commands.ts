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
import { CONTROLLER_ID_BASE, kafkaParams } from '../../stacks/kafka/config.ts';
import { electionArgs } from '../../stacks/kafka/partitions.ts';
import type { StartedKafka } from '../../stacks/kafka/stack.ts';

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

/** The commands a trainee can type to see the controller in this mode. */
export function controllerCommands(k: StartedKafka, node = k.brokers[0] as string): string[] {
  return k.mode === 'zookeeper'
    ? [
        k.toolCommand(node, 'zookeeper-shell.sh', 'get', '/controller'),
        k.toolCommand(node, 'zookeeper-shell.sh', 'ls', '/brokers/ids'),
      ]
    : [k.toolCommand(node, 'kafka-metadata-quorum.sh', 'describe', '--status')];
}

export function describeTopicCommand(k: StartedKafka, topic: string, node = k.brokers[0] as string): string {
  return k.toolCommand(node, 'kafka-topics.sh', '--describe', '--topic', topic);
}

/** The topic's configuration, as kafka-configs.sh describes it. */
export function topicConfigCommand(k: StartedKafka, topic: string, node = 'kafka1'): string {
  return k.toolCommand(node, 'kafka-configs.sh', '--describe', '--entity-type', 'topics', '--entity-name', topic);
}

/** An interactive console producer on `node` with producer properties (`acks=all`). */
export function consoleProducerCommand(k: StartedKafka, node: string, topic: string, ...props: string[]): string {
  const args = props.flatMap((x) => ['--producer-property', x]);
  return k
    .toolCommand(node, 'kafka-console-producer.sh', '--topic', topic, ...args)
    .replace(/^docker exec /, 'docker exec -it ');
}

/** kafka-leader-election.sh for one partition, run on `node`. */
export function electionCommand(k: StartedKafka, node: string, type: 'unclean' | 'preferred', topic: string): string {
  const [tool, ...args] = electionArgs(type, topic) as [string, ...string[]];
  return k.toolCommand(node, tool, ...args);
}

export function kcatList(k: StartedKafka): string {
  return `kcat -b ${k.bootstrapServers()} -L`;
}

export function groupCommand(k: StartedKafka, group: string, node = k.brokers[0] as string): string {
  return k.toolCommand(node, 'kafka-consumer-groups.sh', '--describe', '--group', group);
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
export function kraftRoles(k: StartedKafka): string {
  return k.params.layout === 'isolated'
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
