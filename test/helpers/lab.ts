import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { AnyLab } from '../../src/engine/lab.ts';
import { runLab } from '../../src/index.ts';
import { leftovers } from './docker.ts';

/**
 * Runs a lab for real and asserts what every lab owes: a `pass` verdict (the message
 * lists the checks that did not hold), its evidence kept, and nothing left behind.
 */
export async function expectLabPasses(lab: AnyLab, params: Record<string, string> = {}): Promise<void> {
  const suffix = Object.values(params).join('-');
  const r = await runLab(lab, {
    params,
    outDir: join('runs', 'test', lab.id.replace('/', '-') + (suffix ? `-${suffix}` : '')),
  });
  const failed = r.checks.filter((c) => c.ok !== true).map((c) => `${c.name}: ${c.observed} (expected ${c.expected})`);
  expect(r.verdict, `${r.reason}\n${failed.join('\n')}`).toBe('pass');
  expect(existsSync(join(r.outDir, 'junit.xml'))).toBe(true);
  expect(await leftovers(lab.id)).toEqual({ containers: 0, networks: 0 });
}

/** One test case per variant a lab declares (`variants`, default: its defaults). */
export function labCases(labs: AnyLab[]): { name: string; lab: AnyLab; params: Record<string, string> }[] {
  return labs.flatMap((lab) =>
    (lab.variants ?? [{}]).map((v) => {
      const params = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
      return { name: [lab.id, ...Object.entries(params).map(([k, x]) => `${k}=${x}`)].join(' '), lab, params };
    }),
  );
}
