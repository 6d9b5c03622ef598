import { type Check, check } from '../../src/checkers/check.ts';
import { delivery, deliveryChecks } from '../../src/checkers/delivery.ts';
import { lag as lagFindings } from '../../src/checkers/lag.ts';
import { type Evidence, type History, observed, observedSeries } from '../../src/engine/history.ts';
import { defineLab, plot } from '../../src/engine/lab.ts';
import { sleep } from '../../src/runtime/poll.ts';
import { KafkaGroupConsumer } from '../../stacks/kafka/client.ts';
import { kafka, type StartedKafka } from '../../stacks/kafka/stack.ts';
import { ProducerLoop } from '../../stacks/kafka/workload.ts';
import {
  bothModes,
  describeTopicCommand,
  groupCommand,
  modeParam,
  OUTDATED,
  partText as partitionText,
  sameSet,
} from './commands.ts';

const TOPIC = 'orders';
const GROUP = 'billing';
const PARTITIONS = 3;

/** One lag sample, as observed under the name 'lag' (the lab plots `total`). */
export interface LagObservation {
  /** Messages: log-end offset minus committed offset, summed over partitions. */
  total: number;
  /** Per partition. */
  partitions: Record<string, number>;
  /** Lag in time: age of the oldest message not yet committed by the group (0 when none). */
  seconds: number;
}

interface Window {
  start: number;
  end: number;
}

/** What the lab reads from the cluster, by observation name. */
interface Seen {
  mode: string;
  threshold: number;
  /** The group's committed offsets before it ever ran (-1: none). */
  committedBefore: Record<number, number>;
  steadyLag: number;
  alert: LagObservation & { threshold: number };
  alertCleared: LagObservation;
  stall: Window;
  resumedAt: number;
  producerStoppedAt: number;
  /** The first sample of 0 after the producer stopped, ms after it stopped (absent: none). */
  drainMs: number;
}

/** Lag reaches 0 at the group's next commit after the producer stops: one commit interval and two samples. */
function drainBoundMs(p: { commitIntervalMs: number; sampleMs: number }): number {
  return p.commitIntervalMs + 2 * p.sampleMs;
}

export default defineLab({
  id: 'kafka/lag-detection',
  title: 'Consumer lag: it grows while the group is away, raises an alert, and drains',
  teaches:
    'consumer lag (log-end offset minus committed offset, per partition) read through the admin API grows while ' +
    'a group stops consuming, crosses an alert threshold, and drains back to zero once the group returns; in ' +
    'messages and in seconds',
  notes:
    'Notes, Kafka chapter: "消息积压" (seed lines 1396-1445) - causes (消费者宕机, 消费者处理速度慢, 生产者速度过快), how to notice it ' +
    '(line 1429: "Consumer Lag 是指消费者组相对于生产者的消息偏移量的差异"; kafka-consumer-groups.sh --describe, the LAG column) and ' +
    '"警报系统" (line 1433: "当某些指标达到预定的阈值时触发警报"). The lab does what such a monitor does: reads both offsets through the ' +
    'admin API every second. What the notes do not say: lag seen from outside is measured against *committed* ' +
    'offsets, so it includes up to one auto-commit interval of messages already processed. ' +
    OUTDATED,
  variants: bothModes(),
  params: {
    mode: modeParam,
    alertLag: { type: 'int', default: 100, min: 1, describe: 'alert threshold: total lag in messages' },
    intervalMs: {
      type: 'int',
      default: 50,
      min: 5,
      max: 5000,
      describe: 'the producer sends one message, waits for its acknowledgement, then waits this long',
    },
    sampleMs: { type: 'int', default: 1000, min: 200, max: 10_000, describe: 'how often the lag is read' },
    commitIntervalMs: {
      type: 'int',
      default: 1000,
      min: 100,
      max: 10_000,
      describe: "the consumer's auto-commit interval (Java's auto.commit.interval.ms, default 5000)",
    },
    warmupSec: { type: 'int', default: 5, min: 1, max: 60, describe: 'seconds of normal consumption first' },
    maxStallSec: {
      type: 'int',
      default: 90,
      min: 5,
      describe: 'the bound on the stall: the group stays away until the alert fires, at most this long',
    },
    drainTimeoutSec: { type: 'int', default: 60, min: 5, describe: 'the bound for the lag to return to 0' },
  },
  stack: kafka,
  plots: [plot<LagObservation>('lag', 'consumer lag (messages)', (s) => s.total)],
  topology: (p) => ({ mode: p.mode }),
  async mechanism(lab) {
    const k = lab.stack;
    lab.observe('mode', k.mode);
    lab.observe('threshold', lab.params.alertLag);
    const reasons: string[] = [];
    await lab.step(
      `Topic "${TOPIC}": ${PARTITIONS} partitions, each on all three brokers, and a group with nothing committed`,
      'Lag is read per partition, so the topic must have the partitions the lab sums over, fully replicated (no ' +
        'partition leaderless or shrunk while the monitor reads it). The group must start with no committed ' +
        'offsets: every lag figure then comes from what this run produced and committed.',
      async () => {
        await k.admin.createTopic(TOPIC, { partitions: PARTITIONS, replicationFactor: 3 });
        const parts =
          (await lab.until(
            `every partition of ${TOPIC} fully in sync`,
            async () => {
              const xs = await k.admin.partitions([TOPIC]);
              return xs.length === PARTITIONS && xs.every((x) => x.replicas.length === 3 && sameSet(x.isr, x.replicas))
                ? { done: true, value: xs }
                : { done: false, seen: xs.map(partitionText).join('; ') };
            },
            { timeoutMs: 30_000, intervalMs: 200 },
          )) ?? (await k.admin.partitions([TOPIC]));
        for (const x of parts) lab.say(partitionText(x));
        if (parts.length !== PARTITIONS) reasons.push(`${TOPIC} has ${parts.length} partitions, not ${PARTITIONS}`);
        for (const x of parts)
          if (x.replicas.length !== 3 || !sameSet(x.isr, x.replicas)) reasons.push(`not in sync: ${partitionText(x)}`);
        const committed = lab.observe(
          'committedBefore',
          await k.admin.committed(GROUP, TOPIC),
          `group ${GROUP} has committed nothing yet`,
        );
        const any = Object.entries(committed).filter(([, o]) => o >= 0);
        if (any.length)
          reasons.push(`group ${GROUP} already has committed offsets (${any.map(([q, o]) => `p${q}@${o}`)})`);
      },
      [describeTopicCommand(k, TOPIC), groupCommand(k, GROUP)],
    );
    return reasons;
  },
  async run(lab) {
    const k = lab.stack;
    const p = lab.params;
    const consumer = new KafkaGroupConsumer(k.bootstrap, lab.history, {
      name: 'consumer',
      groupId: GROUP,
      topics: [TOPIC],
      commit: 'auto',
      autoCommitIntervalMs: p.commitIntervalMs,
    });
    let producer: ProducerLoop | undefined;
    const sampler = new LagSampler(lab.stack, (s) => {
      lab.observe(
        'lag',
        s,
        `lag ${s.total} messages (${partText(s)}), oldest uncommitted ${s.seconds.toFixed(1)} s old`,
      );
    });
    sampler.onSample = (s) => {
      if (!sampler.alerted && s.total >= p.alertLag) {
        sampler.alerted = true;
        lab.warn(
          `ALERT: consumer group ${GROUP} is ${s.total} messages behind on ${TOPIC} (threshold ${p.alertLag}); ` +
            `the oldest uncommitted message is ${s.seconds.toFixed(1)} s old`,
        );
        lab.observe('alert', { ...s, threshold: p.alertLag });
      } else if (sampler.alerted && !sampler.cleared && s.total < p.alertLag) {
        sampler.cleared = true;
        lab.observe('alertCleared', s, `alert cleared: lag ${s.total} < ${p.alertLag}`);
      }
    };
    try {
      await lab.step(
        'A steady producer, and a consumer group keeping up',
        `A producer sends one identified message to one of ${PARTITIONS} partitions every ~${p.intervalMs} ms ` +
          `(acks=1, set explicitly: this lab is about the consumer side). Group "${GROUP}" consumes and commits ` +
          `its offsets every ${p.commitIntervalMs} ms (Java's enable.auto.commit, every 5000 ms by default). ` +
          `Every ${p.sampleMs} ms the lab asks the cluster, as a monitor would, for each partition's log-end ` +
          "offset (ListOffsets) and the group's committed offset (OffsetFetch): lag = end - committed. Lag in " +
          'time is the age of the oldest message the group has not committed yet: once the group is gone, it ' +
          `should equal how long it has been gone, within one sample (${p.sampleMs} ms).`,
        async () => {
          await consumer.start();
          producer = await ProducerLoop.start(k.bootstrap, lab.history, TOPIC, {
            name: 'producer',
            acks: 1,
            intervalMs: p.intervalMs,
            route: (seq) => ({ partition: seq % PARTITIONS }),
          });
          sampler.start(lab.history, p.sampleMs);
          await sleep(p.warmupSec * 1000);
          lab.observe('steadyLag', sampler.max(), `while the group keeps up, lag stays at or below ${sampler.max()}`);
        },
        [groupCommand(k, GROUP)],
      );
      await lab.step(
        'The group stops consuming; the producer goes on',
        `The consumer commits what it processed and leaves the group (as a crashed or stopped service would; the ` +
          'notes\' "消费者宕机"). Nobody consumes now: each new message adds one to the lag of its partition. ' +
          `The alert fires at the first sample at or above ${p.alertLag} messages; the group stays away until then.`,
        async (): Promise<Window> => {
          await consumer.stop();
          const start = lab.history.now();
          await lab.until(
            `the lag to reach ${p.alertLag}`,
            async () =>
              sampler.alerted && sampler.since(start) >= 3
                ? { done: true, value: true }
                : { done: false, seen: `lag ${sampler.last?.total ?? '?'}` },
            { timeoutMs: p.maxStallSec * 1000, intervalMs: 200 },
          );
          const w = { start, end: lab.history.now() };
          lab.observe('stall', w);
          return w;
        },
        { key: 'stop-group', commands: [groupCommand(k, GROUP)] },
      );
      await lab.step(
        'The group comes back; then the producer stops',
        'The consumer joins the group again and resumes from the committed offsets: it reads the backlog much ' +
          'faster than the producer adds to it, so the lag falls while the producer is still sending. Then the ' +
          `producer stops, and the lag reaches exactly 0 at the group's next commit: within one commit interval and ` +
          `two samples, ${drainBoundMs(p)} ms.`,
        async () => {
          await consumer.start();
          lab.observe('resumedAt', lab.history.now());
          await lab.until(
            'the lag to fall below the threshold',
            async () =>
              sampler.cleared ? { done: true, value: true } : { done: false, seen: `lag ${sampler.last?.total}` },
            { timeoutMs: p.drainTimeoutSec * 1000, intervalMs: 200 },
          );
          await sleep(2000);
          await producer?.stop();
          producer = undefined;
          const stoppedAt = lab.observe('producerStoppedAt', lab.history.now());
          const drainedAt = await lab.until(
            'the lag to drain to 0',
            async () =>
              sampler.last && sampler.last.total === 0 && sampler.lastTime > stoppedAt
                ? { done: true, value: sampler.lastTime }
                : { done: false, seen: `lag ${sampler.last?.total}` },
            { timeoutMs: p.drainTimeoutSec * 1000, intervalMs: 100 },
          );
          if (drainedAt !== undefined)
            lab.observe(
              'drainMs',
              drainedAt - stoppedAt,
              `lag 0 ${drainedAt - stoppedAt} ms after the producer stopped (bound ${drainBoundMs(p)} ms)`,
            );
        },
        [groupCommand(k, GROUP)],
      );
    } finally {
      await sampler.stop();
      await producer?.stop();
      await consumer.stop();
    }
  },
  predictions: [
    {
      before: 'stop-group',
      question: 'The group stops consuming while the producer goes on. What does the lag do?',
      choices: [
        'stays where it is',
        "grows by about the producer's rate every second",
        'drops to 0: nobody is reading',
      ],
      answer: (ev) => (stallGrowth(ev)?.grew ? 1 : undefined),
    },
  ],
  check(ev, p) {
    const samples = lagSamples(ev);
    const f = lagFindings(
      samples.map((s) => ({ time: s.time, lag: s.value.total })),
      p.alertLag,
    );
    const seen = observed<Seen>(ev);
    const stall = stallGrowth(ev);
    const alert = observedSeries<LagObservation>(ev, 'alert')[0];
    const resumedAt = Number(seen.resumedAt);
    const stoppedAt = Number(seen.producerStoppedAt);
    const cleared = observedSeries<LagObservation>(ev, 'alertCleared')[0];
    const peak = samples.reduce<(typeof samples)[number] | undefined>(
      (m, s) => (!m || s.value.total > m.value.total ? s : m),
      undefined,
    );
    const checks: Check[] = [];
    if (samples.length < 5) {
      return [
        {
          name: 'lag was sampled',
          ok: 'unknown',
          expected: 'at least 5 samples',
          observed: `${samples.length} samples`,
        },
      ];
    }
    // Without messages produced while the group was away there is nothing to lag behind: cannot tell.
    const w = seen.stall;
    // The lag seen from outside is measured against committed offsets: a group that never committed says nothing.
    const commitsBefore = ev.ops.filter(
      (o) => o.f === 'commit' && o.type === 'ok' && o.process === 'consumer' && w !== undefined && o.time <= w.start,
    ).length;
    if (commitsBefore === 0) {
      return [
        {
          name: 'the group committed its offsets while it kept up',
          ok: 'unknown',
          expected: 'at least one commit before the group left',
          observed: 'no commit',
        },
      ];
    }
    const producedInStall = ev.ops.filter(
      (o) => o.f === 'send' && o.type === 'ok' && w !== undefined && o.time > w.start && o.time <= w.end,
    ).length;
    if (producedInStall === 0) {
      return [
        {
          name: 'the producer kept producing while the group was away',
          ok: 'unknown',
          expected: 'messages acknowledged during the stall',
          observed: w ? 'none acknowledged' : 'no stall observed',
        },
      ];
    }
    const drained = samples.find((s) => s.time > stoppedAt && s.value.total === 0);
    checks.push(
      check(
        `while the group keeps up, lag stays below the threshold (${p.alertLag})`,
        seen.steadyLag !== undefined && seen.steadyLag < p.alertLag,
        `at most ${p.alertLag - 1} messages during the warm-up`,
        `at most ${seen.steadyLag ?? '?'} messages`,
      ),
      check(
        'lag grows over successive samples while the group is away',
        !!stall?.grew && f.grew,
        'at least 3 samples during the stall, never falling, the last above the first',
        stall ? `${stall.values.join(' -> ')} messages` : 'no stall observed',
      ),
      check(
        `lag crosses the alert threshold (${p.alertLag}) and the lab raises an alert`,
        // The alert is observed right after the sample that crossed (same total, before the next sample).
        f.alertAt !== undefined &&
          alert !== undefined &&
          alert.value.total >= p.alertLag &&
          alert.value.total === samples.find((x) => x.time === f.alertAt)?.value.total &&
          alert.time >= f.alertAt &&
          alert.time - f.alertAt < p.sampleMs,
        `an alert at the first sample >= ${p.alertLag}`,
        alert
          ? `alert at +${(alert.time / 1000).toFixed(1)} s: ${alert.value.total} messages, ` +
              `${alert.value.seconds.toFixed(1)} s behind` +
              (w ? ` (${((alert.time - w.start) / 1000).toFixed(1)} s after the group left)` : '')
          : `no alert (peak ${f.peak})`,
      ),
      check(
        'the backlog shrinks below the threshold while the producer still runs',
        cleared !== undefined && cleared.time > resumedAt && cleared.time < stoppedAt,
        'alert cleared after the group returned, before the producer stopped',
        cleared
          ? `cleared at +${(cleared.time / 1000).toFixed(1)} s (producer stopped at +${(stoppedAt / 1000).toFixed(1)} s)`
          : 'never cleared',
      ),
      check(
        `after the producer stops the lag drains to 0 within ${drainBoundMs(p)} ms (one commit interval, two samples)`,
        drained !== undefined && drained.time - stoppedAt <= drainBoundMs(p),
        `a sample of 0 at most ${drainBoundMs(p)} ms after the producer stopped`,
        drained !== undefined
          ? `0 at +${(drained.time / 1000).toFixed(1)} s, ${drained.time - stoppedAt} ms after the producer stopped ` +
              `(${((drained.time - resumedAt) / 1000).toFixed(1)} s after the group returned)`
          : `no sample of 0 after the producer stopped; last sample ${samples.at(-1)?.value.total}`,
      ),
      check(
        `lag in time: at the alert, the oldest uncommitted message is as old as the group's absence (within ${p.sampleMs} ms)`,
        !!peak &&
          peak.value.total > 0 &&
          alert !== undefined &&
          w !== undefined &&
          Math.abs(alert.value.seconds * 1000 - (alert.time - w.start)) <= p.sampleMs,
        `the age of the oldest uncommitted message = time since the group left, +-${p.sampleMs} ms`,
        (alert && w
          ? `${alert.value.seconds.toFixed(1)} s behind, ${((alert.time - w.start) / 1000).toFixed(1)} s after the group left; `
          : 'no alert; ') +
          (peak
            ? `peak ${peak.value.total} messages (${partText(peak.value)}), ${peak.value.seconds.toFixed(1)} s behind`
            : 'no peak'),
        { peak: peak?.value, samples: samples.length },
      ),
      ...deliveryChecks(delivery(ev.ops), { loss: 'forbidden', duplicates: 'allowed' }),
    );
    return checks;
  },
});

/**
 * Reads the group's lag through the admin API every `intervalMs`, and its age from the
 * History: the time the oldest uncommitted message was acknowledged to the producer.
 */
class LagSampler {
  private readonly k: StartedKafka;
  private readonly record: (s: LagObservation) => void;
  onSample: (s: LagObservation) => void = () => {};
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly samples: { time: number; s: LagObservation }[] = [];
  /** '<partition>/<offset>' -> History time of the acknowledgement. */
  private readonly sentAt = new Map<string, number>();
  private scanned = 0;
  alerted = false;
  cleared = false;
  last: LagObservation | undefined;
  lastTime = 0;

  constructor(k: StartedKafka, record: (s: LagObservation) => void) {
    this.k = k;
    this.record = record;
  }

  start(history: History, intervalMs: number): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const t0 = Date.now();
        try {
          const l = await this.k.admin.lag(GROUP, TOPIC);
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
          this.record(s);
          this.onSample(s);
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

function lagSamples(ev: Evidence): { time: number; value: LagObservation }[] {
  return observedSeries<LagObservation>(ev, 'lag').filter((o) => typeof o.value?.total === 'number');
}

/** The samples taken while the group was away: do they grow? */
function stallGrowth(ev: Evidence): { grew: boolean; values: number[] } | undefined {
  const w = observed<Seen>(ev).stall;
  if (!w) return undefined;
  const values = lagSamples(ev)
    .filter((s) => s.time > w.start && s.time <= w.end)
    .map((s) => s.value.total);
  const grew =
    values.length >= 3 &&
    values.every((v, i) => i === 0 || v >= (values[i - 1] ?? 0)) &&
    (values.at(-1) ?? 0) > (values[0] ?? 0);
  return { grew, values };
}

function partText(s: LagObservation): string {
  return Object.entries(s.partitions)
    .map(([p, n]) => `p${p} ${n}`)
    .join(', ');
}
