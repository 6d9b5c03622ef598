/**
 * Kafka's own Java consumer (`kafka-verifiable-consumer.sh`, the client Kafka's system tests
 * drive) run inside a node of the lab network, for lessons the labs' Node client cannot show:
 * it has no max.poll.interval.ms, and the Java client is the reference for both group
 * protocols (classic and KIP-848).
 * Each JSON event it prints (partitions_assigned/revoked, records_consumed, record_data,
 * offsets_committed) is an observation `consumerEvent` as it arrives; its WARN/ERROR log
 * lines are `consumerLog`. Its stdout goes through a `cat` the lab can stop: the consumer's
 * poll loop then blocks in its own printing (the pipe fills), the heartbeats go on, and the
 * time between two polls grows past max.poll.interval.ms as if processing were slow.
 */
import type { History } from '../../src/engine/history.ts';
import { UsageError } from '../../src/errors.ts';
import type { StartedNode } from '../../src/runtime/node.ts';
import { INTERNAL_PORT } from './config.ts';
import { JavaTool, jsonLines } from './java-tool.ts';

export interface JavaConsumerOptions {
  /** The consumer's name in the history (c1, c2, ...). */
  name: string;
  topic: string;
  group: string;
  /** classic (JoinGroup/SyncGroup, client-side assignor) or consumer (KIP-848, broker-side). */
  protocol: 'classic' | 'consumer';
  /** Classic only: the assignor class (RangeAssignor: eager; CooperativeStickyAssignor: incremental). */
  assignor?: string;
  /** Extra consumer properties (max.poll.interval.ms, ...). */
  config?: Record<string, string | number>;
  /** Print every record (record_data): fills a stopped pipe quickly. */
  verbose?: boolean;
  /** The broker asked first. */
  broker: string;
  heapMb?: number;
}

/** One event as the Java consumer printed it (its own clock) plus when it arrived. */
export interface ConsumerEvent {
  consumer: string;
  name: string;
  /** The consumer's clock, ms since the epoch. */
  timestamp: number;
  partitions?: { partition: number; minOffset?: number; maxOffset?: number; count?: number }[];
  /** offsets_committed: the next offset to read, per partition. */
  offsets?: { partition: number; offset: number }[];
  count?: number;
  offset?: number;
  partition?: number;
  success?: boolean;
  error?: string;
}

export const EVENT = 'consumerEvent';
export const LOG = 'consumerLog';

/** The events of one consumer (or all), in arrival order, from the observations. */
export function consumerEvents(observations: { name: string; value: unknown }[], consumer?: string): ConsumerEvent[] {
  return observations
    .filter((o) => o.name === EVENT)
    .map((o) => o.value as ConsumerEvent)
    .filter((e) => consumer === undefined || e.consumer === consumer);
}

export class JavaConsumer {
  readonly name: string;
  private readonly tool: JavaTool;

  private constructor(name: string, tool: JavaTool) {
    this.name = name;
    this.tool = tool;
  }

  /** The command a trainee would type for this consumer. */
  static command(o: JavaConsumerOptions, configFile = '<file>'): string[] {
    return [
      'kafka-verifiable-consumer.sh',
      '--bootstrap-server',
      `${o.broker}:${INTERNAL_PORT}`,
      '--topic',
      o.topic,
      '--group-id',
      o.group,
      '--group-protocol',
      o.protocol,
      ...(o.protocol === 'classic' && o.assignor ? ['--assignment-strategy', o.assignor] : []),
      ...(o.verbose ? ['--verbose'] : []),
      '--consumer.config',
      configFile,
    ];
  }

  /** Starts the consumer in `node`; its events stream into the history until it exits. */
  static async start(node: StartedNode, history: History, o: JavaConsumerOptions): Promise<JavaConsumer> {
    const props = Object.entries(o.config ?? {})
      .map(([k, v]) => `${k}=${v}\n`)
      .join('');
    const file = `/tmp/midlab-${o.name}.properties`;
    await node.writeFiles([{ path: file, content: props }]);
    const tool = await JavaTool.start(node, o.name, JavaConsumer.command(o, file), {
      heapMb: o.heapMb,
      onLine: (line) => {
        const [e] = jsonLines<Record<string, unknown>>(line);
        if (!e) return;
        // A record's value is the producer's padding: kept out of the evidence.
        delete e.value;
        delete e.key;
        history.observe(EVENT, { consumer: o.name, ...e });
      },
      onErrLine: (line) => {
        if (/\b(WARN|ERROR)\b/.test(line)) history.observe(LOG, { consumer: o.name, line: line.slice(0, 400) });
      },
    });
    return new JavaConsumer(o.name, tool);
  }

  /** Stops reading the consumer's output: its poll loop blocks once the pipe is full. */
  async stall(): Promise<void> {
    await this.tool.stall();
  }

  /** Reads its output again: the poll loop goes on from where it blocked. */
  async resume(): Promise<void> {
    await this.tool.resume();
  }

  /** A clean stop (SIGTERM: the consumer closes and leaves its group); resolves once it exited. */
  async stop(timeoutMs = 30_000): Promise<void> {
    await this.tool.stop(timeoutMs);
  }
}

/**
 * Kafka's producer load generator (`kafka-producer-perf-test.sh`) in `node`: `rate` records a
 * second of `size` bytes, acks=all, until stopped. Sized records make a stalled consumer's
 * printed output fill its pipe within seconds.
 */
export async function startPerfProducer(
  node: StartedNode,
  o: { topic: string; broker: string; rate: number; size: number },
): Promise<{ stop: () => Promise<void>; command: string[] }> {
  const command = perfCommand(o);
  const tool = await JavaTool.start(node, 'perf', command, { heapMb: 64 });
  return { command, stop: () => tool.stop(10_000).then(() => undefined) };
}

export function perfCommand(o: { topic: string; broker: string; rate: number; size: number }): string[] {
  return [
    'kafka-producer-perf-test.sh',
    '--topic',
    o.topic,
    '--num-records',
    '100000000',
    '--record-size',
    String(o.size),
    '--throughput',
    String(o.rate),
    '--producer-props',
    `bootstrap.servers=${o.broker}:${INTERNAL_PORT}`,
    'acks=all',
  ];
}

/** Refuses a Kafka version a lab cannot run on (exit 2), saying why. */
export function requireVersion(p: { version?: string }, version: string, why: string): void {
  if (p.version !== version)
    throw new UsageError(`this lab runs on Kafka ${version} only: ${why}`, `use --param version=${version}`);
}

/** Which partitions each consumer holds after each of its events: revoked ones go, assigned ones come. */
export function holdings(events: ConsumerEvent[]): { consumer: string; timestamp: number; owned: number[] }[] {
  const owned = new Map<string, Set<number>>();
  const out: { consumer: string; timestamp: number; owned: number[] }[] = [];
  for (const e of events) {
    if (e.name !== 'partitions_assigned' && e.name !== 'partitions_revoked') continue;
    const set = owned.get(e.consumer) ?? new Set<number>();
    for (const p of e.partitions ?? []) {
      if (e.name === 'partitions_assigned') set.add(p.partition);
      else set.delete(p.partition);
    }
    owned.set(e.consumer, set);
    out.push({ consumer: e.consumer, timestamp: e.timestamp, owned: [...set].sort((a, b) => a - b) });
  }
  return out;
}

/** Each consumer's partitions after the events up to `at` (its own clock). */
export function ownedAt(events: ConsumerEvent[], at = Number.POSITIVE_INFINITY): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const h of holdings(events)) if (h.timestamp <= at) m.set(h.consumer, h.owned);
  return m;
}
