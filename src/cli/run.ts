import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { labs } from '../../scenarios/index.ts';
import { safely } from '../checkers/check.ts';
import { History } from '../engine/history.ts';
import { fillCommands, fillText, type GradedPrediction } from '../engine/lab.ts';
import { EXIT_CODES, type RunResult } from '../engine/result.ts';
import { validateRun } from '../engine/runner.ts';
import { UsageError } from '../errors.ts';
import { findLab, runLab } from '../index.ts';
import { describeParams, parseKeyValues, resolveParams } from '../params.ts';
import { consoleReporter, paint, useColor, wrap } from '../report/console.ts';
import { indexPage } from '../report/html.ts';
import { junitXml } from '../report/junit.ts';
import { type LiveView, startLiveView } from '../report/live.ts';
import { labSlug } from '../runtime/labels.ts';
import { type Command, parse } from './args.ts';
import { stepMode } from './step-mode.ts';

export const list: Command = {
  name: 'list',
  summary: 'list the labs, each with what it teaches',
  help: `Usage: midlab list [--json]

Lists every lab as <stack>/<lab> with one line of what it teaches and its parameters.`,
  async run(args) {
    const { values } = parse('list', args, { json: { type: 'boolean' } });
    if (values.json) {
      const out = labs.map((l) => ({ id: l.id, title: l.title, teaches: l.teaches, params: l.params }));
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    }
    const width = Math.max(...labs.map((l) => l.id.length));
    for (const l of labs) {
      process.stdout.write(`${l.id.padEnd(width)}  ${l.teaches}\n`);
      for (const p of describeParams(l.params)) process.stdout.write(`${''.padEnd(width)}    --param ${p}\n`);
    }
    return 0;
  },
};

export const show: Command = {
  name: 'show',
  summary: 'read a lab before running it: what it teaches, its notes, parameters and variants',
  help: `Usage: midlab show <lab> [--json]

Prints the lab sheet without touching Docker: the lesson, where the study notes teach it
and what they get wrong, the stack it starts, its parameters, the variants the tests run,
what --seed chooses, its steps and their narration (with the default parameters; {name}
marks what the run fills in), the commands each step offers to try against the live nodes
(containers named as a run names them), the checks that decide, and the questions step
mode asks before faults.`,
  async run(args) {
    const { values, positionals } = parse('show', args, { json: { type: 'boolean' } });
    if (positionals.length !== 1) throw new UsageError('show takes one lab', '`midlab list` shows them');
    const lab = findLab(positionals[0] as string);
    const defaults = validateRun(lab, {});
    const topology = resolveParams(lab.stack.params, lab.topology(defaults), lab.stack.name);
    const nodes = lab.stack.nodes(topology).map((n) => n.name);
    const sheet = {
      id: lab.id,
      title: lab.title,
      teaches: lab.teaches,
      notes: lab.notes,
      stack: lab.stack.name,
      params: describeParams(lab.params),
      variants: (lab.variants ?? [{}]).map((v) => JSON.stringify(v)),
      random: lab.random ?? 'nothing: this lab makes no random choice, so it takes no --seed',
      steps: Object.entries(lab.steps ?? {}).map(([key, t]) => ({
        key,
        title: fillText(t.title, defaults),
        narration: fillText(typeof t.narration === 'function' ? t.narration(defaults) : t.narration, defaults),
        commands: fillCommands(t.commands, defaults, defaults, nodes, (n) => `midlab-${labSlug(lab.id)}-${n}`),
      })),
      checks: safely('checks', 'the lab checks run', () => lab.check(new History().evidence(), defaults)).map(
        (c) => c.name,
      ),
      predictions: (lab.predictions ?? []).map((p) => ({ before: p.before, question: p.question, choices: p.choices })),
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(sheet, null, 2)}\n`);
      return 0;
    }
    const out: string[] = [`${sheet.id}: ${sheet.title}`, '', ...wrap(sheet.teaches, 92), ''];
    out.push('Notes:', ...wrap(sheet.notes, 90).map((l) => `  ${l}`), '');
    out.push(`Stack: ${sheet.stack}`, `--seed chooses: ${sheet.random}`);
    if (sheet.params.length) out.push('Parameters:', ...sheet.params.map((p) => `  --param ${p}`));
    out.push('Runs in the tests with:', ...sheet.variants.map((v) => `  ${v}`));
    for (const [i, st] of sheet.steps.entries())
      out.push(
        '',
        `Step ${i + 1} (${st.key}). ${st.title}`,
        ...wrap(st.narration, 90).map((l) => `  ${l}`),
        ...st.commands.map((c) => `  $ ${c}`),
      );
    if (sheet.checks.length) out.push('', 'Checks:', ...sheet.checks.map((c) => `  - ${c}`));
    for (const p of sheet.predictions)
      out.push('', `Step mode asks before step "${p.before}": ${p.question}`, ...p.choices.map((c) => `  - ${c}`));
    process.stdout.write(`${out.join('\n')}\n`);
    return 0;
  },
};

export const run: Command = {
  name: 'run',
  summary: 'run a lab (or --all) end to end and check its outcome',
  help: `Usage: midlab run <lab> [<lab> ...] [options]
       midlab run --all [options]

Starts the lab's cluster, runs its workload and faults step by step, heals, checks what
happened against what the lab teaches, and removes everything it started.

Options:
  --param key=value   a lab parameter (repeatable); \`midlab list\` shows each lab's
  --seed N            replay a run's random choices (the seed is printed)
  --json              no narration; one line of JSON per lab on stdout as each lab
                      ends (the same shape whatever the number of labs: lab, title,
                      params, seed, verdict, reason, checks, seconds, phases, outDir)
  --out DIR           evidence folder (default runs/<time>-<lab>); with several labs, one
                      sub-folder per lab and an index.html linking every lab's report
  --junit FILE        also write JUnit XML to FILE, rewritten after each lab (a run cut
                      short keeps the labs that finished)
  --ops               narrate every client operation (noisy)
  --live              serve a live view of the run on 127.0.0.1 (printed URL) for a
                      projector; it stays up until Enter (or 60 s) after the run
  --live-port N       the live view's port (default: a free one); implies --live
  --live-host ADDR    the address it listens on (default 127.0.0.1); any other is said
                      out loud, since then anyone who reaches it sees the run
  --step              stop before each step until Enter is pressed, show the commands
                      to try against the live nodes, and ask for predictions before
                      faults (graded at the end)

A --param must be one that some chosen lab declares; with several labs each lab takes
the parameters it declares. Everything is checked before any cluster starts.

Exit codes: 0 every lab passed, 1 a lab failed, 2 bad usage, 3 a verdict was unknown
(misconfigured, cluster never healthy, evidence incomplete), infrastructure failed, or
midlab itself broke (the error and the file holding its trace are printed).`,
  async run(args) {
    const { values, positionals } = parse('run', args, {
      param: { type: 'string', multiple: true },
      seed: { type: 'string' },
      json: { type: 'boolean' },
      out: { type: 'string' },
      junit: { type: 'string' },
      all: { type: 'boolean' },
      ops: { type: 'boolean' },
      step: { type: 'boolean' },
      live: { type: 'boolean' },
      'live-port': { type: 'string' },
      'live-host': { type: 'string' },
    });
    if (values.step && values.json) throw new UsageError('--step talks to a person; it cannot go with --json');
    if (values.all && positionals.length) throw new UsageError('give lab names or --all, not both');
    const chosen = values.all ? labs : positionals.map(findLab);
    if (!chosen.length) throw new UsageError('which lab?', 'name one (`midlab list` shows them) or use --all');
    const params = parseKeyValues((values.param as string[] | undefined) ?? []);
    const seed = values.seed === undefined ? undefined : Number(values.seed);
    if (seed !== undefined && !Number.isInteger(seed))
      throw new UsageError(`--seed must be a whole number, not "${String(values.seed)}"`);
    const unused = Object.keys(params).filter((k) => !chosen.some((l) => k in l.params));
    if (unused.length)
      throw new UsageError(
        `no chosen lab takes --param ${unused.join(', ')}`,
        '`midlab list` shows the parameters of each lab',
      );
    // Every lab's parameters and topology are checked before the first cluster starts.
    const own = (lab: (typeof chosen)[number]) =>
      Object.fromEntries(Object.entries(params).filter(([k]) => k in lab.params));
    for (const lab of chosen) validateRun(lab, own(lab), seed);
    const results: RunResult[] = [];
    const steps = values.step ? stepMode() : undefined;
    const livePort = values['live-port'] === undefined ? undefined : Number(values['live-port']);
    if (livePort !== undefined && !(Number.isInteger(livePort) && livePort >= 0 && livePort < 65536))
      throw new UsageError(`--live-port must be a port number, not "${String(values['live-port'])}"`);
    const liveHost = values['live-host'] === undefined ? undefined : String(values['live-host']);
    const live =
      values.live || livePort !== undefined || liveHost !== undefined
        ? await startLiveView({ port: livePort, host: liveHost }).catch((e: Error) => {
            throw new UsageError(`the live view cannot listen there: ${e.message}`, 'pick another --live-port');
          })
        : undefined;
    if (live) process.stderr.write(`live view: ${live.url}\n`);
    if (live && liveHost && !/^(127\.|::1$|localhost$)/.test(liveHost))
      process.stderr.write(
        `warning: the live view listens on ${liveHost}, not loopback: anyone who reaches that address sees this run\n`,
      );
    for (const lab of chosen) {
      const outDir = values.out
        ? chosen.length > 1
          ? join(String(values.out), lab.id.replace('/', '-'))
          : String(values.out)
        : undefined;
      const result = await runLab(lab, {
        params: own(lab),
        seed,
        outDir,
        listeners: [
          ...(values.json ? [] : [consoleReporter({ ops: Boolean(values.ops) })]),
          ...(live ? [live.listener] : []),
        ],
        ...steps,
        watchRoles: live !== undefined,
      });
      results.push(result);
      if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else printPredictions(result.predictions);
      if (values.junit) await writeFile(String(values.junit), junitXml(results));
    }
    steps?.close();
    if (live) await keepLiveViewOpen(live);
    if (results.length > 1) {
      const index = values.out ? join(String(values.out), 'index.html') : join('runs', `${stamp()}-index.html`);
      await mkdir(dirname(index), { recursive: true });
      await writeFile(
        index,
        indexPage(results, (r) => join(relative(dirname(index), r.outDir), 'report.html')),
      );
      if (!values.json) process.stdout.write(`\nreports: ${index}\n`);
    }
    if (!values.json && results.length > 1) {
      process.stdout.write('\nSummary:\n');
      for (const r of results)
        process.stdout.write(`  ${r.verdict.toUpperCase().padEnd(7)} ${r.lab} (${r.seconds.toFixed(0)} s)\n`);
    }
    // unknown (3) outranks fail (1), which outranks pass (0).
    return Math.max(...results.map((r) => EXIT_CODES[r.verdict]));
  },
};

function printPredictions(graded: GradedPrediction[] | undefined): void {
  if (!graded?.length) return;
  const c = paint(useColor());
  process.stdout.write('\nYour predictions:\n');
  for (const g of graded) {
    const mark = g.right === true ? c.green('✓') : g.right === false ? c.red('✗') : c.yellow('-');
    process.stdout.write(`  ${mark} ${g.question}\n`);
    process.stdout.write(
      `      you said: ${g.chosen ?? '(skipped)'}; what happened: ${g.correct ?? '(the evidence cannot tell)'}\n`,
    );
  }
}

/** The room still looks at the page after the verdict: wait for Enter, at most a minute. */
async function keepLiveViewOpen(live: LiveView): Promise<void> {
  if (process.stdin.isTTY) {
    process.stderr.write(`live view stays at ${live.url} until Enter (60 s at most)\n`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 60_000);
      process.stdin.once('data', () => {
        clearTimeout(t);
        resolve();
      });
    });
    process.stdin.pause();
  }
  await live.close();
}

function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}
