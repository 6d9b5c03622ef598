import { describe, it } from 'vitest';
import { redisLabs } from '../../scenarios/redis/index.ts';
import { expectLabPasses } from '../helpers/lab.ts';

// Every Redis lab with its defaults, the failover lab in both variants.
const runs = redisLabs.flatMap((lab) =>
  lab.id === 'redis/sentinel-failover'
    ? ['acks', 'wait'].map((variant) => ({ name: `${lab.id} (variant=${variant})`, lab, params: { variant } }))
    : [{ name: lab.id, lab, params: {} }],
);

describe.each(runs)('$name', ({ lab, params }) => {
  it('passes, keeps its evidence and leaves nothing behind', () => expectLabPasses(lab, params));
});
