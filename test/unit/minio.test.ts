import { describe, expect, it } from 'vitest';
import { availabilityChecks, checksumCheck, ecIndexOf } from '../../scenarios/minio/kit.ts';
import type { Evidence, Op } from '../../src/engine/history.ts';
import { MidlabError, UsageError } from '../../src/errors.ts';
import { resolveParams } from '../../src/params.ts';
import { TimeoutError } from '../../src/runtime/poll.ts';
import { parseAdminInfo } from '../../stacks/minio/admin.ts';
import { classify, MinioCommandError, S3Error, s3Code } from '../../stacks/minio/client.ts';
import {
  availabilityWith,
  availabilityWithNodesDown,
  defaultParity,
  readQuorum,
  serverCommand,
  survivesOneNode,
  writeQuorum,
} from '../../stacks/minio/config.ts';
import { minio } from '../../stacks/minio/stack.ts';

const params = (given: Record<string, number> = {}) => resolveParams(minio.params, given, 'minio');

describe('minio: quorum arithmetic', () => {
  it('uses MinIO default parity by erasure-set size, not always half', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 12, 16].map(defaultParity)).toEqual([0, 1, 1, 2, 2, 3, 3, 4, 4, 4]);
  });
  it('predicts which layouts keep writing with one node down', () => {
    expect(survivesOneNode(4, 2)).toBe(true); // 8 drives EC:4: 6 left, write quorum 5
    expect(survivesOneNode(3, 4)).toBe(true); // 12 drives EC:4: 8 left, write quorum 8
    expect(survivesOneNode(3, 4, 6)).toBe(true); // EC:6: 8 left, write quorum 7
    expect(survivesOneNode(2, 4)).toBe(false); // 4 left of 8, write quorum 5
    expect(survivesOneNode(1, 4)).toBe(false);
  });
  it('read quorum = data shards; write quorum one more when data = parity', () => {
    expect([readQuorum(8, 4), writeQuorum(8, 4)]).toEqual([4, 5]);
    expect([readQuorum(12, 4), writeQuorum(12, 4)]).toEqual([8, 8]);
    expect([readQuorum(12, 6), writeQuorum(12, 6)]).toEqual([6, 7]);
  });
  it('4 nodes x 2 drives, EC:4: 1 down both, 2 down reads only, 3 down neither', () => {
    const set = ['minio1', 'minio2', 'minio3', 'minio4'].flatMap((node) => [{ node }, { node }]);
    expect(availabilityWithNodesDown([set], 4, ['minio4'])).toEqual({ read: true, write: true });
    expect(availabilityWithNodesDown([set], 4, ['minio4', 'minio3'])).toEqual({ read: true, write: false });
    expect(availabilityWithNodesDown([set], 4, ['minio4', 'minio3', 'minio2'])).toEqual({ read: false, write: false });
  });
  it('3 nodes x 4 drives: EC:4 and EC:6 both survive one node, neither two', () => {
    expect(availabilityWith(8, 12, 4)).toEqual({ read: true, write: true });
    expect(availabilityWith(4, 12, 4)).toEqual({ read: false, write: false });
    expect(availabilityWith(8, 12, 6)).toEqual({ read: true, write: true });
    expect(availabilityWith(6, 12, 6)).toEqual({ read: true, write: false });
  });
});

describe('minio: nodes and validation', () => {
  it('renders the same server command on every node, with ellipses', () => {
    const nodes = minio.nodes(params());
    expect(nodes.map((n) => n.name)).toEqual(['minio1', 'minio2', 'minio3', 'minio4']);
    expect(nodes[0]?.cmd).toEqual([
      'minio',
      'server',
      '--address',
      ':9000',
      '--console-address',
      ':9001',
      'http://minio{1...4}:9000/data{1...2}',
    ]);
    expect(new Set(nodes.map((n) => JSON.stringify(n.cmd))).size).toBe(1);
    expect(new Set(nodes.map((n) => n.env?.MINIO_ROOT_PASSWORD)).size).toBe(1);
    expect(nodes[0]?.env?.MINIO_STORAGE_CLASS_STANDARD).toBeUndefined();
    expect(serverCommand(1, 1).at(-1)).toBe('/data1');
    expect(serverCommand(3, 4).at(-1)).toBe('http://minio{1...3}:9000/data{1...4}');
  });
  it('sets EC:N only when asked', () => {
    expect(minio.nodes(params({ nodes: 3, drives: 4, parity: 6 }))[0]?.env?.MINIO_STORAGE_CLASS_STANDARD).toBe('EC:6');
  });
  it('refuses parity above half the drives; allows fewer than 4 drives', () => {
    expect(() => minio.validate(params({ nodes: 4, drives: 2, parity: 5 }))).toThrow(UsageError);
    expect(() => minio.validate(params({ nodes: 3, drives: 4, parity: 6 }))).not.toThrow();
    expect(() => minio.validate(params({ nodes: 1, drives: 2 }))).not.toThrow();
    expect(() => params({ nodes: 0 })).toThrow(UsageError);
  });
});

describe('minio: parsing and classification', () => {
  it('parses mc admin info --json', () => {
    const drive = (node: string, path: string, state: string, i: number) => ({
      endpoint: `http://${node}:9000${path}`,
      path,
      state,
      pool_index: 0,
      set_index: 0,
      disk_index: i,
    });
    const info = parseAdminInfo(
      JSON.stringify({
        status: 'success',
        info: {
          backend: { backendType: 'Erasure', onlineDisks: 3, offlineDisks: 1, standardSCParity: 2 },
          servers: [
            {
              endpoint: 'minio1:9000',
              state: 'online',
              drives: [drive('minio1', '/data1', 'ok', 0), drive('minio1', '/data2', 'ok', 1)],
            },
            {
              endpoint: 'minio2:9000',
              state: 'offline',
              drives: [drive('minio2', '/data1', 'ok', 2), drive('minio2', '/data2', 'offline', 3)],
            },
          ],
        },
      }),
    );
    expect(info.standardParity).toBe(2);
    expect([info.onlineDisks, info.offlineDisks]).toEqual([3, 1]);
    expect(info.sets).toHaveLength(1);
    expect(info.drives[3]).toMatchObject({ node: 'minio2', path: '/data2', state: 'offline' });
  });
  it('keeps S3 codes and HTTP statuses; timeouts are indeterminate', () => {
    expect(s3Code(Object.assign(new Error('x'), { code: 'NoSuchKey' }))).toBe('NoSuchKey');
    expect(s3Code(new Error('Request failed after 0 retries: Error: Retryable HTTP status: 503'))).toBe('HTTP 503');
    expect(classify(new Error('Request failed after 0 retries: Error: Retryable HTTP status: 503'))).toBe('fail');
    expect(classify(new Error('PUT timed out'))).toBe('info');
    // The client's own time-out: the call may still happen, so it is never a certain failure.
    const late = new TimeoutError('PUT midlab/a on 127.0.0.1:9000 took more than 10000 ms');
    expect([s3Code(late), classify(late)]).toEqual(['Timeout', 'info']);
  });
  it('raises S3 failures as MidlabErrors: the S3 code, the HTTP status, the outcome classify gives', () => {
    const gone = new S3Error('GET midlab/a', Object.assign(new Error('x'), { code: 'NoSuchKey', statusCode: 404 }));
    expect(gone).toBeInstanceOf(MidlabError);
    expect([gone.code, gone.status, gone.exitCode, classify(gone), s3Code(gone)]).toEqual([
      'NoSuchKey',
      404,
      3,
      'fail',
      'NoSuchKey',
    ]);
    expect(gone.hint).toBeTruthy();
    const busy = new S3Error(
      'PUT midlab/b',
      new Error('Request failed after 0 retries: Error: Retryable HTTP status: 503'),
    );
    expect([busy.code, busy.status, classify(busy)]).toEqual(['HTTP 503', 503, 'fail']);
    expect(classify(new S3Error('GET midlab/c', new Error('socket hang up')))).toBe('info');
    const mc = new MinioCommandError('mc admin info', 'minio1', 'mc: <ERROR> Unable to get service status\n');
    expect([mc.code, mc.exitCode, mc.message]).toEqual([
      'MINIO_COMMAND',
      3,
      'mc admin info on minio1: mc: <ERROR> Unable to get service status',
    ]);
  });
  it("reads a drive's erasure index from xl.meta bytes", () => {
    const meta = Buffer.concat([
      Buffer.from([0xa3]),
      Buffer.from('EcM'),
      Buffer.from([4]),
      Buffer.from([0xa7]),
      Buffer.from('EcIndex'),
      Buffer.from([3]),
    ]);
    expect(ecIndexOf(meta)).toEqual({ index: 3, data: 4 });
    expect(ecIndexOf(Buffer.from('nothing'))).toBeUndefined();
  });
});

describe('minio: checks', () => {
  let i = 0;
  const op = (process: string, f: string, type: Op['type'], value: unknown, error?: string): Op => ({
    index: i++,
    time: i,
    process,
    f,
    type,
    value,
    error,
  });
  const step = (k: number, read: boolean, write: boolean) => ({
    time: 0,
    name: `step-${k}`,
    value: {
      step: k,
      down: ['minio4', 'minio3'].slice(0, k),
      expected: { read, write },
      health: { cluster: 503, read: 200 },
    },
  });
  it('passes when 2-down reads work and writes fail, fails when a write got through', () => {
    const ev: Evidence = {
      ops: [
        op('s3-0down:1k', 'put', 'ok', { id: 'a', sha256: 'h' }),
        op('s3-2down:1k', 'put', 'fail', { id: 'b' }, 'HTTP 503'),
        op('s3-2down:a', 'get', 'ok', { id: 'a', sha256: 'h' }),
      ],
      observations: [step(2, true, false)],
      faults: [],
    };
    expect(availabilityChecks(ev, undefined).map((c) => c.ok)).toEqual([true]);
    expect(checksumCheck(ev).ok).toBe(true);
    ev.ops.push(op('s3-2down:2m', 'put', 'ok', { id: 'c', sha256: 'x' }));
    expect(availabilityChecks(ev, undefined).map((c) => c.ok)).toEqual([false]);
    ev.ops.push(op('s3-2down:c', 'get', 'ok', { id: 'c', sha256: 'y' }));
    expect(checksumCheck(ev).ok).toBe(false);
  });
});
