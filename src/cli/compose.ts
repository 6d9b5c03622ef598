import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stacks } from '../../stacks/index.ts';
import { composeFile, composeFiles } from '../runtime/compose.ts';
import { PACKAGE_ROOT } from '../runtime/package-root.ts';
import { type Command, parse } from './args.ts';

export const COMPOSE_DIR = `${join(PACKAGE_ROOT, 'compose')}/`;

export const compose: Command = {
  name: 'compose',
  summary: 'write compose/<stack>.yml from the stack definitions (or --check them)',
  help: `Usage: midlab compose [--check]

Writes one Compose file per stack into compose/, generated from stacks/ with default
parameters (and one per variant a stack names: compose/kafka-4.4.yml), for exploring a stack by hand with docker-compose. --check writes nothing
and exits 1 when a file is missing or differs from what the stacks say.`,
  async run(args) {
    const { values } = parse('compose', args, { check: { type: 'boolean' } });
    let drift = 0;
    for (const [stack, name, given] of stacks.flatMap((s) => composeFiles(s).map(([n, p]) => [s, n, p] as const))) {
      const file = `${COMPOSE_DIR}${name}.yml`;
      const want = await composeFile(stack, given, name);
      const have = await readFile(file, 'utf8').catch(() => undefined);
      if (have === want) continue;
      drift++;
      if (values.check)
        process.stderr.write(`compose/${name}.yml is ${have === undefined ? 'missing' : 'out of date'}\n`);
      else {
        await writeFile(file, want);
        process.stderr.write(`wrote compose/${name}.yml\n`);
      }
    }
    if (values.check && drift) process.stderr.write('hint: run `npx midlab compose` and commit the result\n');
    return values.check && drift ? 1 : 0;
  },
};
