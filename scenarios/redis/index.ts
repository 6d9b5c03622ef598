import type { AnyLab } from '../../src/engine/lab.ts';
import replication from './replication.ts';
import sentinelFailover from './sentinel-failover.ts';

/** The Redis labs, in the order a course takes them. */
export const redisLabs: AnyLab[] = [replication, sentinelFailover];
