import type { AnyLab } from '../src/engine/lab.ts';
import { minioLabs } from './minio/index.ts';
import { rabbitmqLabs } from './rabbitmq/index.ts';
import redisReplication from './redis/replication.ts';
import redisSentinelFailover from './redis/sentinel-failover.ts';
import zkEnsembleBasics from './zookeeper/ensemble-basics.ts';
import zkEphemeralSession from './zookeeper/ephemeral-session.ts';
import zkLeaderFailover from './zookeeper/leader-failover.ts';
import zkObserver from './zookeeper/observer.ts';
import zkQuorumLoss from './zookeeper/quorum-loss.ts';

/** Every lab, in the order a course would take them. A new lab is added here. */
export const labs: AnyLab[] = [
  zkEnsembleBasics,
  zkLeaderFailover,
  zkQuorumLoss,
  zkEphemeralSession,
  zkObserver,
  redisReplication,
  redisSentinelFailover,
  ...rabbitmqLabs,
  ...minioLabs,
];
