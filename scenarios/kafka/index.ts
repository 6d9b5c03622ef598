import type { AnyLab } from '../../src/engine/lab.ts';
import acksMinIsr from './acks-min-isr.ts';
import acks1DataLoss from './acks1-data-loss.ts';
import clusterBasics from './cluster-basics.ts';
import consumerGroups from './consumer-groups.ts';
import controllerFailover from './controller-failover.ts';
import duplicateConsumption from './duplicate-consumption.ts';
import lagDetection from './lag-detection.ts';
import leaderFailover from './leader-failover.ts';
import ordering from './ordering.ts';
import partitionedLeader from './partitioned-leader.ts';
import transactions from './transactions.ts';

/**
 * The Kafka labs, in course order. Each runs in both modes (`--param mode=kraft|zookeeper`);
 * test/scenarios/kafka.test.ts runs every lab listed here in both.
 */
export const kafkaLabs: AnyLab[] = [
  clusterBasics,
  consumerGroups,
  ordering,
  leaderFailover,
  acksMinIsr,
  acks1DataLoss,
  lagDetection,
  duplicateConsumption,
  controllerFailover,
  partitionedLeader,
  transactions,
];
