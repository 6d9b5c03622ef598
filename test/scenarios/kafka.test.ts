import { describe, it } from 'vitest';
import { kafkaLabs } from '../../scenarios/kafka/index.ts';
import { expectLabPasses } from '../helpers/lab.ts';

/**
 * Every Kafka lab (scenarios/kafka/index.ts: add a lab there and it runs here), once per
 * mode: the same scenario file against a ZooKeeper-mode and a KRaft-mode cluster.
 */
const MODES = ['kraft', 'zookeeper'] as const;
/** Labs with variants also run once per variant (besides their defaults), in both modes. */
const VARIANTS: Record<string, Record<string, string>[]> = {
  'kafka/acks1-data-loss': [{ variant: 'acksall' }, { election: 'tool' }],
  'kafka/duplicate-consumption': [{ variant: 'manual' }, { variant: 'idempotent' }],
};
/** KRaft-only variants: controllers on nodes of their own. */
const KRAFT_VARIANTS: Record<string, Record<string, string>[]> = {
  'kafka/cluster-basics': [{ layout: 'isolated' }],
  'kafka/controller-failover': [{ layout: 'isolated' }],
};
const cases = kafkaLabs.flatMap((lab) =>
  MODES.flatMap((mode) =>
    [{}, ...(VARIANTS[lab.id] ?? []), ...(mode === 'kraft' ? (KRAFT_VARIANTS[lab.id] ?? []) : [])].map((extra) => ({
      name: [lab.id, `mode=${mode}`, ...Object.entries(extra).map(([k, v]) => `${k}=${v}`)].join(' '),
      mode,
      lab,
      extra,
    })),
  ),
);

describe.each(cases)('$name', ({ lab, mode, extra }) => {
  it('passes, keeps its evidence and leaves nothing behind', () => expectLabPasses(lab, { mode, ...extra }));
});
