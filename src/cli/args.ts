import { parseArgs } from 'node:util';
import { UsageError } from '../errors.ts';

/** A command: its name, one line for the overview, its full help, and what it does. */
export interface Command {
  name: string;
  summary: string;
  help: string;
  /** Arguments after this many belong to another program (`shell`'s command), not to midlab. */
  ownArgs?: number;
  run(args: string[]): Promise<number>;
}

/** parseArgs with midlab's conventions: unknown options are usage errors naming the valid ones. */
type Options = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>;

export function parse(
  command: string,
  args: string[],
  options: Options,
): { values: Record<string, unknown>; positionals: string[] } {
  try {
    const r = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: r.values as Record<string, unknown>, positionals: r.positionals };
  } catch (err) {
    const valid = Object.keys(options ?? {}).map((o) => `--${o}`);
    throw new UsageError(
      `${command}: ${(err as Error).message}`,
      `valid options: ${valid.join(', ')}; see \`midlab ${command} --help\``,
    );
  }
}
