import type { LabContext } from '../../src/engine/lab.ts';
import type { KafkaAdmin, KafkaReader, PartitionState } from './admin.ts';
import { kafkaErrorType } from './errors.ts';
import type { KafkaProducer } from './producer.ts';
import type { StartedKafka } from './stack.ts';

/**
 * Partition views and the waits the labs build on them: ISR in sync, a partition reaching
 * a state, the leader's own answer to acks=all. Every wait is `lab.until`: it gives up
 * without throwing, and the lab observes what it has.
 */
type Waits = Pick<LabContext<StartedKafka, unknown>, 'until'>;

/** The same members, in any order (ISR against replicas, voters against brokers). */
export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/** One partition in a line: "t-0: leader kafka1, replicas kafka1,kafka2,kafka3, isr kafka1,kafka2". */
export function partText(p: PartitionState): string {
  return `${p.topic}-${p.partition}: leader ${p.leader ?? 'none'}, replicas ${p.replicas.join(',')}, isr ${p.isr.join(',')}`;
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

/** Why a topic's configuration in force is not `expected` (key -> value). Empty when it is. */
export function configMismatch(cfg: Record<string, string>, expected: Record<string, string | number | boolean>) {
  return Object.entries(expected)
    .filter(([key, v]) => cfg[key] !== String(v))
    .map(([key, v]) => `the topic's ${key} is ${cfg[key]}, not ${v}`);
}

/**
 * Waits until `topic` has `count` partitions, each led with all `replicas` replicas in
 * sync (followers join the ISR once they have fetched). Undefined when `timeoutMs`
 * passes: the lab observes what it has and its check decides.
 */
export function untilInSync(
  lab: Waits & Pick<LabContext<StartedKafka, unknown>, 'stack'>,
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
 * Creates `topic` and waits (30 s at most) until every partition is led with all
 * `replicas` in sync. Returns the partitions as they are then, and why they are not in
 * sync (empty when they are): a mechanism's reasons.
 */
export async function createInSync(
  lab: Waits & Pick<LabContext<StartedKafka, unknown>, 'stack'>,
  topic: string,
  opts: Parameters<KafkaAdmin['createTopic']>[1] & { partitions: number; replicas: number },
): Promise<{ parts: PartitionState[]; reasons: string[] }> {
  await lab.stack.admin.createTopic(topic, opts);
  const parts =
    (await untilInSync(lab, topic, opts.partitions, opts.replicas, 30_000)) ??
    (await lab.stack.admin.partitions([topic]));
  return { parts, reasons: notInSync(parts, opts.partitions, opts.replicas) };
}

/**
 * Polls partition `partition` of `topic` through `probe` until `ok` holds; returns its
 * state then, or as it is at the bound (`reached` false), and the milliseconds it took.
 */
export async function untilPartition(
  lab: Waits,
  probe: KafkaReader,
  topic: string,
  ok: (p: PartitionState) => boolean,
  opts: { what: string; timeoutMs: number; intervalMs?: number; partition?: number },
): Promise<{ part: PartitionState; reached: boolean; ms: number }> {
  const t0 = Date.now();
  const n = opts.partition ?? 0;
  const hit = await lab.until(
    opts.what,
    async () => {
      const p = await probe.partition(topic, n);
      return ok(p) ? { done: true, value: p } : { done: false, seen: partText(p) };
    },
    { timeoutMs: opts.timeoutMs, intervalMs: opts.intervalMs ?? 200 },
  );
  const part = hit ?? (await probe.partition(topic, n));
  return { part, reached: hit !== undefined, ms: Date.now() - t0 };
}

/** A partition's leader and ISR as `probe` sees them; no leader while it is offline. */
export async function leaderState(
  probe: KafkaReader,
  topic: string,
  partition = 0,
): Promise<{ leader: string | undefined; isr: string[] }> {
  try {
    const x = await probe.partition(topic, partition);
    return { leader: x.leader, isr: x.isr };
  } catch (err) {
    // A topic-level LEADER_NOT_AVAILABLE (the broker has no leader for it yet) = no leader.
    if (kafkaErrorType(err) === 'LEADER_NOT_AVAILABLE') return { leader: undefined, isr: [] };
    throw err;
  }
}

/**
 * Partition 0's log-end offset, for the story only (a request the client happens to send
 * to a frozen broker waits out its timeout, so this may come back empty).
 */
export async function logEnd(probe: KafkaReader, topic: string): Promise<number | undefined> {
  for (let i = 0; i < 2; i++) {
    const ends = await probe.endOffsets(topic).catch(() => undefined);
    if (ends?.[0] !== undefined) return ends[0];
  }
  return undefined;
}

/** What the canary writes met while the lab asked the leader itself. */
export interface CanaryProbes {
  /** The leader gave the answer waited for (refused, or accepted again). */
  answered: boolean;
  ms: number;
  probes: string[];
}

/**
 * Sends acks=all canary writes to partition 0 until `leader` itself answers as awaited:
 * `refuses` (NOT_ENOUGH_REPLICAS) or `accepts`. The leader applies an ISR change a moment
 * after the metadata shows it (seen: an acks=all write appended and waiting for a follower
 * that is gone; a refusal 10 ms after the ISR grew). What the canaries met is shown in the
 * story and judged by no check.
 */
export async function untilCanary(
  lab: Waits,
  canary: KafkaProducer,
  leader: string,
  topic: string,
  awaited: 'refuses' | 'accepts',
  timeoutMs: number,
): Promise<CanaryProbes> {
  const t0 = Date.now();
  const probes: string[] = [];
  const answered = await lab.until(
    `${leader} to ${awaited === 'refuses' ? 'refuse acks=all itself' : 'accept acks=all again'}`,
    async () => {
      const r = await canary.send(topic, { partition: 0 });
      const what = r.ok ? 'ok' : `${r.type} ${(r.error ?? '').split(':')[0]}`;
      probes.push(what);
      const done =
        awaited === 'accepts' ? r.ok : !r.ok && r.type === 'fail' && (r.error ?? '').startsWith('NOT_ENOUGH_REPLICAS:');
      return done ? { done: true, value: true } : { done: false, seen: what };
    },
    { timeoutMs, intervalMs: 100 },
  );
  return { answered: answered === true, ms: Date.now() - t0, probes };
}

/**
 * As `untilCanary(..., 'refuses', ...)`, in the shape the labs observe it (`refused`).
 */
export async function untilLeaderRefuses(
  lab: Waits,
  canary: KafkaProducer,
  leader: string,
  topic: string,
  timeoutMs: number,
): Promise<{ refused: boolean; ms: number; probes: string[] }> {
  const c = await untilCanary(lab, canary, leader, topic, 'refuses', timeoutMs);
  return { refused: c.answered, ms: c.ms, probes: c.probes };
}
