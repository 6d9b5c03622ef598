import type { Evidence, Op } from '../../src/engine/history.ts';
import { lastObservation } from '../../src/engine/history.ts';
import type { LabContext } from '../../src/engine/lab.ts';
import type { ParamSpec } from '../../src/params.ts';
import type { PartitionState } from '../../stacks/kafka/admin.ts';
import type { KafkaProducer } from '../../stacks/kafka/client.ts';
import { CONTROLLER_ID_BASE, kafkaParams } from '../../stacks/kafka/config.ts';
import type { StartedKafka } from '../../stacks/kafka/stack.ts';

/** Every Kafka lab runs in both modes from one file: this parameter picks the cluster. */
export const modeParam = {
  type: 'enum',
  default: 'kraft',
  choices: ['kraft', 'zookeeper'],
  describe: 'KRaft (Raft metadata quorum) or ZooKeeper mode (removed in Kafka 4.0)',
} as const satisfies ParamSpec;

/**
 * The runs the tests make of a Kafka lab: the defaults and each of `extra` in both modes,
 * and each of `kraftOnly` (isolated controllers) in KRaft mode.
 */
export function bothModes(
  extra: Record<string, string>[] = [],
  kraftOnly: Record<string, string>[] = [],
): Record<string, string>[] {
  return [
    ...['kraft', 'zookeeper'].flatMap((mode) => [{}, ...extra].map((v) => ({ mode, ...v }))),
    ...kraftOnly.map((v) => ({ mode: 'kraft', ...v })),
  ];
}

/** What the notes get wrong about Kafka, said once and reused by the labs' `notes`. */
export const OUTDATED =
  'The notes predate two changes: Kafka 4.0 removed ZooKeeper mode (3.9, run here, is the last line with ' +
  'both), and `kafka-topics.sh --zookeeper` was removed in 3.0 already (use --bootstrap-server).';

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

/** The same members, in any order (ISR against replicas, voters against brokers). */
export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/** One partition in a line: "t-0: leader kafka1, replicas kafka1,kafka2,kafka3, isr kafka1,kafka2". */
export function partText(p: PartitionState): string {
  return `${p.topic}-${p.partition}: leader ${p.leader ?? 'none'}, replicas ${p.replicas.join(',')}, isr ${p.isr.join(',')}`;
}

/** The Kafka error name a failed operation carries (the client writes "TYPE: message"). */
export function errorType(o: Op): string | undefined {
  return /^([A-Z_]+)(:|$)/.exec(o.error ?? '')?.[1];
}

/**
 * Why `parts` are not what a lab needs before its fault: `count` partitions, each with
 * `replicas` replicas, a leader and every replica in sync. Empty when they are.
 */
export function notInSync(parts: PartitionState[], count: number, replicas: number): string[] {
  const out: string[] = [];
  if (parts.length !== count) out.push(`${count} partitions expected, ${parts.length} found`);
  for (const p of parts) {
    if (p.replicas.length !== replicas || !p.leader || !sameSet(p.isr, p.replicas)) out.push(partText(p));
  }
  return out;
}

/**
 * Waits until `topic` has `count` partitions, each led with all `replicas` replicas in
 * sync (followers join the ISR once they have fetched). Undefined when `timeoutMs`
 * passes: the lab observes what it has and its check decides.
 */
export function untilInSync(
  lab: Pick<LabContext<StartedKafka, unknown>, 'until' | 'stack'>,
  topic: string,
  count: number,
  replicas: number,
  timeoutMs: number,
  intervalMs = 200,
): Promise<PartitionState[] | undefined> {
  return lab.until(
    `${topic}: ${count} partition(s), ISR = replicas`,
    async () => {
      const ps = await lab.stack.admin.partitions([topic]);
      const wrong = notInSync(ps, count, replicas);
      return wrong.length === 0 ? { done: true, value: ps } : { done: false, seen: wrong.join('; ') };
    },
    { timeoutMs, intervalMs },
  );
}

/**
 * Sends acks=all canary writes to partition 0 until `leader` itself refuses one with
 * NOT_ENOUGH_REPLICAS. The leader applies an ISR shrink a moment after the metadata shows
 * it; until then an acks=all write is appended and waits for a follower that is gone.
 * What the canaries met is shown in the story and judged by no check.
 */
export async function untilLeaderRefuses(
  lab: Pick<LabContext<StartedKafka, unknown>, 'until'>,
  canary: KafkaProducer,
  leader: string,
  topic: string,
  timeoutMs: number,
): Promise<{ refused: boolean; ms: number; probes: string[] }> {
  const t0 = Date.now();
  const probes: string[] = [];
  const refused = await lab.until(
    `${leader} to refuse acks=all itself`,
    async () => {
      const r = await canary.send(topic, { partition: 0 });
      const what = r.ok ? 'ok' : `${r.type} ${(r.error ?? '').split(':')[0]}`;
      probes.push(what);
      return !r.ok && r.type === 'fail' && (r.error ?? '').startsWith('NOT_ENOUGH_REPLICAS:')
        ? { done: true, value: true }
        : { done: false, seen: what };
    },
    { timeoutMs, intervalMs: 100 },
  );
  return { refused: refused === true, ms: Date.now() - t0, probes };
}
