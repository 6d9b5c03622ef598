import { describe, expect, it } from 'vitest';
import { allLost, isrCheck, okWithin, refusedCheck, uncleanChecks } from '../../scenarios/kafka/evidence.ts';
import {
  allInSync,
  band,
  faultNotReached,
  nothingLost,
  PAST_BOUND_MS,
  takenOver,
} from '../../scenarios/kafka/shared.ts';
import type { PartitionState } from '../../stacks/kafka/admin.ts';
import type { Election } from '../../stacks/kafka/elections.ts';
import { describeSplit, partitionsBy, receivesOf } from '../../stacks/kafka/groups.ts';
import { leaderToKill } from '../../stacks/kafka/leadership.ts';
import { Story } from '../helpers/evidence.ts';

const part = (partition: number, replicas: string[], isr = replicas, leader = replicas[0]): PartitionState => ({
  topic: 't',
  partition,
  leader,
  replicas,
  isr,
  offline: [],
});

describe('kafka lab kit: shared check builders', () => {
  it('takenOver passes a new holder within the bound, and fails a late one, the old one, or none', () => {
    const took = { now: 'kafka2', old: 'kafka1', ms: 4000, bound: 9000 };
    const ok = takenOver('leader', 'a survivor leads t-0', took, 'electionMs');
    expect(ok).toMatchObject({ name: 'a new leader within 9000 ms', ok: true, details: { electionMs: 4000 } });
    expect(takenOver('leader', 'x', { ...took, ms: 9001 }, 'ms').ok).toBe(false);
    expect(takenOver('leader', 'x', { ...took, now: 'kafka1' }, 'ms').ok).toBe(false);
    const none = takenOver('controller', 'x', { ...took, now: undefined }, 'ms');
    expect(none.ok).toBe(false);
    expect(none.observed).toBe(`none within ${9000 + PAST_BOUND_MS} ms`);
  });

  it('allInSync passes full ISRs only, with the expected partition count', () => {
    const full = [part(0, ['kafka1', 'kafka2', 'kafka3']), part(1, ['kafka2', 'kafka3', 'kafka1'])];
    expect(allInSync('isr', full, 2, 3).ok).toBe(true);
    expect(allInSync('isr', full, 3, 3).ok).toBe(false);
    const short = [full[0] as PartitionState, part(1, ['kafka2', 'kafka3', 'kafka1'], ['kafka2', 'kafka3'])];
    expect(allInSync('isr', short, 2, 3).ok).toBe(false);
    const leaderless = [full[0] as PartitionState, { ...(full[1] as PartitionState), leader: undefined }];
    expect(allInSync('isr', leaderless, 2, 3).ok).toBe(false);
  });

  it('nothingLost fails a lost acknowledged send, prefixes its names, and minds duplicates as told', () => {
    const m = (seq: number) => ({ id: `p-${seq}`, producer: 'p', seq });
    const s = new Story().op('p', 'send', 'ok', m(1)).op('p', 'send', 'ok', m(2));
    s.op('r', 'read-all', 'ok', m(1)).op('r', 'read-all', 'ok', m(2)).op('r', 'read-all', 'ok', m(2));
    const ok = nothingLost(s.evidence().ops, 'read-all', 'allowed', 'g');
    expect(ok.every((c) => c.ok === true && c.name.startsWith('g: '))).toBe(true);
    expect(nothingLost(s.evidence().ops, 'read-all', 'forbidden').some((c) => c.ok === false)).toBe(true);
    const lost = new Story().op('p', 'send', 'ok', m(1)).op('p', 'send', 'ok', m(2)).op('r', 'read-all', 'ok', m(1));
    const lossCheck = nothingLost(lost.evidence().ops, 'read-all', 'allowed').find((c) => c.name.includes('lost'));
    expect(lossCheck?.ok).toBe(false);
  });

  it('faultNotReached is unknown, and band sorts a time into its prediction choice', () => {
    expect(faultNotReached('killed', 'a kill')[0]?.ok).toBe('unknown');
    expect([500, 1000, 4999, 20_000, 20_001].map((ms) => band(ms, [1000, 5000, 20_001]))).toEqual([0, 1, 1, 2, 3]);
    expect(band(undefined, [1000])).toBeUndefined();
  });
});

describe('kafka lab kit: shared evidence readers', () => {
  const m = (producer: string, seq: number) => ({ id: `${producer}-${seq}`, producer, seq });

  it('refusedCheck passes refusals before the append only, and minds its extra condition', () => {
    const done = (s: Story) => s.evidence().ops.filter((o) => o.type !== 'invoke');
    const refused = done(new Story().op('a', 'send', 'fail', m('a', 1), { error: 'NOT_ENOUGH_REPLICAS: x' }));
    expect(refusedCheck('r', refused, 'e', 'ISR kafka1; ').observed).toMatch(/^ISR kafka1; 0 ok, 1 refused/);
    expect(refusedCheck('r', refused, 'e').ok).toBe(true);
    expect(refusedCheck('r', refused, 'e', '', false).ok).toBe(false);
    expect(refusedCheck('r', [], 'e').ok).toBe(false);
    const after = new Story().op('a', 'send', 'fail', m('a', 1), { error: 'NOT_ENOUGH_REPLICAS_AFTER_APPEND: x' });
    expect(refusedCheck('r', done(after), 'e').ok).toBe(false);
  });

  it('allLost passes when every acknowledged send of the producer is missing from the final read', () => {
    const s = new Story().op('a', 'send', 'ok', m('a', 1)).op('a', 'send', 'ok', m('a', 2));
    expect(allLost(s.evidence().ops, 'a', 'n', 'e').ok).toBe(true);
    s.op('r', 'read-all', 'ok', m('a', 2));
    expect(allLost(s.evidence().ops, 'a', 'n', 'e')).toMatchObject({ ok: false, observed: '1 of 2 lost: a-1' });
  });

  it('uncleanChecks wants the outsider elected, and with the tool also the partition offline first', () => {
    const e: Election = { outputs: [], electedBy: 'kafka-leader-election.sh', offlineSeen: true };
    const seen = { newLeader: 'kafka2', isr: ['kafka1'], election: e };
    expect(uncleanChecks('kafka2', 'kafka1', seen, true).map((c) => c.ok)).toEqual([true, true]);
    expect(uncleanChecks('kafka2', 'kafka1', { ...seen, isr: ['kafka1', 'kafka2'] }, false)[0]?.ok).toBe(false);
    const byController: Election = { ...e, electedBy: 'controller', offlineSeen: false };
    expect(uncleanChecks('kafka2', 'kafka1', { ...seen, election: byController }, true)[1]?.ok).toBe(false);
  });

  it('isrCheck and okWithin read the ISR and a completion within a window', () => {
    expect(isrCheck('i', ['kafka1'], ['kafka1'], 5400, 'the pause').observed).toBe('ISR kafka1 5.4 s after the pause');
    expect(isrCheck('i', ['kafka1'], undefined, undefined, 'x').ok).toBe(false);
    const ops = new Story().at(100).op('c', 'commit', 'ok', {}).evidence().ops; // completes at 101
    expect(okWithin(ops, 'c', 'commit', 100, 101)).toBe(true);
    expect(okWithin(ops, 'c', 'commit', 101, 200)).toBe(false);
  });
});

describe('kafka stack: group and leadership views', () => {
  it('leaderToKill picks a leader other than the spared node and both rules for its successor', () => {
    const parts = [part(0, ['kafka1', 'kafka3', 'kafka2']), part(1, ['kafka2', 'kafka3', 'kafka1'])];
    expect(leaderToKill(parts, 'kafka1')).toEqual({
      partition: 1,
      victim: 'kafka2',
      replicas: ['kafka2', 'kafka3', 'kafka1'],
      expected: 'kafka3',
      smallest: 'kafka1',
    });
  });

  it('reads who received what, from which partitions, and says the split', () => {
    const s = new Story()
      .op('a', 'receive:g', 'ok', { id: 'p-1', producer: 'p', partition: 0 })
      .op('b', 'receive:g', 'ok', { id: 'p-2', producer: 'p', partition: 2 })
      .op('a', 'receive:g', 'ok', { id: 'q-1', producer: 'q', partition: 1 });
    const ops = s.evidence().ops;
    expect(receivesOf(ops, 'receive:g', 'p').map((o) => o.process)).toEqual(['a', 'b']);
    expect(receivesOf(ops, 'receive:g', 'p', 'b')).toHaveLength(1);
    expect(partitionsBy(ops, 'receive:g', Number.POSITIVE_INFINITY)).toEqual({ a: ['0', '1'], b: ['2'] });
    expect(describeSplit({ assignment: { b: [2], a: [0, 1] }, counts: { a: 2 } })).toBe(
      'a: partitions [0,1] 2 msgs; b: partitions [2] 0 msgs',
    );
  });
});
