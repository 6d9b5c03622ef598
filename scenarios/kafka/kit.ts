// What a Kafka lab imports: the engine's lab kit, the stack (admin, clients, partition
// views and waits, lag, recorded workload) and the pieces the Kafka labs share (modes,
// commands to try, steps and evidence readers).
export * from '../../src/kit.ts';
export * from '../../stacks/kafka/admin.ts';
export { describeQuorum, type QuorumStatus } from '../../stacks/kafka/admin-reads.ts';
export {
  type Acks,
  type AssignmentChange,
  type ConsumerOptions,
  classify,
  classifySendError,
  errorChain,
  KafkaGroupConsumer,
  KafkaProducer,
  kafkaErrorType,
  type MessageId,
  type ProducerOptions,
  type ReceivedMessage,
  type SendOptions,
  type SendResult,
} from '../../stacks/kafka/client.ts';
export {
  CONTROLLER_ID_BASE,
  INTERNAL_PORT,
  type KafkaMode,
  kafkaParams,
  replicationOf,
} from '../../stacks/kafka/config.ts';
export * from '../../stacks/kafka/cut.ts';
export * from '../../stacks/kafka/elections.ts';
export * from '../../stacks/kafka/groups.ts';
export * from '../../stacks/kafka/java-clients.ts';
export * from '../../stacks/kafka/java-producer.ts';
export * from '../../stacks/kafka/lag.ts';
export * from '../../stacks/kafka/leadership.ts';
export * from '../../stacks/kafka/migration.ts';
export * from '../../stacks/kafka/migration-steps.ts';
export * from '../../stacks/kafka/partitions.ts';
export * from '../../stacks/kafka/rebalance-checks.ts';
export * from '../../stacks/kafka/rebalances.ts';
export * from '../../stacks/kafka/sink.ts';
export * from '../../stacks/kafka/stack.ts';
export * from '../../stacks/kafka/transactions.ts';
export * from '../../stacks/kafka/workload.ts';
export * from './commands.ts';
export * from './evidence.ts';
export * from './shared.ts';
export * from './steps.ts';
