import { describe, it } from 'vitest';
import clusterBasics from '../../scenarios/etcd/cluster-basics.ts';
import leaderFailover from '../../scenarios/etcd/leader-failover.ts';
import quorumLoss from '../../scenarios/etcd/quorum-loss.ts';
import quotaAndDefrag from '../../scenarios/etcd/quota-and-defrag.ts';
import snapshotRestore from '../../scenarios/etcd/snapshot-restore.ts';
import watchAndCompaction from '../../scenarios/etcd/watch-and-compaction.ts';
import type { EndpointStatus } from '../../stacks/etcd/stack.ts';
import { expectCheck, expectVerdict, Story } from '../helpers/evidence.ts';

const ids: Record<string, string> = { etcd1: 'a1', etcd2: 'b2', etcd3: 'c3' };
const status = (node: string, o: Partial<EndpointStatus> = {}): EndpointStatus => ({
  node,
  memberId: ids[node] as string,
  clusterId: 'c1',
  leader: 'b2',
  raftTerm: 2,
  raftIndex: 11,
  raftAppliedIndex: 11,
  revision: 1,
  dbSize: 20480,
  dbSizeInUse: 16384,
  errors: [],
  ...o,
});
const member = (name: string) => ({
  id: ids[name],
  name,
  peerURLs: [`http://${name}:2380`],
  clientURLs: [`http://${name}:2379`],
});

function basics(
  o: {
    unstarted?: boolean;
    twoLeaders?: boolean;
    sick?: boolean;
    stale?: string;
    watchRev?: number;
    noWatch?: boolean;
  } = {},
) {
  const s = new Story().observe('members', [
    member('etcd1'),
    member('etcd2'),
    o.unstarted ? { ...member('etcd3'), name: '', clientURLs: [] } : member('etcd3'),
  ]);
  s.observe('health', { etcd1: true, etcd2: true, etcd3: !o.sick });
  s.observe('statuses', {
    etcd1: status('etcd1'),
    etcd2: status('etcd2'),
    etcd3: o.twoLeaders ? status('etcd3', { leader: 'c3', raftTerm: 3 }) : status('etcd3'),
  });
  s.at(1000).op('client-etcd1', 'write', 'ok', { id: 'tom', key: '/midlab/basics', revision: 2 }, { node: 'etcd1' });
  for (const n of ['etcd1', 'etcd2', 'etcd3'])
    s.op(`client-${n}`, 'read', 'ok', n === o.stale ? { value: 'tom', revision: 1 } : { value: 'tom', revision: 2 }, {
      node: n,
    });
  s.op('client-etcd2', 'write', 'ok', { id: 'data-v1', key: '/data', revision: 3 }, { node: 'etcd2' });
  const event = {
    type: 'PUT',
    key: '/data',
    value: 'data v1',
    createRevision: 3,
    modRevision: o.watchRev ?? 3,
    version: 1,
  };
  s.observe('watched', o.noWatch ? [] : [event]);
  return s.evidence();
}

describe('etcd/cluster-basics', () => {
  it('passes on a healthy cluster', () => expectVerdict(clusterBasics, basics(), 'pass'));
  it('fails when member list shows a member that never started', () =>
    expectCheck(
      expectVerdict(clusterBasics, basics({ unstarted: true }), 'fail'),
      'member list shows three started members',
      false,
    ));
  it('fails when an endpoint is not healthy', () =>
    expectCheck(expectVerdict(clusterBasics, basics({ sick: true }), 'fail'), 'every endpoint is healthy', false));
  it('fails when members name two leaders', () =>
    expectCheck(
      expectVerdict(clusterBasics, basics({ twoLeaders: true }), 'fail'),
      'one leader, named by every member, in one term',
      false,
    ));
  it('fails when one member reads an older revision', () =>
    expectCheck(
      expectVerdict(clusterBasics, basics({ stale: 'etcd3' }), 'fail'),
      'a put through etcd1 is read through every member at its revision',
      false,
    ));
  it('fails when the watch misses the put, or reports another revision', () => {
    const name = 'a watch on etcd3 sees the put made through etcd2, with its revision';
    expectCheck(expectVerdict(clusterBasics, basics({ noWatch: true }), 'fail'), name, false);
    expectCheck(expectVerdict(clusterBasics, basics({ watchRev: 4 }), 'fail'), name, false);
  });
  it('cannot decide without endpoint status', () => {
    const ev = basics();
    ev.observations = ev.observations.filter((o) => o.name !== 'statuses');
    expectVerdict(clusterBasics, ev, 'unknown');
  });
});

/** A writer's puts from `from` on, every 50 ms: ids w00001.., acknowledged unless listed as failed/unknown. */
function writes(s: Story, from: number, n: number, o: { first?: number; fail?: number[]; info?: number[] } = {}) {
  for (let i = 0; i < n; i++) {
    const k = (o.first ?? 1) + i;
    const id = `w${String(k).padStart(5, '0')}`;
    const type = o.fail?.includes(k) ? 'fail' : o.info?.includes(k) ? 'info' : 'ok';
    s.at(from + i * 50).op('writer', 'write', type, { id, key: `/midlab/x/${id}`, revision: k + 1 }, { ms: 5 });
  }
  return s;
}
const finalIds = (n: number, drop: number[] = []) =>
  Array.from({ length: n }, (_, i) => i + 1)
    .filter((k) => !drop.includes(k))
    .map((k) => `w${String(k).padStart(5, '0')}`);

function failover(o: { electionMs?: number; termAfter?: number; lose?: number; noResume?: boolean } = {}) {
  const s = new Story().observe('leaderBefore', 'etcd3').observe('termBefore', 2);
  writes(s, 0, 10);
  s.at(1000).fault('kill', ['etcd3']).observe('killedAt', 1000);
  const failed = o.noResume ? [12, 13, 14, 15, 16, 17, 18, 19, 20] : [12];
  writes(s, 1000, 10, { first: 11, info: [11], fail: failed });
  s.at(2600)
    .observe('leaderAfter', 'etcd2')
    .observe('electionMs', o.electionMs ?? 1600);
  s.observe('termAfter', o.termAfter ?? 3);
  s.at(5000).op('final-reader', 'read-all', 'ok', { ids: finalIds(20, [...failed, ...(o.lose ? [o.lose] : [])]) });
  return s.evidence();
}

describe('etcd/leader-failover', () => {
  it('passes when a survivor leads in time, in a new term, and nothing acknowledged is lost', () =>
    expectVerdict(leaderFailover, failover(), 'pass'));
  it('fails when the election takes longer than three election timeouts', () =>
    expectCheck(
      expectVerdict(leaderFailover, failover({ electionMs: 3200 }), 'fail'),
      'a new leader within 3000 ms',
      false,
    ));
  it('fails when the term did not go up', () =>
    expectCheck(expectVerdict(leaderFailover, failover({ termAfter: 2 }), 'fail'), 'the raft term went up', false));
  it('fails when an acknowledged write is missing from the final read', () =>
    expectCheck(expectVerdict(leaderFailover, failover({ lose: 4 }), 'fail'), 'no acknowledged writes lost', false));
  it('fails when no write is acknowledged after the kill', () =>
    expectCheck(expectVerdict(leaderFailover, failover({ noResume: true }), 'fail'), 'writes resume', false));
  it('cannot decide when the kill never happened', () => {
    const ev = failover();
    ev.observations = ev.observations.filter((x) => x.name !== 'killedAt');
    expectVerdict(leaderFailover, ev, 'unknown');
  });
});

const MARKER = '/midlab/quorum/marker';
function quorum(
  o: { ackedWithout?: boolean; linOk?: boolean; fresh?: boolean; sFails?: boolean; noResume?: boolean } = {},
) {
  const s = new Story().op('marker', 'write', 'ok', { id: 'marker', key: MARKER, revision: 2 });
  writes(s, 100, 10);
  s.at(1000).fault('partition', ['etcd1']).observe('isolatedAt', 1000);
  s.at(1100).op('marker', 'write', 'ok', { id: 'marker', key: MARKER, revision: 14 });
  writes(s, 1200, 6, { first: 11, info: o.ackedWithout ? [11, 12, 14, 15, 16] : [11, 12, 13, 14, 15, 16] });
  s.at(2000).fault('stop', ['etcd2']).fault('stop', ['etcd3']);
  if (o.linOk) s.op('reader-etcd1', 'read-l', 'ok', { value: 'v2', revision: 14 });
  else s.op('reader-etcd1', 'read-l', 'info', undefined, { error: 'context deadline exceeded (TIMEOUT)' });
  if (o.sFails) s.op('reader-etcd1', 'read-s', 'fail', undefined, { error: 'etcdserver: no leader (NO_LEADER)' });
  else s.op('reader-etcd1', 'read-s', 'ok', o.fresh ? { value: 'v2', revision: 14 } : { value: 'v1', revision: 2 });
  s.at(6000).observe('restartAt', 6000).observe('leaderAfterRecovery', 'etcd2');
  const after = o.noResume ? [17, 18] : [];
  writes(s, 7000, 2, { first: 17, fail: after });
  const lost = [11, 12, 14, 15, 16, ...(o.ackedWithout ? [] : [13]), ...after];
  s.at(9000).op('final-reader', 'read-all', 'ok', { ids: [...finalIds(18, lost), 'marker'] });
  return s.evidence();
}

describe('etcd/quorum-loss', () => {
  it('passes: no write or linearizable read without quorum, a stale serializable read, writes back', () =>
    expectVerdict(quorumLoss, quorum(), 'pass'));
  it('fails when a write is acknowledged without quorum', () =>
    expectCheck(
      expectVerdict(quorumLoss, quorum({ ackedWithout: true }), 'fail'),
      'writes without quorum fail or time out',
      false,
    ));
  it('fails when a linearizable read answers without quorum', () =>
    expectCheck(
      expectVerdict(quorumLoss, quorum({ linOk: true }), 'fail'),
      'linearizable reads fail or time out without quorum',
      false,
    ));
  it('fails when the serializable read is refused, or is not stale', () => {
    const name = 'a serializable read still answers from the survivor, stale';
    expectCheck(expectVerdict(quorumLoss, quorum({ sFails: true }), 'fail'), name, false);
    expectCheck(expectVerdict(quorumLoss, quorum({ fresh: true }), 'fail'), name, false);
  });
  it('fails when writes do not resume', () =>
    expectCheck(expectVerdict(quorumLoss, quorum({ noResume: true }), 'fail'), 'writes resume', false));
  it('cannot decide without the restart', () => {
    const ev = quorum();
    ev.observations = ev.observations.filter((x) => x.name !== 'restartAt');
    expectVerdict(quorumLoss, ev, 'unknown');
  });
});

const COMPACTED = 'etcdserver: mvcc: required revision has been compacted (COMPACTED)';
function compaction(o: { oldRead?: string; skip?: number; resume?: string; oldAfter?: 'ok'; kept?: string } = {}) {
  const s = new Story();
  for (let v = 1; v <= 5; v++) s.op('writer', 'write', 'ok', { id: `v${v}`, key: '/midlab/config', revision: v + 1 });
  s.observe('revisions', [2, 3, 4, 5, 6]);
  s.at(100).op('reader', 'read-at', 'ok', { at: 3, value: o.oldRead ?? 'v2' });
  const replayed = [2, 3, 4, 5]
    .filter((v) => v !== o.skip)
    .map((v) => ({
      type: 'PUT',
      key: '/midlab/config',
      value: `v${v}`,
      createRevision: 2,
      modRevision: v + 1,
      version: v,
    }));
  s.at(200).observe('replayed', replayed).observe('compactedTo', 5);
  s.at(300).observe('resumeAfter', o.resume ?? COMPACTED);
  if (o.oldAfter) s.op('reader', 'read-at', 'ok', { at: 3, value: 'v2' });
  else s.op('reader', 'read-at', 'fail', { at: 3 }, { error: COMPACTED });
  s.op('reader', 'read-at', 'ok', { at: 5, value: o.kept ?? 'v4' });
  return s.evidence();
}

describe('etcd/watch-and-compaction', () => {
  it('passes: history readable, replayed, then compacted away', () =>
    expectVerdict(watchAndCompaction, compaction(), 'pass'));
  it('fails when an old revision reads another value', () =>
    expectCheck(
      expectVerdict(watchAndCompaction, compaction({ oldRead: 'v5' }), 'fail'),
      'an old revision is readable before compaction',
      false,
    ));
  it('fails when the resumed watch skips a change', () =>
    expectCheck(
      expectVerdict(watchAndCompaction, compaction({ skip: 3 }), 'fail'),
      'a watch resumed from an old revision replays what it missed',
      false,
    ));
  it('fails when the resume after compaction still replays', () =>
    expectCheck(
      expectVerdict(watchAndCompaction, compaction({ resume: 'no error: 3 events' }), 'fail'),
      'after compaction past it, the resume fails: revision compacted',
      false,
    ));
  it('fails when compacted history is still readable, or later history is gone', () => {
    const name = 'compaction removes history before its revision, keeps it from there on';
    expectCheck(expectVerdict(watchAndCompaction, compaction({ oldAfter: 'ok' }), 'fail'), name, false);
    expectCheck(expectVerdict(watchAndCompaction, compaction({ kept: 'v5' }), 'fail'), name, false);
  });
});

const NOSPACE = 'etcdserver: mvcc: database space exceeded (NOSPACE)';
const db = (step: string, dbSize: number, dbSizeInUse: number) => ({ step, dbSize, dbSizeInUse, alarms: [] });
function quota(
  o: {
    noAlarm?: boolean;
    putOk?: boolean;
    delFails?: boolean;
    shrunkByCompaction?: boolean;
    notDefragged?: boolean;
    stillArmed?: boolean;
  } = {},
) {
  const s = new Story().observe('db', db('start', 20480, 16384));
  for (let i = 1; i <= 12; i++)
    s.op('filler', 'write', 'ok', { id: `b${i}`, key: `/midlab/big/b${i}`, revision: i + 1 });
  s.op('filler', 'write', 'fail', { id: 'b13', key: '/midlab/big/b13' }, { error: NOSPACE });
  s.observe('db', db('full', 1228800, 753664));
  s.observe('alarmsRaised', o.noAlarm ? [] : [{ member: 'a1', alarm: 'NOSPACE' }]);
  if (o.putOk) s.op('client', 'write', 'ok', { id: 'after-full', revision: 15 });
  else s.op('client', 'write', 'fail', { id: 'after-full' }, { error: NOSPACE });
  s.op('client', 'read', 'ok', 1);
  s.op('client', 'delete', o.delFails ? 'fail' : 'ok', 1, o.delFails ? { error: NOSPACE } : {});
  s.op('client', 'delete', 'ok', 11);
  s.observe('db', db('compacted', o.shrunkByCompaction ? 200000 : 1228800, 20480));
  s.observe('db', db('defragmented', o.notDefragged ? 1228800 : 20480, 12288));
  s.observe('alarmsAfter', o.stillArmed ? [{ member: 'a1', alarm: 'NOSPACE' }] : []);
  if (o.stillArmed) s.op('client', 'write', 'fail', { id: 'after-disarm' }, { error: NOSPACE });
  else s.op('client', 'write', 'ok', { id: 'after-disarm', revision: 16 });
  return s.evidence();
}

describe('etcd/quota-and-defrag', () => {
  it('passes: NOSPACE, reads and deletes answered, compaction then defrag, disarmed', () =>
    expectVerdict(quotaAndDefrag, quota(), 'pass'));
  it('fails without a NOSPACE alarm', () =>
    expectCheck(
      expectVerdict(quotaAndDefrag, quota({ noAlarm: true }), 'fail'),
      'puts fill the quota until NOSPACE',
      false,
    ));
  it('fails when a put is accepted under NOSPACE', () =>
    expectCheck(
      expectVerdict(quotaAndDefrag, quota({ putOk: true }), 'fail'),
      'with NOSPACE, a put is refused and a read answers',
      false,
    ));
  it('fails when a delete is refused under NOSPACE', () =>
    expectCheck(
      expectVerdict(quotaAndDefrag, quota({ delFails: true }), 'fail'),
      'with NOSPACE, a delete is still accepted',
      false,
    ));
  it('fails when compaction alone shrinks the file', () =>
    expectCheck(
      expectVerdict(quotaAndDefrag, quota({ shrunkByCompaction: true }), 'fail'),
      'compaction frees space inside the file, not the file',
      false,
    ));
  it('fails when defragmentation leaves the file over the quota', () =>
    expectCheck(
      expectVerdict(quotaAndDefrag, quota({ notDefragged: true }), 'fail'),
      'defragmentation shrinks the file under the quota',
      false,
    ));
  it('fails when the alarm stays after disarm', () =>
    expectCheck(expectVerdict(quotaAndDefrag, quota({ stillArmed: true }), 'fail'), 'disarmed, writes resume', false));
});

function restore(o: { missing?: number; survived?: number; sameCluster?: boolean; putFails?: boolean } = {}) {
  const s = new Story().observe('clusterBefore', 'c1');
  writes(s, 0, 20);
  s.at(600).observe('snapshotRevision', 13);
  s.at(2000).fault('crash', ['etcd1', 'etcd2', 'etcd3']).fault('wipe', ['etcd1', 'etcd2', 'etcd3'], 10);
  s.at(4000).observe('clustersAfter', o.sameCluster ? ['c1', 'c1', 'c1'] : ['d2', 'd2', 'd2']);
  s.op('after-restore', 'write', o.putFails ? 'info' : 'ok', { id: 'after', revision: 14 });
  const back = finalIds(12, o.missing ? [o.missing] : []);
  if (o.survived) back.push(`w${String(o.survived).padStart(5, '0')}`);
  s.at(5000).op('final-reader', 'read-all', 'ok', { ids: back });
  return s.evidence();
}

describe('etcd/snapshot-restore', () => {
  it('passes: up to the snapshot back, after it gone, a new cluster that takes writes', () =>
    expectVerdict(snapshotRestore, restore(), 'pass'));
  it('fails when a write acknowledged before the snapshot is missing', () =>
    expectCheck(
      expectVerdict(snapshotRestore, restore({ missing: 5 }), 'fail'),
      'every write acknowledged up to revision 13 is back',
      false,
    ));
  it('fails when a write acknowledged after the snapshot is back', () =>
    expectCheck(
      expectVerdict(snapshotRestore, restore({ survived: 15 }), 'fail'),
      'writes acknowledged after the snapshot are gone',
      false,
    ));
  it('fails when the restored cluster keeps the old cluster id', () =>
    expectCheck(
      expectVerdict(snapshotRestore, restore({ sameCluster: true }), 'fail'),
      'the restored cluster is a new cluster',
      false,
    ));
  it('fails when the restored cluster does not take a write', () =>
    expectCheck(
      expectVerdict(snapshotRestore, restore({ putFails: true }), 'fail'),
      'the restored cluster serves writes',
      false,
    ));
  it('cannot decide without the final read', () => {
    const ev = restore();
    ev.ops = ev.ops.filter((x) => x.f !== 'read-all');
    expectVerdict(snapshotRestore, ev, 'unknown');
  });
});
