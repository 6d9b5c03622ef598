// midlab/minio: the minio stack's definition, its started handle, client and recorded workload.
// Importing it loads this stack's client only.

export * from '../../stacks/minio/client.ts';
export * from '../../stacks/minio/stack.ts';
