import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { composeFile, composeFiles, yaml } from '../../src/runtime/compose.ts';
import { stacks } from '../../stacks/index.ts';

describe('compose files', () => {
  it.each(stacks.flatMap((s) => composeFiles(s).map(([name, given]) => [name, s, given] as const)))(
    'compose/%s.yml matches the stack definition (run `npx midlab compose`)',
    async (name, stack, given) => {
      const onDisk = readFileSync(`compose/${name}.yml`, 'utf8');
      expect(onDisk).toBe(await composeFile(stack, given, name));
      expect(onDisk).not.toMatch(/0\.0\.0\.0/);
      expect(onDisk).toMatch(/"127\.0\.0\.1::\d+"/);
    },
  );
  it('writes multi-line strings as blocks and keeps scalars quoted', () => {
    expect(yaml({ a: 'x\ny\n', b: ['1', true], c: { d: 'e' } })).toBe(
      'a: |\n  x\n  y\nb:\n  - "1"\n  - true\nc:\n  d: "e"\n',
    );
  });
});
