import {
  type Consumer,
  type EachBatchPayload,
  Kafka,
  type KafkaMessage,
  logLevel,
  Partitioners,
  type Producer,
} from 'kafkajs';
import type { History } from '../../src/engine/history.ts';
import { sleep, TimeoutError, withTimeout } from '../../src/runtime/poll.ts';
import { quietKafkaJs } from './quiet.ts';

quietKafkaJs();

/**
 * Clients still connected, with the brokers they talk to. A stack's stop() closes its own
 * (`closeClientsOf`), so a lab that threw half-way leaves no kafkajs client retrying
 * against removed containers and keeping the process alive.
 */
const live = new Map<{ close(): Promise<void> }, string[]>();

export async function closeClientsOf(brokers: string[]): Promise<void> {
  const mine = [...live].filter(([, b]) => b.some((x) => brokers.includes(x))).map(([c]) => c);
  await Promise.all(mine.map((c) => c.close().catch(() => {})));
}
/**
 * The labs' Kafka client: kafkajs behind a small interface of ours, so that a lab never
 * depends on kafkajs's quirks, and every send and receive lands in the History.
 *
 * Messages are identified: the value is JSON `{id, producer, seq}` (id = `<producer>-<seq>`).
 *
 *   send     invoke {id, producer, seq, topic, key?, acks}, then
 *            ok   {.., partition, offset}   acknowledged as asked by `acks`
 *                                           (acks=0: only handed to the socket!)
 *            fail                           certainly not written: every attempt was
 *                                           refused before an append (NOT_ENOUGH_REPLICAS,
 *                                           NOT_LEADER, connection refused, ...)
 *            info                           unknown: some attempt timed out, lost its
 *                                           connection, or got NOT_ENOUGH_REPLICAS_AFTER_APPEND
 *   receive  ok {id, key: '<topic>-<partition>', producer, seq, topic, partition, offset, group}
 *            (`key` is the ordering checker's key: Kafka orders within a partition)
 *   commit   ok / fail {group, offsets: {'<topic>-<partition>': next offset}}
 *
 * The consumer commits by itself (kafkajs's own auto-commit is off, it commits after every
 * batch): `commit: 'auto'` commits what was processed every `autoCommitIntervalMs`, like
 * the Java client's enable.auto.commit (default 5000 ms); `'manual'` commits after each
 * processed batch. `crash()` stops without committing.
 */

export type Acks = 'all' | 0 | 1;

export interface MessageId {
  id: string;
  producer: string;
  seq: number;
}

export interface ProducerOptions {
  /** The producer's name: the History process and the prefix of message ids. */
  name: string;
  /** Always explicit: since Kafka 3.0 the Java producer's default is acks=all with idempotence. */
  acks: Acks;
  /** Kafka's idempotent producer (needs acks=all): retries cannot duplicate. Default false. */
  idempotent?: boolean;
  /** Attempts after the first, within deliveryTimeoutMs. Default 5. */
  retries?: number;
  /** Give up on a send after this long, as delivery.timeout.ms (production 120000). Default 10000. */
  deliveryTimeoutMs?: number;
  /** One request's timeout (request.timeout.ms, production 30000). Default 4000. */
  requestTimeoutMs?: number;
  /** How long the leader waits for the ISR before REQUEST_TIMED_OUT (acks=all). Default 3000. */
  ackTimeoutMs?: number;
}

export interface SendOptions {
  /** The Kafka message key (same key, same partition). */
  key?: string;
  partition?: number;
}

export interface SendResult {
  ok: boolean;
  type: 'ok' | 'fail' | 'info';
  message: MessageId;
  partition?: number;
  offset?: number;
  error?: string;
}

/** Error names of Kafka that certainly mean "not appended" (the broker refused before writing). */
const CERTAIN_FAILURES = new Set([
  'NOT_ENOUGH_REPLICAS',
  'NOT_LEADER_FOR_PARTITION',
  'NOT_LEADER_OR_FOLLOWER',
  'LEADER_NOT_AVAILABLE',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_REQUIRED_ACKS',
  'TOPIC_AUTHORIZATION_FAILED',
  'CORRUPT_MESSAGE',
  'INVALID_RECORD',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'INVALID_PRODUCER_EPOCH',
  'INVALID_TOPIC_EXCEPTION',
]);

/** The chain of an error and what it wraps (kafkajs wraps retries and aggregates). */
export function errorChain(err: unknown): unknown[] {
  const out: unknown[] = [];
  const visit = (e: unknown, depth: number) => {
    if (!e || depth > 5) return;
    out.push(e);
    const x = e as { originalError?: unknown; cause?: unknown; errors?: unknown[] };
    if (x.originalError) visit(x.originalError, depth + 1);
    if (x.cause) visit(x.cause, depth + 1);
    for (const inner of x.errors ?? []) visit(inner, depth + 1);
  };
  visit(err, 0);
  return out;
}

/** The Kafka error name (kafkajs `type`) found in an error's chain, if any. */
export function kafkaErrorType(err: unknown): string | undefined {
  for (const e of errorChain(err)) {
    const t = (e as { type?: unknown }).type;
    if (typeof t === 'string') return t;
  }
  return undefined;
}

/**
 * One send attempt's error: `fail` when the message was certainly not appended, `info`
 * when it may have been (a timeout, a dropped connection, anything unknown).
 */
export function classifySendError(err: unknown): 'fail' | 'info' {
  const chain = errorChain(err);
  for (const e of chain) {
    const x = e as { type?: string; name?: string; message?: string; code?: string };
    if (x instanceof TimeoutError) return 'info';
    if (x.type === 'NOT_ENOUGH_REPLICAS_AFTER_APPEND' || x.type === 'REQUEST_TIMED_OUT') return 'info';
    if (x.name === 'KafkaJSRequestTimeoutError' || x.name === 'KafkaJSConnectionClosedError') return 'info';
  }
  for (const e of chain) {
    const x = e as { type?: string; name?: string; message?: string; code?: string };
    if (x.type && CERTAIN_FAILURES.has(x.type)) return 'fail';
    // Nothing was sent: the connection was refused, or no broker/metadata to send to.
    if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH/.test(x.message ?? '') || x.code === 'ECONNREFUSED') return 'fail';
    if (x.name === 'KafkaJSBrokerNotFound' || x.name === 'KafkaJSMetadataNotLoaded') return 'fail';
  }
  return 'info';
}

/** A short text for an error: Kafka's error name when there is one. */
export function errorText(err: unknown): string {
  const type = kafkaErrorType(err);
  const msg = (err as Error)?.message ?? String(err);
  return type && !msg.includes(type) ? `${type}: ${msg}` : msg;
}

function kafkaClient(brokers: string[], clientId: string, requestTimeoutMs: number, retries: number): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1500,
    requestTimeout: requestTimeoutMs,
    retry: { retries, initialRetryTime: 100, maxRetryTime: 1000 },
  });
}

/** A producer of identified messages. Sends one message at a time (in order). */
export class KafkaProducer {
  readonly name: string;
  readonly opts: Required<ProducerOptions>;
  private readonly history: History;
  private readonly producer: Producer;
  private seq = 0;
  acknowledged = 0;

  private constructor(history: History, producer: Producer, opts: Required<ProducerOptions>) {
    this.history = history;
    this.producer = producer;
    this.opts = opts;
    this.name = opts.name;
  }

  static async connect(brokers: string[], history: History, options: ProducerOptions): Promise<KafkaProducer> {
    const opts: Required<ProducerOptions> = {
      idempotent: false,
      retries: 5,
      deliveryTimeoutMs: 10_000,
      requestTimeoutMs: 4000,
      ackTimeoutMs: 3000,
      ...options,
    };
    if (opts.idempotent && opts.acks !== 'all') throw new Error('an idempotent producer needs acks=all');
    // Retries are ours (each attempt classified), except for the idempotent producer, whose
    // retries must reuse its sequence numbers: those are kafkajs's own.
    const kafka = kafkaClient(brokers, opts.name, opts.requestTimeoutMs, opts.idempotent ? opts.retries : 0);
    const producer = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: opts.idempotent,
      maxInFlightRequests: opts.idempotent ? 1 : undefined,
      allowAutoTopicCreation: false,
      retry: { retries: opts.idempotent ? opts.retries : 0, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    await withTimeout(15_000, `connecting producer ${opts.name}`, () => producer.connect());
    const p = new KafkaProducer(history, producer, opts);
    live.set(p, brokers);
    return p;
  }

  /** The id the next send will carry. */
  nextId(): MessageId {
    return { id: `${this.name}-${this.seq + 1}`, producer: this.name, seq: this.seq + 1 };
  }

  /** Sends one new identified message and records it. Never throws for a refused send. */
  async send(topic: string, opts: SendOptions = {}): Promise<SendResult> {
    const seq = ++this.seq;
    const message: MessageId = { id: `${this.name}-${seq}`, producer: this.name, seq };
    const value = {
      ...message,
      topic,
      acks: this.opts.acks,
      ...(opts.key !== undefined ? { key: opts.key } : {}),
      ...(opts.partition !== undefined ? { partition: opts.partition } : {}),
    };
    const h = this.history.invoke(this.name, 'send', value);
    const acks = this.opts.acks === 'all' ? -1 : this.opts.acks;
    const deadline = Date.now() + this.opts.deliveryTimeoutMs;
    const attempts = this.opts.idempotent ? 1 : this.opts.retries + 1;
    let uncertain = false;
    let lastError: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      try {
        const meta = await withTimeout(left, `send ${message.id}`, () =>
          this.producer.send({
            topic,
            acks,
            timeout: this.opts.ackTimeoutMs,
            messages: [{ key: opts.key ?? null, value: JSON.stringify(message), partition: opts.partition }],
          }),
        );
        const r = meta[0];
        const partition = r?.partition ?? opts.partition;
        const offset = r?.baseOffset !== undefined ? Number(r.baseOffset) : undefined;
        h.ok({ ...value, partition, offset, attempts: attempt + 1 });
        this.acknowledged++;
        return { ok: true, type: 'ok', message, partition, offset };
      } catch (err) {
        lastError = err;
        if (classifySendError(err) === 'info') uncertain = true;
        if (this.opts.idempotent) uncertain ||= (err as { retryCount?: number }).retryCount !== 0;
        const left2 = deadline - Date.now();
        if (attempt + 1 < attempts && left2 > 0) await sleep(Math.min(100 * 2 ** attempt, 1000, left2));
      }
    }
    const text = lastError === undefined ? 'delivery timeout before the first attempt' : errorText(lastError);
    if (uncertain || lastError === undefined) {
      h.info(text);
      return { ok: false, type: 'info', message, error: text };
    }
    h.fail(text);
    return { ok: false, type: 'fail', message, error: text };
  }

  async disconnect(): Promise<void> {
    live.delete(this);
    await withTimeout(10_000, `disconnecting producer ${this.name}`, () => this.producer.disconnect()).catch(() => {});
  }

  close(): Promise<void> {
    return this.disconnect();
  }
}

export interface ReceivedMessage extends MessageId {
  topic: string;
  partition: number;
  offset: number;
  /** The Kafka message key. */
  msgKey: string | undefined;
}

export interface ConsumerOptions {
  /** The History process (one per consumer), and kafkajs's client id. */
  name: string;
  groupId: string;
  topics: string[];
  /** Start from the earliest offset when the group has none committed (auto.offset.reset). Default true. */
  fromBeginning?: boolean;
  /** 'auto': commit processed offsets every autoCommitIntervalMs; 'manual': after each batch. Default 'auto'. */
  commit?: 'auto' | 'manual';
  /** Java's auto.commit.interval.ms (default 5000). */
  autoCommitIntervalMs?: number;
  /** session.timeout.ms (Java default 45000; the broker allows 6000..1800000 by default). Default 6000. */
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** The History function of receives, so several groups can be checked apart. Default 'receive'. */
  f?: string;
  /** Called for each message before it counts as processed (a slow or failing sink). */
  onMessage?: (m: ReceivedMessage) => Promise<void> | void;
  /** How many messages a batch may hand over at most (kafkajs fetches more; the rest waits). */
  maxBatch?: number;
}

export interface AssignmentChange {
  /** History time. */
  time: number;
  generation: number;
  /** topic -> partitions. */
  assignment: Record<string, number[]>;
}

/**
 * A member of a consumer group. `start()`, `stop()` (commit, then leave), `crash()`
 * (leave without committing what was processed since the last commit), `start()` again.
 */
export class KafkaGroupConsumer {
  readonly opts: Required<Omit<ConsumerOptions, 'onMessage'>> & Pick<ConsumerOptions, 'onMessage'>;
  private readonly brokers: string[];
  private readonly history: History;
  private consumer: Consumer | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** '<topic>\0<partition>' -> next offset to commit (processed, not yet committed). */
  private pending = new Map<string, { topic: string; partition: number; offset: number }>();
  private stopping = false;
  private generation = 0;
  readonly assignments: AssignmentChange[] = [];
  received = 0;
  commits = 0;

  constructor(brokers: string[], history: History, options: ConsumerOptions) {
    this.brokers = brokers;
    this.history = history;
    this.opts = {
      fromBeginning: true,
      commit: 'auto',
      autoCommitIntervalMs: 5000,
      sessionTimeoutMs: 6000,
      heartbeatIntervalMs: 1000,
      f: 'receive',
      maxBatch: 1_000_000,
      ...options,
    };
  }

  get name(): string {
    return this.opts.name;
  }

  get running(): boolean {
    return this.consumer !== undefined;
  }

  /** The partitions assigned at the last rebalance (topic -> partitions). */
  get assignment(): Record<string, number[]> {
    return this.assignments.at(-1)?.assignment ?? {};
  }

  /** Joins the group and starts consuming; resolves once the first assignment arrived. */
  async start(timeoutMs = 30_000): Promise<void> {
    if (this.consumer) return;
    this.stopping = false;
    this.pending.clear();
    const kafka = kafkaClient(this.brokers, this.opts.name, 5000, 5);
    const c = kafka.consumer({
      groupId: this.opts.groupId,
      sessionTimeout: this.opts.sessionTimeoutMs,
      rebalanceTimeout: Math.max(10_000, this.opts.sessionTimeoutMs),
      heartbeatInterval: this.opts.heartbeatIntervalMs,
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: false,
      // kafkajs restarts a consumer that crashed (retries exhausted) for ever; once we
      // stopped it, with the cluster perhaps gone, that loop would keep the process alive.
      retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 2000, restartOnFailure: async () => !this.stopping },
    });
    this.consumer = c;
    const joined = new Promise<void>((resolve) => {
      c.on(c.events.GROUP_JOIN, (e) => {
        this.generation++;
        const assignment: Record<string, number[]> = {};
        for (const [t, ps] of Object.entries(e.payload.memberAssignment)) assignment[t] = [...ps].sort();
        this.assignments.push({ time: this.history.now(), generation: this.generation, assignment });
        // Offsets of partitions now owned by another member are not ours to commit.
        for (const [k, v] of this.pending) if (!assignment[v.topic]?.includes(v.partition)) this.pending.delete(k);
        resolve();
      });
    });
    live.set(this, this.brokers);
    try {
      await withTimeout(15_000, `connecting consumer ${this.opts.name}`, () => c.connect());
      for (const topic of this.opts.topics) await c.subscribe({ topic, fromBeginning: this.opts.fromBeginning });
      await c.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: (payload) => this.eachBatch(payload),
      });
      if (this.opts.commit === 'auto') {
        this.timer = setInterval(() => void this.commit().catch(() => {}), this.opts.autoCommitIntervalMs);
        this.timer.unref();
      }
      await withTimeout(timeoutMs, `${this.opts.name} joining group ${this.opts.groupId}`, () => joined);
    } catch (err) {
      await this.crash();
      throw err;
    }
  }

  private async eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    let n = 0;
    for (const m of batch.messages) {
      if (this.stopping || !isRunning() || isStale() || n >= this.opts.maxBatch) break;
      const r = parse(batch.topic, batch.partition, m);
      if (r) {
        await this.opts.onMessage?.(r);
        this.received++;
        this.history
          .invoke(this.opts.name, this.opts.f, { topic: r.topic, partition: r.partition })
          .ok({ ...r, key: `${r.topic}-${r.partition}`, group: this.opts.groupId });
      }
      resolveOffset(m.offset);
      this.pending.set(`${batch.topic}\u0000${batch.partition}`, {
        topic: batch.topic,
        partition: batch.partition,
        offset: Number(m.offset) + 1,
      });
      n++;
    }
    if (this.opts.commit === 'manual' && !this.stopping) await this.commit();
    if (!this.stopping) await heartbeat().catch(() => {});
  }

  /** Commits what was processed since the last commit (recorded as a `commit` op). */
  async commit(): Promise<boolean> {
    const c = this.consumer;
    if (!c || this.pending.size === 0) return true;
    const entries = [...this.pending.values()];
    const offsets = Object.fromEntries(entries.map((e) => [`${e.topic}-${e.partition}`, e.offset]));
    const h = this.history.invoke(this.opts.name, 'commit', { group: this.opts.groupId, offsets });
    try {
      await withTimeout(10_000, 'commit', () =>
        c.commitOffsets(entries.map((e) => ({ topic: e.topic, partition: e.partition, offset: String(e.offset) }))),
      );
      for (const e of entries) {
        const k = `${e.topic}\u0000${e.partition}`;
        if (this.pending.get(k)?.offset === e.offset) this.pending.delete(k);
      }
      this.commits++;
      h.ok();
      return true;
    } catch (err) {
      h.fail(errorText(err));
      return false;
    }
  }

  /** Clean stop: stop processing, commit what was processed, leave the group (an immediate rebalance). */
  async stop(): Promise<void> {
    const c = this.consumer;
    if (!c) return;
    clearInterval(this.timer);
    this.stopping = true;
    // Still a member: the commit is accepted; the batch in progress ends at its next message.
    await this.commit();
    await withTimeout(15_000, 'stopping the consumer', () => c.disconnect()).catch(() => {});
    this.consumer = undefined;
    live.delete(this);
  }

  /**
   * A crash: stop consuming and leave without committing. What was processed since the
   * last commit will be read again by whoever gets the partitions. (kafkajs always sends
   * LeaveGroup on disconnect, so the rebalance is immediate; a real crash is noticed only
   * after session.timeout.ms.)
   */
  async crash(): Promise<void> {
    const c = this.consumer;
    if (!c) return;
    clearInterval(this.timer);
    this.stopping = true;
    this.pending.clear();
    await withTimeout(15_000, 'crashing the consumer', () => c.disconnect()).catch(() => {});
    this.consumer = undefined;
    live.delete(this);
  }

  /** Teardown (closeClientsOf): leave without committing. */
  close(): Promise<void> {
    return this.crash();
  }
}

function parse(topic: string, partition: number, m: KafkaMessage): ReceivedMessage | undefined {
  try {
    const v = JSON.parse(m.value?.toString() ?? '') as Partial<MessageId>;
    if (typeof v.id !== 'string' || typeof v.seq !== 'number' || typeof v.producer !== 'string') return undefined;
    return {
      id: v.id,
      producer: v.producer,
      seq: v.seq,
      topic,
      partition,
      offset: Number(m.offset),
      msgKey: m.key?.toString(),
    };
  } catch {
    return undefined;
  }
}
