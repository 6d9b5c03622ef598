import type { FaultRecord } from '../../src/engine/history.ts';
import type { LabContext } from '../../src/engine/lab.ts';
import type { Probe } from '../../src/runtime/poll.ts';
import { KafkaReader, type PartitionState } from '../../stacks/kafka/admin.ts';
import {
  type ConsumerOptions,
  KafkaGroupConsumer,
  KafkaProducer,
  type ReceivedMessage,
  type SendResult,
} from '../../stacks/kafka/client.ts';
import {
  type CanaryProbes,
  configMismatch,
  createInSync,
  partText,
  sameSet,
  untilCanary,
  untilPartition,
} from '../../stacks/kafka/partitions.ts';
import type { StartedKafka } from '../../stacks/kafka/stack.ts';
import { CrashingConsumer, produce, sendRounds } from '../../stacks/kafka/workload.ts';
import { offsetsOf, receivedIds } from './evidence.ts';

/** What the Kafka labs' steps share: a topic placed by hand, proven before any fault; rounds of sends. */
type Lab = Pick<LabContext<StartedKafka, unknown>, 'until' | 'stack' | 'observe'>;

/**
 * Creates `topic` with one partition on `replicas` (the first is the preferred leader) and
 * `config`; waits until every replica is in sync (30 s at most); observes `topicConfig`
 * (the keys of `config` in force) and `partitionBefore`. Returns the mechanism's reasons:
 * a configuration not in force, another leader, other replicas, a short ISR.
 */
export async function placedTopic(
  lab: Lab,
  topic: string,
  replicas: string[],
  config: Record<string, string | number | boolean>,
): Promise<string[]> {
  const k = lab.stack;
  await k.admin.createTopic(topic, { assignment: [replicas], config });
  const { part } = await untilPartition(lab, k.admin, topic, (p) => sameSet(p.isr, replicas), {
    what: `${topic}-0 fully in sync`,
    timeoutMs: 30_000,
  });
  const cfg = await k.admin.topicConfig(topic);
  const inForce = Object.fromEntries(Object.keys(config).map((key) => [key, cfg[key]]));
  lab.observe(
    'topicConfig',
    inForce,
    Object.entries(inForce)
      .map(([key, v]) => `${key}=${v ?? '?'}`)
      .join(', '),
  );
  lab.observe('partitionBefore', part, partText(part));
  const leader = replicas[0];
  return [
    ...configMismatch(cfg, config),
    ...(part.leader === leader ? [] : [`the leader is ${part.leader ?? 'none'}, not ${leader}`]),
    ...(sameSet(part.replicas, replicas) ? [] : [`the replicas are ${part.replicas}, not ${replicas}`]),
    ...(sameSet(part.isr, replicas) ? [] : [`the ISR is ${part.isr.join(',')}, not all replicas ${replicas}`]),
  ];
}

/** One phase of sends, as observed under `phase`: when it ran and the partition it ran against. */
export interface PhaseMark {
  phase: string;
  start: number;
  end: number;
  isr: string[];
  leader: string | undefined;
}

/** Runs `send` as phase `phase` against `part`, and observes its mark. */
export async function phase(
  lab: Pick<LabContext<StartedKafka, unknown>, 'observe' | 'history'>,
  name: string,
  part: Pick<PartitionState, 'isr' | 'leader'>,
  send: () => Promise<SendResult[]>,
): Promise<SendResult[]> {
  const start = lab.history.now();
  const results = await send();
  const mark: PhaseMark = { phase: name, start, end: lab.history.now(), isr: part.isr, leader: part.leader };
  lab.observe('phase', mark);
  return results;
}

/** What sends met, counted: "3 ok, 2 fail (NOT_ENOUGH_REPLICAS)". */
export function resultsText(rs: SendResult[]): string {
  const counts = new Map<string, number>();
  for (const r of rs) {
    const what = r.ok ? 'ok' : `${r.type}${r.error ? ` (${r.error.split(':')[0]})` : ''}`;
    counts.set(what, (counts.get(what) ?? 0) + 1);
  }
  return [...counts].map(([what, n]) => `${n} ${what}`).join(', ');
}

/**
 * Waits until partition 0 of `topic`, seen through `probe`, satisfies `ok` (at most
 * `timeoutMs`); observes the ISR under `name` and the milliseconds it took under
 * `${name}Ms`, and returns the partition as it is then: the lab goes on with what is
 * there, and its checks judge it.
 */
export async function settledIsr(
  lab: Pick<LabContext<StartedKafka, unknown>, 'until' | 'observe'>,
  probe: KafkaReader,
  topic: string,
  name: string,
  ok: (p: PartitionState) => boolean,
  timeoutMs: number,
  intervalMs = 200,
): Promise<PartitionState> {
  const what = `${topic}-0 to reach the expected ISR`;
  const s = await untilPartition(lab, probe, topic, ok, { what, timeoutMs, intervalMs });
  lab.observe(`${name}Ms`, s.ms);
  lab.observe(name, s.part.isr, `${partText(s.part)} (${(s.ms / 1000).toFixed(1)} s after the change)`);
  return s.part;
}

/**
 * Asks `leader` itself with acks=all canary writes until it `refuses` (NOT_ENOUGH_REPLICAS)
 * or `accepts` again (see `untilCanary`), and observes under `name` what the canaries met:
 * `refused` or `accepted`, the refusals, the time and each probe. Judged by no check.
 */
export async function askLeader(
  lab: Pick<LabContext<StartedKafka, unknown>, 'until' | 'observe'>,
  name: string,
  ...ask: Parameters<typeof untilCanary> extends [unknown, ...infer A] ? A : never
): Promise<CanaryProbes> {
  const [, leader, , awaited] = ask;
  const c = await untilCanary(lab, ...ask);
  const refusals = c.probes.filter((x) => x !== 'ok').length;
  const what = awaited === 'refuses' ? { refused: c.answered } : { accepted: c.answered };
  const answer = awaited === 'refuses' ? 'refuses acks=all itself' : 'accepts acks=all again';
  lab.observe(
    name,
    { ...what, refusals, ms: c.ms, probes: c.probes },
    `${leader} ${c.answered ? answer : `never ${awaited === 'refuses' ? 'refused' : 'accepted'} acks=all`}: ` +
      `${c.probes.length} canary write(s) in ${c.ms} ms (${c.probes.join('; ')})`,
  );
  return c;
}

/**
 * Runs phase `name` against `part`: `n` rounds in which each producer sends one message to
 * partition 0 of `topic`; observes its mark and says what each producer (by `labels`) met.
 */
export async function sendPhase(
  lab: Pick<LabContext<StartedKafka, unknown>, 'observe' | 'history' | 'say'>,
  name: string,
  part: Pick<PartitionState, 'isr' | 'leader'>,
  producers: KafkaProducer[],
  labels: string[],
  topic: string,
  n: number,
): Promise<void> {
  const rs = await phase(lab, name, part, () => sendRounds(producers, topic, n, { partition: 0 }));
  lab.say(labels.map((l, i) => `${l}: ${resultsText(rs.filter((_, j) => j % producers.length === i))}`).join('; '));
}

/**
 * A topic of `partitions` partitions, each on all three brokers and in sync, and a group
 * that has committed nothing on it yet: the reasons they are not (see `freshGroup`).
 */
export async function freshTopic(
  lab: Pick<LabContext<StartedKafka, unknown>, 'until' | 'stack' | 'observe' | 'say'>,
  topic: string,
  partitions: number,
  group: string,
): Promise<string[]> {
  const { parts, reasons } = await createInSync(lab, topic, { partitions, replicationFactor: 3, replicas: 3 });
  for (const x of parts) lab.say(partText(x));
  return [...reasons, ...(await freshGroup(lab, group, topic))];
}

/** Observes the group's committed offsets on `topic` as `committedBefore`; the reasons it is not a fresh group. */
export async function freshGroup(
  lab: Pick<LabContext<StartedKafka, unknown>, 'stack' | 'observe'>,
  group: string,
  topic: string,
): Promise<string[]> {
  const committed = await lab.stack.admin.committed(group, topic);
  const any = Object.entries(committed).filter(([, o]) => o >= 0);
  lab.observe('committedBefore', committed, any.length ? undefined : `group ${group} has committed nothing yet`);
  return any.length ? [`group ${group} already has committed offsets (${any.map(([q, o]) => `p${q}@${o}`)})`] : [];
}

/**
 * Starts a group consumer with `opts`, waits until `n` distinct messages have been received
 * (see `untilDistinct`), stops it, and observes `caughtUp`: whether they were.
 */
export async function consumeUntilDistinct(
  lab: Pick<LabContext<StartedKafka, unknown>, 'until' | 'history' | 'stack' | 'observe'>,
  opts: ConsumerOptions,
  n: number,
  timeoutMs: number,
): Promise<boolean> {
  const consumer = new KafkaGroupConsumer(lab.stack.bootstrap, lab.history, opts);
  await consumer.start();
  return lab.observe('caughtUp', await untilDistinct(lab, n, timeoutMs).finally(() => consumer.stop()));
}

/** Waits (at most `timeoutMs`) until `n` distinct messages have been received; whether they were. */
export async function untilDistinct(
  lab: Pick<LabContext<StartedKafka, unknown>, 'until' | 'history'>,
  n: number,
  timeoutMs: number,
): Promise<boolean> {
  const distinct = async () => receivedIds(lab.history.ops).size;
  return (await untilCount(lab, `${n} distinct messages received`, distinct, n, timeoutMs)) !== undefined;
}

/** Polls `count` every `intervalMs` until it is at least `n` (at most `timeoutMs`): the count then, or undefined. */
export function untilCount(
  lab: Pick<LabContext<StartedKafka, unknown>, 'until'>,
  what: string,
  count: () => Promise<number>,
  n: number,
  timeoutMs: number,
  intervalMs = 200,
): Promise<number | undefined> {
  const probe = async (): Promise<Probe<number>> => {
    const c = await count();
    return c >= n ? { done: true, value: c } : { done: false, seen: `${c} of ${n}` };
  };
  return lab.until(what, probe, { timeoutMs, intervalMs });
}

/**
 * Connects a probe producer (process "canary", acks=all, no retries) to `endpoints` and asks
 * `leader` with it until it refuses acks=all itself (see `askLeader`, observed under `name`).
 */
export async function canaryUntilRefused(
  lab: Pick<LabContext<StartedKafka, unknown>, 'until' | 'observe' | 'history'>,
  name: string,
  endpoints: string[],
  leader: string,
  topic: string,
  timeoutMs: number,
): Promise<CanaryProbes> {
  const opts = { name: 'canary', acks: 'all', retries: 0, deliveryTimeoutMs: 6000 } as const;
  const canary = await KafkaProducer.connect(endpoints, lab.history, opts);
  return askLeader(lab, name, canary, leader, topic, 'refuses', timeoutMs).finally(() => canary.disconnect());
}

/** Sends `n` messages to `topic` (see `produce`) and says what they met: "10 of 10 acknowledged (10 ok)". */
export async function produceSaid(
  lab: Pick<LabContext<StartedKafka, unknown>, 'history' | 'say'>,
  brokers: string[],
  topic: string,
  n: number,
  opts: Parameters<typeof produce>[4],
): Promise<SendResult[]> {
  const rs = await produce(brokers, lab.history, topic, n, opts);
  lab.say(`${rs.filter((r) => r.ok).length} of ${n} acknowledged (${resultsText(rs)})`);
  return rs;
}

/** Runs `fn` with a reader that bootstraps on `nodes` only (a probe that never waits on the others), then closes it. */
export async function withProbe<T>(
  k: StartedKafka,
  nodes: string[],
  fn: (probe: KafkaReader) => Promise<T>,
): Promise<T> {
  const probe = new KafkaReader({ mode: k.mode, brokers: k.brokerEndpoints(nodes) });
  try {
    return await fn(probe);
  } finally {
    await probe.close();
  }
}

/** A consumer's crash as observed: messages processed, the last offset processed, the group's committed offset, History time. */
export interface ConsumerCrash {
  processed: number;
  lastOffset: number;
  committed: number;
  time: number;
}

/**
 * Runs a group consumer (History process `opts.name`) on partition 0 of `topic` that processes
 * with `handle` and crashes once it is `crashAfter` messages past its last commit (see
 * `CrashingConsumer`), noted as a fault. Observes `crash`. Undefined: no crash within `timeoutMs`.
 */
export async function crashBetweenCommits(
  lab: Pick<LabContext<StartedKafka, unknown>, 'until' | 'stack' | 'observe' | 'history' | 'faults'>,
  opts: Omit<ConsumerOptions, 'onMessage'> & { groupId: string; topics: [string] },
  crashAfter: number,
  handle: (m: ReceivedMessage) => Promise<void>,
  timeoutMs: number,
): Promise<{ crash: ConsumerCrash; fault: FaultRecord | undefined } | undefined> {
  const k = lab.stack;
  let fault: FaultRecord | undefined;
  // The crash happens inside the processing of message o: nothing more is committed.
  const note = (o: number) => {
    fault = lab.faults.note('kill', [opts.name], `the consumer crashed after processing offset ${o}`);
  };
  const consumer = new CrashingConsumer(k.bootstrap, lab.history, opts, crashAfter, handle, note);
  if (!(await consumer.run(lab, timeoutMs))) return undefined;
  const mine = offsetsOf(lab.history.ops, opts.name);
  const lastOffset = Math.max(...mine);
  const committed = (await k.admin.committed(opts.groupId, opts.topics[0]))[0] ?? -1;
  const text =
    `crashed after processing offsets 0..${lastOffset}; the group's committed offset is ${committed}: ` +
    `${lastOffset + 1 - Math.max(0, committed)} processed messages are not committed`;
  const crash = { processed: mine.length, lastOffset, committed, time: consumer.crashTime };
  return { crash: lab.observe('crash', crash, text), fault };
}
