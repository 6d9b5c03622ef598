import * as kit from './kit.ts';

const [TOPIC, GROUP, PARTITIONS] = ['orders', 'billing', 3] as const;

/** What the checks read, by observation name (and the series `lag`, `alert`, `alertCleared`). */
interface Seen {
  steadyLag: number;
  /** When the group was away (History times). */
  stall: { start: number; end: number };
  resumedAt: number;
  producerStoppedAt: number;
}

/** Lag reaches 0 at the group's next commit after the producer stops: one commit interval and two samples. */
function drainBoundMs(p: { commitIntervalMs: number; sampleMs: number }): number {
  return p.commitIntervalMs + 2 * p.sampleMs;
}

export default kit.defineLab({
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
    kit.OUTDATED,
  variants: kit.bothModes(),
  params: {
    mode: kit.modeParam,
    alertLag: kit.intParam(100, 'alert threshold: total lag in messages'),
    intervalMs: kit.intParam(50, 'the producer sends one message, waits for its ack, then waits this long', 5, 5000),
    sampleMs: kit.intParam(1000, 'how often the lag is read', 200, 10_000),
    commitIntervalMs: kit.intParam(1000, 'auto.commit.interval.ms (default 5000 in Java)', 100, 10_000),
    warmupSec: kit.intParam(5, 'seconds of normal consumption first', 1, 60),
    maxStallSec: kit.intParam(90, 'the bound on the stall: the group stays away until the alert, at most this long', 5),
    drainTimeoutSec: kit.intParam(60, 'the bound for the lag to return to 0', 5),
  },
  stack: kit.kafka,
  plots: [kit.plot<kit.LagObservation>('lag', 'consumer lag (messages)', (s) => s.total)],
  topology: (p) => ({ mode: p.mode }),
  steps: {
    topic: {
      title: `Topic "${TOPIC}": ${PARTITIONS} partitions, each on all three brokers, and a group with nothing committed`,
      narration:
        'Lag is read per partition: the topic must have the partitions the lab sums over, fully replicated (none ' +
        'leaderless or shrunk while the monitor reads it), and the group no committed offsets, so every lag figure ' +
        'comes from what this run produced and committed.',
      commands: [kit.describeTopicCommand(TOPIC), kit.groupCommand(GROUP)],
    },
    steady: {
      title: 'A steady producer, and a consumer group keeping up',
      narration: (p) =>
        `A producer sends one identified message to one of ${PARTITIONS} partitions every ~${p.intervalMs} ms ` +
        `(acks=1, set explicitly: this lab is about the consumer side). Group "${GROUP}" consumes and commits its ` +
        `offsets every ${p.commitIntervalMs} ms (Java's enable.auto.commit, every 5000 ms by default). Every ` +
        `${p.sampleMs} ms the lab asks the cluster, as a monitor would, for each partition's log-end offset ` +
        "(ListOffsets) and the group's committed offset (OffsetFetch): lag = end - committed. Lag in time is the " +
        'age of the oldest message the group has not committed: once the group is gone it grows with the clock, ' +
        'from the age its committed position already had when it left (a busy consumer leaves behind); checked ' +
        `within one sample (${p.sampleMs} ms).`,
      commands: [kit.groupCommand(GROUP)],
    },
    'stop-group': {
      title: 'The group stops consuming; the producer goes on',
      narration:
        'The consumer commits what it processed and leaves the group, as a crashed or stopped service would (the ' +
        'notes\' "消费者宕机"). Nobody consumes: each new message adds one to the lag of its partition. The alert ' +
        'fires at the first sample at or above {alertLag} messages; the group stays away until then.',
      commands: [kit.groupCommand(GROUP)],
    },
    back: {
      title: 'The group comes back; then the producer stops',
      narration: (p) =>
        'The consumer rejoins and resumes from the committed offsets, reading the backlog much faster than the ' +
        'producer adds to it: the lag falls while the producer still sends. Then the producer stops, and the lag ' +
        `reaches exactly 0 at the group's next commit: within one commit interval and two samples, ${drainBoundMs(p)} ms.`,
      commands: [kit.groupCommand(GROUP)],
    },
  },
  async mechanism(lab) {
    kit.observeMode(lab, { threshold: lab.params.alertLag });
    return lab.step('topic', () => kit.freshTopic(lab, TOPIC, PARTITIONS, GROUP));
  },
  async run(lab) {
    const [k, p] = [lab.stack, lab.params];
    const autoCommitIntervalMs = p.commitIntervalMs;
    const group = { name: 'consumer', groupId: GROUP, topics: [TOPIC], commit: 'auto' as const, autoCommitIntervalMs };
    const consumer = new kit.KafkaGroupConsumer(k.bootstrap, lab.history, group);
    let producer: kit.ProducerLoop | undefined;
    const sampler = new kit.LagSampler(lab, GROUP, TOPIC, p.alertLag);
    try {
      await lab.step('steady', async () => {
        await consumer.start();
        const route = (seq: number) => ({ partition: seq % PARTITIONS });
        const opts = { name: 'producer', acks: 1, intervalMs: p.intervalMs, route } as const;
        producer = await kit.ProducerLoop.start(k.bootstrap, lab.history, TOPIC, opts);
        sampler.start(p.sampleMs);
        await kit.sleep(p.warmupSec * 1000);
        lab.observe('steadyLag', sampler.max(), `while the group keeps up, lag stays at or below ${sampler.max()}`);
      });
      await lab.step('stop-group', async () => {
        await consumer.stop();
        const start = lab.history.now();
        const reached = () => (sampler.alerted && sampler.since(start) >= 3) || undefined;
        await sampler.until(`the lag to reach ${p.alertLag}`, reached, p.maxStallSec * 1000);
        lab.observe('stall', { start, end: lab.history.now() });
      });
      await lab.step('back', async () => {
        await consumer.start();
        lab.observe('resumedAt', lab.history.now());
        const drainMs = p.drainTimeoutSec * 1000;
        await sampler.until('the lag to fall below the threshold', () => sampler.cleared || undefined, drainMs);
        await kit.sleep(2000);
        await producer?.stop();
        producer = undefined;
        const stoppedAt = lab.observe('producerStoppedAt', lab.history.now());
        const drainedAt = await sampler.until('the lag to drain to 0', () => sampler.drainedAfter(stoppedAt), drainMs);
        if (drainedAt !== undefined) {
          const ms = drainedAt - stoppedAt;
          lab.observe('drainMs', ms, `lag 0 ${ms} ms after the producer stopped (bound ${drainBoundMs(p)} ms)`);
        }
      });
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
      choices: ['stays where it is', "grows by about the producer's rate each second", 'drops to 0: nobody is reading'],
      answer: (ev) => {
        const w = kit.observed<Seen>(ev).stall;
        return w && kit.lagGrowth(ev, w).grew ? 1 : undefined;
      },
    },
  ],
  check(ev, p) {
    const { stall: w, ...seen } = kit.observed<Seen>(ev);
    const lagEv = kit.lagEvidence(ev, w, p.alertLag);
    const { samples, findings: f, cleared, stall } = lagEv;
    const [resumedAt, stoppedAt] = [Number(seen.resumedAt), Number(seen.producerStoppedAt)];
    if (samples.length < 5) return kit.cannotTell('lag was sampled', 'at least 5 samples', `${samples.length} samples`);
    // The lag seen from outside is measured against committed offsets: a group that never committed says nothing.
    if (!w || !kit.okWithin(ev.ops, 'consumer', 'commit', -1, w.start))
      return kit.cannotTell(
        'the group committed its offsets while it kept up',
        'at least one commit before the group left',
        'no commit',
      );
    // Without messages produced while the group was away there is nothing to lag behind: cannot tell.
    if (!kit.okWithin(ev.ops, 'producer', 'send', w.start, w.end))
      return kit.cannotTell(
        'the producer kept producing while the group was away',
        'messages acknowledged during the stall',
        'none acknowledged',
      );
    const drained = samples.find((s) => s.time > stoppedAt && s.value.total === 0);
    return [
      kit.check(
        `while the group keeps up, lag stays below the threshold (${p.alertLag})`,
        seen.steadyLag !== undefined && seen.steadyLag < p.alertLag,
        `at most ${p.alertLag - 1} messages during the warm-up`,
        `at most ${seen.steadyLag ?? '?'} messages`,
      ),
      kit.check(
        'lag grows over successive samples while the group is away',
        !!stall?.grew && f.grew,
        'at least 3 samples during the stall, never falling, the last above the first',
        stall ? `${stall.values.join(' -> ')} messages` : 'no stall observed',
      ),
      kit.alertRaised(lagEv, p.alertLag, p.sampleMs, w),
      kit.check(
        'the backlog shrinks below the threshold while the producer still runs',
        cleared !== undefined && cleared.time > resumedAt && cleared.time < stoppedAt,
        'alert cleared after the group returned, before the producer stopped',
        cleared
          ? `cleared at +${(cleared.time / 1000).toFixed(1)} s (producer stopped at +${(stoppedAt / 1000).toFixed(1)} s)`
          : 'never cleared',
      ),
      kit.check(
        `after the producer stops the lag drains to 0 within ${drainBoundMs(p)} ms (one commit interval, two samples)`,
        drained !== undefined && drained.time - stoppedAt <= drainBoundMs(p),
        `a sample of 0 at most ${drainBoundMs(p)} ms after the producer stopped`,
        drained !== undefined
          ? `0 at +${(drained.time / 1000).toFixed(1)} s, ${drained.time - stoppedAt} ms after the producer stopped ` +
              `(${((drained.time - resumedAt) / 1000).toFixed(1)} s after the group returned)`
          : `no sample of 0 after the producer stopped; last sample ${samples.at(-1)?.value.total}`,
      ),
      kit.agesWithClock(lagEv, p.sampleMs, w),
      ...kit.deliveryChecks(kit.delivery(ev.ops), { loss: 'forbidden', duplicates: 'allowed' }),
    ];
  },
});
