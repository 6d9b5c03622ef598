import { stacks } from '../../stacks/index.ts';
import { UsageError } from '../errors.ts';
import { parseKeyValues, resolveParams } from '../params.ts';
import { startStack } from '../runtime/stack.ts';
import { type Command, parse } from './args.ts';

/**
 * Start-to-healthy time and memory of each stack over several runs: median, min, max.
 * Figures, not assertions: a noisy machine makes a timed test flaky, a benchmark honest.
 */
export const bench: Command = {
  name: 'bench',
  summary: 'measure time to a healthy cluster and its memory, per stack',
  help: `Usage: midlab bench [stack ...] [--param key=value ...] [--runs N] [--json]

For each stack (all by default) starts its cluster N times (default 3), and reports the
time from start to healthy and the memory of the running cluster (sum of its
containers): median, min and max. A stack with several shapes is measured in each
(Kafka 3.9 in KRaft and ZooKeeper mode, Kafka 4.4), unless --param picks one.`,
  async run(args) {
    const { values, positionals } = parse('bench', args, {
      runs: { type: 'string' },
      json: { type: 'boolean' },
      param: { type: 'string', multiple: true },
    });
    const runs = Number(values.runs ?? 3);
    if (!Number.isInteger(runs) || runs < 1) throw new UsageError('--runs must be a whole number >= 1');
    const given = parseKeyValues((values.param as string[] | undefined) ?? []);
    const chosen = positionals.length ? positionals.map((n) => stacks.find((s) => s.name === n) ?? unknown(n)) : stacks;
    const cases = chosen.flatMap((stack) =>
      (Object.keys(given).length ? [given] : (stack.benchmarks ?? [{}])).map((params) => ({ stack, params })),
    );
    // Bad parameters are refused before any cluster starts.
    for (const c of cases) resolveParams(c.stack.params, c.params, c.stack.name);
    const report: Record<string, { seconds: Stats; memoryMiB: Stats }> = {};
    for (const { stack, params } of cases) {
      const name = [stack.name, ...Object.entries(params).map(([k, v]) => `${k}=${v}`)].join(' ');
      const secs: number[] = [];
      const mem: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = Date.now();
        const s = await startStack(stack, params, { lab: `bench-${stack.name}` });
        try {
          secs.push((Date.now() - t0) / 1000);
          const bytes = await Promise.all(s.cluster.nodes.map((n) => n.memoryBytes()));
          mem.push(bytes.reduce((a, b) => a + b, 0) / 1024 ** 2);
        } finally {
          await s.stop();
        }
        if (!values.json)
          process.stderr.write(
            `  ${name} run ${i + 1}/${runs}: ${secs.at(-1)?.toFixed(1)} s, ${mem.at(-1)?.toFixed(0)} MiB\n`,
          );
      }
      report[name] = { seconds: stats(secs), memoryMiB: stats(mem) };
    }
    if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else {
      process.stdout.write(
        `${'stack'.padEnd(22)} healthy after (s) median [min-max]    memory (MiB) median [min-max]\n`,
      );
      for (const [name, r] of Object.entries(report)) {
        process.stdout.write(`${name.padEnd(22)} ${fmt(r.seconds, 1).padEnd(36)} ${fmt(r.memoryMiB, 0)}\n`);
      }
    }
    return 0;
  },
};

interface Stats {
  median: number;
  min: number;
  max: number;
  runs: number;
}

function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { median, min: s[0] as number, max: s[s.length - 1] as number, runs: s.length };
}

function fmt(s: Stats, digits: number): string {
  return `${s.median.toFixed(digits)} [${s.min.toFixed(digits)}-${s.max.toFixed(digits)}]`;
}

function unknown(name: string): never {
  throw new UsageError(`no stack named "${name}"`, `stacks: ${stacks.map((s) => s.name).join(', ')}`);
}
