import type { Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import type { History } from '../../src/engine/history.ts';
import { withTimeout } from '../../src/runtime/poll.ts';
import { kafkaClient, live } from './connection.ts';
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
