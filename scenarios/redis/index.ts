import type { AnyLab } from '../../src/engine/lab.ts';
import replication from './replication.ts';
import restartWithoutPersistence from './restart-without-persistence.ts';
import sentinelFailover from './sentinel-failover.ts';
import splitBrain from './split-brain.ts';

/** The Redis labs, in the order a course takes them. */
export const redisLabs: AnyLab[] = [replication, sentinelFailover, splitBrain, restartWithoutPersistence];
