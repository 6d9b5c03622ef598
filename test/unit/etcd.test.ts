import { describe, expect, it } from 'vitest';
import { resolveParams } from '../../src/params.ts';
import { TimeoutError } from '../../src/runtime/poll.ts';
import { classify, EtcdError, hexId, parseJson, toEtcdError } from '../../stacks/etcd/client.ts';
import { type EndpointStatus, electedAt, etcd, etcdCommand, healthProblem } from '../../stacks/etcd/stack.ts';

const params = (given: Record<string, string | number> = {}) => resolveParams(etcd.params, given, 'etcd');
const status = (node: string, memberId: string, o: Partial<EndpointStatus> = {}): EndpointStatus => ({
  node,
  memberId,
  clusterId: 'c1',
  leader: 'a1',
  raftTerm: 2,
  raftIndex: 9,
  raftAppliedIndex: 9,
  revision: 1,
  dbSize: 20480,
  dbSizeInUse: 16384,
  errors: [],
  ...o,
});

describe('etcd stack', () => {
  it('starts every member with the whole initial cluster, one token, its own URLs', () => {
    const nodes = etcd.nodes(params({ members: 5 }));
    expect(nodes.map((n) => n.name)).toEqual(['etcd1', 'etcd2', 'etcd3', 'etcd4', 'etcd5']);
    const cmd = etcdCommand(params(), 'etcd2', 'tok');
    expect(cmd).toContain('--initial-cluster=etcd1=http://etcd1:2380,etcd2=http://etcd2:2380,etcd3=http://etcd3:2380');
    expect(cmd).toContain('--advertise-client-urls=http://etcd2:2379');
    expect(cmd).toContain('--initial-cluster-token=tok');
    expect(cmd).not.toContainEqual(expect.stringMatching(/quota/));
    expect(etcdCommand(params({ quotaBytes: 1048576 }), 'etcd1', 't')).toContain('--quota-backend-bytes=1048576');
    expect(nodes[0]?.env?.ETCDCTL_ENDPOINTS).toBe(
      'http://etcd1:2379,http://etcd2:2379,http://etcd3:2379,http://etcd4:2379,http://etcd5:2379',
    );
    const tokens = new Set(nodes.map((n) => n.cmd?.find((a) => a.startsWith('--initial-cluster-token'))));
    expect(tokens.size).toBe(1);
  });
  it('refuses an election timeout under five heartbeats, warns about even clusters', () => {
    expect(() => etcd.validate(params({ heartbeatMs: 300, electionMs: 1000 }))).toThrow(/5 heartbeats/);
    expect(etcd.validate(params())).toEqual([]);
    expect(etcd.validate(params({ members: 4 }))[0]).toMatch(/need 3 for a quorum/);
  });
  it("reads etcd's 64-bit ids without rounding them", () => {
    const r = parseJson<{ header: { member_id: string; revision: number } }>(
      '{"header":{"cluster_id":14841639068965178418,"member_id":10276657743932975437,"revision":3}}',
    );
    expect(r.header.member_id).toBe('10276657743932975437');
    expect(r.header.revision).toBe(3);
    expect(hexId(r.header.member_id)).toBe('8e9e05c52164694d');
  });
  it('names what etcdctl said, and classifies it', () => {
    const nospace = toEtcdError('{"level":"warn"}\nError: etcdserver: mvcc: database space exceeded');
    expect(nospace).toBeInstanceOf(EtcdError);
    expect(nospace.code).toBe('ETCD_NOSPACE');
    expect(nospace.message).toBe('etcdserver: mvcc: database space exceeded (NOSPACE)');
    expect(nospace.exitCode).toBe(3);
    expect(nospace.hint).toMatch(/alarm disarm/);
    expect(classify(nospace)).toBe('fail');
    expect(toEtcdError('Error: etcdserver: mvcc: required revision has been compacted').reason).toBe('COMPACTED');
    expect(classify(toEtcdError('Error: context deadline exceeded'))).toBe('info');
    expect(classify(toEtcdError('Error: etcdserver: leader changed'))).toBe('info');
    expect(classify(toEtcdError('Error: etcdserver: no leader'))).toBe('fail');
    expect(classify(new TimeoutError('put timed out'))).toBe('info');
    const canceled = toEtcdError(
      'watch was canceled (etcdserver: mvcc: required revision has been compacted)\nError: watch is canceled by the server',
    );
    expect(canceled.message).toBe('etcdserver: mvcc: required revision has been compacted (COMPACTED)');
  });
  it("reads when raft's own log line says a member became leader, for that term only", () => {
    const log = [
      '2026-11-30T01:02:40.298Z {"level":"info","ts":"2026-11-30T01:02:40.296367Z","msg":"1cee became leader at term 2"}',
      '2026-11-30T01:02:43.863Z {"level":"info","ts":"2026-11-30T01:02:43.863387Z","msg":"65f6 became leader at term 3"}',
    ].join('\n');
    expect(electedAt(log, 3)).toBe(Date.parse('2026-11-30T01:02:43.863387Z'));
    expect(electedAt(log, 2)).toBe(Date.parse('2026-11-30T01:02:40.296367Z'));
    expect(electedAt(log, 30)).toBeUndefined();
  });
  it('is healthy with one leader named by all in one term, everyone caught up', () => {
    const ok = [status('etcd1', 'a1'), status('etcd2', 'b2'), status('etcd3', 'c3')];
    expect(healthProblem(ok)).toBeUndefined();
    expect(healthProblem([...ok.slice(0, 2), undefined])).toMatch(/does not answer/);
    expect(healthProblem([...ok.slice(0, 2), status('etcd3', 'c3', { leader: 'c3' })])).toMatch(/leaders named/);
    expect(healthProblem([...ok.slice(0, 2), status('etcd3', 'c3', { raftTerm: 3 })])).toMatch(/terms differ/);
    expect(healthProblem([...ok.slice(0, 2), status('etcd3', 'c3', { raftAppliedIndex: 7 })])).toMatch(/etcd3/);
  });
});
