import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { labs } from '../../scenarios/index.ts';
import { resolveParams } from '../../src/params.ts';

// What every lab owes, checked across the catalogue: its own unit tests (named by its id,
// so `vitest run --project unit -t <id>` runs exactly them), a mechanism proof, and
// variants that are valid parameter sets.
const unitSources = readdirSync(join(import.meta.dirname))
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => readFileSync(join(import.meta.dirname, f), 'utf8'))
  .join('\n');

describe('the lab catalogue', () => {
  it.each(labs.map((l) => [l.id, l] as const))('%s has unit tests named by its id', (id) => {
    expect(unitSources).toContain(`describe('${id}'`);
  });

  it.each(labs.map((l) => [l.id, l] as const))('%s declares a mechanism proof and valid variants', (_id, lab) => {
    expect(typeof lab.mechanism).toBe('function');
    for (const v of lab.variants ?? [{}]) expect(() => resolveParams(lab.params, v, lab.id)).not.toThrow();
  });

  // A prediction names the step it is asked before by that step's key; a key no step of
  // the stack's scenarios carries would never be asked.
  it.each(labs.map((l) => [l.id, l] as const))('%s asks each prediction before a step that has its key', (id, lab) => {
    const dir = join(import.meta.dirname, '../../scenarios', id.split('/')[0] as string);
    const source = readdirSync(dir)
      .map((f) => readFileSync(join(dir, f), 'utf8'))
      .join('\n');
    for (const p of lab.predictions ?? []) {
      const templated = p.before.replace(/-\d+$/, '-${');
      const declared = lab.steps !== undefined && p.before in lab.steps;
      expect(
        declared || source.includes(`key: '${p.before}'`) || source.includes(`key: \`${templated}`),
        p.before,
      ).toBe(true);
    }
  });

  it('has no two labs with one id', () => {
    expect(new Set(labs.map((l) => l.id)).size).toBe(labs.length);
  });
});
