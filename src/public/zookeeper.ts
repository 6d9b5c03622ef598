// midlab/zookeeper: the zookeeper stack's definition, its started handle, client and recorded workload.
// Importing it loads this stack's client only.

export * from '../../stacks/zookeeper/client.ts';
export * from '../../stacks/zookeeper/stack.ts';
export * from '../../stacks/zookeeper/workload.ts';
