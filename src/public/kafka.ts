// midlab/kafka: the kafka stack's definition, its started handle, client and recorded workload.
// Importing it loads this stack's client only.

export * from '../../stacks/kafka/client.ts';
export * from '../../stacks/kafka/stack.ts';
export * from '../../stacks/kafka/workload.ts';
