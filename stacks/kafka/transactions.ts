/**
 * Kafka transactions as a lab reads them, through Kafka's own Java clients and tools inside a
 * broker node: the exactly-once copier of Kafka's system tests
 * (kafka-transactional-message-copier.sh: consume a partition with read_committed, produce each
 * record to the output topic and commit the consumed offsets in the same transaction), started
 * in the background so that it can be stopped and killed; kafka-transactions.sh describe; the
 * transaction markers kafka-dump-log.sh finds in a partition's log; the console consumer at
 * either isolation level. The end offsets at both isolation levels (the high watermark and the
 * last stable offset) come from ListOffsets (API 2) over the wire, in milliseconds.
 */

import { INTERNAL_PORT } from './config.ts';
import { heapEnv, JavaTool, jsonLines, runJavaTool } from './java-tool.ts';
import type { StartedKafka } from './stack.ts';
import { KafkaWireError, Reader, request, Writer } from './wire.ts';

export interface CopierOptions {
  transactionalId: string;
  group: string;
  input: string;
  output: string;
  /** Records per transaction (max.poll.records of its consumer; each poll is one transaction). */
  transactionSize: number | string;
}

/** The copier's command line (the same for a first instance and its restart). */
export function copierArgs(node: string, o: CopierOptions): string[] {
  return [
    'kafka-transactional-message-copier.sh',
    '--broker-list',
    `${node}:${INTERNAL_PORT}`,
    '--transactional-id',
    o.transactionalId,
    '--consumer-group',
    o.group,
    '--input-topic',
    o.input,
    '--input-partition',
    '0',
    '--output-topic',
    o.output,
    '--transaction-size',
    String(o.transactionSize),
    '--use-group-metadata',
    // Subscribe, not assign: the position is read in the rebalance listener, after initTransactions. Assigned,
    // the copier reads it first, and a dead instance's pending offset commit (its open transaction) blocks that
    // read (OffsetFetch requires stable offsets, KIP-447) until the transaction times out.
    '--group-mode',
  ];
}

/** Starts the copier in the background inside `node`, as `name`: its JSON lines are read as they come. */
export function startCopier(k: StartedKafka, node: string, o: CopierOptions, name: string): Promise<JavaTool> {
  return JavaTool.start(k.cluster.node(node), name, copierArgs(node, o));
}

/** A copier run to its end: its exit code, what it had left to copy once assigned, what it copied. */
export interface CopierRun {
  exitCode: number;
  remainingAtStart: number;
  processed: number;
  /** The last lines of its stderr (why it failed). */
  stderr: string;
}

/** Runs the copier inside `node` until it has copied its input partition to the end (or `timeoutSec`). */
export async function runCopier(
  k: StartedKafka,
  node: string,
  o: CopierOptions,
  timeoutSec: number,
): Promise<CopierRun> {
  const r = await runJavaTool(k.cluster.node(node), 'copier-2', copierArgs(node, o), { timeoutMs: timeoutSec * 1000 });
  const events = jsonLines<CopierEvent>(r.stdout);
  return {
    exitCode: r.exitCode,
    remainingAtStart: events.find((e) => e.stage === 'RebalanceComplete')?.remaining ?? -1,
    processed: events.at(-1)?.totalProcessed ?? 0,
    stderr: r.stderr.trim().split('\n').slice(-3).join(' | '),
  };
}

/** One JSON line of the copier: a progress line ("stage": "ProcessLoop") or its "shutdown_complete". */
export interface CopierEvent {
  stage?: string;
  shutdown_complete?: string;
  totalProcessed: number;
  remaining: number;
}

/** What `kafka-transactions.sh describe --transactional-id` says: its state and partitions. */
export interface TransactionView {
  state?: string;
  producerId?: number;
  producerEpoch?: number;
  partitions: string[];
  text: string;
}

export async function describeTransaction(k: StartedKafka, node: string, id: string): Promise<TransactionView> {
  const r = await k.tool(node, 'kafka-transactions.sh', 'describe', '--transactional-id', id);
  return parseTransaction(r.stdout || r.stderr);
}

/** The tool prints a header and one row, tab-separated: CoordinatorId, TransactionalId, ..., TopicPartitions. */
export function parseTransaction(out: string): TransactionView {
  const lines = out
    .trim()
    .split('\n')
    .filter((l) => l.trim());
  const head = lines.findIndex((l) => /\bTransactionState\b/.test(l));
  if (head < 0 || !lines[head + 1]) return { partitions: [], text: out.trim().slice(0, 300) };
  const row = (l: string | undefined) => (l ?? '').split('\t').map((c) => c.trim());
  const cols = row(lines[head]);
  const vals = row(lines[head + 1]);
  const at = (name: string) => vals[cols.indexOf(name)];
  const parts = at('TopicPartitions') ?? '';
  return {
    state: at('TransactionState'),
    producerId: Number(at('ProducerId')),
    producerEpoch: Number(at('ProducerEpoch')),
    partitions: parts && parts !== 'None' ? parts.split(',') : [],
    text: lines.slice(head, head + 2).join('\n'),
  };
}

/** The transaction markers in partition 0 of `topic`, as kafka-dump-log.sh reads its log on `node` (a replica). */
export async function markers(
  k: StartedKafka,
  node: string,
  topic: string,
): Promise<{ commit: number; abort: number }> {
  const file = `/var/lib/kafka/data/${topic}-0/00000000000000000000.log`;
  const r = await k.cluster
    .node(node)
    .exec(['kafka-dump-log.sh', '--files', file, '--print-data-log'], { env: heapEnv() });
  return {
    commit: (r.stdout.match(/endTxnMarker: COMMIT/g) ?? []).length,
    abort: (r.stdout.match(/endTxnMarker: ABORT/g) ?? []).length,
  };
}

/**
 * The message ids (`id` of each JSON value) a console consumer reads from `topic`, from the beginning at
 * `isolation`, until idle for 8 s.
 */
export async function readIsolated(
  k: StartedKafka,
  node: string,
  topic: string,
  isolation: 'read_committed' | 'read_uncommitted',
): Promise<string[]> {
  const args = ['--topic', topic, '--from-beginning', '--isolation-level', isolation, '--timeout-ms', '8000'];
  const r = await k.tool(node, 'kafka-console-consumer.sh', ...args);
  return r.stdout.split('\n').flatMap((l) => /"id":"([^"]+)"/.exec(l)?.[1] ?? []);
}

/** Partition 0's high watermark (what read_uncommitted reads to) and last stable offset (read_committed). */
export interface StableOffsets {
  highWatermark: number;
  lastStable: number;
}

/** ListOffsets v6 (latest) at both isolation levels, asked of the partition's leader through its host endpoint. */
export async function stableOffsets(k: StartedKafka, leader: string, topic: string): Promise<StableOffsets> {
  const [highWatermark, lastStable] = await Promise.all([0, 1].map((iso) => latest(k.broker(leader), topic, iso)));
  return { highWatermark: highWatermark as number, lastStable: lastStable as number };
}

const LIST_OFFSETS = 2;

async function latest(endpoint: string, topic: string, isolation: number): Promise<number> {
  const body = new Writer()
    .int32(-1) // replica id: a consumer
    .int8(isolation)
    .uvarint(2) // topics: 1
    .compactString(topic)
    .uvarint(2) // partitions: 1
    .int32(0)
    .int32(-1) // current leader epoch: unknown
    .int64(-1n) // timestamp -1: the latest offset
    .uvarint(0)
    .uvarint(0)
    .uvarint(0)
    .bytes();
  const r = new Reader(await request(endpoint, LIST_OFFSETS, 6, body, 3000));
  r.int32(); // throttle
  r.compactArrayLength();
  r.compactString();
  r.compactArrayLength();
  r.int32();
  const err = r.int16();
  r.int64(); // timestamp
  const offset = Number(r.int64());
  if (err !== 0) throw new KafkaWireError(err, 'ListOffsets');
  return offset;
}
