import type { Command } from './args.ts';
import { bench } from './bench.ts';
import { compose } from './compose.ts';
import { doctor } from './doctor.ts';
import { images } from './images.ts';
import { down, ps, reapCommand, shell, up } from './lifecycle.ts';
import { list, run, show } from './run.ts';

export const commands: Command[] = [doctor, images, up, ps, down, reapCommand, shell, list, show, run, bench, compose];

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
