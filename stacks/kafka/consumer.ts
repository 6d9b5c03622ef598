import { Consumer, type Message, type MessagesStream, stringDeserializers } from '@platformatic/kafka';
import type { History } from '../../src/engine/history.ts';
import { sleep, withTimeout } from '../../src/runtime/poll.ts';
import { clientOptions, live } from './connection.ts';
import { errorText } from './errors.ts';
import type { MessageId } from './producer.ts';

export interface ReceivedMessage extends MessageId {
  topic: string;
  partition: number;
  offset: number;
  /** The Kafka message key. */
  msgKey: string | undefined;
}

export interface ConsumerOptions {
  /** The History process (one per consumer), and the client id. */
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
  /** How many messages a batch may hand over at most ('manual' commits after each batch). */
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
  private consumer: Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** '<topic>\0<partition>' -> next offset to commit (processed, not yet committed). */
  private pending = new Map<string, { topic: string; partition: number; offset: number }>();
  /** '<topic>\0<partition>' -> next offset to process (what this member processed, committed or not). */
  private position = new Map<string, number>();
  private stopping = false;
  private generation = 0;
  readonly assignments: AssignmentChange[] = [];
  received = 0;
  commits = 0;
  /** When the client's message stream failed and a new client joined again, and why. */
  readonly restarts: { time: number; error: string }[] = [];

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
    this.position.clear();
    try {
      await this.join(timeoutMs);
    } catch (err) {
      await this.crash();
      throw err;
    }
  }

  /** A new client joins the group and consumes; resolves once its first assignment arrived. */
  private async join(timeoutMs: number): Promise<void> {
    const c: Client = new Consumer({
      ...clientOptions(this.brokers, this.opts.name, 5000, 5),
      groupId: this.opts.groupId,
      sessionTimeout: this.opts.sessionTimeoutMs,
      rebalanceTimeout: Math.max(10_000, this.opts.sessionTimeoutMs),
      heartbeatInterval: this.opts.heartbeatIntervalMs,
      maxWaitTime: 500,
      autocommit: false,
      deserializers: stringDeserializers,
    });
    this.consumer = c;
    const joined = new Promise<void>((resolve) => {
      c.on('consumer:group:join', (e) => {
        this.generation++;
        const assignment: Record<string, number[]> = {};
        for (const a of e.assignments ?? []) if (a.partitions.length) assignment[a.topic] = [...a.partitions].sort();
        this.assignments.push({ time: this.history.now(), generation: this.generation, assignment });
        // Offsets of partitions now owned by another member are not ours to commit.
        for (const [k, v] of this.pending) if (!assignment[v.topic]?.includes(v.partition)) this.pending.delete(k);
        for (const k of this.position.keys()) {
          const [topic = '', partition] = k.split('\u0000');
          if (!assignment[topic]?.includes(Number(partition))) this.position.delete(k);
        }
        resolve();
      });
    });
    live.set(this, this.brokers);
    clearInterval(this.timer);
    try {
      const stream = await withTimeout(15_000, `connecting consumer ${this.opts.name}`, () => this.consume(c));
      void this.consumeAll(c, stream);
      if (this.opts.commit === 'auto') {
        this.timer = setInterval(() => void this.commit().catch(() => {}), this.opts.autoCommitIntervalMs);
        this.timer.unref();
      }
      await withTimeout(timeoutMs, `${this.opts.name} joining group ${this.opts.groupId}`, () => joined);
    } catch (err) {
      clearInterval(this.timer);
      await this.leave(c, `${this.opts.name} giving up joining`);
      throw err;
    }
  }

  /** A message stream from the group's committed offsets (none: the earliest or the latest). */
  private consume(c: Client): Promise<MessagesStream<string, string, string, string>> {
    return c.consume({
      topics: this.opts.topics,
      mode: 'committed',
      fallbackMode: this.opts.fromBeginning ? 'earliest' : 'latest',
    });
  }

  /**
   * Takes the stream's messages one by one. A message of a partition this member no longer
   * owns (fetched before a rebalance) is left to the new owner. 'manual' commits after
   * `maxBatch` messages, and whenever the messages fetched so far are all processed.
   */
  private async consumeAll(c: Client, stream: MessagesStream<string, string, string, string>): Promise<void> {
    let n = 0;
    try {
      // The loop never breaks out: that would destroy the stream under the client, whose
      // close (and so its LeaveGroup) then fails. A stopped member's messages are skipped
      // until close() ends the stream.
      for await (const m of stream) {
        if (this.stopping || this.consumer !== c) continue;
        if (!owned(c, m.topic, m.partition)) continue;
        const key = `${m.topic}\u0000${m.partition}`;
        // A stream resumed from the committed offsets hands over again what this member
        // processed since its last commit: not processed twice.
        if (Number(m.offset) < (this.position.get(key) ?? 0)) continue;
        const r = parse(m);
        if (r) {
          // Processed: recorded even when its processing stopped the consumer (a crash at it).
          await this.opts.onMessage?.(r);
          this.received++;
          this.history
            .invoke(this.opts.name, this.opts.f, { topic: r.topic, partition: r.partition })
            .ok({ ...r, key: `${r.topic}-${r.partition}`, group: this.opts.groupId });
        }
        this.pending.set(key, { topic: m.topic, partition: m.partition, offset: Number(m.offset) + 1 });
        this.position.set(key, Number(m.offset) + 1);
        n++;
        if (this.opts.commit === 'manual' && (n >= this.opts.maxBatch || stream.readableLength === 0)) {
          n = 0;
          await this.commit();
        }
      }
    } catch (err) {
      if (this.stopping || this.consumer !== c) return;
      // The stream failed: the client ends it on a fetch error it does not recover from
      // (FENCED_LEADER_EPOCH after a leader moved). As the Java client keeps polling, the
      // member asks for a new stream with fresh metadata, still in the group; failing
      // that, a new client joins again, every second until it is in or the consumer is
      // stopped. What was processed and not committed stays pending.
      this.restarts.push({ time: this.history.now(), error: errorText(err) });
      c.clearMetadata();
      for (let i = 0; i < 3 && !this.stopping && this.consumer === c; i++) {
        try {
          const again = await withTimeout(10_000, `${this.opts.name} resuming`, () => this.consume(c));
          void this.consumeAll(c, again);
          return;
        } catch {
          await sleep(500);
        }
      }
      if (this.stopping || this.consumer !== c) return;
      clearInterval(this.timer);
      await this.leave(c, `${this.opts.name} after a failed stream`);
      while (!this.stopping && !this.consumer) {
        await this.join(30_000).catch(() => sleep(1000));
      }
    }
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
        c.commit({
          offsets: entries.map((e) => ({
            topic: e.topic,
            partition: e.partition,
            offset: BigInt(e.offset),
            leaderEpoch: -1,
          })),
        }),
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
    // Set first: a member joining again after a failed stream stops trying.
    this.stopping = true;
    clearInterval(this.timer);
    const c = this.consumer;
    if (!c) return void live.delete(this);
    // Still a member: the commit is accepted; the batch in progress ends at its next message.
    await this.commit();
    await this.leave(c, 'stopping the consumer');
    live.delete(this);
  }

  /**
   * A crash: stop consuming and leave without committing. What was processed since the
   * last commit will be read again by whoever gets the partitions. (The client sends
   * LeaveGroup on close, so the rebalance is immediate; a real crash is noticed only
   * after session.timeout.ms.)
   */
  async crash(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    this.pending.clear();
    const c = this.consumer;
    if (!c) return void live.delete(this);
    await this.leave(c, 'crashing the consumer');
    live.delete(this);
  }

  /** Leaves the group and closes the client (forced: the stream's pending fetches are dropped). */
  private async leave(c: Client, what: string): Promise<void> {
    this.consumer = undefined;
    // A close that failed leaves the member in the group, heartbeating: try once more.
    await withTimeout(15_000, what, () => c.close(true))
      .catch(() => withTimeout(15_000, what, () => c.close(true)))
      .catch(() => {});
  }

  /** Teardown (closeClientsOf): leave without committing. */
  close(): Promise<void> {
    return this.crash();
  }
}

type Client = Consumer<string, string, string, string>;

/** Whether the member's current assignment holds the partition. */
function owned(c: Client, topic: string, partition: number): boolean {
  return c.assignments?.some((a) => a.topic === topic && a.partitions.includes(partition)) ?? false;
}

function parse(m: Message<string, string, string, string>): ReceivedMessage | undefined {
  try {
    const v = JSON.parse(m.value ?? '') as Partial<MessageId>;
    if (typeof v.id !== 'string' || typeof v.seq !== 'number' || typeof v.producer !== 'string') return undefined;
    return {
      id: v.id,
      producer: v.producer,
      seq: v.seq,
      topic: m.topic,
      partition: m.partition,
      offset: Number(m.offset),
      msgKey: m.key || undefined,
    };
  } catch {
    return undefined;
  }
}
