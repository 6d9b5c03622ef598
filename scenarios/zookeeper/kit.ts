// What a ZooKeeper lab imports: the engine's lab kit, the stack, its workload, and the
// pieces the ZooKeeper labs share (commands to try, role proofs, evidence checks).
export * from '../../src/kit.ts';
export { ZkClient } from '../../stacks/zookeeper/client.ts';
export { type StartedZooKeeper, zookeeper } from '../../stacks/zookeeper/stack.ts';
export { finalRead, ZkWriter } from '../../stacks/zookeeper/workload.ts';
export { srvrCommand, zkCli } from './commands.ts';
export { unobserved, writesKept } from './evidence.ts';
export { proveRoles } from './roles.ts';
