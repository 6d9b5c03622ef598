import * as kit from './kit.ts';

const [TOPIC, GROUP] = ['payments', 'ledger'];
/** History processes: the consumer before the crash and after; the idempotent variant's sink and its writer. */
const [FIRST, SECOND, SINK_TOPIC, SINK] = ['consumer', 'consumer-restarted', 'ledger-rows', 'sink'];

/** What the lab reads, by observation name. */
interface Seen {
  crash: kit.ConsumerCrash;
  /** From the marker to a read of the sink with one record per key (absent: not within the bound). */
  compactedMs: number | undefined;
}

export default kit.defineLab({
  id: 'kafka/duplicate-consumption',
  title: 'A consumer crashes between processing and committing: the restarted group reads again',
  teaches:
    'a consumer that crashes after processing but before committing makes the group re-read exactly what was ' +
    'processed since the last commit; committing after each batch bounds that to one batch, and an idempotent sink ' +
    '(a compacted topic keyed by message id: delivered twice, stored once) makes redeliveries harmless',
  notes:
    'Notes, Kafka chapter, seed lines 1613-1628: "说一下同步投递和重复消费" - 重复消费: "消费者使用自动提交偏移量，自动提交每5秒会' +
    '将消费者的偏移量提交给Kafka，如果消费者处理消息的时候过长(或者消费者在处理完消息之前崩溃或重启)，超过这个时间，那么下次就会发生重复消' +
    '费", and the remedies "建议使用手动提交偏移量", "设计一些幂等性操作", "使用事务". Where the notes are wrong: processing ' +
    'for longer than the 5 s auto-commit interval causes nothing by itself. The Java client auto-commits inside ' +
    'poll() what earlier polls returned, so slow processing only delays the commit. Duplicates come from a ' +
    'consumer that stops before its next commit: a crash or kill (this lab), or processing between two polls ' +
    'beyond max.poll.interval.ms (default 300000 ms): the member is removed, its commit fails ' +
    '(CommitFailedException) and the next owner reads again from the last commit. The 5 s only bounds how much is ' +
    "read again. The remedies are the lab's variants. The notes' 使用事务 is Kafka's exactly-once for " +
    'consume-process-produce into Kafka (output and consumed offsets in one transaction, sendOffsetsToTransaction, ' +
    'read_committed readers); it does not cover a sink outside Kafka, where idempotence is the answer. The Node ' +
    "client's own autocommit is off: this lab's consumer commits on the Java schedule (auto.commit.interval.ms, " +
    '5 s). Manual commits shrink the window to one batch; they do not close it. ' +
    kit.OUTDATED,
  variants: kit.bothModes([{ variant: 'manual' }, { variant: 'idempotent' }]),
  params: {
    mode: kit.modeParam,
    variant: kit.enumParam(
      ['auto', 'manual', 'idempotent'],
      'auto: auto-commit every commitIntervalMs; manual: commit after each batch of `batch` messages; ' +
        'idempotent: auto-commit, but processing is an upsert keyed by message id',
    ),
    messages: kit.intParam(100, 'messages produced before consuming', 20, 10_000),
    processMs: kit.intParam(100, 'the time processing one message takes', 1, 5000),
    commitIntervalMs: kit.intParam(5000, "auto-commit interval (the notes' 5 s; Java's default)", 500, 60_000),
    batch: kit.intParam(10, 'manual variant: messages per batch (committed after each)', 2, 1000),
    crashAfter: kit.intParam(
      0,
      'the consumer crashes once it processed this many past its last commit (0: 20 auto, half a batch manual)',
      0,
    ),
    timeoutSec: kit.intParam(90, 'the bound on each phase (consuming, restarting)', 10),
  },
  stack: kit.kafka,
  topology: (p) => ({ mode: p.mode }),
  steps: {
    topic: {
      title: `Topic "${TOPIC}": one partition on all three brokers; group "${GROUP}" with nothing committed{sink}`,
      narration: (p) =>
        'One partition: one consumer owns everything, offsets are one sequence. The group starts with nothing ' +
        'committed, so where it resumes after the crash is only what this run committed.' +
        (p.variant === 'idempotent' ? ` ${kit.SINK_TEXT}` : ''),
      commands: (p) => [
        kit.describeTopicCommand(TOPIC),
        kit.groupCommand(GROUP),
        ...(p.variant === 'idempotent' ? [kit.topicConfigCommand(SINK_TOPIC)] : []),
      ],
    },
    produce: {
      title: '{messages} payments on a one-partition topic',
      narration: 'Offsets 0..{last}. The producer uses acks=all, set explicitly.',
    },
    crash: {
      title: 'The consumer processes, commits, and crashes between two commits',
      narration: (p) =>
        (p.variant === 'manual'
          ? `Manual commits: at most ${p.batch} messages at a time, processed (${p.processMs} ms each), then committed.`
          : `Auto-commit every ${p.commitIntervalMs} ms, as the Java client by default (enable.auto.commit, ` +
            'auto.commit.interval.ms=5000): processed offsets are committed on a timer.' +
            (p.variant === 'idempotent' ? ` Processing writes the payment's id to ${SINK_TOPIC}.` : '')) +
        ` Once ${crashPoint(p)} messages are processed past the last commit, it crashes: it leaves the group without ` +
        'committing them (the client sends LeaveGroup, so the group rebalances at once; a killed process is noticed ' +
        'after session.timeout.ms, 6 s here, 45 s by default in Java).',
      commands: [kit.groupCommand(GROUP)],
    },
    restart: {
      title: 'The consumer restarts and the group resumes from its committed offset',
      narration: (p) =>
        `A new consumer joins "${GROUP}" at the committed offset, {committed}: offsets {from}..{last} were processed ` +
        `already, and are processed again${p.variant === 'idempotent' ? `, and written to ${SINK_TOPIC} again` : ''}.`,
      commands: [kit.groupCommand(GROUP)],
    },
    sink: {
      title: 'The sink after the cleaner: one record per payment?',
      narration: `Every delivery, the second ones included, wrote a record. ${kit.SETTLE_TEXT}`,
      commands: [kit.topicConfigCommand(SINK_TOPIC)],
    },
  },
  async mechanism(lab) {
    const sinkOn = lab.params.variant === 'idempotent';
    kit.observeMode(lab, { variant: lab.params.variant });
    const topics = async () => [
      ...(await kit.freshTopic(lab, TOPIC, 1, GROUP)),
      ...(sinkOn ? await kit.createSink(lab, SINK_TOPIC) : []),
    ];
    return lab.step('topic', topics, { vars: { sink: sinkOn ? `; the sink "${SINK_TOPIC}", a compacted topic` : '' } });
  },
  async run(lab) {
    const [k, p] = [lab.stack, lab.params];
    // The idempotent variant's processing: an upsert into the compacted sink, keyed by payment id.
    const sink = p.variant === 'idempotent' ? await kit.sinkWriter(lab, SINK) : undefined;
    const handle = async (m: kit.ReceivedMessage) => {
      await kit.sleep(p.processMs);
      await sink?.send(SINK_TOPIC, { key: m.id, partition: 0 });
    };
    const timeoutMs = p.timeoutSec * 1000;
    const commit =
      p.variant === 'manual' ? { commit: 'manual' as const, maxBatch: p.batch } : { commit: 'auto' as const };
    const opts = { groupId: GROUP, topics: [TOPIC] as [string], autoCommitIntervalMs: p.commitIntervalMs, ...commit };
    try {
      const produced = () => kit.produceSaid(lab, k.bootstrap, TOPIC, p.messages, { name: 'producer', acks: 'all' });
      await lab.step('produce', produced, { vars: { last: p.messages - 1 } });
      const crashAfter = lab.observe('crashAfter', crashPoint(p));
      const first = { ...opts, name: FIRST };
      const crashed = await lab.step('crash', () => kit.crashBetweenCommits(lab, first, crashAfter, handle, timeoutMs));
      // No crash between two commits: nothing to re-read, and the checks say they cannot tell.
      if (!crashed) return;
      const { crash, fault } = crashed;
      const restart = async () => {
        if (fault) lab.faults.endNote(fault, 'the consumer was started again');
        await kit.consumeUntilDistinct(lab, { ...opts, name: SECOND, onMessage: handle }, p.messages, timeoutMs);
        const again = kit.offsetsOf(lab.history.ops, SECOND).filter((o) => o <= crash.lastOffset).length;
        lab.observe('redelivered', again, `${again} messages processed a second time`);
      };
      const vars = { committed: crash.committed, from: Math.max(0, crash.committed), last: crash.lastOffset };
      await lab.step('restart', restart, { vars });
      if (sink) await lab.step('sink', () => kit.settleSink(lab, sink, SINK_TOPIC));
    } finally {
      await sink?.disconnect();
    }
  },
  predictions: [
    {
      before: 'restart',
      question: 'The consumer restarts after the crash. Which messages does it process?',
      choices: [
        'only the ones nobody processed: Kafka knows what was done',
        'again the ones processed since the last commit, then the rest',
        'everything from the beginning of the topic',
      ],
      answer: (ev) => {
        const c = kit.observed<Seen>(ev).crash;
        if (!c) return undefined;
        const again = kit.offsetsOf(ev.ops, SECOND).filter((o) => o <= c.lastOffset);
        if (again.length === 0) return 0;
        return Math.min(...again) === Math.max(0, c.committed) ? 1 : 2;
      },
    },
  ],
  check(ev, p) {
    const { crash: c, compactedMs } = kit.observed<Seen>(ev);
    if (!c) return kit.cannotTell('the consumer crashed', 'a crash between commits', 'no crash');
    // The payments alone: the sink's writes and reads are judged apart.
    const payments = ev.ops.filter((o) => o.process !== SINK && o.f !== kit.SINK_READ);
    const commits = kit
      .completions(ev.ops, 'commit')
      .filter((o) => o.process === FIRST && o.type === 'ok' && o.time <= c.time);
    const findings = kit.delivery(payments);
    const dups = Object.keys(findings.duplicated);
    // Offsets processed by the first consumer and not covered by the committed offset.
    const expected = kit.offsetsOf(ev.ops, FIRST).filter((o) => o >= Math.max(0, c.committed));
    const again = kit.offsetsOf(ev.ops, SECOND).filter((o) => o <= c.lastOffset);
    const manual = p.variant === 'manual';
    const checks = [
      kit.check(
        'the consumer committed before it crashed, and crashed with processed messages uncommitted',
        commits.length > 0 && c.committed >= 0 && c.lastOffset + 1 > c.committed,
        'at least one commit; committed offset below the last processed offset + 1',
        `${commits.length} commit(s); committed ${c.committed}, last processed ${c.lastOffset}`,
      ),
      kit.check(
        'the restarted consumer re-reads exactly from the committed offset',
        again.length === expected.length && again.every((x, i) => x === expected[i]),
        `offsets ${kit.offsetRange(expected)} processed again`,
        `offsets ${kit.offsetRange(again)} processed again`,
      ),
      ...kit.deliveryChecks(findings, { loss: 'forbidden', duplicates: manual ? 'allowed' : 'expected' }),
      kit.check(
        manual
          ? `duplicates bounded by one batch (<= ${p.batch})`
          : 'duplicates = what was processed since the last commit',
        manual ? dups.length >= 1 && dups.length <= p.batch : dups.length > 0 && dups.length === expected.length,
        manual ? `1..${p.batch} messages processed twice` : `${expected.length} (offsets ${kit.offsetRange(expected)})`,
        `${dups.length} processed twice${manual && dups.length ? ` (${kit.sample(dups)})` : ''}`,
        { duplicated: findings.duplicated },
      ),
    ];
    return p.variant === 'idempotent' ? [...checks, ...kit.sinkChecks(payments, ev.ops, SINK, compactedMs)] : checks;
  },
});

/** After how many messages past the last commit the consumer crashes (less than a batch with manual commits). */
function crashPoint(p: { variant: string; crashAfter: number; batch: number }): number {
  if (p.variant === 'manual') return Math.min(p.crashAfter || Math.ceil(p.batch / 2), p.batch - 1);
  return p.crashAfter || 20;
}
