import { describe, expect, it } from 'vitest';
import { MidlabError } from '../../src/errors.ts';
import { resolveParams } from '../../src/params.ts';
import { TimeoutError } from '../../src/runtime/poll.ts';
import { classify, ZkError } from '../../stacks/zookeeper/client.ts';
import { parseSrvr } from '../../stacks/zookeeper/four-letter.ts';
import { zooCfg, zookeeper } from '../../stacks/zookeeper/stack.ts';

const params = (given: Record<string, string | number> = {}) => resolveParams(zookeeper.params, given, 'zookeeper');

describe('zookeeper stack', () => {
  it('renders one server line per node, observers marked, no inline comments', () => {
    const cfg = zooCfg(params({ nodes: 3, observers: 1 }), 4);
    expect(cfg).toContain('server.1=zk1:2888:3888\n');
    expect(cfg).toContain('server.4=zk4:2888:3888:observer\n');
    expect(cfg).toContain('peerType=observer');
    expect(cfg).not.toMatch(/^[^#\n]+#/m);
  });
  it('renders two observers after the voters, each marked, and only observers as peerType=observer', () => {
    const p = params({ nodes: 3, observers: 2 });
    for (const id of [4, 5]) {
      const cfg = zooCfg(p, id);
      expect(cfg).toContain('server.4=zk4:2888:3888:observer\n');
      expect(cfg).toContain('server.5=zk5:2888:3888:observer\n');
      expect(cfg).toContain('peerType=observer');
    }
    expect(zooCfg(p, 3)).not.toContain('peerType');
    expect(zookeeper.nodes(p).map((n) => n.name)).toEqual(['zk1', 'zk2', 'zk3', 'zk4', 'zk5']);
  });
  it('warns about even ensembles, and says two nodes tolerate no failure', () => {
    expect(zookeeper.validate(params({ nodes: 3 }))).toEqual([]);
    expect(zookeeper.validate(params({ nodes: 2 }))[0]).toMatch(/two nodes tolerate no failure/);
    expect(zookeeper.validate(params({ nodes: 4 }))[0]).toMatch(/tolerates 1 failure/);
  });
  it('refuses an ensemble without nodes', () => {
    expect(() => params({ nodes: 0 })).toThrow(/out of range/);
  });
  it('reads srvr', () => {
    const s = parseSrvr('Zookeeper version: 3.9.5\nZxid: 0x100000002\nMode: follower\nNode count: 5\n');
    expect(s).toMatchObject({ mode: 'follower', zxid: '0x100000002', nodeCount: 5 });
    expect(parseSrvr('This ZooKeeper instance is not currently serving requests\n').mode).toBeUndefined();
  });
});

describe('zookeeper client errors', () => {
  it('are MidlabErrors with a string code, a hint and exit code 3; the C client number kept as rc', () => {
    const e = new ZkError('NONODE', 'no node (NONODE)', -101);
    expect(e).toBeInstanceOf(MidlabError);
    expect(e.code).toBe('NONODE');
    expect(e.rc).toBe(-101);
    expect(e.exitCode).toBe(3);
    expect(e.hint).toMatch(/does not exist/);
  });
  it('classify: a lost connection or a timeout may have happened (info); an answered error did not (fail)', () => {
    expect(classify(new ZkError('NONODE', 'no node'))).toBe('fail');
    expect(classify(new ZkError('NODEEXISTS', 'node exists'))).toBe('fail');
    expect(classify(new ZkError('SESSIONEXPIRED', 'session expired'))).toBe('fail');
    expect(classify(new ZkError('CONNECTIONLOSS', 'connection loss'))).toBe('info');
    expect(classify(new ZkError('OPERATIONTIMEOUT', 'operation timeout'))).toBe('info');
    expect(classify(new TimeoutError('create timed out'))).toBe('info');
    expect(classify(new Error('anything else'))).toBe('info');
  });
});
