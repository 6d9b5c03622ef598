import { describe, it } from 'vitest';
import { zookeeperLabs } from '../../scenarios/zookeeper/index.ts';
import { expectLabPasses, labCases } from '../helpers/lab.ts';

// Every lab of the stack, once per variant it declares (scenarios/zookeeper/index.ts: a lab
// registered there, and its `variants`, run here without editing this file).
describe.each(labCases(zookeeperLabs))('$name', ({ lab, params }) => {
  it('passes, keeps its evidence and leaves nothing behind', () => expectLabPasses(lab, params));
});
