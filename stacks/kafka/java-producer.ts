import { Consumer, stringDeserializers } from '@platformatic/kafka';
import { sleep, withTimeout } from '../../src/runtime/poll.ts';
import type { KafkaAdmin } from './admin.ts';
import { clientOptions } from './connection.ts';
import { JavaTool, jsonLines } from './java-tool.ts';
import type { StartedKafka } from './stack.ts';

/**
 * Kafka's own Java producer, as its system tests drive it: kafka-verifiable-producer.sh run
 * inside a node, one JSON event per line on stdout (producer_send_success with the offset,
 * producer_send_error). Values are its counter "0", "1", ...: the producer's own sequence.
 * The Java client is the reference for idempotence (KIP-98; on by default since 3.0, KIP-679).
 */

/** Where the producer's files live inside the node (the entrypoint's own writable folder). */
const DIR = '/run/kafka';

export interface JavaProducerReport {
  /** Values acknowledged, in the order the producer was told. */
  acked: number[];
  /** Sends that failed for good: value and the exception's message. */
  errors: { value: number; message: string }[];
  /** Retries the producer logged (Sender's WARN "... retrying (N attempts left)"). */
  retries: number;
  /** A few retry lines as logged, for the story. */
  retryLines: string[];
}

/** A producer config file's text from a map (key=value lines). */
export function propertiesText(props: Record<string, string | number | boolean>): string {
  return Object.entries(props)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
}

/** What kafka-verifiable-producer.sh printed: its JSON events on stdout, its retry warnings on stderr. */
export function parseProducerOutput(stdout: string, stderr: string): JavaProducerReport {
  const acked: number[] = [];
  const errors: { value: number; message: string }[] = [];
  for (const e of jsonLines<{ name?: string; value?: string; message?: string }>(stdout)) {
    if (e.name === 'producer_send_success') acked.push(Number(e.value));
    else if (e.name === 'producer_send_error') errors.push({ value: Number(e.value), message: e.message ?? '' });
  }
  const retryLines = stderr.split('\n').filter((l) => /retrying \(\d+ attempts left\)/.test(l));
  return { acked, errors, retries: retryLines.length, retryLines: retryLines.slice(0, 3).map((l) => l.trim()) };
}

/**
 * The producer's sequence numbers as a final read found them (`log`, in offset order) against those it was told
 * were acknowledged: extra copies, acknowledged values missing, steps back, and first copies out of order.
 */
export function logFindings(log: string[], acked: number[]) {
  const values = log.map(Number);
  const count = new Map<number, number>();
  for (const v of values) count.set(v, (count.get(v) ?? 0) + 1);
  const twice = [...count].filter(([, n]) => n > 1).map(([v]) => v);
  const lost = acked.filter((v) => !count.has(v));
  const firsts = values.filter((v, i) => values.indexOf(v) === i);
  return {
    records: values.length,
    distinct: count.size,
    duplicates: values.length - count.size,
    twice,
    lost,
    stepsBack: values.filter((v, i) => i > 0 && v <= (values[i - 1] ?? -1)).length,
    reordered: firsts.filter((v, i) => i > 0 && v < (firsts[i - 1] ?? -1)).length,
  };
}

/** kafka-verifiable-producer.sh running inside one node until stopped. */
export class JavaProducer {
  private readonly tool: JavaTool;

  private constructor(tool: JavaTool) {
    this.tool = tool;
  }

  /** Starts the producer in `node` against `broker`'s listener, `perSec` messages a second, with `props`. */
  static async start(
    k: StartedKafka,
    node: string,
    topic: string,
    props: Record<string, string | number | boolean>,
    perSec: number,
  ): Promise<JavaProducer> {
    const n = k.cluster.node(node);
    await n.run(['bash', '-c', `cat > ${DIR}/producer.properties <<'EOF'\n${propertiesText(props)}\nEOF`]);
    const args = ['kafka-verifiable-producer.sh', '--bootstrap-server', `${node}:9092`, '--topic', topic];
    const rest = ['--throughput', String(perSec), '--producer.config', `${DIR}/producer.properties`];
    return new JavaProducer(await JavaTool.start(n, 'producer', [...args, ...rest]));
  }

  /** SIGTERM: the producer stops sending, flushes what it holds (close()), and exits; its report. */
  async stop(timeoutMs = 60_000): Promise<JavaProducerReport> {
    if ((await this.tool.stop(timeoutMs)) === undefined)
      throw new Error(`the Java producer did not flush and exit within ${timeoutMs} ms`);
    return parseProducerOutput(this.tool.stdout, this.tool.stderr);
  }
}

/** One producer's state on a partition leader, as kafka-transactions.sh describe-producers prints it. */
export interface ProducerState {
  producerId: number;
  epoch: number;
  lastSequence: number;
}

/** Rows of describe-producers: "ProducerId ProducerEpoch LatestCoordinatorEpoch LastSequence ..." then numbers. */
export function parseDescribeProducers(out: string): ProducerState[] {
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((c) => c.length >= 4 && /^\d+$/.test(c[0] ?? ''))
    .map((c) => ({ producerId: Number(c[0]), epoch: Number(c[1]), lastSequence: Number(c[3]) }));
}

/** The producers partition 0 of `topic` keeps state for (dedup state: producer id, epoch, last sequence). */
export async function describeProducers(k: StartedKafka, node: string, topic: string): Promise<ProducerState[]> {
  const r = await k.tool(node, 'kafka-transactions.sh', 'describe-producers', '--topic', topic, '--partition', '0');
  if (r.exitCode !== 0) throw new Error(`describe-producers exited ${r.exitCode}: ${r.stderr.trim()}`);
  return parseDescribeProducers(r.stdout);
}

/**
 * Partition 0 of `topic` from its first offset to its end now, as a consumer reads it:
 * every value in offset order (raw strings; no client-side dedup of any kind).
 */
export async function readLog(brokers: string[], admin: KafkaAdmin, topic: string): Promise<string[]> {
  const end = (await admin.endOffsets(topic))[0] ?? 0;
  const values = new Map<number, string>();
  const consumer = new Consumer({
    ...clientOptions(brokers, 'midlab-log-reader', 5000, 5),
    groupId: `midlab-log-${topic}-${Date.now()}`,
    autocommit: false,
    maxWaitTime: 500,
    deserializers: stringDeserializers,
  });
  try {
    const stream = await withTimeout(15_000, `reading ${topic}`, () =>
      consumer.consume({ topics: [topic], mode: 'earliest' }),
    );
    // Never break out of the loop: close() below ends the stream (see consumer.ts).
    void (async () => {
      for await (const m of stream) if (m.partition === 0) values.set(Number(m.offset), m.value ?? '');
    })().catch(() => {});
    const deadline = Date.now() + 60_000;
    while (values.size < end && Date.now() < deadline) await sleep(200);
  } finally {
    await withTimeout(15_000, `closing the reader of ${topic}`, () => consumer.close(true)).catch(() => {});
  }
  return [...values.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}
