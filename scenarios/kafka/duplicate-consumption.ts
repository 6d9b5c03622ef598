import { type Check, check } from '../../src/checkers/check.ts';
import { delivery, deliveryChecks, sample } from '../../src/checkers/delivery.ts';
import {
  completions,
  type Evidence,
  type FaultRecord,
  type History,
  lastObservation,
  type Op,
} from '../../src/engine/history.ts';
import { defineLab } from '../../src/engine/lab.ts';
import { sleep, waitUntil, withTimeout } from '../../src/runtime/poll.ts';
import { KafkaGroupConsumer, type ReceivedMessage } from '../../stacks/kafka/client.ts';
import { kafka } from '../../stacks/kafka/stack.ts';
import { produce } from '../../stacks/kafka/workload.ts';
import { bothModes, groupCommand, modeParam, OUTDATED } from './commands.ts';

const TOPIC = 'payments';
const GROUP = 'ledger';
/** History processes: the consumer before the crash, and after the restart. */
const FIRST = 'consumer';
const SECOND = 'consumer-restarted';

/** What the lab saw at the crash. */
interface Crash {
  /** Messages the first consumer processed. */
  processed: number;
  /** The last offset it processed. */
  lastOffset: number;
  /** The group's committed offset right after the crash (the next offset to read). */
  committed: number;
  /** History time of the crash. */
  time: number;
}

/** The idempotent sink's contents at the end: one row per key. */
interface SinkState {
  rows: string[];
  /** Upserts done (one per delivery). */
  writes: number;
  /** Upserts that found the key already there: redeliveries made harmless. */
  absorbed: number;
}

export default defineLab({
  id: 'kafka/duplicate-consumption',
  title: 'A consumer crashes between processing and committing: the restarted group reads again',
  teaches:
    'a consumer that crashes after processing but before committing its offsets makes the group re-read exactly ' +
    'what was processed since the last commit; committing after each batch bounds that to one batch, and an ' +
    'idempotent sink (upsert by message id) makes the redeliveries harmless',
  notes:
    'Notes, Kafka chapter: "说一下同步投递和重复消费" - 重复消费: "消费者使用自动提交偏移量，自动提交每5秒会将消费者的偏移量' +
    '提交给Kafka，如果 ... 消费者在处理完消息之前崩溃或重启 ... 那么下次就会发生重复消费", and the remedies "建议使用手动' +
    '提交偏移量", "设计一些幂等性操作". All three are run here (param variant). The notes\' 5 s is the Java client\'s ' +
    "auto.commit.interval.ms default; kafkajs by default commits after every batch instead, so this lab's client " +
    'commits on the Java schedule itself. Neither way is exactly-once: manual commits shrink the window to one ' +
    'batch, they do not close it. ' +
    OUTDATED,
  variants: bothModes([{ variant: 'manual' }, { variant: 'idempotent' }]),
  params: {
    mode: modeParam,
    variant: {
      type: 'enum',
      default: 'auto',
      choices: ['auto', 'manual', 'idempotent'],
      describe:
        'auto: auto-commit every commitIntervalMs; manual: commit after each batch of `batch` messages; ' +
        'idempotent: auto-commit, but processing is an upsert keyed by message id',
    },
    messages: { type: 'int', default: 100, min: 20, max: 10_000, describe: 'messages produced before consuming' },
    processMs: { type: 'int', default: 100, min: 1, max: 5000, describe: 'the time processing one message takes' },
    commitIntervalMs: {
      type: 'int',
      default: 5000,
      min: 500,
      max: 60_000,
      describe: "auto-commit interval (the notes' 5 s; Java's auto.commit.interval.ms default)",
    },
    batch: {
      type: 'int',
      default: 10,
      min: 2,
      max: 1000,
      describe: 'manual variant: messages per batch (committed after each)',
    },
    crashAfter: {
      type: 'int',
      default: 0,
      min: 0,
      describe:
        'the consumer crashes once it has processed this many messages past its last commit ' +
        '(0: 20 with auto-commit, half a batch with manual commits)',
    },
    timeoutSec: { type: 'int', default: 90, min: 10, describe: 'the bound on each phase (consuming, restarting)' },
  },
  stack: kafka,
  topology: (p) => ({ mode: p.mode }),
  async run(lab) {
    const k = lab.stack;
    const p = lab.params;
    lab.observe('mode', k.mode);
    lab.observe('variant', p.variant);
    const commit = p.variant === 'manual' ? 'manual' : 'auto';
    const crashAfter = crashPoint(p);
    lab.observe('crashAfter', crashAfter);
    // The idempotent variant's sink: a table keyed by message id (think: INSERT ... ON CONFLICT DO UPDATE).
    const sink = new Map<string, { offset: number; writes: number }>();
    let writes = 0;
    const handle = async (m: ReceivedMessage) => {
      await sleep(p.processMs);
      if (p.variant !== 'idempotent') return;
      writes++;
      const row = sink.get(m.id);
      sink.set(m.id, { offset: m.offset, writes: (row?.writes ?? 0) + 1 });
    };
    const consumerOpts = {
      groupId: GROUP,
      topics: [TOPIC],
      commit: commit as 'auto' | 'manual',
      autoCommitIntervalMs: p.commitIntervalMs,
      ...(p.variant === 'manual' ? { maxBatch: p.batch } : {}),
    };

    await lab.step(
      `${p.messages} payments on a one-partition topic`,
      `One partition, so one consumer owns everything and offsets read as a single sequence (0..${p.messages - 1}). ` +
        'The producer uses acks=all, set explicitly.',
      async () => {
        await k.admin.createTopic(TOPIC, { partitions: 1, replicationFactor: 3 });
        const sent = await produce(k.bootstrap, lab.history, TOPIC, p.messages, { name: 'producer', acks: 'all' });
        lab.say(`${sent.filter((s) => s.ok).length} of ${p.messages} acknowledged`);
      },
    );

    let crashFault: FaultRecord | undefined;
    const crash = await lab.step(
      'The consumer processes, commits, and crashes between two commits',
      (p.variant === 'manual'
        ? `Manual commits: the consumer takes at most ${p.batch} messages at a time, processes them (${p.processMs} ms ` +
          "each) and commits the batch's offsets before taking the next."
        : `Auto-commit every ${p.commitIntervalMs} ms, as the Java client does by default (enable.auto.commit, ` +
          `auto.commit.interval.ms=5000): processed offsets are committed on a timer, whatever was done in between.` +
          (p.variant === 'idempotent'
            ? ' Processing is an upsert keyed by message id into a table: a second write of the same id replaces ' +
              'the row with the same content.'
            : '')) +
        ` Once it has processed ${crashAfter} messages past its last commit, it crashes: it stops and leaves the ` +
        'group without committing them. (kafkajs sends LeaveGroup on disconnect, so the group rebalances at once; a ' +
        'process killed outright is noticed after session.timeout.ms, 6 s here, 45 s by default in Java.)',
      async (): Promise<Crash> => {
        let crashed: Promise<void> | undefined;
        let crashTime = 0;
        let fault: FaultRecord | undefined;
        const first: KafkaGroupConsumer = new KafkaGroupConsumer(k.bootstrap, lab.history, {
          ...consumerOpts,
          name: FIRST,
          onMessage: async (m) => {
            await handle(m);
            if (crashed) return;
            const since = processedSinceCommit(lab.history, FIRST, m.offset);
            if (since.commits > 0 && since.count >= crashAfter) {
              // The crash happens here, inside the processing of message m: nothing more is committed.
              crashTime = lab.history.now();
              crashed = first.crash();
              fault = lab.faults.note('kill', [FIRST], `the consumer crashed after processing offset ${m.offset}`);
            }
          },
        });
        await first.start();
        await waitUntil(
          'the consumer to crash between two commits',
          async () =>
            crashed
              ? { done: true, value: undefined }
              : { done: false, seen: `${first.received} processed, ${first.commits} commits` },
          { timeoutMs: p.timeoutSec * 1000, intervalMs: 100 },
        ).catch(async (err) => {
          await first.stop();
          throw err;
        });
        await withTimeout(20_000, 'the crashed consumer to go', () => crashed as Promise<void>);
        const mine = completions(lab.history.ops, 'receive').filter((o) => o.process === FIRST && o.type === 'ok');
        const lastOffset = Math.max(...mine.map((o) => Number((o.value as { offset: number }).offset)));
        const committed = (await k.admin.committed(GROUP, TOPIC))[0] ?? -1;
        const c: Crash = { processed: mine.length, lastOffset, committed, time: crashTime };
        crashFault = fault;
        lab.observe(
          'crash',
          c,
          `crashed after processing offsets 0..${lastOffset}; the group's committed offset is ${committed}: ` +
            `${lastOffset + 1 - Math.max(0, committed)} processed messages are not committed`,
        );
        return c;
      },
      [groupCommand(k, GROUP)],
    );

    await lab.step(
      'The consumer restarts and the group resumes from its committed offset',
      `A new consumer joins group "${GROUP}" and starts where the group's committed offset says: ` +
        `${crash.committed}. Offsets ${Math.max(0, crash.committed)}..${crash.lastOffset} were processed already, and ` +
        'are processed again.' +
        (p.variant === 'idempotent' ? ' The upsert makes the second processing a no-op for the table.' : ''),
      async () => {
        if (crashFault) lab.faults.endNote(crashFault, 'the consumer was started again');
        const second = new KafkaGroupConsumer(k.bootstrap, lab.history, {
          ...consumerOpts,
          name: SECOND,
          onMessage: handle,
        });
        await second.start();
        try {
          await waitUntil(
            'the restarted consumer to reach the end of the topic',
            async () => {
              const seen = new Set(
                completions(lab.history.ops, 'receive')
                  .filter((o) => o.type === 'ok')
                  .map((o) => (o.value as { id: string }).id),
              );
              return seen.size >= p.messages
                ? { done: true, value: undefined }
                : { done: false, seen: `${seen.size} distinct processed` };
            },
            { timeoutMs: p.timeoutSec * 1000, intervalMs: 200 },
          );
        } finally {
          await second.stop();
        }
        const redelivered = completions(lab.history.ops, 'receive').filter(
          (o) =>
            o.process === SECOND &&
            o.type === 'ok' &&
            Number((o.value as { offset: number }).offset) <= crash.lastOffset,
        ).length;
        lab.observe('redelivered', redelivered, `${redelivered} messages processed a second time`);
        if (p.variant === 'idempotent') {
          const state: SinkState = { rows: [...sink.keys()], writes, absorbed: writes - sink.size };
          lab.observe(
            'sink',
            state,
            `the table holds ${sink.size} rows after ${writes} upserts: ${state.absorbed} redeliveries overwrote ` +
              `their own row (an append-only table would hold ${writes} rows)`,
          );
        }
      },
      [groupCommand(k, GROUP)],
    );
  },
  predictions: [
    {
      beforeStep: 3,
      question: 'The consumer restarts after the crash. Which messages does it process?',
      choices: [
        'only the ones nobody processed: Kafka knows what was done',
        'again the ones processed since the last commit, then the rest',
        'everything from the beginning of the topic',
      ],
      answer: (ev) => {
        const c = lastObservation(ev, 'crash') as Crash | undefined;
        if (!c) return undefined;
        const again = secondOffsets(ev).filter((o) => o <= c.lastOffset);
        if (again.length === 0) return 0;
        return Math.min(...again) === Math.max(0, c.committed) ? 1 : 2;
      },
    },
  ],
  check(ev, p) {
    const c = lastObservation(ev, 'crash') as Crash | undefined;
    if (!c)
      return [
        { name: 'the consumer crashed', ok: 'unknown', expected: 'a crash between commits', observed: 'no crash' },
      ];
    const commitsBefore = completions(ev.ops, 'commit').filter(
      (o) => o.process === FIRST && o.type === 'ok' && o.time <= c.time,
    );
    const findings = delivery(ev.ops);
    const dups = Object.keys(findings.duplicated);
    // Offsets processed by the first consumer and not covered by the committed offset.
    const expected = offsetsOf(ev, FIRST).filter((o) => o >= Math.max(0, c.committed));
    const again = secondOffsets(ev).filter((o) => o <= c.lastOffset);
    const checks: Check[] = [
      check(
        'the consumer committed before it crashed, and crashed with processed messages uncommitted',
        commitsBefore.length > 0 && c.committed >= 0 && c.lastOffset + 1 > c.committed,
        'at least one commit; committed offset below the last processed offset + 1',
        `${commitsBefore.length} commit(s); committed ${c.committed}, last processed ${c.lastOffset}`,
      ),
      check(
        'the restarted consumer re-reads exactly from the committed offset',
        sameNumbers(again, expected),
        `offsets ${range(expected)} processed again`,
        `offsets ${range(again)} processed again`,
      ),
    ];
    if (p.variant === 'manual') {
      checks.push(
        ...deliveryChecks(findings, { loss: 'forbidden', duplicates: 'allowed' }),
        check(
          `duplicates bounded by one batch (<= ${p.batch})`,
          dups.length >= 1 && dups.length <= p.batch,
          `1..${p.batch} messages processed twice`,
          `${dups.length} processed twice${dups.length ? ` (${sample(dups)})` : ''}`,
          { duplicated: findings.duplicated },
        ),
      );
    } else {
      checks.push(
        ...deliveryChecks(findings, { loss: 'forbidden', duplicates: 'expected' }),
        check(
          'duplicates = what was processed since the last commit',
          dups.length > 0 && dups.length === expected.length,
          `${expected.length} (offsets ${range(expected)})`,
          `${dups.length} processed twice`,
          { duplicated: findings.duplicated },
        ),
      );
    }
    if (p.variant === 'idempotent') {
      const s = lastObservation(ev, 'sink') as SinkState | undefined;
      const sent = new Set(
        completions(ev.ops, 'send')
          .filter((o) => o.type === 'ok')
          .map((o) => (o.value as { id: string }).id),
      );
      const deliveries = completions(ev.ops, 'receive').filter((o) => o.type === 'ok').length;
      checks.push(
        check(
          'the idempotent sink holds each message once, although deliveries were duplicated',
          !!s &&
            dups.length > 0 &&
            s.rows.length === sent.size &&
            new Set(s.rows).size === s.rows.length &&
            s.rows.every((id) => sent.has(id)),
          `${sent.size} rows, one per message, after ${deliveries} deliveries`,
          s ? `${s.rows.length} rows (${new Set(s.rows).size} distinct) after ${s.writes} upserts` : 'no sink state',
        ),
        check(
          'every redelivery was absorbed by the upsert',
          !!s && s.absorbed === deliveries - findings.received && s.absorbed === dups.length,
          `${dups.length} upserts onto an existing row`,
          s ? `${s.absorbed} upserts onto an existing row` : 'no sink state',
        ),
      );
    }
    return checks;
  },
});

/** After how many messages past the last commit the consumer crashes (less than a batch with manual commits). */
function crashPoint(p: { variant: string; crashAfter: number; batch: number }): number {
  if (p.variant === 'manual') return Math.min(p.crashAfter || Math.ceil(p.batch / 2), p.batch - 1);
  return p.crashAfter || 20;
}

/** How many messages `process` has processed past its last successful commit, up to `offset`. */
function processedSinceCommit(history: History, process: string, offset: number): { commits: number; count: number } {
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

function offsetsOf(ev: Evidence, process: string): number[] {
  return completions(ev.ops, 'receive')
    .filter((o: Op) => o.process === process && o.type === 'ok')
    .map((o) => Number((o.value as { offset: number }).offset))
    .sort((a, b) => a - b);
}

function secondOffsets(ev: Evidence): number[] {
  return offsetsOf(ev, SECOND);
}

function sameNumbers(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function range(xs: number[]): string {
  if (!xs.length) return 'none';
  return xs.length === 1 ? String(xs[0]) : `${xs[0]}..${xs.at(-1)} (${xs.length})`;
}
