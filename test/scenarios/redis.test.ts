import { describe, it } from 'vitest';
import { redisLabs } from '../../scenarios/redis/index.ts';
import { expectLabPasses, labCases } from '../helpers/lab.ts';

// Every lab of the stack, once per variant it declares (scenarios/redis/index.ts: a lab
// registered there, and its `variants`, run here without editing this file).
describe.each(labCases(redisLabs))('$name', ({ lab, params }) => {
  it('passes, keeps its evidence and leaves nothing behind', () => expectLabPasses(lab, params));
});
