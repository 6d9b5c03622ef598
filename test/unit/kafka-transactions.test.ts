import { describe, expect, it } from 'vitest';
import transactions from '../../scenarios/kafka/transactions.ts';
import { jsonLines } from '../../stacks/kafka/java-tool.ts';
import { parseTransaction } from '../../stacks/kafka/transactions.ts';
import { expectCheck, expectVerdict, Story } from '../helpers/evidence.ts';

interface Plan {
  state?: string;
  /** Records of the open transaction at the kill (high watermark - last stable offset). */
  open?: number;
  exitCode?: number;
  processed?: number;
  aborts?: number;
  /** Records the read_committed reader also sees twice, or misses. */
  committedTwice?: number;
  committedMissing?: number;
  /** The read_uncommitted reader does not see the aborted records. */
  hideAborted?: boolean;
}

const N = 100;
const params = { messages: N, transactionSize: 20 };
const ids = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `input-${from + i}`);

/** 100 inputs; 3 transactions of 20 committed, a 4th with `open` records open at the kill; the restart copies 61..100. */
function story(plan: Plan = {}): Story {
  const open = plan.open ?? 7;
  const s = new Story().observe('mode', 'kraft');
  for (const id of ids(1, N)) s.op('input', 'send', 'ok', { id, producer: 'input' });
  const view = { state: plan.state ?? 'Ongoing', producerEpoch: 0, partitions: ['orders-copied-0'], text: '' };
  s.at(5000).observe('crash', { highWatermark: 63 + open, lastStable: 63, tries: 2, view, committed: 60, copied: 60 });
  const restart = { exitCode: plan.exitCode ?? 0, remainingAtStart: 40, processed: plan.processed ?? 40, stderr: '' };
  s.at(9000).observe('restart', restart).observe('after', { state: 'CompleteCommit', partitions: [], text: '' });
  s.observe('markers', { commit: 5, abort: plan.aborts ?? 1 });
  const committed = [...ids(1, N - (plan.committedMissing ?? 0)), ...ids(1, plan.committedTwice ?? 0)];
  const uncommitted = [...ids(1, 60), ...(plan.hideAborted ? [] : ids(61, 60 + open)), ...ids(61, N)];
  s.op('reader', 'read-committed', 'ok', { topic: 'orders-copied', ids: committed });
  s.op('reader', 'read-uncommitted', 'ok', { topic: 'orders-copied', ids: uncommitted });
  return s.observe('reads', { committed: committed.length, uncommitted: uncommitted.length });
}

describe('kafka/transactions', () => {
  const lab = transactions;
  it('passes: each input once for read_committed, the aborted records too for read_uncommitted', () => {
    expectVerdict(lab, story().evidence(), 'pass', params);
  });
  it('is unknown when the kill did not land inside an open transaction holding records', () => {
    expectVerdict(lab, story({ state: 'CompleteCommit' }).evidence(), 'unknown', params);
    expectVerdict(lab, story({ open: 0 }).evidence(), 'unknown', params);
  });
  it('fails when the restarted copier failed or copied a different number', () => {
    const name = 'the restarted copier resumed at the committed offset 60 and copied the rest';
    expectCheck(expectVerdict(lab, story({ exitCode: 1 }).evidence(), 'fail', params), name, false);
    expectCheck(expectVerdict(lab, story({ processed: 47 }).evidence(), 'fail', params), name, false);
  });
  it('fails when no ABORT marker was written', () => {
    const checks = expectVerdict(lab, story({ aborts: 0 }).evidence(), 'fail', params);
    expectCheck(checks, 'the open transaction was aborted: one ABORT marker in the output log', false);
  });
  it('fails when read_committed sees a record twice or misses one', () => {
    const name = 'read_committed: every input record exactly once';
    expectCheck(expectVerdict(lab, story({ committedTwice: 1 }).evidence(), 'fail', params), name, false);
    expectCheck(expectVerdict(lab, story({ committedMissing: 1 }).evidence(), 'fail', params), name, false);
  });
  it('fails when read_uncommitted does not show the aborted records', () => {
    const checks = expectVerdict(lab, story({ hideAborted: true }).evidence(), 'fail', params);
    expectCheck(checks, 'read_uncommitted: also the 7 records of the aborted transaction', false);
  });
  it("reads kafka-transactions.sh describe and the copier's JSON lines", () => {
    const out =
      'CoordinatorId\tTransactionalId\tProducerId\tProducerEpoch\tTransactionState\tTransactionTimeoutMs\t' +
      'CurrentTransactionStartTimeMs\tTransactionDurationMs\tTopicPartitions     \t\n' +
      '2            \tt1             \t1001      \t0            \tOngoing         \t60000               \t' +
      '1796017789483                \t903                  \torders-copied-0,__consumer_offsets-1\t\n';
    expect(parseTransaction(out)).toMatchObject({
      state: 'Ongoing',
      producerId: 1001,
      producerEpoch: 0,
      partitions: ['orders-copied-0', '__consumer_offsets-1'],
    });
    const done = '2\tt1\t1001\t2\tCompleteCommit\t60000\t1796017825024\t2755\t\t\n';
    expect(parseTransaction(`${out.split('\n')[0]}\n${done}`)).toMatchObject({
      state: 'CompleteCommit',
      partitions: [],
    });
    const log =
      'warn\n{"transactionalId":"t1","stage":"ProcessLoop","totalProcessed":80,"remaining":2920}\n{"stage":"Pro';
    expect(jsonLines(log)).toEqual([
      { transactionalId: 't1', stage: 'ProcessLoop', totalProcessed: 80, remaining: 2920 },
    ]);
  });
});
