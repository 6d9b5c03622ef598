import type { AnyLab } from '../../src/engine/lab.ts';
import acksMinIsr from './acks-min-isr.ts';
import acks1DataLoss from './acks1-data-loss.ts';
import clusterBasics from './cluster-basics.ts';
import consumerGroups from './consumer-groups.ts';
import controllerFailover from './controller-failover.ts';
import duplicateConsumption from './duplicate-consumption.ts';
import idempotentProducer from './idempotent-producer.ts';
import lagDetection from './lag-detection.ts';
import leaderFailover from './leader-failover.ts';
import ordering from './ordering.ts';
import partitionedLeader from './partitioned-leader.ts';
import rebalanceProtocols from './rebalance-protocols.ts';
import transactions from './transactions.ts';
import zkToKraftMigration from './zk-to-kraft-migration.ts';

/**
 * The Kafka labs, in course order. test/scenarios/kafka.test.ts runs every variant each
 * declares: most take `bothModes` (3.9 KRaft, 3.9 ZooKeeper mode, 4.4 KRaft); a lab that
 * needs one line of Kafka (the migration: 3.9; the new group protocol: 4.4) declares it.
 */
export const kafkaLabs: AnyLab[] = [
  clusterBasics,
  consumerGroups,
  ordering,
  leaderFailover,
  acksMinIsr,
  acks1DataLoss,
  idempotentProducer,
  transactions,
  lagDetection,
  duplicateConsumption,
  rebalanceProtocols,
  controllerFailover,
  partitionedLeader,
  zkToKraftMigration,
];
