import { describe, it } from 'vitest';
import rebalanceProtocols from '../../scenarios/kafka/rebalance-protocols.ts';
import { checksOf, expectCheck, expectVerdict, Story } from '../helpers/evidence.ts';

type Protocol = 'eager' | 'cooperative' | 'consumer';
const T = 1_700_000_000_000;
const STRATEGY = { eager: 'range', cooperative: 'cooperative-sticky', consumer: 'uniform' };

interface Plan {
  /** The events each change makes: stop-the-world or incremental (default: the protocol's own). */
  style?: 'eager' | 'incremental' | 'c2-moves-all';
  strategy?: string;
  joinSettles?: boolean;
  stalled?: boolean;
  /** When c1 is given c2's partitions, ms after c2's last output. */
  takeoverMs?: number;
  logged?: boolean;
  /** The first offset of partition 3 c1 reads (c2's last commit is 100). */
  c1From?: number;
  commitRefused?: boolean;
}

type Ev = { consumer: string; name: string; timestamp: number; [k: string]: unknown };
const ps = (...xs: number[]) => xs.map((partition) => ({ topic: 'rebalance', partition }));
const assigned = (consumer: string, at: number, ...xs: number[]): Ev => ({
  consumer,
  name: 'partitions_assigned',
  timestamp: T + at,
  partitions: ps(...xs),
});
const revoked = (consumer: string, at: number, ...xs: number[]): Ev => ({
  consumer,
  name: 'partitions_revoked',
  timestamp: T + at,
  partitions: ps(...xs),
});

/** c1 and c2 share six partitions, c3 joins at +10 s and leaves at +20 s, c2 stalls at +30 s. */
function story(protocol: Protocol, plan: Plan = {}): Story {
  const style = plan.style ?? (protocol === 'eager' ? 'eager' : 'incremental');
  const takeover = 30_100 + (plan.takeoverMs ?? 7000);
  const ev: Ev[] = [assigned('c1', 0, 0, 1, 2), assigned('c2', 0, 3, 4, 5)];
  if (style === 'eager')
    ev.push(
      revoked('c1', 10_500, 0, 1, 2),
      revoked('c2', 10_500, 3, 4, 5),
      assigned('c1', 10_700, 0, 1),
      assigned('c2', 10_700, 2, 3),
      assigned('c3', 10_700, 4, 5),
      revoked('c1', 20_300, 0, 1),
      revoked('c2', 20_300, 2, 3),
      revoked('c3', 20_300, 4, 5),
      assigned('c1', 20_500, 0, 1, 2),
      assigned('c2', 20_500, 3, 4, 5),
      revoked('c1', 37_000, 0, 1, 2),
      assigned('c1', takeover, 0, 1, 2, 3, 4, 5),
    );
  else if (style === 'incremental')
    ev.push(
      revoked('c1', 10_500, 2),
      revoked('c2', 10_500, 5),
      assigned('c3', 10_800, 2, 5),
      revoked('c3', 20_200, 2, 5),
      assigned('c1', 20_400, 2),
      assigned('c2', 20_400, 5),
      assigned('c1', takeover, 3, 4, 5),
    );
  // c2 gives up everything it held and gets other partitions: nothing comes back, nothing is kept.
  else
    ev.push(
      revoked('c1', 10_500, 0, 1),
      revoked('c2', 10_500, 3, 4, 5),
      assigned('c2', 10_800, 0, 1),
      assigned('c1', 10_800, 3),
      assigned('c3', 10_800, 4, 5),
      revoked('c3', 20_200, 4, 5),
      revoked('c2', 20_200, 0, 1),
      revoked('c1', 20_200, 2),
      assigned('c1', 20_400, 0, 1),
      assigned('c2', 20_400, 2, 4, 5),
    );
  for (let t = 200; t < 40_000; t += 200)
    for (const c of ['c1', 'c2'])
      if (c === 'c1' || t < 30_000) ev.push({ consumer: c, name: 'records_consumed', timestamp: T + t, count: 1 });
  // c2: partition 3 committed up to 100; it was printing offset 100 when its loop blocked.
  ev.push(
    {
      consumer: 'c2',
      name: 'offsets_committed',
      timestamp: T + 29_900,
      success: true,
      offsets: [{ partition: 3, offset: 100 }],
    },
    { consumer: 'c2', name: 'record_data', timestamp: T + 30_100, partition: 3, offset: 100 },
    { consumer: 'c2', name: 'record_data', timestamp: T + 39_001, partition: 3, offset: 101 },
    {
      consumer: 'c2',
      name: 'offsets_committed',
      timestamp: T + 39_002,
      success: !(plan.commitRefused ?? true),
      offsets: [{ partition: 3, offset: 102 }],
    },
    {
      consumer: 'c1',
      name: 'records_consumed',
      timestamp: T + 37_200,
      count: 11,
      partitions: [{ partition: 3, minOffset: plan.c1From ?? 100, maxOffset: 110, count: 11 }],
    },
  );
  const s = new Story();
  for (const e of ev.sort((a, b) => a.timestamp - b.timestamp)) s.observe('consumerEvent', e);
  if (plan.logged ?? true)
    s.observe('consumerLog', { consumer: 'c2', line: 'WARN consumer poll timeout has expired. This means ...' });
  s.observe('strategy', plan.strategy ?? STRATEGY[protocol]);
  const end = plan.joinSettles === false ? undefined : T + 12_000;
  s.observe('changes', [
    { kind: 'join', start: T + 10_000, end, members: ['c1', 'c2'] },
    { kind: 'leave', start: T + 20_000, end: T + 22_000, members: ['c1', 'c2'] },
    { kind: 'evict', start: T + 30_000, end: T + 38_000, members: ['c1'] },
  ]);
  if (plan.stalled ?? true) s.observe('stall', { at: T + 30_000, resumedAt: T + 39_000 });
  return s;
}

describe('kafka/rebalance-protocols', () => {
  const lab = rebalanceProtocols;
  for (const protocol of ['eager', 'cooperative', 'consumer'] as const)
    it(`passes: ${protocol}`, () => {
      expectVerdict(lab, story(protocol).evidence(), 'pass', { protocol });
    });
  const eagerAll = 'eager: on every change each member gives up all its partitions and holds none for a while';
  it('fails eager when members keep partitions through a change', () => {
    const checks = expectVerdict(lab, story('eager', { style: 'incremental' }).evidence(), 'fail', {
      protocol: 'eager',
    });
    expectCheck(checks, eagerAll, false);
  });
  it('fails cooperative when a member gives up partitions it gets back', () => {
    const checks = checksOf(lab, story('cooperative', { style: 'eager' }).evidence(), { protocol: 'cooperative' });
    expectCheck(checks, 'cooperative: only the partitions that move are revoked', false);
  });
  it('fails the consumer protocol when a member keeps none of its partitions', () => {
    const checks = checksOf(lab, story('consumer', { style: 'c2-moves-all' }).evidence(), { protocol: 'consumer' });
    expectCheck(checks, 'consumer: only the partitions that move are revoked', true);
    expectCheck(checks, 'consumer: the members keeping partitions never stop (held nothing 0 ms)', false);
  });
  it('fails when a change never settles', () => {
    const checks = checksOf(lab, story('consumer', { joinSettles: false }).evidence(), { protocol: 'consumer' });
    expectCheck(checks, 'each change (c3 joins, c3 leaves, c2 evicted) settles within 60 s', false);
  });
  it('is unknown when the group runs another assignor', () => {
    expectVerdict(lab, story('cooperative', { strategy: 'range' }).evidence(), 'unknown', { protocol: 'cooperative' });
  });
  const evicted =
    'c2 is evicted max.poll.interval.ms after its poll loop stalls (4500..13000 ms after its last output)';
  it('fails when the partitions move before max.poll.interval.ms, or later than two heartbeats and the margin', () => {
    for (const takeoverMs of [2000, 13_500]) {
      const checks = checksOf(lab, story('eager', { takeoverMs }).evidence(), { protocol: 'eager' });
      expectCheck(checks, evicted, false);
    }
    // The consumer protocol heartbeats every 5 s: two of them and the margin make 17 s.
    const slower =
      'c2 is evicted max.poll.interval.ms after its poll loop stalls (4500..17000 ms after its last output)';
    const consumer = { protocol: 'consumer' };
    expectCheck(checksOf(lab, story('consumer', { takeoverMs: 13_500 }).evidence(), consumer), slower, true);
    expectCheck(checksOf(lab, story('consumer', { takeoverMs: 17_500 }).evidence(), consumer), slower, false);
  });
  it('fails when c2 does not log the poll time-out', () => {
    expectCheck(checksOf(lab, story('eager', { logged: false }).evidence(), { protocol: 'eager' }), evicted, false);
  });
  const again = 'what c2 processed and had not committed when evicted is consumed again by c1; c2 may not commit it';
  it('fails when c1 does not re-read what c2 had not committed, or c2 commits it', () => {
    for (const plan of [{ c1From: 102 }, { commitRefused: false }]) {
      const checks = checksOf(lab, story('eager', plan).evidence(), { protocol: 'eager' });
      expectCheck(checks, again, false);
      expectCheck(checks, evicted, true);
    }
  });
  it('fails when c2 was never stalled', () => {
    const checks = checksOf(lab, story('eager', { stalled: false }).evidence(), { protocol: 'eager' });
    expectCheck(checks, 'c2 was stalled', false);
  });
});
