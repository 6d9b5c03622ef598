import type { AnyLab } from '../../src/engine/lab.ts';
import ensembleBasics from './ensemble-basics.ts';
import ephemeralSession from './ephemeral-session.ts';
import leaderFailover from './leader-failover.ts';
import observer from './observer.ts';
import partitionedLeader from './partitioned-leader.ts';
import quorumLoss from './quorum-loss.ts';

/** The ZooKeeper labs, in the order a course takes them. */
export const zookeeperLabs: AnyLab[] = [
  ensembleBasics,
  leaderFailover,
  quorumLoss,
  partitionedLeader,
  ephemeralSession,
  observer,
];
