import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type Message } from 'amqplib';
import { MidlabError } from '../../src/errors.ts';
import { TimeoutError, withTimeout } from '../../src/runtime/poll.ts';

/**
 * The labs' AMQP 0-9-1 client: amqplib behind a small interface, so a lab never depends
 * on its quirks (a server-closed channel is dead; confirm callbacks tell a nack from a
 * closed channel only by their message; unhandled 'error' events crash the process).
 *
 * Messages carry their id as body and as `messageId`, so a receiver can say exactly
 * which message it got.
 */
export type QueueKind = 'classic' | 'quorum';

export interface QueueSpec {
  kind?: QueueKind;
  /** Survives a broker restart (quorum queues are always durable). */
  durable?: boolean;
}

/**
 * How one publish ended, as far as the publisher can know:
 * - confirmed: the broker acked it (with confirms): it is the broker's responsibility now
 * - nacked: the broker refused it (with confirms): certainly not stored
 * - returned: mandatory and routed to no queue (basic.return): certainly not stored
 * - refused: the client could not even send it (channel or connection already closed)
 * - unknown: sent, but the channel died or the confirm did not come in time
 * - sent: written to the socket without confirms: the publisher cannot know more
 */
export type PublishOutcome = 'confirmed' | 'nacked' | 'returned' | 'refused' | 'unknown' | 'sent';

export interface Received {
  id: string;
  redelivered: boolean;
}

/** An AMQP error with the broker's reply code (404 NOT_FOUND, 541 INTERNAL_ERROR, ...) when there is one. */
export class AmqpError extends MidlabError {
  readonly replyCode: number | undefined;
  constructor(message: string, replyCode?: number) {
    super('AMQP', message, {
      hint: 'the broker closed the channel or connection: its reply code and the node logs in the run folder say why',
    });
    this.name = 'AmqpError';
    this.replyCode = replyCode;
  }
}

function toAmqpError(err: unknown): Error {
  if (err instanceof AmqpError || err instanceof TimeoutError) return err;
  const e = err as { message?: string; code?: unknown };
  const message = e?.message ?? String(err);
  // "Channel closed by server: 404 (NOT-FOUND) with message "NOT_FOUND - home node ..."": keep the broker's words.
  const broker = /with message "(.*)"$/.exec(message)?.[1];
  return new AmqpError(broker ?? message, typeof e?.code === 'number' ? e.code : undefined);
}

/**
 * What a failed client call means. The calls that raise are reads (get, consume, passive
 * declare) and declarations; publishes never raise (their outcomes say it). A read that
 * failed or timed out took nothing: a message is acked only once received, and a timed-out
 * call's channel is dropped, so anything delivered to it goes back to the queue (`fail`).
 * Anything else is not the client's to explain (`info`).
 */
export function classify(err: unknown): 'fail' | 'info' {
  return err instanceof AmqpError || err instanceof TimeoutError ? 'fail' : 'info';
}

export interface AmqpClientOptions {
  /** The node this client talks to (for the history). */
  node?: string;
  connectTimeoutMs?: number;
  /** Each operation gives up after this long. */
  opTimeoutMs?: number;
  /** AMQP heartbeat in seconds (a silent broker is noticed after about twice this). */
  heartbeatS?: number;
}

export interface PublishOptions {
  persistent: boolean;
  /** Publisher confirms: wait for the broker's ack or nack of each message. */
  confirm: boolean;
  /** Ask the broker to return a message no queue takes. */
  mandatory?: boolean;
  /** How long to wait for the confirms of one batch. */
  timeoutMs?: number;
  /** Called once the whole batch is written, before its confirms are awaited. */
  onWritten?: () => void;
}

export class AmqpClient {
  readonly node: string | undefined;
  private readonly model: ChannelModel;
  private readonly opTimeoutMs: number;
  private channel: Channel | undefined;
  private confirmChannel: ConfirmChannel | undefined;
  private closedError: Error | undefined;
  private readonly closeListeners: ((err: Error) => void)[] = [];

  private constructor(model: ChannelModel, opts: AmqpClientOptions) {
    this.model = model;
    this.node = opts.node;
    this.opTimeoutMs = opts.opTimeoutMs ?? 5000;
    model.on('error', () => {
      /* the 'close' that follows says it */
    });
    model.on('close', (err?: Error) => {
      const why = err ? toAmqpError(err) : undefined;
      this.closedError = new AmqpError(
        `connection to ${this.node ?? 'the broker'} closed${why ? `: ${why.message}` : ''}`,
        why instanceof AmqpError ? why.replyCode : undefined,
      );
      for (const l of this.closeListeners) l(this.closedError);
    });
  }

  static async connect(url: string, opts: AmqpClientOptions = {}): Promise<AmqpClient> {
    const timeout = opts.connectTimeoutMs ?? 5000;
    const model = await withTimeout(timeout, `connecting to ${opts.node ?? url.replace(/:[^:@/]*@/, ':***@')}`, () =>
      amqp.connect(`${url}?heartbeat=${opts.heartbeatS ?? 5}`, { timeout }),
    ).catch((err: unknown) => {
      throw toAmqpError(err);
    });
    return new AmqpClient(model, opts);
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /** Called once when the connection closes (a killed broker, a forced close). */
  onClose(fn: (err: Error) => void): void {
    this.closeListeners.push(fn);
  }

  private async op<T>(what: string, fn: (ch: Channel) => Promise<T>): Promise<T> {
    const ch = await this.plain();
    try {
      return await withTimeout(this.opTimeoutMs, what, () => fn(ch));
    } catch (err) {
      // A timed-out call still occupies the channel (AMQP answers in order): drop it.
      if (err instanceof TimeoutError) this.discard(ch);
      // A connection-level error (541 ...) ends the call with "Channel ended": the
      // connection's close, a moment later, says why.
      await new Promise((resolve) => setImmediate(resolve));
      if (this.closedError && !(err instanceof TimeoutError)) throw this.closedError;
      throw toAmqpError(err);
    }
  }

  /** Forgets a channel (a new one is opened for the next call) and closes it in the background. */
  private discard(ch: Channel): void {
    if (this.channel === ch) this.channel = undefined;
    if (this.confirmChannel === ch) this.confirmChannel = undefined;
    void withTimeout(2000, 'closing a channel', () => ch.close()).catch(() => {});
  }

  /** The plain channel, opened again after the broker closed it (a channel error kills a channel). */
  private async plain(): Promise<Channel> {
    if (this.closedError) throw this.closedError;
    if (this.channel) return this.channel;
    const ch = await this.openChannel(() => this.model.createChannel());
    ch.on('close', () => {
      if (this.channel === ch) this.channel = undefined;
    });
    this.channel = ch;
    return ch;
  }

  private async confirming(): Promise<ConfirmChannel> {
    if (this.closedError) throw this.closedError;
    if (this.confirmChannel) return this.confirmChannel;
    const ch = await this.openChannel(() => this.model.createConfirmChannel());
    ch.on('close', () => {
      if (this.confirmChannel === ch) this.confirmChannel = undefined;
    });
    this.confirmChannel = ch;
    return ch;
  }

  private async openChannel<C extends Channel>(open: () => Promise<C>): Promise<C> {
    const ch = await withTimeout(this.opTimeoutMs, 'opening a channel', open).catch((err: unknown) => {
      throw toAmqpError(err);
    });
    ch.on('error', () => {
      /* a channel closed by the broker: the operation that caused it rejects */
    });
    return ch;
  }

  /** Declares a queue (idempotent when the properties match). */
  async declare(queue: string, spec: QueueSpec = {}): Promise<void> {
    const kind = spec.kind ?? 'classic';
    await this.op(`declare ${queue}`, (ch) =>
      ch.assertQueue(queue, {
        durable: kind === 'quorum' ? true : (spec.durable ?? true),
        arguments: kind === 'quorum' ? { 'x-queue-type': 'quorum' } : {},
      }),
    );
  }

  /** Passive declare: the queue's ready messages now (an error, 404, when it does not exist or is down). */
  async check(queue: string): Promise<{ messages: number; consumers: number }> {
    const r = await this.op(`passive declare ${queue}`, (ch) => ch.checkQueue(queue));
    return { messages: r.messageCount, consumers: r.consumerCount };
  }

  async delete(queue: string): Promise<void> {
    await this.op(`delete ${queue}`, (ch) => ch.deleteQueue(queue));
  }

  /**
   * Publishes `ids` to `queue` through the default exchange, as one batch: with confirms,
   * every message is sent and then the confirms are awaited together (one at a time
   * manages about 235 messages a second; a batch is limited by the broker's disk).
   * Resolves with each message's outcome; never rejects.
   */
  async publish(queue: string, ids: string[], opts: PublishOptions): Promise<Map<string, PublishOutcome>> {
    const out = new Map<string, PublishOutcome>();
    let ch: Channel;
    try {
      ch = opts.confirm ? await this.confirming() : await this.plain();
    } catch {
      for (const id of ids) out.set(id, 'refused');
      opts.onWritten?.();
      return out;
    }
    const returned = new Set<string>();
    const onReturn = (m: Message) => returned.add(String(m.properties.messageId));
    if (opts.mandatory) ch.on('return', onReturn);
    const confirms: Promise<void>[] = [];
    try {
      for (const id of ids) {
        const options = { persistent: opts.persistent, messageId: id, mandatory: opts.mandatory ?? false };
        let writable: boolean;
        try {
          if (opts.confirm) {
            let settle!: () => void;
            confirms.push(new Promise<void>((resolve) => (settle = resolve)));
            writable = (ch as ConfirmChannel).sendToQueue(queue, Buffer.from(id), options, (err: Error | null) => {
              if (!err) out.set(id, returned.has(id) ? 'returned' : 'confirmed');
              else out.set(id, /nack/i.test(err.message) ? 'nacked' : 'unknown');
              settle();
            });
            if (!out.has(id)) out.set(id, 'unknown');
          } else {
            writable = ch.sendToQueue(queue, Buffer.from(id), options);
            out.set(id, 'sent');
          }
        } catch {
          // The channel was already closed: this one, and the rest, never left the client.
          out.set(id, 'refused');
          if (opts.confirm) confirms.pop();
          continue;
        }
        if (!writable) await this.drained(ch);
      }
      opts.onWritten?.();
      if (opts.confirm && confirms.length) {
        await withTimeout(opts.timeoutMs ?? 10_000, 'confirms', () => Promise.all(confirms)).catch(() => {
          // Confirms that did not come in time stay unknown; later publishes get a fresh channel.
          this.discard(ch);
        });
      }
    } finally {
      if (opts.mandatory) ch.off('return', onReturn);
    }
    // A snapshot: a confirm arriving after the timeout does not change what was recorded.
    return new Map(out);
  }

  private drained(ch: Channel): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        ch.off('drain', done);
        ch.off('close', done);
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(done, 2000);
      ch.once('drain', done);
      ch.once('close', done);
    });
  }

  /** basic.get with an ack: one message, or undefined when the queue is empty. */
  async get(queue: string): Promise<Received | undefined> {
    return this.op(`get from ${queue}`, async (ch) => {
      const m = await ch.get(queue, { noAck: false });
      if (!m) return undefined;
      ch.ack(m);
      return { id: idOf(m), redelivered: m.fields.redelivered };
    });
  }

  /**
   * Subscribes with manual acks: `handle` is called for every delivery, which is acked
   * once it returns (or `ackDelayMs` later: a consumer whose work takes time). Resolves
   * once the broker accepted the subscription.
   */
  async consume(
    queue: string,
    handle: (m: Received) => void,
    opts: { prefetch?: number; ackDelayMs?: number; arguments?: Record<string, unknown>; timeoutMs?: number } = {},
  ): Promise<Consumer> {
    if (this.closedError) throw this.closedError;
    const ch = await this.openChannel(() => this.model.createChannel());
    const timeoutMs = opts.timeoutMs ?? this.opTimeoutMs;
    let cancelled!: (why: string) => void;
    const ended = new Promise<string>((resolve) => (cancelled = resolve));
    ch.on('close', () => cancelled('channel closed'));
    try {
      await withTimeout(timeoutMs, `consume from ${queue}`, async () => {
        await ch.prefetch(opts.prefetch ?? 100);
        await ch.consume(
          queue,
          (m) => {
            if (!m) return cancelled('cancelled by the broker');
            handle({ id: idOf(m), redelivered: m.fields.redelivered });
            const ack = () => {
              try {
                ch.ack(m);
              } catch {
                /* the channel closed under us: the broker requeues the message */
              }
            };
            // A slow consumer (work takes time) holds up to `prefetch` messages unacknowledged.
            if (opts.ackDelayMs) setTimeout(ack, opts.ackDelayMs);
            else ack();
          },
          { noAck: false, arguments: opts.arguments },
        );
      });
    } catch (err) {
      await closeSoon(ch);
      throw toAmqpError(err);
    }
    return {
      ended,
      cancel: () => closeSoon(ch),
    };
  }

  /**
   * Takes everything from a queue (manual acks) until nothing has come for `idleMs`
   * (before the first message: `firstMs`, default `idleMs`), or `maxMs` passed. Rejects
   * when the queue cannot be consumed at all.
   */
  async drain(
    queue: string,
    opts: { idleMs?: number; firstMs?: number; maxMs?: number; onMessage?: (m: Received) => void } = {},
  ) {
    const got: Received[] = [];
    let last = Date.now();
    const consumer = await this.consume(
      queue,
      (m) => {
        got.push(m);
        last = Date.now();
        opts.onMessage?.(m);
      },
      { prefetch: 500 },
    );
    const start = Date.now();
    const idle = opts.idleMs ?? 1500;
    const first = Math.max(idle, opts.firstMs ?? idle);
    let ended = false;
    void consumer.ended.then(() => (ended = true));
    const waited = () => Date.now() - last < (got.length ? idle : first);
    while (!ended && waited() && Date.now() - start < (opts.maxMs ?? 60_000)) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await consumer.cancel();
    return got;
  }

  async close(): Promise<void> {
    if (this.closedError) return;
    await withTimeout(3000, 'closing the connection', () => this.model.close()).catch(() => {});
  }
}

export interface Consumer {
  /** Resolves (with why) when the subscription ends: cancelled by the broker or its channel closed. */
  ended: Promise<string>;
  cancel(): Promise<void>;
}

function idOf(m: Message): string {
  return String(m.properties.messageId ?? m.content.toString());
}

/**
 * Closes a channel, waiting at most a second for the broker's close-ok. A channel whose
 * basic.consume went unanswered during a mirror promotion also leaves its close
 * unanswered: awaiting it hung a consumer that was about to subscribe again (seen in
 * rabbitmq/mirrored-queue-failover: no delivery after the kill).
 */
async function closeSoon(ch: Channel): Promise<void> {
  await withTimeout(1000, 'closing a channel', () => ch.close()).catch(() => {});
}
