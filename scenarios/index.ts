import type { AnyLab } from '../src/engine/lab.ts';
import { etcdLabs } from './etcd/index.ts';
import { kafkaLabs } from './kafka/index.ts';
import { minioLabs } from './minio/index.ts';
import { rabbitmqLabs } from './rabbitmq/index.ts';
import { redisLabs } from './redis/index.ts';
import { zookeeperLabs } from './zookeeper/index.ts';

/**
 * Every lab, in the order a course would take them. Each stack's folder lists its own
 * labs in its index.ts; a new lab is added there.
 */
export const labs: AnyLab[] = [
  ...zookeeperLabs,
  ...kafkaLabs,
  ...rabbitmqLabs,
  ...minioLabs,
  ...redisLabs,
  ...etcdLabs,
];
