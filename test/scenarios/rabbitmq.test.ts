import { describe, it } from 'vitest';
import { rabbitmqLabs } from '../../scenarios/rabbitmq/index.ts';
import { expectLabPasses, labCases } from '../helpers/lab.ts';

// Every lab of the stack, once per variant it declares (scenarios/rabbitmq/index.ts: a lab
// registered there, and its `variants`, run here without editing this file).
describe.each(labCases(rabbitmqLabs))('$name', ({ lab, params }) => {
  it('passes, keeps its evidence and leaves nothing behind', () => expectLabPasses(lab, params));
});
