// Run as a process of its own by test/integration/kafka-client.test.ts: a group consumer
// whose cluster is removed under it, then stopped. The process must end by itself.
import { History } from '../../src/engine/history.ts';
import { startStack } from '../../src/runtime/stack.ts';
import { KafkaGroupConsumer } from '../../stacks/kafka/client.ts';
import { kafka } from '../../stacks/kafka/stack.ts';

const k = await startStack(kafka, { mode: 'kraft' }, { lab: 'test-consumer-vanished' });
await k.admin.createTopic('t', { partitions: 1, replicationFactor: 3 });
const consumer = new KafkaGroupConsumer(k.bootstrap, new History(), { name: 'c', groupId: 'g', topics: ['t'] });
await consumer.start();
await k.cluster.stop();
// Long enough for the client to lose its connections, and the consumer to try joining again.
await new Promise((resolve) => setTimeout(resolve, 3000));
await consumer.stop();
await k.admin.close();
process.stdout.write('stopped\n');
