import type { ParamValues } from '../../src/params.ts';
import { dataNodeNames, type Layout, majority, sentinelNames } from './config.ts';

export const redisParams = {
  replicas: { type: 'int', default: 2, min: 0, max: 8, describe: 'replicas of redis1 (redis2..)' },
  sentinels: {
    type: 'int',
    default: 3,
    min: 0,
    max: 7,
    describe: 'Sentinels monitoring the primary as "mymaster" (sentinel1..; 0: none)',
  },
  quorum: {
    type: 'int',
    default: 0,
    min: 0,
    max: 7,
    describe: 'Sentinels that must agree the primary is down (0: a majority of them)',
  },
  downAfterMs: {
    type: 'int',
    default: 2000,
    min: 100,
    max: 60_000,
    describe: 'ms of silence before a Sentinel deems the primary down (production: 30000)',
  },
  minReplicasToWrite: {
    type: 'int',
    default: 0,
    min: 0,
    max: 8,
    describe: 'min-replicas-to-write on every data node (0: off, the Redis default)',
  },
  minReplicasMaxLag: {
    type: 'int',
    default: 2,
    min: 1,
    max: 60,
    describe: 'min-replicas-max-lag in seconds (Redis default 10)',
  },
  persistence: {
    type: 'enum',
    default: 'off',
    choices: ['off', 'aof'],
    describe: 'off: no RDB, no AOF (a restarted node is empty); aof: appendonly, fsync every second',
  },
} as const;
export type RedisParams = ParamValues<typeof redisParams>;

export function layoutOf(p: RedisParams): Layout {
  return {
    data: dataNodeNames(p.replicas),
    sentinels: sentinelNames(p.sentinels),
    downAfterMs: p.downAfterMs,
    quorum: p.quorum || majority(p.sentinels),
    minReplicasToWrite: p.minReplicasToWrite,
    minReplicasMaxLag: p.minReplicasMaxLag,
    persistence: p.persistence,
  };
}
