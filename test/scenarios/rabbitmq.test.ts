import { describe, it } from 'vitest';
import { rabbitmqLabs } from '../../scenarios/rabbitmq/index.ts';
import { expectLabPasses } from '../helpers/lab.ts';

describe.each(rabbitmqLabs)('$id', (lab) => {
  it('passes, keeps its evidence and leaves nothing behind', () => expectLabPasses(lab));
});
