import type { History, OpHandle } from '../../src/engine/history.ts';
import { sleep } from '../../src/runtime/poll.ts';
import {
  type AmqpClient,
  type Consumer,
  classify,
  type PublishOptions,
  type PublishOutcome,
  type Received,
} from './client.ts';

/**
 * Recorded publishing and consuming: every message is one operation in the history,
 * identified by its id. A publish completes `ok` when confirmed, `fail` when certainly
 * not stored (nacked, returned, never sent), `info` when the publisher cannot know
 * (no confirm came, or it published without confirms). A receive is `ok` with the id.
 */
export const OUTCOME_TEXT: Record<PublishOutcome, string | undefined> = {
  confirmed: undefined,
  nacked: 'nacked by the broker (basic.nack): not stored',
  returned: 'returned by the broker (basic.return, mandatory): no queue took it',
  refused: 'not sent: the channel or connection was already closed',
  unknown: 'no confirm: the connection died or the confirm did not come in time',
  sent: 'sent without publisher confirms: the publisher cannot know whether it arrived',
};

/** Did the message certainly not reach a queue (`fail`), or may it have (`info`), or did it (`ok`)? */
export function outcomeType(o: PublishOutcome): 'ok' | 'fail' | 'info' {
  if (o === 'confirmed') return 'ok';
  if (o === 'nacked' || o === 'returned' || o === 'refused') return 'fail';
  return 'info';
}

export type Tally = Record<PublishOutcome, number>;

export function emptyTally(): Tally {
  return { confirmed: 0, nacked: 0, returned: 0, refused: 0, unknown: 0, sent: 0 };
}

export function tally(outcomes: Iterable<PublishOutcome>, into: Tally = emptyTally()): Tally {
  for (const o of outcomes) into[o] += 1;
  return into;
}

/** "120 confirmed, 3 unknown": the non-zero counts. */
export function describeTally(t: Tally): string {
  const parts = Object.entries(t)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`);
  return parts.join(', ') || 'nothing';
}

export function messageIds(prefix: string, from: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${String(from + i).padStart(6, '0')}`);
}

export interface RecordAs {
  process: string;
  /** The history function: `send` unless a lab keeps a group apart. */
  f?: string;
  /** Extra fields in each op's value. */
  extra?: Record<string, unknown>;
}

function complete(h: OpHandle, o: PublishOutcome): void {
  const t = outcomeType(o);
  if (t === 'ok') h.ok();
  else if (t === 'fail') h.fail(OUTCOME_TEXT[o]);
  else h.info(OUTCOME_TEXT[o]);
}

/** Publishes one batch and records every message. */
export async function publishRecorded(
  history: History,
  client: AmqpClient | undefined,
  queue: string,
  ids: string[],
  opts: PublishOptions & { onWritten?: () => void },
  as: RecordAs,
): Promise<Map<string, PublishOutcome>> {
  const f = as.f ?? 'send';
  const handles = ids.map(
    (id) => [id, history.invoke(as.process, f, { id, queue, ...as.extra }, client?.node)] as const,
  );
  const out = client
    ? await client.publish(queue, ids, opts)
    : new Map(ids.map((id) => [id, 'refused' as PublishOutcome]));
  for (const [id, h] of handles) complete(h, out.get(id) ?? 'refused');
  return out;
}

/**
 * Publishes `count` messages `prefix`000001... in batches of 500 (each batch's confirms
 * awaited before the next) and records every one.
 */
export async function publishAll(
  history: History,
  client: AmqpClient | undefined,
  queue: string,
  prefix: string,
  count: number,
  opts: PublishOptions,
  as: RecordAs,
): Promise<Tally> {
  const t = emptyTally();
  for (let from = 1; from <= count; from += 500) {
    const ids = messageIds(prefix, from, Math.min(500, count - from + 1));
    tally((await publishRecorded(history, client, queue, ids, opts, as)).values(), t);
  }
  return t;
}

/** One recorded read (get, consume, passive declare) classified by the client's `classify`. */
export function recordRead<T>(
  history: History,
  process: string,
  f: string,
  value: Record<string, unknown>,
  node: string | undefined,
  fn: () => Promise<T>,
) {
  return history.record(process, f, value, node, fn, classify);
}

/** Records one received message. */
export function recordReceive(history: History, process: string, node: string | undefined, queue: string, m: Received) {
  history.invoke(process, 'receive', { queue }, node).ok({ id: m.id, queue, redelivered: m.redelivered });
}

/**
 * Takes everything from a queue through `client`, recording each message. A queue that
 * cannot be consumed is recorded as one failed `drain` and the error is rethrown.
 */
export async function drainRecorded(
  history: History,
  client: AmqpClient,
  queue: string,
  opts: { process?: string; idleMs?: number; firstMs?: number; maxMs?: number } = {},
): Promise<Received[]> {
  const process = opts.process ?? 'drainer';
  try {
    return await client.drain(queue, {
      idleMs: opts.idleMs,
      firstMs: opts.firstMs,
      maxMs: opts.maxMs,
      onMessage: (m) => recordReceive(history, process, client.node, queue, m),
    });
  } catch (err) {
    history.invoke(process, 'drain', { queue }, client.node).fail(err);
    throw err;
  }
}

export interface PublisherOptions {
  queue: string;
  process: string;
  /** Message ids are prefix + a six-digit sequence number. */
  prefix: string;
  confirm: boolean;
  persistent: boolean;
  /** Messages per batch (with confirms: sent together, then their confirms awaited). */
  batch: number;
  /** Pause between batches. */
  pauseMs: number;
  /** How long a batch's confirms may take before they count as unknown. */
  confirmTimeoutMs?: number;
  /** Batches under way at once (while one waits for its confirms, the next is sent). Default 1. */
  inFlight?: number;
}

/**
 * A steady publisher on one connection, in batches, until stopped or until its
 * connection is lost (a publisher of unknown fate does not guess: the lab decides what
 * to do next).
 */
export class Publisher {
  readonly opts: PublisherOptions;
  readonly tally: Tally = emptyTally();
  /** Every id whose publish was attempted, in order. */
  readonly attempted: string[] = [];
  /** Ids not confirmed (unknown or sent): what a careful publisher would send again. */
  readonly unsure: string[] = [];
  /** Run-relative ms when the connection was lost, if it was. */
  lostAt: number | undefined;
  private readonly history: History;
  private readonly client: AmqpClient;
  private running = false;
  private loops: Promise<void>[] = [];
  private seq = 0;
  private written: (() => void)[] = [];

  constructor(history: History, client: AmqpClient, opts: PublisherOptions) {
    this.history = history;
    this.client = client;
    this.opts = opts;
  }

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.opts.inFlight ?? 1 }, () => this.loop());
  }

  private async loop(): Promise<void> {
    while (this.running && !this.client.closed) {
      const ids = messageIds(this.opts.prefix, this.seq + 1, this.opts.batch);
      this.seq += ids.length;
      this.attempted.push(...ids);
      const out = await publishRecorded(
        this.history,
        this.client,
        this.opts.queue,
        ids,
        {
          confirm: this.opts.confirm,
          persistent: this.opts.persistent,
          timeoutMs: this.opts.confirmTimeoutMs,
          onWritten: () => this.wake(),
        },
        { process: this.opts.process },
      );
      tally(out.values(), this.tally);
      for (const [id, o] of out) if (o === 'unknown' || o === 'sent') this.unsure.push(id);
      if (this.client.closed) break;
      await sleep(this.opts.pauseMs);
    }
    if (this.client.closed && this.lostAt === undefined) this.lostAt = this.history.now();
    this.wake();
  }

  private wake(): void {
    const w = this.written;
    this.written = [];
    for (const fn of w) fn();
  }

  /** Resolves once the next batch has been written to the socket (its confirms not yet in). */
  nextBatchWritten(): Promise<void> {
    return new Promise((resolve) => this.written.push(resolve));
  }

  /** Resolves when publishing ends (stopped, or its connection was lost). */
  get ended(): Promise<void> {
    return Promise.all(this.loops).then(() => undefined);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.ended;
  }

  /** Stops and closes its connection. */
  async close(): Promise<void> {
    await this.stop();
    await this.client.close();
  }
}

export interface SlowConsumerOptions {
  queue: string;
  process: string;
  /** Deliveries held unacknowledged at most. */
  prefetch: number;
  /** Each delivery is acked this long after it arrives (work that takes time). */
  ackDelayMs: number;
  /** Tells the trainee what the consumer does (a lost subscription, a new one), and warns. */
  say: (text: string) => void;
  warn: (text: string) => void;
}

/**
 * A recorded consumer with manual acks that takes its time, so deliveries are always
 * outstanding. It asks to be told of a mirrored queue's failover (x-cancel-on-ha-failover:
 * basic.cancel) and subscribes again when told, as a consumer of a mirrored queue should:
 * without it, it may just stall.
 */
export class SlowConsumer {
  received = 0;
  /** Deliveries not acknowledged yet. */
  unacked = 0;
  /** Why each subscription ended before `stop`. */
  readonly cancellations: string[] = [];
  private readonly history: History;
  private readonly client: AmqpClient;
  private readonly opts: SlowConsumerOptions;
  private consumer: Consumer | undefined;
  private stopping = false;

  constructor(history: History, client: AmqpClient, opts: SlowConsumerOptions) {
    this.history = history;
    this.client = client;
    this.opts = opts;
  }

  async start(timeoutMs?: number): Promise<void> {
    const { queue, process, prefetch, ackDelayMs } = this.opts;
    const c = await this.client.consume(
      queue,
      (m) => {
        this.received++;
        this.unacked++;
        setTimeout(() => this.unacked--, ackDelayMs);
        recordReceive(this.history, process, this.client.node, queue, m);
      },
      { prefetch, ackDelayMs, arguments: { 'x-cancel-on-ha-failover': true }, timeoutMs },
    );
    this.consumer = c;
    void c.ended.then((why) => this.resubscribe(c, why));
  }

  private async resubscribe(c: Consumer, why: string): Promise<void> {
    if (this.stopping) return;
    const say = this.opts.say;
    this.cancellations.push(why);
    say(`the consumer's subscription ended (${why}); it subscribes again`);
    // The old channel is closed without waiting: one run saw no delivery after the failover,
    // and a close that never completes would have kept this consumer from subscribing again.
    const t0 = Date.now();
    void c.cancel().then(() => say(`the old channel closed after ${Date.now() - t0} ms`));
    // The broker cancels as soon as the master is gone, before the new one is promoted:
    // a basic.consume sent then can wait on the dead master and never be answered, nor
    // can the close of its channel (seen in 3 of about 20 runs: no delivery after the
    // kill, the consumer stuck closing). So each try gets 2 s, and a try that was not
    // answered is abandoned (its channel given up after 1 s) for another.
    for (let attempt = 1; attempt <= 5 && !this.stopping; attempt++) {
      try {
        await this.start(2000);
        say(`subscribed again after ${Date.now() - t0} ms (try ${attempt})`);
        return;
      } catch (e) {
        say(`subscribing again, try ${attempt}: ${(e as Error).message}`);
      }
    }
    if (!this.stopping) this.opts.warn('could not subscribe again in 5 tries');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer?.cancel();
  }

  /** Stops and closes its connection. */
  async close(): Promise<void> {
    await this.stop();
    await this.client.close();
  }
}
