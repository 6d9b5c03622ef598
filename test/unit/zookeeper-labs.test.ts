import { describe, expect, it } from 'vitest';
import ensembleBasics from '../../scenarios/zookeeper/ensemble-basics.ts';
import ephemeralSession from '../../scenarios/zookeeper/ephemeral-session.ts';
import leaderFailover from '../../scenarios/zookeeper/leader-failover.ts';
import observer from '../../scenarios/zookeeper/observer.ts';
import partitionedLeader from '../../scenarios/zookeeper/partitioned-leader.ts';
import quorumLoss from '../../scenarios/zookeeper/quorum-loss.ts';
import { failoverWithin } from '../../src/checkers/failover.ts';
import { parseConfig, roleProblems } from '../../stacks/zookeeper/roles.ts';
import { expiryWindow } from '../../stacks/zookeeper/stack.ts';
import { expectCheck, expectVerdict, Story } from '../helpers/evidence.ts';

const participants = (...hosts: string[]) => hosts.map((h, i) => ({ id: i + 1, host: h, role: 'participant' }));
const healthy = { zk1: 'follower', zk2: 'leader', zk3: 'follower' };

describe('zookeeper roles', () => {
  it('reads /zookeeper/config as ZooKeeper 3.9 writes it', () => {
    const m = parseConfig(
      'server.1=zk1:2888:3888:participant\nserver.4=zk4:2888:3888:observer;0.0.0.0:2181\nversion=0\n',
    );
    expect(m).toEqual([
      { id: 1, host: 'zk1', role: 'participant' },
      { id: 4, host: 'zk4', role: 'observer' },
    ]);
  });
  it('finds an observer that votes, a missing leader, a config that disagrees', () => {
    const members = [...participants('zk1', 'zk2', 'zk3'), { id: 4, host: 'zk4', role: 'observer' }];
    expect(roleProblems({ ...healthy, zk4: 'observer' }, members, ['zk1', 'zk2', 'zk3'], ['zk4'])).toEqual([]);
    expect(roleProblems({ ...healthy, zk4: 'follower' }, members, ['zk1', 'zk2', 'zk3'], ['zk4'])[0]).toMatch(
      /observers not observing: zk4=follower/,
    );
    expect(roleProblems({ ...healthy, zk2: 'follower' }, members, ['zk1', 'zk2', 'zk3'], [])[0]).toMatch(/0 leaders/);
    const asVoter = participants('zk1', 'zk2', 'zk3', 'zk4');
    expect(roleProblems({ ...healthy, zk4: 'observer' }, asVoter, ['zk1', 'zk2', 'zk3'], ['zk4']).join()).toMatch(
      /lists participants \[zk1,zk2,zk3,zk4\]/,
    );
  });
});

function basics(
  o: { modes?: Record<string, string>; hosts?: string[]; stale?: string; missing?: 'ok' | 'other' } = {},
) {
  const s = new Story().observe('members', participants(...(o.hosts ?? ['zk1', 'zk2', 'zk3'])));
  if (o.modes !== null) s.observe('modes', o.modes ?? healthy);
  s.at(1000)
    .observe('written', 'written-through-zk1-42')
    .op('client-zk1', 'write', 'ok', { path: '/midlab-basics', value: 'written-through-zk1-42' }, { node: 'zk1' });
  for (const n of ['zk1', 'zk2', 'zk3'])
    s.op(`client-${n}`, 'read', 'ok', n === o.stale ? 'older' : 'written-through-zk1-42', { node: n, ms: 3 });
  if (o.missing === 'ok') s.op('client-zk2', 'read-missing', 'ok', '', { node: 'zk2' });
  else
    s.op('client-zk2', 'read-missing', 'fail', undefined, {
      node: 'zk2',
      error: o.missing === 'other' ? 'connection loss (CONNECTIONLOSS)' : 'no node (NONODE)',
    });
  return s.evidence();
}

describe('zookeeper/ensemble-basics', () => {
  it('passes on a healthy ensemble', () => expectVerdict(ensembleBasics, basics(), 'pass'));
  it('fails with two leaders', () => {
    const c = expectVerdict(
      ensembleBasics,
      basics({ modes: { zk1: 'leader', zk2: 'leader', zk3: 'follower' } }),
      'fail',
    );
    expectCheck(c, 'exactly one leader and two followers', false);
  });
  it('fails when /zookeeper/config lists other participants', () => {
    const c = expectVerdict(ensembleBasics, basics({ hosts: ['zk1', 'zk2'] }), 'fail');
    expectCheck(c, '/zookeeper/config lists 3 participants', false);
  });
  it('fails when one node returns a stale value', () => {
    const c = expectVerdict(ensembleBasics, basics({ stale: 'zk3' }), 'fail');
    expectCheck(c, 'a value written through zk1 is read through every node', false);
  });
  it('fails when a missing znode reads as empty, or fails for another reason', () => {
    expectCheck(
      expectVerdict(ensembleBasics, basics({ missing: 'ok' }), 'fail'),
      'a missing znode gives a clean "no node" error',
      false,
    );
    expectCheck(
      expectVerdict(ensembleBasics, basics({ missing: 'other' }), 'fail'),
      'a missing znode gives a clean "no node" error',
      false,
    );
  });
  it('cannot decide without the modes', () => {
    const ev = basics();
    ev.observations = ev.observations.filter((o) => o.name !== 'modes');
    expectVerdict(ensembleBasics, ev, 'unknown');
  });
});

/** Writes w00001.. every 50 ms from `from` to `to`; each `ok` unless `type` says otherwise. */
function writes(s: Story, from: number, to: number, type: (t: number) => 'ok' | 'fail' | 'info', first = 1): number {
  let n = first;
  for (let t = from; t < to; t += 50, n++)
    s.at(t).op('writer', 'write', type(t), { id: `w${String(n).padStart(5, '0')}` }, { ms: type(t) === 'ok' ? 5 : 40 });
  return n;
}
const ids = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `w${String(from + i).padStart(5, '0')}`);

function failover(
  o: { electionMs?: number; leaderAfter?: string; servedAfter?: boolean; lose?: string; final?: boolean } = {},
) {
  const s = new Story().observe('modesBefore', healthy).observe('members', participants('zk1', 'zk2', 'zk3'));
  let n = writes(s, 0, 2000, () => 'ok');
  s.at(2000).observe('leaderBefore', 'zk2').fault('kill', ['zk2']);
  s.observe('killedAt', 2000);
  n = writes(s, 2010, 2400, () => 'info', n);
  s.at(2400).observe('leaderAfter', o.leaderAfter ?? 'zk3');
  if (o.electionMs !== -1) s.observe('electionMs', o.electionMs ?? 400);
  const last = writes(s, 2450, 4500, () => (o.servedAfter === false ? 'fail' : 'ok'), n);
  if (o.final !== false)
    s.at(9000).op('final-reader', 'read-all', 'ok', { ids: ids(1, last).filter((id) => id !== o.lose) });
  return s.evidence();
}

describe('zookeeper/leader-failover', () => {
  it('passes: a new leader in 400 ms, writes resume, nothing lost', () =>
    expectVerdict(leaderFailover, failover(), 'pass'));
  it('fails when the election takes longer than the bound it prints', () => {
    const c = expectVerdict(leaderFailover, failover({ electionMs: 2500 }), 'fail');
    expectCheck(c, 'a new leader within 2000 ms', false);
    expectVerdict(leaderFailover, failover({ electionMs: 2500 }), 'pass', { maxElectionMs: 3000 });
  });
  it('fails when no survivor leads', () => {
    const c = expectVerdict(leaderFailover, failover({ leaderAfter: 'none', electionMs: -1 }), 'fail');
    expectCheck(c, 'a new leader within 2000 ms', false);
  });
  it('fails when the old leader is reported again', () => {
    expectCheck(
      expectVerdict(leaderFailover, failover({ leaderAfter: 'zk2' }), 'fail'),
      'a new leader within 2000 ms',
      false,
    );
  });
  it('fails when the survivors acknowledge nothing', () => {
    const c = expectVerdict(leaderFailover, failover({ servedAfter: false }), 'fail');
    expectCheck(c, 'the surviving pair serves writes', false);
  });
  it('fails when an acknowledged write is missing from the final read', () => {
    const c = expectVerdict(leaderFailover, failover({ lose: 'w00007' }), 'fail');
    expectCheck(c, 'no acknowledged writes lost', false);
  });
  it('cannot decide loss without a final read', () => {
    expectVerdict(leaderFailover, failover({ final: false }), 'unknown');
  });
});

function quorum(o: { lone?: string; okDuring?: boolean; resume?: boolean; lose?: string; restart?: boolean } = {}) {
  const s = new Story().observe('modesBefore', healthy).observe('members', participants('zk1', 'zk2', 'zk3'));
  let n = writes(s, 0, 1500, () => 'ok');
  s.at(1500).fault('kill', ['zk1']).fault('kill', ['zk2']).observe('bothDownAt', 1520);
  // A write acknowledged while the lone node still answered is the defect the lab teaches against.
  n = writes(s, 1520, 6000, (t) => (o.okDuring && t === 3020 ? 'ok' : t < 2500 ? 'info' : 'fail'), n);
  s.at(2100).observe('loneMode', o.lone ?? 'not serving');
  if (o.restart !== false) s.at(6000).observe('restartAt', 6000);
  // Invoked in the last 2 s before the restart: may complete after it, not counted.
  n = writes(s, 6000, 7000, (t) => (t < 6600 || o.resume === false ? 'info' : 'ok'), n);
  s.at(6600).observe('leaderAfterRecovery', 'zk1');
  const acked = new Set<string>();
  for (const op of s.evidence().ops)
    if (op.f === 'write' && op.type === 'ok') acked.add((op.value as { id: string }).id);
  s.at(9000).op('final-reader', 'read-all', 'ok', { ids: [...acked].filter((id) => id !== o.lose) });
  return s.evidence();
}

describe('zookeeper/quorum-loss', () => {
  it('passes: no write acknowledged without quorum, writes resume, nothing lost', () =>
    expectVerdict(quorumLoss, quorum(), 'pass'));
  it('fails when the lone node keeps serving', () => {
    const c = expectVerdict(quorumLoss, quorum({ lone: 'leader' }), 'fail');
    expectCheck(c, 'the lone node stops serving', false);
  });
  it('fails when a write is acknowledged without a majority', () => {
    const c = expectVerdict(quorumLoss, quorum({ okDuring: true }), 'fail');
    expectCheck(c, 'writes without quorum fail or are indeterminate', false);
  });
  it('counts a write answered after the restart as no violation, one answered before it as one', () => {
    const late = quorum();
    late.ops.push(
      { index: late.ops.length, time: 5990, process: 'late', type: 'invoke', f: 'write', value: { id: 'late' } },
      { index: late.ops.length + 1, time: 6100, process: 'late', type: 'ok', f: 'write', value: { id: 'late' } },
    );
    expectCheck(expectVerdict(quorumLoss, late, 'fail'), 'no acknowledged writes lost', false);
    const read = late.ops.find((o) => o.f === 'read-all' && o.type === 'ok');
    expect(read).toBeDefined();
    (read as { value: { ids: string[] } }).value.ids.push('late');
    expectVerdict(quorumLoss, late, 'pass');
    const early = quorum();
    early.ops.push(
      { index: early.ops.length, time: 5900, process: 'late', type: 'invoke', f: 'write', value: { id: 'late' } },
      { index: early.ops.length + 1, time: 5990, process: 'late', type: 'ok', f: 'write', value: { id: 'late' } },
    );
    expectCheck(expectVerdict(quorumLoss, early, 'fail'), 'writes without quorum fail or are indeterminate', false);
  });
  it('fails when writes do not resume', () => {
    const c = expectVerdict(quorumLoss, quorum({ resume: false }), 'fail');
    expectCheck(c, 'writes resume once quorum is back', false);
  });
  it('fails when an acknowledged write is lost', () => {
    const c = expectVerdict(quorumLoss, quorum({ lose: 'w00003' }), 'fail');
    expectCheck(c, 'no acknowledged writes lost', false);
  });
  it('cannot decide when the restart never happened', () => {
    expectVerdict(quorumLoss, quorum({ restart: false }), 'unknown');
  });
});

function session(
  o: {
    granted?: number;
    reconnectMs?: number;
    sessionAfter?: string;
    presentAfterMove?: boolean;
    presentBefore?: boolean;
    deletedAfterMs?: number;
    tick?: boolean;
  } = {},
) {
  const s = new Story().observe('modesBefore', healthy).observe('members', participants('zk1', 'zk2', 'zk3'));
  if (o.tick !== false) s.observe('tickMs', 500);
  s.observe('negotiatedTimeoutMs', 4000)
    .at(500)
    .observe('sessionTimeoutMs', o.granted ?? 4000)
    .observe('sessionId', '0x10000a1b2c0000');
  s.at(1000).fault('kill', ['zk1'], 3000);
  if (o.reconnectMs !== -1)
    s.at(1100)
      .observe('reconnectMs', o.reconnectMs ?? 60)
      .observe('sessionAfterMove', o.sessionAfter ?? '0x10000a1b2c0000');
  s.observe('presentAfterMove', o.presentAfterMove ?? true);
  s.at(9000).fault('pause', ['service']);
  s.at(11_400).observe('presentBeforeTimeout', o.presentBefore ?? true);
  if (o.deletedAfterMs !== -1) s.at(13_300).observe('deletedAfterMs', o.deletedAfterMs ?? 4300);
  return s.evidence();
}

describe('zookeeper/ephemeral-session', () => {
  it('places the window: 2/3 of the timeout at the earliest, two ticks and slack after it at the latest', () => {
    expect(expiryWindow(4000, 500)).toEqual({ earliest: 2567, latest: 5500 });
  });
  it('passes: moved in 60 ms, the same session, deleted 4300 ms after the stop', () =>
    expectVerdict(ephemeralSession, session(), 'pass'));
  it('fails when the session got another timeout than the one asked for', () => {
    expectCheck(
      expectVerdict(ephemeralSession, session({ granted: 10_000 }), 'fail'),
      'the service was granted the session timeout asked for',
      false,
    );
  });
  it('fails when the client does not move, or moves too late', () => {
    const name = 'the client moved to another server within the session timeout';
    expectCheck(expectVerdict(ephemeralSession, session({ reconnectMs: -1 }), 'fail'), name, false);
    expectCheck(expectVerdict(ephemeralSession, session({ reconnectMs: 4500 }), 'fail'), name, false);
  });
  it('fails when the move opened a new session', () => {
    expectCheck(
      expectVerdict(ephemeralSession, session({ sessionAfter: '0x10000a1b2c0001' }), 'fail'),
      'the session survived the move',
      false,
    );
  });
  it('fails when the registration went with its server', () => {
    expectCheck(
      expectVerdict(ephemeralSession, session({ presentAfterMove: false }), 'fail'),
      'the registration stayed while only its server was gone',
      false,
    );
  });
  it('fails when the znode goes before the timeout (both the probe and the time)', () => {
    const name = 'not removed before the session timeout';
    expectCheck(expectVerdict(ephemeralSession, session({ presentBefore: false }), 'fail'), name, false);
    expectCheck(expectVerdict(ephemeralSession, session({ deletedAfterMs: 2500 }), 'fail'), name, false);
    expectCheck(expectVerdict(ephemeralSession, session({ deletedAfterMs: 2600 }), 'pass'), name, true);
  });
  it('fails when the znode goes too late, or never', () => {
    const name = 'removed once the session timed out, and the watcher told';
    expectCheck(expectVerdict(ephemeralSession, session({ deletedAfterMs: 5600 }), 'fail'), name, false);
    expectCheck(expectVerdict(ephemeralSession, session({ deletedAfterMs: -1 }), 'fail'), name, false);
    expectCheck(expectVerdict(ephemeralSession, session({ deletedAfterMs: 5500 }), 'pass'), name, true);
  });
  it('cannot place the window without the tickTime', () => {
    expectVerdict(ephemeralSession, session({ tick: false }), 'unknown');
  });
});

const withObservers = [
  ...participants('zk1', 'zk2', 'zk3'),
  ...['zk4', 'zk5'].map((h, i) => ({ id: i + 4, host: h, role: 'observer' })),
];
const notServing = { zk3: 'not serving', zk4: 'not serving', zk5: 'not serving' };

function observerStory(
  o: {
    modesBefore?: Record<string, string>;
    readVia?: string[];
    forwarded?: boolean;
    without?: Record<string, string>;
    later?: Record<string, string> | null;
    served?: boolean;
  } = {},
) {
  const s = new Story()
    .observe('modesBefore', o.modesBefore ?? { ...healthy, zk4: 'observer', zk5: 'observer' })
    .observe('members', withObservers)
    .at(1000)
    .observe('written', 'v42');
  for (const n of o.readVia ?? ['zk4', 'zk5']) s.op(`reader-${n}`, 'read', 'ok', 'v42', { node: n });
  s.op('writer-zk4', 'write', o.forwarded === false ? 'fail' : 'ok', { id: 'via-zk4' }, { node: 'zk4' });
  s.at(2000).fault('kill', ['zk2']).fault('kill', ['zk1']);
  s.at(2300).observe('modesWithoutQuorum', o.without ?? notServing);
  if (o.later !== null) s.at(7300).observe('modesLater', o.later ?? notServing);
  for (const n of ['zk4', 'zk5']) {
    if (o.served) {
      s.op(`reader-${n}`, 'read-no-quorum', 'ok', 'v42', { node: n });
      s.op(`writer-${n}`, 'write-no-quorum', 'ok', { id: `no-quorum-${n}` }, { node: n });
    } else {
      s.op(`reader-${n}`, 'read-no-quorum', 'fail', undefined, {
        node: n,
        error: 'connecting timed out after 3000 ms',
      });
      s.op(`writer-${n}`, 'write-no-quorum', 'fail', undefined, {
        node: n,
        error: 'connecting timed out after 3000 ms',
      });
    }
  }
  return s.evidence();
}

describe('zookeeper/observer', () => {
  it('passes: observers observe, serve, forward; without the voters nothing serves', () =>
    expectVerdict(observer, observerStory(), 'pass'));
  it('fails when an "observer" is a voter', () => {
    const c = expectVerdict(
      observer,
      observerStory({ modesBefore: { ...healthy, zk4: 'follower', zk5: 'observer' } }),
      'fail',
    );
    expectCheck(c, 'the observers report observer and /zookeeper/config lists them as observers', false);
  });
  it('fails when an observer does not serve reads', () => {
    expectCheck(
      expectVerdict(observer, observerStory({ readVia: ['zk4'] }), 'fail'),
      'every observer serves reads',
      false,
    );
  });
  it('fails when a write through an observer is not committed', () => {
    expectCheck(
      expectVerdict(observer, observerStory({ forwarded: false }), 'fail'),
      'a write through an observer is forwarded and committed',
      false,
    );
  });
  it('fails when observers vote: one voter and two observers form a quorum and serve', () => {
    const voted = { zk3: 'follower', zk4: 'leader', zk5: 'follower' };
    const c = expectVerdict(observer, observerStory({ without: voted, later: voted, served: true }), 'fail');
    expectCheck(c, 'without a voting majority every survivor stops serving', false);
    expectCheck(c, 'no quorum forms among the survivors (5000 ms later)', false);
    expectCheck(c, 'reads and writes through the observers then fail', false);
  });
  it('fails when a quorum forms only after a moment without one', () => {
    const c = expectVerdict(
      observer,
      observerStory({ later: { zk3: 'leader', zk4: 'observer', zk5: 'observer' } }),
      'fail',
    );
    expectCheck(c, 'no quorum forms among the survivors (5000 ms later)', false);
  });
  it('cannot decide when the survivors were never watched', () => {
    expectVerdict(observer, observerStory({ later: null }), 'unknown');
  });
});

describe('failoverWithin (shared with the Sentinel failover)', () => {
  const within = (after: string | null | undefined, ms: number | null | undefined) =>
    failoverWithin('x', { before: 'zk2', after, ms }, 2000, 'a new leader within 2000 ms', 'none chosen').ok;
  it('holds for another leader within the bound, the bound itself included', () => {
    expect(within('zk3', 400)).toBe(true);
    expect(within('zk3', 2000)).toBe(true);
  });
  it('fails late, for the old leader again, and for none', () => {
    expect(within('zk3', 2001)).toBe(false);
    expect(within('zk2', 400)).toBe(false);
    expect(within('none', undefined)).toBe(false);
    expect(within(null, null)).toBe(false);
    expect(failoverWithin('x', { before: 'a', after: null, ms: null }, 1, 'e', 'none chosen').observed).toBe(
      'none chosen',
    );
  });
});

/** Two writers (majority through the followers, pinned to the leader), a cut at 1500, its heal at 5000. */
function partitioned(
  o: {
    oldMode?: string;
    stopMs?: number;
    leaderAfter?: string;
    pinnedOk?: boolean;
    majority?: boolean;
    rejoined?: string;
    lose?: string;
    heal?: boolean;
    lag?: Lag;
  } = {},
) {
  const s = new Story().observe('modesBefore', healthy).observe('members', participants('zk1', 'zk2', 'zk3'));
  s.observe('leaderBefore', 'zk2');
  const write = (p: string, t: number, n: number, type: 'ok' | 'fail' | 'info') =>
    s.at(t).op(p, 'write', type, { id: `${p[0]}${String(n).padStart(5, '0')}` }, { ms: type === 'ok' ? 5 : 400 });
  let n = 1;
  for (let t = 0; t < 1500; t += 50, n++) {
    write('majority', t, n, 'ok');
    write('pinned', t + 10, n, 'ok');
  }
  s.at(1500).fault('partition', ['zk2']).observe('cutAt', 1500);
  for (let t = 1500; t < 5000; t += 100, n++) {
    write('majority', t, n, o.majority === false || t < 4000 ? 'info' : 'ok');
    write('pinned', t + 20, n, o.pinnedOk && t === 1600 ? 'ok' : 'info');
  }
  s.at(3800).observe('oldLeader', { mode: o.oldMode ?? 'not serving', ms: o.stopMs ?? 2300 });
  s.observe('leaderAfter', o.leaderAfter ?? 'zk3');
  if (o.leaderAfter !== 'none') s.observe('electionMs', 2400);
  if (o.heal !== false)
    s.at(5000)
      .observe('healAt', 5000)
      .observe('rejoined', o.rejoined ?? 'follower');
  if (o.heal !== false && o.lag !== 'none') lagging(s, o.lag);
  const acked = new Set<string>();
  for (const op of s.evidence().ops)
    if (op.f === 'write' && op.type === 'ok') acked.add((op.value as { id: string }).id);
  s.at(20_000).op('final-reader', 'read-all', 'ok', { ids: [...acked].filter((id) => id !== o.lose) });
  return s.evidence();
}

type Lag = 'none' | 'fresh' | 'serves' | 'synced-stale' | 'synced-never';

/**
 * The second cut: zk2 (now a follower) cut off from its leader from 6000 to 8500, a set
 * every 100 ms from 5500 (value 1 at 5500). Plain reads through zk2 return what it had at
 * the cut (5) until it stops at 7900, then fail; synced reads fail during the cut and read
 * the newest value after the heal. `lag` plants what goes wrong.
 */
function lagging(s: Story, lag?: Lag) {
  const newest = (t: number) => Math.floor((t - 5500) / 100) + 1;
  const healAt = lag === 'serves' ? 13_000 : 8500;
  s.at(6000).observe('lagAt', 6000);
  for (let t = 5500; t < healAt + 700; t += 100) {
    s.at(t).op('setter', 'set', 'ok', newest(t), { ms: 2 });
    const cut = t >= 6000 && t < healAt;
    const stopped = cut && t >= 7900 && lag !== 'serves';
    const plain = !cut || lag === 'fresh' ? newest(t) : 5;
    s.at(t + 5).op('plain', 'read', stopped ? 'info' : 'ok', stopped ? undefined : plain, { node: 'zk2' });
    const syncedOk = !cut && !(lag === 'synced-never' && t >= healAt);
    const synced = lag === 'synced-stale' && t === 5800 ? 1 : newest(t);
    s.at(t + 10).op('synced', 'read-synced', syncedOk ? 'ok' : 'info', syncedOk ? synced : undefined, { node: 'zk2' });
  }
  s.at(healAt).observe('lagHealAt', healAt);
}

describe('zookeeper/partitioned-leader', () => {
  it('passes: the old leader stops, the majority elects and serves, nothing through the old leader, nothing lost', () =>
    expectVerdict(partitionedLeader, partitioned(), 'pass'));
  it('fails when the cut-off leader keeps serving, or stops after the bound', () => {
    expectCheck(
      expectVerdict(partitionedLeader, partitioned({ oldMode: 'leader' }), 'fail'),
      'the cut-off leader stops serving within 6000 ms',
      false,
    );
    expectCheck(
      expectVerdict(partitionedLeader, partitioned({ stopMs: 9000 }), 'fail'),
      'the cut-off leader stops serving within 6000 ms',
      false,
    );
  });
  it('fails when the followers elect nobody', () => {
    const c = expectVerdict(partitionedLeader, partitioned({ leaderAfter: 'none' }), 'fail');
    expectCheck(c, 'a new leader among the followers within 6000 ms', false);
  });
  it('fails when a write through the cut-off leader is acknowledged (split brain)', () => {
    const c = expectVerdict(partitionedLeader, partitioned({ pinnedOk: true }), 'fail');
    expectCheck(c, 'no write acknowledged through the cut-off leader', false);
  });
  it('fails when the majority serves no write during the cut', () => {
    const c = expectVerdict(partitionedLeader, partitioned({ majority: false }), 'fail');
    expectCheck(c, 'the majority serves writes during the cut', false);
  });
  it('fails when the old leader does not rejoin as a follower', () => {
    const c = expectVerdict(partitionedLeader, partitioned({ rejoined: 'not serving' }), 'fail');
    expectCheck(c, 'the old leader rejoins as a follower', false);
  });
  it('fails when an acknowledged write is lost', () => {
    const c = expectVerdict(partitionedLeader, partitioned({ lose: 'm00003' }), 'fail');
    expectCheck(c, 'no acknowledged writes lost', false);
  });
  it('cannot decide when the cut was never healed', () => {
    expectVerdict(partitionedLeader, partitioned({ heal: false }), 'unknown');
  });
  it('fails when the cut-off follower answers every read fresh', () => {
    const c = expectVerdict(partitionedLeader, partitioned({ lag: 'fresh' }), 'fail');
    expectCheck(c, 'a read without sync through the cut-off follower is stale', false);
  });
  it('fails when the cut-off follower keeps answering reads past the bound', () => {
    const c = expectVerdict(partitionedLeader, partitioned({ lag: 'serves' }), 'fail');
    expectCheck(c, 'the cut-off follower stops answering reads within 3000 ms', false);
  });
  it('fails when a synced read is stale, or none is answered after the heal', () => {
    expectCheck(
      expectVerdict(partitionedLeader, partitioned({ lag: 'synced-stale' }), 'fail'),
      'a read after sync is never stale',
      false,
    );
    expectCheck(
      expectVerdict(partitionedLeader, partitioned({ lag: 'synced-never' }), 'fail'),
      'a read after sync is never stale',
      false,
    );
  });
  it('cannot decide without the lagging follower', () => {
    expectVerdict(partitionedLeader, partitioned({ lag: 'none' }), 'unknown');
  });
});
