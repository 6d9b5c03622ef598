import type { AnyLab } from '../../src/engine/lab.ts';
import clusterBasics from './cluster-basics.ts';
import leaderFailover from './leader-failover.ts';
import quorumLoss from './quorum-loss.ts';
import quotaAndDefrag from './quota-and-defrag.ts';
import snapshotRestore from './snapshot-restore.ts';
import watchAndCompaction from './watch-and-compaction.ts';

/** The etcd labs, in the order a course takes them. */
export const etcdLabs: AnyLab[] = [
  clusterBasics,
  leaderFailover,
  quorumLoss,
  watchAndCompaction,
  quotaAndDefrag,
  snapshotRestore,
];
