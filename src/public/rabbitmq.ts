// midlab/rabbitmq: the rabbitmq stack's definition, its started handle, client and recorded workload.
// Importing it loads this stack's client only.

export * from '../../stacks/rabbitmq/client.ts';
export * from '../../stacks/rabbitmq/stack.ts';
export * from '../../stacks/rabbitmq/workload.ts';
