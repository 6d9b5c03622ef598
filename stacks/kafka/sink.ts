import { History, type Op } from '../../src/engine/history.ts';
import type { LabContext } from '../../src/engine/lab.ts';
import { sleep } from '../../src/runtime/poll.ts';
import type { StartedStack } from '../../src/runtime/stack.ts';
import type { KafkaAdmin } from './admin.ts';
import { KafkaProducer } from './client.ts';
import type { StartedKafka } from './stack.ts';
import { readAll } from './workload.ts';

/**
 * An idempotent sink: a compacted topic keyed by message id. A message delivered twice is
 * written twice, and the log cleaner keeps the latest record of each key: stored once.
 */
type Lab = Pick<LabContext<StartedKafka, unknown>, 'until' | 'stack' | 'observe' | 'say' | 'history'>;

/** Compaction within seconds, not hours: segments roll after 1 s and any dirty ratio is worth cleaning. */
export const SINK_CONFIG = {
  'cleanup.policy': 'compact',
  'segment.ms': 1000,
  'min.cleanable.dirty.ratio': 0.01,
  'min.compaction.lag.ms': 0,
};
/** Written last, after a pause longer than segment.ms: it rolls the segment, so every upsert is cleanable. */
export const MARKER = 'end-of-run';
/** The bound for the cleaner to compact the sink: twice log.cleaner.backoff.ms (15 s); seen 0.7..8.3 s. */
export const COMPACT_TIMEOUT_MS = 30_000;
/** What the sink is, for narration. */
export const SINK_TEXT =
  "The sink is compacted (cleanup.policy=compact): a write is a record keyed by the message's id and the log " +
  'cleaner keeps the latest record of each key, so a second write is an upsert. segment.ms=1000 and ' +
  'min.cleanable.dirty.ratio=0.01 let the cleaner act within seconds, not hours.';
/** What `settleSink` does, for narration. */
export const SETTLE_TEXT =
  'The log cleaner compacts closed segments (it looks for work every log.cleaner.backoff.ms, 15 s by default), ' +
  'keeping the latest record per key. After a pause longer than segment.ms a marker record closes the segment ' +
  `holding the upserts; the lab reads the sink until it holds one record per key (${COMPACT_TIMEOUT_MS / 1000} s ` +
  "at most: twice the cleaner's backoff), then once more for the checks.";
/** The sink's read-back, as the History function of its receives. */
export const SINK_READ = 'read-sink';

/** Creates the compacted `topic` on three replicas and observes `sinkPolicy`; the reasons it is not compacted. */
export async function createSink(lab: Lab, topic: string): Promise<string[]> {
  await lab.stack.admin.createTopic(topic, { partitions: 1, replicationFactor: 3, config: { ...SINK_CONFIG } });
  const cfg = await lab.stack.admin.topicConfig(topic);
  const text = ['cleanup.policy', 'segment.ms', 'min.cleanable.dirty.ratio'].map((key) => `${key}=${cfg[key]}`);
  const policy = lab.observe('sinkPolicy', cfg['cleanup.policy'] ?? '?', `${topic}: ${text.join(', ')}`);
  return policy === 'compact' ? [] : [`the sink's cleanup.policy is ${policy}, not compact`];
}

/** The sink's writer (History process `name`): acks=all, two retries. */
export function sinkWriter(lab: Pick<Lab, 'stack' | 'history'>, name: string): Promise<KafkaProducer> {
  return KafkaProducer.connect(lab.stack.bootstrap, lab.history, { name, acks: 'all', retries: 2 });
}

/**
 * Closes the sink's last segment with the marker (written through `writer`), waits for the
 * cleaner (observes `compactedMs`), then reads the sink back as receives `SINK_READ`.
 */
export async function settleSink(lab: Lab, writer: KafkaProducer, topic: string): Promise<void> {
  const k = lab.stack;
  await sleep(SINK_CONFIG['segment.ms'] + 500);
  await writer.send(topic, { key: MARKER, partition: 0 });
  const ms = await untilCompacted(lab, k.bootstrap, k.admin, topic, COMPACT_TIMEOUT_MS);
  if (ms !== undefined) lab.observe('compactedMs', ms, `compacted ${ms} ms after the marker`);
  await readAll(k.bootstrap, k.admin, lab.history, topic, { process: 'sink-reader', f: SINK_READ });
  const keys = sinkKeys(lab.history.ops);
  lab.say(`${topic} holds ${keys.length} records for ${new Set(keys).size} keys (the marker included)`);
}

/** The keys of the sink records the read-back returned (the marker included). */
export function sinkKeys(ops: Op[]): string[] {
  return ops
    .filter((o) => o.f === SINK_READ && o.type === 'ok')
    .map((o) => String((o.value as { msgKey?: string }).msgKey));
}

/**
 * The message keys a topic holds now, in log order, read without recording anything in
 * the lab's History (a probe: what a compacted topic keeps, say).
 */
export async function topicKeys(brokers: string[], admin: KafkaAdmin, topic: string): Promise<string[]> {
  const scratch = new History();
  await readAll(brokers, admin, scratch, topic, { process: 'key-probe', f: 'peek' });
  return scratch.ops
    .filter((o) => o.f === 'peek' && o.type === 'ok')
    .map((o) => String((o.value as { msgKey?: string }).msgKey));
}

/**
 * Reads `topic` (unrecorded, every `intervalMs`) until it holds one record per key: the log
 * cleaner has compacted it. The milliseconds it took, or undefined at the bound.
 */
export async function untilCompacted(
  lab: Pick<LabContext<StartedStack, unknown>, 'until'>,
  brokers: string[],
  admin: KafkaAdmin,
  topic: string,
  timeoutMs: number,
  intervalMs = 2000,
): Promise<number | undefined> {
  const t0 = Date.now();
  const done = await lab.until(
    `${topic} compacted to one record per key`,
    async () => {
      const keys = await topicKeys(brokers, admin, topic);
      const distinct = new Set(keys).size;
      return keys.length === distinct
        ? { done: true, value: true }
        : { done: false, seen: `${keys.length} records for ${distinct} keys` };
    },
    { timeoutMs, intervalMs },
  );
  return done ? Date.now() - t0 : undefined;
}
