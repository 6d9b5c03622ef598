import { describe, it } from 'vitest';
import clusterBasics from '../../scenarios/etcd/cluster-basics.ts';
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
