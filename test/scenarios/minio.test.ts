import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { labs } from '../../scenarios/index.ts';
import { runLab } from '../../src/engine/runner.ts';
import { leftovers } from '../helpers/docker.ts';

// Every MinIO lab with its defaults, plus the notes' topology with EC:6.
const runs = labs
  .filter((l) => l.id.startsWith('minio/'))
  .flatMap((lab) => {
    const base = { name: lab.id, lab, params: {} as Record<string, string> };
    return lab.id === 'minio/notes-topology'
      ? [base, { ...base, name: `${lab.id} (parity=6)`, params: { parity: '6' } }]
      : [base];
  });

describe.each(runs)('$name', ({ lab, params }) => {
  it('passes, keeps its evidence and leaves nothing behind', async () => {
    const suffix = Object.values(params).join('-');
    const r = await runLab(lab, {
      params,
      outDir: join('runs', 'test', lab.id.replace('/', '-') + (suffix ? `-${suffix}` : '')),
    });
    const failed = r.checks
      .filter((c) => c.ok !== true)
      .map((c) => `${c.name}: ${c.observed} (expected ${c.expected})`);
    expect(r.verdict, `${r.reason}\n${failed.join('\n')}`).toBe('pass');
    expect(existsSync(join(r.outDir, 'junit.xml'))).toBe(true);
    expect(await leftovers(lab.id)).toEqual({ containers: 0, networks: 0 });
  });
});
