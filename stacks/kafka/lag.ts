import { lag } from '../../src/checkers/lag.ts';
import { type Evidence, type History, observedSeries } from '../../src/engine/history.ts';
import type { LabContext } from '../../src/engine/lab.ts';
import { sleep } from '../../src/runtime/poll.ts';
import type { StartedKafka } from './stack.ts';

type Lab = Pick<LabContext<StartedKafka, unknown>, 'stack' | 'history' | 'observe' | 'warn' | 'until'>;

/** One lag sample, as observed under the name 'lag' (the lab plots `total`). */
export interface LagObservation {
  /** Messages: log-end offset minus committed offset, summed over partitions. */
  total: number;
  /** Per partition. */
  partitions: Record<string, number>;
  /** Lag in time: age of the oldest message not yet committed by the group (0 when none). */
  seconds: number;
}

/** Lag per partition in a line: "p0 12, p1 9, p2 14". */
export function lagText(s: LagObservation): string {
  return Object.entries(s.partitions)
    .map(([p, n]) => `p${p} ${n}`)
    .join(', ');
}

/**
 * Reads the group's lag through the admin API every `intervalMs`, and its age from the
 * History: the time the oldest uncommitted message was acknowledged to the producer. It
 * observes every sample as `lag`, the first at or above the threshold as `alert` (and
 * warns, as a monitor would), the first below it after that as `alertCleared`.
 */
export class LagSampler {
  private readonly lab: Lab;
  private readonly group: string;
  private readonly topic: string;
  private readonly threshold: number;
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

  constructor(lab: Lab, group: string, topic: string, threshold: number) {
    this.lab = lab;
    this.group = group;
    this.topic = topic;
    this.threshold = threshold;
  }

  start(intervalMs: number): void {
    const history = this.lab.history;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const t0 = Date.now();
        try {
          const l = await this.lab.stack.admin.lag(this.group, this.topic);
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
          this.observe(s);
        } catch {
          // A sample the admin could not take is skipped, not guessed.
        }
        await sleep(Math.max(0, intervalMs - (Date.now() - t0)));
      }
    })();
  }

  private observe(s: LagObservation): void {
    const { lab, group, topic, threshold } = this;
    lab.observe('lag', s, `lag ${s.total} messages (${lagText(s)}), oldest uncommitted ${s.seconds.toFixed(1)} s old`);
    if (!this.alerted && s.total >= threshold) {
      this.alerted = true;
      lab.warn(
        `ALERT: consumer group ${group} is ${s.total} messages behind on ${topic} (threshold ${threshold}); ` +
          `the oldest uncommitted message is ${s.seconds.toFixed(1)} s old`,
      );
      lab.observe('alert', { ...s, threshold });
    } else if (this.alerted && !this.cleared && s.total < threshold) {
      this.cleared = true;
      lab.observe('alertCleared', s, `alert cleared: lag ${s.total} < ${threshold}`);
    }
  }

  /**
   * Waits (at most `timeoutMs`) until `done` holds, telling what the lag is meanwhile; its
   * value, or undefined at the bound (the lab goes on, its check decides).
   */
  until<V>(what: string, done: () => V | undefined, timeoutMs: number): Promise<V | undefined> {
    return this.lab.until(
      what,
      async () => {
        const v = done();
        return v === undefined ? { done: false, seen: `lag ${this.last?.total ?? '?'}` } : { done: true, value: v };
      },
      { timeoutMs, intervalMs: 100 },
    );
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

  /** The time of the last sample, when it read 0 and was taken after History time `t`. */
  drainedAfter(t: number): number | undefined {
    return this.last?.total === 0 && this.lastTime > t ? this.lastTime : undefined;
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

/** The lag samples a run observed (`lag`), in order. */
export function lagSamples(ev: Evidence): { time: number; value: LagObservation }[] {
  return observedSeries<LagObservation>(ev, 'lag').filter((o) => typeof o.value?.total === 'number');
}

/** The samples taken within `w` (History times): at least 3, never falling, the last above the first? */
export function lagGrowth(ev: Evidence, w: { start: number; end: number }): { grew: boolean; values: number[] } {
  const values = lagSamples(ev)
    .filter((s) => s.time > w.start && s.time <= w.end)
    .map((s) => s.value.total);
  const grew =
    values.length >= 3 &&
    values.every((v, i) => i === 0 || v >= (values[i - 1] ?? 0)) &&
    (values.at(-1) ?? 0) > (values[0] ?? 0);
  return { grew, values };
}

/** One observed lag sample and its History time. */
export type TimedLag = { time: number; value: LagObservation };

/**
 * What a lag run observed, read once: the samples (`lag`) and what they show against
 * `threshold` (src/checkers/lag.ts), the first alert and the first clearing after it, the
 * peak, and, for the stall `w` (History times the group was away), the first sample after
 * it began and how the samples within it grew.
 */
export function lagEvidence(ev: Evidence, w: { start: number; end: number } | undefined, threshold: number) {
  const samples = lagSamples(ev);
  return {
    samples,
    findings: lag(
      samples.map((s) => ({ time: s.time, lag: s.value.total })),
      threshold,
    ),
    alert: observedSeries<LagObservation>(ev, 'alert')[0] as TimedLag | undefined,
    cleared: observedSeries<LagObservation>(ev, 'alertCleared')[0] as TimedLag | undefined,
    peak: samples.reduce<TimedLag | undefined>((m, s) => (!m || s.value.total > m.value.total ? s : m), undefined),
    first: w && samples.find((s) => s.time > w.start),
    stall: w && lagGrowth(ev, w),
  };
}
