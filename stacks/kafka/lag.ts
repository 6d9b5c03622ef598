import type { History } from '../../src/engine/history.ts';
import { sleep } from '../../src/runtime/poll.ts';
import type { StartedKafka } from './stack.ts';

/** One lag sample, as observed under the name 'lag' (the lab plots `total`). */
export interface LagObservation {
  /** Messages: log-end offset minus committed offset, summed over partitions. */
  total: number;
  /** Per partition. */
  partitions: Record<string, number>;
  /** Lag in time: age of the oldest message not yet committed by the group (0 when none). */
  seconds: number;
}

/** What a sampler reports: every sample, the first at or above the threshold, the first below it after that. */
export interface LagHooks {
  sample(s: LagObservation): void;
  alert(s: LagObservation): void;
  clear(s: LagObservation): void;
}

/** Lag per partition in a line: "p0 12, p1 9, p2 14". */
export function lagText(s: LagObservation): string {
  return Object.entries(s.partitions)
    .map(([p, n]) => `p${p} ${n}`)
    .join(', ');
}

/**
 * Reads the group's lag through the admin API every `intervalMs`, and its age from the
 * History: the time the oldest uncommitted message was acknowledged to the producer.
 */
export class LagSampler {
  private readonly k: StartedKafka;
  private readonly group: string;
  private readonly topic: string;
  private readonly threshold: number;
  private readonly on: LagHooks;
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly samples: { time: number; s: LagObservation }[] = [];
  /** '<partition>/<offset>' -> History time of the acknowledgement. */
  private readonly sentAt = new Map<string, number>();
  private scanned = 0;
  /** The lag reached the threshold (`alert` was called); then fell below it again (`clear`). */
  alerted = false;
  cleared = false;
  last: LagObservation | undefined;
  lastTime = 0;

  constructor(k: StartedKafka, group: string, topic: string, threshold: number, on: LagHooks) {
    this.k = k;
    this.group = group;
    this.topic = topic;
    this.threshold = threshold;
    this.on = on;
  }

  start(history: History, intervalMs: number): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const t0 = Date.now();
        try {
          const l = await this.k.admin.lag(this.group, this.topic);
          this.index(history);
          const now = history.now();
          let oldest = now;
          const partitions: Record<string, number> = {};
          for (const x of l.partitions) {
            partitions[String(x.partition)] = x.lag;
            if (x.lag > 0) {
              const at = this.sentAt.get(`${x.partition}/${Math.max(0, x.committed)}`);
              if (at !== undefined) oldest = Math.min(oldest, at);
            }
          }
          const s: LagObservation = { total: l.total, partitions, seconds: l.total > 0 ? (now - oldest) / 1000 : 0 };
          if (!this.running) break;
          this.samples.push({ time: now, s });
          this.last = s;
          this.lastTime = now;
          this.on.sample(s);
          if (!this.alerted && s.total >= this.threshold) {
            this.alerted = true;
            this.on.alert(s);
          } else if (this.alerted && !this.cleared && s.total < this.threshold) {
            this.cleared = true;
            this.on.clear(s);
          }
        } catch {
          // A sample the admin could not take is skipped, not guessed.
        }
        await sleep(Math.max(0, intervalMs - (Date.now() - t0)));
      }
    })();
  }

  /** Acknowledged sends by partition and offset, from the History. */
  private index(history: History): void {
    const ops = history.ops;
    for (; this.scanned < ops.length; this.scanned++) {
      const o = ops[this.scanned];
      if (o?.f !== 'send' || o.type !== 'ok') continue;
      const v = o.value as { partition?: number; offset?: number };
      if (v.partition !== undefined && v.offset !== undefined) this.sentAt.set(`${v.partition}/${v.offset}`, o.time);
    }
  }

  max(): number {
    return Math.max(0, ...this.samples.map((x) => x.s.total));
  }

  /** Samples taken after History time `t`. */
  since(t: number): number {
    return this.samples.filter((x) => x.time > t).length;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
