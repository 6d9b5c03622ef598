// What a MinIO lab imports: the engine's lab kit, the stack (drives, erasure layout,
// recorded S3 workload) and the pieces the MinIO labs share (shared.ts: proof, commands,
// final read; series.ts: the kill series; checks.ts).
export * from '../../src/kit.ts';
export type { LateAnswer } from '../../stacks/minio/client.ts';
export { type Availability, availabilityWithNodesDown, readQuorum, writeQuorum } from '../../stacks/minio/config.ts';
export * from '../../stacks/minio/drives.ts';
export { minio, StartedMinio } from '../../stacks/minio/stack.ts';
export * from '../../stacks/minio/workload.ts';
export * from './checks.ts';
export * from './series.ts';
export * from './shared.ts';
