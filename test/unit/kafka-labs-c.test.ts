import { describe, expect, it } from 'vitest';
import partitionedLeader from '../../scenarios/kafka/partitioned-leader.ts';
import { parseToolPartition } from '../../stacks/kafka/cut.ts';
import { expectCheck, expectVerdict, Story } from '../helpers/evidence.ts';

interface CutPlan {
  acks?: '1' | 'all';
  leaderReaches?: string[];
  hostReaches?: string[];
  /** The leader the majority's side recorded. */
  majority?: string | undefined;
  /** The leader kafka1 named to this machine afterwards. */
  oldView?: string;
  rejoinedIsr?: string[];
  /** acks=1 writes of the cut that the final read still finds. */
  survivors?: number;
  /** acks=all writes from before the cut missing from the final read. */
  loseBefore?: number;
  /** What the writes of the cut met: acknowledged, refused, timed out. */
  during?: 'ok' | 'fail' | 'info';
  noFinalRead?: boolean;
  /** kafka1's high watermark at the end of the cut. */
  hw?: number;
}

/** A run as recorded: 10 acks=all writes, the cut, 8 writes to the cut-off leader, the heal, the final read. */
function cutStory(plan: CutPlan = {}): Story {
  const acks = plan.acks ?? '1';
  const s = new Story().observe('mode', 'kraft');
  const kept: string[] = [];
  for (let i = 1; i <= 10; i++) {
    s.at(1000 + i * 10).op('before', 'send', 'ok', { id: `before-${i}`, producer: 'before', seq: i, offset: i - 1 });
    if (i > (plan.loseBefore ?? 0)) kept.push(`before-${i}`);
  }
  s.at(2000).fault('partition', ['kafka1'], 20_000).observe('cutAt', 2000);
  s.observe('cut', { leaderReaches: plan.leaderReaches ?? [], hostReaches: plan.hostReaches ?? [] });
  const during = plan.during ?? (acks === '1' ? 'ok' : 'info');
  for (let i = 1; i <= 8; i++) {
    const v = { id: `cut-${i}`, producer: 'cut', seq: i, acks: acks === '1' ? 1 : 'all' };
    const error = { fail: 'NOT_ENOUGH_REPLICAS: x', info: 'REQUEST_TIMED_OUT: x', ok: undefined }[during];
    s.at(2500 + i * 2000).op('cut', 'send', during, during === 'ok' ? { ...v, offset: 9 + i } : v, { error });
    if (i <= (plan.survivors ?? 0) || (acks === 'all' && during === 'ok')) kept.push(v.id);
  }
  const majority = 'majority' in plan ? plan.majority : 'kafka2';
  s.at(10_000).observe('majority', {
    leader: majority,
    isr: ['kafka2', 'kafka3'],
    text: `leader ${majority}`,
    ms: 8000,
  });
  s.observe('oldView', { leader: plan.oldView ?? 'kafka1', isr: ['kafka1', 'kafka2', 'kafka3'] });
  s.at(23_000).observe('oldLeaderHw', plan.hw ?? 10);
  s.at(25_000).observe('rejoined', {
    leader: 'kafka2',
    isr: plan.rejoinedIsr ?? ['kafka2', 'kafka3', 'kafka1'],
    ms: 3500,
  });
  if (!plan.noFinalRead) {
    s.at(30_000);
    for (const id of kept) s.op('final-reader', 'read-all', 'ok', { id, partition: 0 });
    s.observe('finalRead', kept.length);
  }
  return s;
}

describe('kafka/partitioned-leader', () => {
  const lab = partitionedLeader;
  const all = { acks: 'all' };
  it('passes acks=1: every write the cut-off leader acknowledged is lost, the baseline survives', () => {
    expectVerdict(lab, cutStory().evidence(), 'pass');
  });
  it('passes acks=all: every write of the cut timed out or was refused, nothing acknowledged lost', () => {
    expectVerdict(lab, cutStory({ acks: 'all' }).evidence(), 'pass', all);
    expectVerdict(lab, cutStory({ acks: 'all', during: 'fail' }).evidence(), 'pass', all);
  });
  it('is unknown when the cut was not in force, or no final read ran', () => {
    expectVerdict(lab, cutStory({ leaderReaches: ['kafka2'] }).evidence(), 'unknown');
    expectVerdict(lab, cutStory({ hostReaches: ['kafka3'] }).evidence(), 'unknown');
    expectVerdict(lab, cutStory({ noFinalRead: true }).evidence(), 'unknown');
  });
  it('fails when the majority elected nobody', () => {
    const checks = expectVerdict(lab, cutStory({ majority: undefined }).evidence(), 'fail');
    expectCheck(checks, 'the majority elected kafka2 or kafka3 while kafka1 was cut off', false);
  });
  it('fails when the cut-off leader knew it had lost the partition', () => {
    const checks = expectVerdict(lab, cutStory({ oldView: 'kafka2' }).evidence(), 'fail');
    expectCheck(checks, 'kafka1, cut off, still named itself leader after that', false);
  });
  it('fails when writes of the cut were committed (the high watermark moved)', () => {
    const checks = expectVerdict(lab, cutStory({ hw: 14 }).evidence(), 'fail');
    expectCheck(checks, "nothing written during the cut was committed: kafka1's high watermark stayed at 10", false);
  });
  it('fails when kafka1 never rejoined the ISR', () => {
    const checks = expectVerdict(lab, cutStory({ rejoinedIsr: ['kafka2', 'kafka3'] }).evidence(), 'fail');
    expectCheck(checks, 'after the heal kafka1 rejoined: ISR kafka1,kafka2,kafka3 again', false);
  });
  it('fails when an acks=all message from before the cut is lost', () => {
    const checks = expectVerdict(lab, cutStory({ loseBefore: 1 }).evidence(), 'fail');
    expectCheck(checks, 'no acknowledged acks=all messages from before the cut lost', false);
    const checksAll = expectVerdict(lab, cutStory({ acks: 'all', loseBefore: 1 }).evidence(), 'fail', all);
    expectCheck(checksAll, 'no acknowledged message lost, before or during the cut', false);
  });
  it('fails acks=1 when the cut-off leader acknowledged nothing', () => {
    const checks = expectVerdict(lab, cutStory({ during: 'info' }).evidence(), 'fail');
    expectCheck(checks, 'acks=1: kafka1 acknowledged writes while cut off', false);
  });
  it('fails acks=1 when some acknowledged writes of the cut survive', () => {
    const checks = expectVerdict(lab, cutStory({ survivors: 2 }).evidence(), 'fail');
    expectCheck(checks, 'every write acknowledged during the cut is lost after the heal', false);
  });
  it('fails acks=all when a write of the cut was acknowledged', () => {
    const checks = expectVerdict(lab, cutStory({ acks: 'all', during: 'ok' }).evidence(), 'fail', all);
    expectCheck(checks, 'acks=all with min.insync.replicas=2: no write acknowledged during the cut', false);
  });
  it('reads a partition from kafka-topics.sh and from the ZooKeeper state znode', () => {
    const topics =
      'Topic: cut\tTopicId: x\tPartitionCount: 1\n\tTopic: cut\tPartition: 0\tLeader: 2\tReplicas: 1,2,3\tIsr: 2,3\tElr: ';
    expect(parseToolPartition(topics)).toMatchObject({ leader: 'kafka2', isr: ['kafka2', 'kafka3'] });
    const znode = '{"controller_epoch":2,"leader":3,"version":1,"leader_epoch":1,"isr":[3,2]}';
    expect(parseToolPartition(znode)).toMatchObject({ leader: 'kafka3', isr: ['kafka3', 'kafka2'] });
    expect(parseToolPartition('{"leader":-1,"leader_epoch":2,"isr":[1]}').leader).toBeUndefined();
  });
});
