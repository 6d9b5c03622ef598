import { describe, it } from 'vitest';
import { etcdLabs } from '../../scenarios/etcd/index.ts';
import { expectLabPasses, labCases } from '../helpers/lab.ts';

// Every lab of the stack, once per variant it declares (scenarios/etcd/index.ts: a lab
// registered there, and its `variants`, run here without editing this file).
describe.each(labCases(etcdLabs))('$name', ({ lab, params }) => {
  it('passes, keeps its evidence and leaves nothing behind', () => expectLabPasses(lab, params));
});
