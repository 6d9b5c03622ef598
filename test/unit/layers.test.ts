import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

// The floors, enforced: the engine knows no middleware, stacks know no labs, only the
// composition root (the CLI and the package entry) sees everything, and no module
// imports itself round a loop.
const root = join(import.meta.dirname, '..', '..');
const files = ['src', 'stacks', 'scenarios'].flatMap((d) =>
  readdirSync(join(root, d), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(d, f)),
);
/** Value imports (type-only ones vanish at run time) between the project's own modules. */
const imports = new Map(
  files.map((f) => {
    const src = readFileSync(join(root, f), 'utf8');
    const deps = [...src.matchAll(/^(?:import|export)\s+(type\s+)?[^'"]*?from\s+'(\.[^']+)'/gm)]
      .filter((m) => !m[1])
      .map((m) => normalize(join(dirname(f), m[2] as string)));
    return [f, deps];
  }),
);
const composition = (f: string) => f.startsWith('src/cli/') || f.startsWith('src/public/') || f === 'src/index.ts';

describe('layers', () => {
  it('the engine imports no stack, lab or CLI', () => {
    const bad = [...imports].flatMap(([f, deps]) =>
      f.startsWith('src/') && !composition(f)
        ? deps.filter((d) => /^(stacks|scenarios)\//.test(d) || composition(d)).map((d) => `${f} -> ${d}`)
        : [],
    );
    expect(bad).toEqual([]);
  });

  it('stacks import no lab', () => {
    const bad = [...imports].flatMap(([f, deps]) =>
      f.startsWith('stacks/') ? deps.filter((d) => d.startsWith('scenarios/')).map((d) => `${f} -> ${d}`) : [],
    );
    expect(bad).toEqual([]);
  });

  it('has no import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...path.slice(path.indexOf(f)), f].map((x) => relative('.', x)).join(' -> '));
        return;
      }
      state.set(f, 'open');
      for (const d of imports.get(f) ?? []) if (imports.has(d)) visit(d, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of imports.keys()) visit(f, []);
    expect(cycles).toEqual([]);
  });
});
