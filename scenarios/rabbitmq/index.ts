import type { AnyLab } from '../../src/engine/lab.ts';
import clusterFormation from './cluster-formation.ts';
import confirms from './confirms.ts';
import homeNodeLoss from './home-node-loss.ts';
import mirroredQueueFailover from './mirrored-queue-failover.ts';
import partitionHandling from './partition-handling.ts';
import queueDurability from './queue-durability.ts';
import quorumQueueFailover from './quorum-queue-failover.ts';

/** The RabbitMQ labs, in course order (registered in scenarios/index.ts). */
export const rabbitmqLabs: AnyLab[] = [
  clusterFormation,
  queueDurability,
  homeNodeLoss,
  mirroredQueueFailover,
  confirms,
  quorumQueueFailover,
  partitionHandling,
];
