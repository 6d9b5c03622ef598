import { describe, it } from 'vitest';
import { zookeeperLabs } from '../../scenarios/zookeeper/index.ts';
import { expectLabPasses } from '../helpers/lab.ts';

describe.each(zookeeperLabs)('$id', (lab) => {
  it('passes, keeps its evidence and leaves nothing behind', () => expectLabPasses(lab));
});
