// midlab/etcd: the etcd stack's definition, its started handle, client and recorded workload.
// Importing it loads this stack's client only.

export * from '../../stacks/etcd/client.ts';
export * from '../../stacks/etcd/stack.ts';
export * from '../../stacks/etcd/workload.ts';
