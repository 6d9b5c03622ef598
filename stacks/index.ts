import type { Stack } from '../src/runtime/stack.ts';
import { etcd } from './etcd/stack.ts';
import { kafka } from './kafka/stack.ts';
import { minio } from './minio/stack.ts';
import { rabbitmq } from './rabbitmq/stack.ts';
import { redis } from './redis/stack.ts';
import { zookeeper } from './zookeeper/stack.ts';

/** Every stack `midlab up` can start. A new stack is added here. */
export const stacks: Stack[] = [zookeeper, redis, rabbitmq, kafka, minio, etcd] as unknown as Stack[];
