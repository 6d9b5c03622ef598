import { compatibilityPartitioner, Producer, stringSerializers } from '@platformatic/kafka';
import type { History } from '../../src/engine/history.ts';
import { sleep, withTimeout } from '../../src/runtime/poll.ts';
import { clientOptions, live } from './connection.ts';
import { classify, errorText } from './errors.ts';

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

/** A producer of identified messages. Sends one message at a time (in order). */
export class KafkaProducer {
  readonly name: string;
  readonly opts: Required<ProducerOptions>;
  private readonly history: History;
  private readonly producer: Producer<string, string, string, string>;
  private seq = 0;
  acknowledged = 0;

  private constructor(
    history: History,
    producer: Producer<string, string, string, string>,
    opts: Required<ProducerOptions>,
  ) {
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
    // retries must reuse its sequence numbers: those are the client's own. The produce
    // request's timeout (the leader's wait for the ISR) is `timeout`.
    const producer = new Producer<string, string, string, string>({
      ...clientOptions(brokers, opts.name, opts.requestTimeoutMs, opts.idempotent ? opts.retries : 0),
      timeout: opts.ackTimeoutMs,
      idempotent: opts.idempotent,
      // Java's partitioner: murmur2 of the key, positive, modulo the partition count.
      partitioner: compatibilityPartitioner,
      repeatOnStaleMetadata: false,
      serializers: stringSerializers,
    });
    // The client connects on first use: ask for the cluster's metadata now, as a connect.
    await withTimeout(15_000, `connecting producer ${opts.name}`, () => producer.metadata({ topics: [] }));
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
            acks,
            messages: [{ topic, key: opts.key, value: JSON.stringify(message), partition: opts.partition }],
          }),
        );
        // acks=0: no answer, so no offset (the client's own number is not the broker's).
        const r = acks === 0 ? undefined : meta.offsets?.[0];
        const partition = r?.partition ?? opts.partition;
        const offset = r?.offset !== undefined ? Number(r.offset) : undefined;
        h.ok({ ...value, partition, offset, attempts: attempt + 1 });
        this.acknowledged++;
        return { ok: true, type: 'ok', message, partition, offset };
      } catch (err) {
        lastError = err;
        // The next attempt asks for the leaders again (the client keeps its metadata otherwise).
        this.producer.clearMetadata();
        if (classify(err) === 'info') uncertain = true;
        // The idempotent producer's own retries may have written the message.
        if (this.opts.idempotent && this.opts.retries > 0) uncertain = true;
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
    await withTimeout(10_000, `disconnecting producer ${this.name}`, () => this.producer.close()).catch(() => {});
  }

  close(): Promise<void> {
    return this.disconnect();
  }
}
