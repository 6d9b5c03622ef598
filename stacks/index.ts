import type { Stack } from '../src/runtime/stack.ts';
import { zookeeper } from './zookeeper/stack.ts';

/** Every stack `midlab up` can start. A new stack is added here. */
export const stacks: Stack[] = [zookeeper] as unknown as Stack[];
