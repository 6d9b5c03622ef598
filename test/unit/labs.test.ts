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

  it.each(labs.map((l) => [l.id, l] as const))('%s declares its steps, and each prediction names one', (_id, lab) => {
    expect(Object.keys(lab.steps ?? {}).length).toBeGreaterThan(0);
    for (const p of lab.predictions ?? []) expect(Object.keys(lab.steps ?? {})).toContain(p.before);
  });

  it('has no two labs with one id', () => {
    expect(new Set(labs.map((l) => l.id)).size).toBe(labs.length);
  });
});
