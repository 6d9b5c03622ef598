import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { labs } from '../../scenarios/index.ts';
import { runLab } from '../../src/engine/runner.ts';
import { leftovers } from '../helpers/docker.ts';

describe.each(labs.filter((l) => l.id.startsWith('rabbitmq/')))('$id', (lab) => {
  it('passes, keeps its evidence and leaves nothing behind', async () => {
    const r = await runLab(lab, { outDir: join('runs', 'test', lab.id.replace('/', '-')) });
    const failed = r.checks
      .filter((c) => c.ok !== true)
      .map((c) => `${c.name}: ${c.observed} (expected ${c.expected})`);
    expect(r.verdict, `${r.reason}\n${failed.join('\n')}`).toBe('pass');
    expect(existsSync(join(r.outDir, 'junit.xml'))).toBe(true);
    expect(await leftovers(lab.id)).toEqual({ containers: 0, networks: 0 });
  });
});
