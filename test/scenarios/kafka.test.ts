import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kafkaLabs } from '../../scenarios/kafka/index.ts';
import { runLab } from '../../src/engine/runner.ts';
import { leftovers } from '../helpers/docker.ts';

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
const cases = kafkaLabs.flatMap((lab) =>
  MODES.flatMap((mode) =>
    [{}, ...(VARIANTS[lab.id] ?? [])].map((extra: Record<string, string>) => ({
      name: [lab.id, `mode=${mode}`, ...Object.entries(extra).map(([k, v]) => `${k}=${v}`)].join(' '),
      mode,
      lab,
      extra,
    })),
  ),
);

describe.each(cases)('$name', ({ lab, mode, extra }) => {
  it('passes, keeps its evidence and leaves nothing behind', async () => {
    const suffix = Object.values(extra).join('-');
    const r = await runLab(lab, {
      params: { mode, ...extra },
      outDir: join('runs', 'test', `${lab.id.replace('/', '-')}-${mode}${suffix ? `-${suffix}` : ''}`),
    });
    const failed = r.checks
      .filter((c) => c.ok !== true)
      .map((c) => `${c.name}: ${c.observed} (expected ${c.expected})`);
    expect(r.verdict, `${r.reason}\n${failed.join('\n')}`).toBe('pass');
    expect(existsSync(join(r.outDir, 'junit.xml'))).toBe(true);
    expect(await leftovers(lab.id)).toEqual({ containers: 0, networks: 0 });
  });
});
