/**
 * midlab's library API: start a stack from your own tests the way you would use
 * testcontainers (a definition in, a disposable started handle out), or run a lab and
 * read its verdict. This entry loads every lab (and so every client); `midlab/engine`
 * and `midlab/<stack>` (zookeeper, kafka, rabbitmq, minio, redis) load only what they name.
 *
 *   await using zk = await startStack(zookeeper, { nodes: 3 });
 *   const result = await runLab(findLab('zookeeper/quorum-loss'));
 */
export { labs } from '../scenarios/index.ts';
export { stacks } from '../stacks/index.ts';
export { ZkClient } from '../stacks/zookeeper/client.ts';
export { StartedZooKeeper, zookeeper } from '../stacks/zookeeper/stack.ts';
export * from './public/engine.ts';

import { labs } from '../scenarios/index.ts';
import type { AnyLab } from './engine/lab.ts';
import { UsageError } from './errors.ts';

/** A lab by its id (`<stack>/<lab>`), or a UsageError listing the ids. */
export function findLab(id: string): AnyLab {
  const lab = labs.find((l) => l.id === id);
  if (!lab) throw new UsageError(`no lab named "${id}"`, `labs: ${labs.map((l) => l.id).join(', ')}`);
  return lab;
}
