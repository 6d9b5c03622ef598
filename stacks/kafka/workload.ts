import type { History } from '../../src/engine/history.ts';
import type { LabContext } from '../../src/engine/lab.ts';
import { sleep, waitUntil, withTimeout } from '../../src/runtime/poll.ts';
import type { StartedStack } from '../../src/runtime/stack.ts';
import type { KafkaAdmin } from './admin.ts';
import {
  type ConsumerOptions,
  KafkaGroupConsumer,
  KafkaProducer,
  type ProducerOptions,
  type ReceivedMessage,
  type SendOptions,
  type SendResult,
} from './client.ts';

/**
 * Workloads the labs share: a steady producer, a burst of N messages, and the final read
 * of a whole topic. Everything goes through client.ts, so everything is in the History.
 */

/** Where message number `seq` goes: a key, an explicit partition, or neither (the partitioner decides). */
export type Route = (seq: number) => SendOptions;

/** A producer sending one identified message every `intervalMs` until stopped. */
export class ProducerLoop {
  readonly producer: KafkaProducer;
  private readonly route: Route;
  private running = false;
  private loop: Promise<void> | undefined;
  readonly results: SendResult[] = [];

  private constructor(producer: KafkaProducer, route: Route) {
    this.producer = producer;
    this.route = route;
  }

  static async start(
    brokers: string[],
    history: History,
    topic: string,
    opts: ProducerOptions & { intervalMs?: number; route?: Route },
  ): Promise<ProducerLoop> {
    const producer = await KafkaProducer.connect(brokers, history, opts);
    const l = new ProducerLoop(producer, opts.route ?? (() => ({})));
    l.running = true;
    const interval = opts.intervalMs ?? 50;
    l.loop = (async () => {
      let n = 0;
      while (l.running) {
        l.results.push(await producer.send(topic, l.route(++n)));
        await sleep(interval);
      }
    })();
    return l;
  }

  get acknowledged(): number {
    return this.producer.acknowledged;
  }

  /** Sends so far that completed as `type`. */
  count(type: 'ok' | 'fail' | 'info'): number {
    return this.results.filter((r) => r.type === type).length;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.producer.disconnect();
  }
}

/** Sends `n` identified messages one after the other; returns the results. */
export async function produce(
  brokers: string[],
  history: History,
  topic: string,
  n: number,
  opts: ProducerOptions & { route?: Route },
): Promise<SendResult[]> {
  const producer = await KafkaProducer.connect(brokers, history, opts);
  try {
    const out: SendResult[] = [];
    for (let i = 1; i <= n; i++) out.push(await producer.send(topic, opts.route?.(i) ?? {}));
    return out;
  } finally {
    await producer.disconnect();
  }
}

/**
 * Reads a whole topic, up to the log-end offsets it has now, through a new consumer
 * group; every message is recorded as a receive with function `f` (default 'read-all').
 * The final read of a lab, after healing: what the cluster still holds.
 */
export async function readAll(
  brokers: string[],
  admin: KafkaAdmin,
  history: History,
  topic: string,
  opts: { process?: string; f?: string; timeoutMs?: number } = {},
): Promise<number> {
  const ends = await admin.endOffsets(topic);
  const seen: Record<number, number> = {};
  const consumer = new KafkaGroupConsumer(brokers, history, {
    name: opts.process ?? 'final-reader',
    groupId: `midlab-final-${topic}-${Date.now()}`,
    topics: [topic],
    f: opts.f ?? 'read-all',
    commit: 'manual',
    onMessage: (m) => {
      seen[m.partition] = Math.max(seen[m.partition] ?? -1, m.offset);
    },
  });
  await consumer.start();
  try {
    await waitUntil(
      `reading ${topic} to its end`,
      async () => {
        const behind = Object.entries(ends).filter(([p, end]) => end > 0 && (seen[Number(p)] ?? -1) < end - 1);
        return behind.length === 0
          ? { done: true, value: undefined }
          : { done: false, seen: behind.map(([p, end]) => `p${p} at ${seen[Number(p)] ?? -1} of ${end}`).join(', ') };
      },
      { timeoutMs: opts.timeoutMs ?? 60_000, intervalMs: 200 },
    );
  } finally {
    await consumer.stop();
  }
  return consumer.received;
}

/** Producers connected at once, one per `specs` entry, sharing the other options. */
export function connectProducers(
  brokers: string[],
  history: History,
  specs: Pick<ProducerOptions, 'name' | 'acks'>[],
  opts: Omit<ProducerOptions, 'name' | 'acks'> = {},
): Promise<KafkaProducer[]> {
  return Promise.all(specs.map((s) => KafkaProducer.connect(brokers, history, { ...opts, ...s })));
}

/** `n` rounds: in each, every producer sends one message to `topic`, in turn; returns what each met. */
export async function sendRounds(
  producers: KafkaProducer[],
  topic: string,
  n: number,
  route: SendOptions = {},
): Promise<SendResult[]> {
  const out: SendResult[] = [];
  for (let i = 0; i < n; i++) for (const p of producers) out.push(await p.send(topic, route));
  return out;
}

/** How many messages `process` has processed past its last successful commit, up to `offset`. */
export function processedSinceCommit(
  history: History,
  process: string,
  offset: number,
): { commits: number; count: number } {
  let committed = -1;
  let commits = 0;
  for (const o of history.ops) {
    if (o.process === process && o.f === 'commit' && o.type === 'ok') {
      commits++;
      const offs = Object.values((o.value as { offsets?: Record<string, number> })?.offsets ?? {});
      if (offs.length) committed = Math.max(committed, ...offs);
    }
  }
  // The message being processed now is not in the History yet: it counts too.
  return { commits, count: committed < 0 ? offset + 1 : offset + 1 - committed };
}

/**
 * A group consumer that processes with `handle` and crashes (stops and leaves without
 * committing) inside the processing of the message that puts it `crashAfter` messages past
 * its last successful commit, once it has committed at least once. `crashed` is set then;
 * `onCrash` is told the offset (to note the fault).
 */
export class CrashingConsumer {
  readonly consumer: KafkaGroupConsumer;
  crashed: Promise<void> | undefined;
  /** History time of the crash. */
  crashTime = 0;

  constructor(
    brokers: string[],
    history: History,
    opts: Omit<ConsumerOptions, 'onMessage'>,
    crashAfter: number,
    handle: (m: ReceivedMessage) => Promise<void>,
    onCrash: (offset: number) => void,
  ) {
    this.consumer = new KafkaGroupConsumer(brokers, history, {
      ...opts,
      onMessage: async (m) => {
        await handle(m);
        if (this.crashed) return;
        const since = processedSinceCommit(history, opts.name, m.offset);
        if (since.commits > 0 && since.count >= crashAfter) {
          this.crashTime = history.now();
          this.crashed = this.consumer.crash();
          onCrash(m.offset);
        }
      },
    });
  }

  /**
   * Starts it and waits (with `until`, which gives up without throwing) until it has
   * crashed and is gone. False, and stopped, when it did not crash within `timeoutMs`.
   */
  async run(lab: Pick<LabContext<StartedStack, unknown>, 'until'>, timeoutMs: number): Promise<boolean> {
    const c = this.consumer;
    await c.start();
    const did = await lab.until(
      'the consumer to crash between two commits',
      async () =>
        this.crashed
          ? { done: true, value: true }
          : { done: false, seen: `${c.received} processed, ${c.commits} commits` },
      { timeoutMs, intervalMs: 100 },
    );
    if (!did) await c.stop();
    else await withTimeout(20_000, 'the crashed consumer to go', () => this.crashed as Promise<void>);
    return did === true;
  }
}
