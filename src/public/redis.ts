// midlab/redis: the redis stack's definition, its started handle, client and recorded workload.
// Importing it loads this stack's client only.

export * from '../../stacks/redis/client.ts';
export * from '../../stacks/redis/stack.ts';
