import { parseArgs } from 'node:util';
import { UsageError } from '../errors.ts';
import { bench } from './bench.ts';
import { compose } from './compose.ts';
import { doctor } from './doctor.ts';
import { images } from './images.ts';
import { down, ps, reapCommand, shell, up } from './lifecycle.ts';
import { list, run } from './run.ts';

/** A command: its name, one line for the overview, its full help, and what it does. */
export interface Command {
  name: string;
  summary: string;
  help: string;
  /** Arguments after this many belong to another program (`shell`'s command), not to midlab. */
  ownArgs?: number;
  run(args: string[]): Promise<number>;
}

export const commands: Command[] = [doctor, images, up, ps, down, reapCommand, shell, list, run, bench, compose];

export function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'midlab: scripted labs on real middleware clusters (ZooKeeper, Kafka, RabbitMQ, MinIO, Redis) in Docker.',
    '',
    'Usage: midlab <command> [options]     (midlab <command> --help for its options)',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Exit codes: 0 pass/ok, 1 a lab failed, 2 bad usage, 3 unknown verdict or infrastructure problem.',
    'Everything midlab starts is labelled dev.midlab.lab and published on 127.0.0.1 only.',
    '',
  ].join('\n');
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
