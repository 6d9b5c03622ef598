import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { READONLY_ERROR } from '../../scenarios/redis/replication.ts';
import { MidlabError } from '../../src/errors.ts';
import { resolveParams } from '../../src/params.ts';
import { TimeoutError } from '../../src/runtime/poll.ts';
import { classify, RedisError, toRedisError } from '../../stacks/redis/client.ts';
import { redisConf, sentinelConf, sentinelId, settingsOf } from '../../stacks/redis/config.ts';
import {
  parseInfo,
  parseMasterAddr,
  parseReplication,
  parseSentinelMaster,
  parseSentinelPeers,
} from '../../stacks/redis/info.ts';
import { layoutOf, redis } from '../../stacks/redis/stack.ts';

const params = (given: Record<string, string | number> = {}) => resolveParams(redis.params, given, 'redis');
const lines = (text: string) => text.split('\n').filter((l) => l && !l.startsWith('#'));

describe('redis stack: configuration', () => {
  const layout = layoutOf(params());

  it('renders a primary without replicaof and replicas that follow redis1', () => {
    const primary = redisConf(layout, 'redis1');
    for (const l of [
      'port 6379',
      'bind * -::*',
      'protected-mode no',
      'daemonize no',
      'logfile ""',
      'dir /var/lib/redis',
      'save ""',
      'appendonly no',
      'repl-diskless-sync yes',
      'repl-diskless-sync-delay 0',
      'replica-announce-ip redis1',
    ]) {
      expect(lines(primary)).toContain(l);
    }
    expect(primary).not.toMatch(/replicaof/);
    expect(primary).not.toMatch(/min-replicas/);
    const replica = redisConf(layout, 'redis3');
    expect(lines(replica)).toContain('replicaof redis1 6379');
    expect(lines(replica)).toContain('replica-announce-ip redis3');
  });

  it('adds min-replicas only when asked', () => {
    const conf = redisConf(layoutOf(params({ minReplicasToWrite: 1 })), 'redis1');
    expect(lines(conf)).toEqual(expect.arrayContaining(['min-replicas-to-write 1', 'min-replicas-max-lag 2']));
  });

  it('appends to a file when persistence=aof, and says which settings a proof must find', () => {
    const aof = layoutOf(params({ persistence: 'aof' }));
    expect(lines(redisConf(aof, 'redis1'))).toEqual(expect.arrayContaining(['appendonly yes', 'appendfsync everysec']));
    expect(settingsOf(aof)).toEqual({ 'min-replicas-to-write': '0', save: '', appendonly: 'yes' });
    expect(settingsOf(layoutOf(params({ minReplicasToWrite: 1, minReplicasMaxLag: 3 })))).toEqual({
      'min-replicas-to-write': '1',
      'min-replicas-max-lag': '3',
      save: '',
      appendonly: 'no',
    });
  });

  it('renders sentinel.conf with hostnames resolved before monitor, and a pre-seeded topology', () => {
    const conf = lines(sentinelConf(layout, 'sentinel2'));
    const at = (prefix: string) => conf.findIndex((l) => l.startsWith(prefix));
    expect(at('sentinel resolve-hostnames yes')).toBeGreaterThanOrEqual(0);
    expect(at('sentinel resolve-hostnames yes')).toBeLessThan(at('sentinel monitor'));
    expect(conf).toEqual(
      expect.arrayContaining([
        'port 26379',
        'sentinel announce-hostnames yes',
        'sentinel announce-ip sentinel2',
        'sentinel monitor mymaster redis1 6379 2',
        'sentinel down-after-milliseconds mymaster 2000',
        'sentinel failover-timeout mymaster 10000',
        'sentinel parallel-syncs mymaster 1',
        'sentinel known-replica mymaster redis2 6379',
        'sentinel known-replica mymaster redis3 6379',
        `sentinel myid ${sentinelId('sentinel2')}`,
        `sentinel known-sentinel mymaster sentinel1 26379 ${sentinelId('sentinel1')}`,
        `sentinel known-sentinel mymaster sentinel3 26379 ${sentinelId('sentinel3')}`,
      ]),
    );
    expect(conf.filter((l) => l.includes('known-sentinel'))).toHaveLength(2);
    expect(conf.some((l) => l.includes('known-sentinel mymaster sentinel2'))).toBe(false);
  });

  it('gives every Sentinel a distinct 40-hex id', () => {
    const ids = ['sentinel1', 'sentinel2', 'sentinel3'].map(sentinelId);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{40}$/);
    expect(new Set(ids).size).toBe(3);
  });

  it('keeps comments on their own lines', () => {
    for (const text of [redisConf(layout, 'redis2'), sentinelConf(layout, 'sentinel1')]) {
      expect(text).not.toMatch(/^[^#\n]+#/m);
    }
  });

  it('lays out redis1.. then sentinel1.., each with its config and port', () => {
    const nodes = redis.nodes(params());
    expect(nodes.map((n) => n.name)).toEqual(['redis1', 'redis2', 'redis3', 'sentinel1', 'sentinel2', 'sentinel3']);
    expect(nodes[0]?.cmd?.slice(-2)).toEqual(['redis-server', '/etc/midlab/redis/redis.conf']);
    expect(nodes[0]?.cmd?.[0]).toBe('sh');
    expect(nodes[0]).toMatchObject({
      ports: { redis: 6379 },
      files: [{ path: '/etc/midlab/redis/redis.conf' }],
    });
    expect(nodes[3]).toMatchObject({
      cmd: ['redis-sentinel', '/etc/midlab/redis/sentinel.conf'],
      ports: { sentinel: 26379 },
      files: [{ path: '/etc/midlab/redis/sentinel.conf' }],
    });
    expect(redis.nodes(params({ sentinels: 0, replicas: 0 })).map((n) => n.name)).toEqual(['redis1']);
  });
});

describe('redis stack: validation', () => {
  it('accepts the default deployment silently', () => {
    expect(redis.validate(params())).toEqual([]);
  });
  it('refuses a quorum the Sentinels can never reach', () => {
    expect(() => redis.validate(params({ sentinels: 3, quorum: 4 }))).toThrow(/quorum of 4 can never be reached/);
    expect(() => redis.validate(params({ sentinels: 0, quorum: 1 }))).toThrow(/quorum needs Sentinels/);
  });
  it('refuses min-replicas-to-write above the replicas', () => {
    expect(() => redis.validate(params({ replicas: 1, minReplicasToWrite: 2 }))).toThrow(/refuses every write/);
  });
  it('warns that one or two Sentinels cannot reach a majority if one fails', () => {
    expect(redis.validate(params({ sentinels: 1 }))[0]).toMatch(/cannot reach a majority if one fails/);
    expect(redis.validate(params({ sentinels: 2 }))[0]).toMatch(/cannot reach a majority if one fails/);
    expect(redis.validate(params({ sentinels: 4 }))[0]).toMatch(/use an odd number/);
  });
  it('warns about Sentinels with nothing to promote, and a quorum below a majority', () => {
    expect(redis.validate(params({ replicas: 0 })).join()).toMatch(/nothing to promote/);
    expect(redis.validate(params({ quorum: 1 })).join()).toMatch(/still needs 2 Sentinels/);
  });
  it('runs without Sentinels', () => {
    expect(redis.validate(params({ sentinels: 0 }))).toEqual([]);
  });
});

describe('redis parsers', () => {
  const primaryInfo = [
    '# Replication',
    'role:master',
    'connected_slaves:2',
    'slave0:ip=redis3,port=6379,state=online,offset=413,lag=1',
    'slave1:ip=redis2,port=6379,state=online,offset=673,lag=0',
    'master_failover_state:no-failover',
    'master_repl_offset:838',
    '',
  ].join('\r\n');
  const replicaInfo = [
    '# Replication',
    'role:slave',
    'master_host:redis1',
    'master_port:6379',
    'master_link_status:up',
    'slave_repl_offset:838',
    'master_repl_offset:838',
    'connected_slaves:0',
  ].join('\r\n');

  it('reads INFO text', () => {
    expect(parseInfo('# Server\r\nredis_version:7.0.15\r\n\r\n# Clients\r\nconnected_clients:3\r\n')).toEqual({
      redis_version: '7.0.15',
      connected_clients: '3',
    });
  });
  it('reads a primary and a replica INFO replication', () => {
    expect(parseReplication(primaryInfo)).toMatchObject({
      role: 'master',
      connectedSlaves: 2,
      masterReplOffset: 838,
      replicas: [
        { ip: 'redis3', port: 6379, state: 'online', offset: 413, lag: 1 },
        { ip: 'redis2', port: 6379, state: 'online', offset: 673, lag: 0 },
      ],
    });
    expect(parseReplication(replicaInfo)).toMatchObject({
      role: 'slave',
      masterHost: 'redis1',
      masterPort: 6379,
      masterLinkStatus: 'up',
      slaveReplOffset: 838,
      replicas: [],
    });
  });
  it('reads Sentinel field lists (flat arrays or maps)', () => {
    const master = ['name', 'mymaster', 'ip', 'redis1', 'port', '6379', 'flags', 'master', 'num-slaves', '2'];
    master.push('num-other-sentinels', '2', 'quorum', '2', 'config-epoch', '0');
    expect(parseSentinelMaster(master)).toMatchObject({
      name: 'mymaster',
      ip: 'redis1',
      port: 6379,
      flags: 'master',
      numSlaves: 2,
      numOtherSentinels: 2,
      quorum: 2,
    });
    expect(parseSentinelMaster({ ip: 'redis2', flags: 'master,s_down', 'num-slaves': 1 })).toMatchObject({
      ip: 'redis2',
      flags: 'master,s_down',
      numSlaves: 1,
    });
    const replicas = parseSentinelPeers([
      ['name', 'redis3:6379', 'ip', 'redis3', 'port', '6379', 'flags', 'slave', 'master-link-status', 'ok'],
      ['name', 'redis1:6379', 'ip', 'redis1', 'port', '6379', 'flags', 'slave,s_down,disconnected'],
    ]);
    expect(replicas).toMatchObject([
      { ip: 'redis3', flags: 'slave', masterLinkStatus: 'ok' },
      { ip: 'redis1', flags: 'slave,s_down,disconnected', masterLinkStatus: undefined },
    ]);
    expect(parseMasterAddr(['redis2', '6379'])).toEqual({ host: 'redis2', port: 6379 });
    expect(parseMasterAddr(null)).toBeUndefined();
  });
});

describe('redis client errors', () => {
  it('an error reply certainly did not happen; a lost connection or a timeout may have', () => {
    const readonly = toRedisError(new ReplyError(READONLY_ERROR));
    expect(readonly).toBeInstanceOf(RedisError);
    expect((readonly as RedisError).code).toBe('READONLY');
    expect((readonly as RedisError).message).toBe(READONLY_ERROR);
    expect(classify(new ReplyError(READONLY_ERROR))).toBe('fail');
    expect(classify(new ReplyError('NOREPLICAS Not enough good replicas to write.'))).toBe('fail');
    expect((toRedisError(new ReplyError('NOREPLICAS Not enough good replicas to write.')) as RedisError).code).toBe(
      'NOREPLICAS',
    );
    expect(classify(new Error('Connection is closed.'))).toBe('info');
    const maxRetries = Object.assign(new Error('Reached the max retries per request limit (which is 20).'), {
      name: 'MaxRetriesPerRequestError',
    });
    expect(classify(maxRetries)).toBe('info');
    expect(classify(new TimeoutError('SET k timed out'))).toBe('info');
    expect(classify(new Error("Stream isn't writeable and enableOfflineQueue options is false"))).toBe('fail');
  });
  it('are MidlabErrors with a string code, a hint and exit code 3', () => {
    const e = toRedisError(new ReplyError(READONLY_ERROR)) as RedisError;
    expect(e).toBeInstanceOf(MidlabError);
    expect(e.reply).toBe(true);
    expect(e.exitCode).toBe(3);
    expect(e.hint).toMatch(/primary/);
  });
});
