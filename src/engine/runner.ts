import { join } from 'node:path';
import { type Check, safely, type Verdict, verdictOf } from '../checkers/check.ts';
import { describe, MidlabError, NotReadyError, UsageError } from '../errors.ts';
import { Nemesis } from '../faults/nemesis.ts';
import { type ParamValues, resolveParams } from '../params.ts';
import { labSlug } from '../runtime/labels.ts';
import { sleep, waitProgress, waitUntil } from '../runtime/poll.ts';
import { type StartedStack, startStack } from '../runtime/stack.ts';
import { EventStream, type Phase, type RunListener } from './events.ts';
import { History } from './history.ts';
import {
  type AnyLab,
  fillCommands,
  fillText,
  type GradedPrediction,
  type LabContext,
  type Prediction,
  type StepRun,
} from './lab.ts';
import { newSeed, Random } from './random.ts';
import type { ResultSink, RunResult, RunStory } from './result.ts';

export interface RunOptions {
  params?: Record<string, string | number | boolean>;
  seed?: number;
  /** Evidence folder; default runs/<time>-<lab>. */
  outDir?: string;
  listeners?: RunListener[];
  /** Called before each step runs, after it is narrated (step mode waits here). */
  beforeStep?: (info: { index: number; title: string; narration: string; commands: string[] }) => Promise<void>;
  /** Asks the trainee a prediction; resolves to the chosen index (undefined: skipped). */
  ask?: (p: Prediction) => Promise<number | undefined>;
  /** What keeps the result once the run is over (the evidence folder: `writeEvidence`). */
  sinks?: ResultSink[];
  /**
   * Polls the stack's node roles about once a second while the lab runs and emits a
   * `roles` event when they change (the live view's tiles). Off by default: it is load.
   */
  watchRoles?: boolean;
}

/**
 * The lab's parameters resolved; an unknown parameter or value, an impossible topology
 * or a seed for a lab that makes no random choice is a usage error (exit 2), refused
 * before anything starts.
 */
export function validateRun(
  lab: AnyLab,
  given: Record<string, string | number | boolean>,
  seed?: number,
): ParamValues<AnyLab['params']> {
  const params = resolveParams(lab.params, given, lab.id) as ParamValues<AnyLab['params']>;
  lab.stack.validate(resolveParams(lab.stack.params, lab.topology(params), lab.stack.name));
  if (seed !== undefined && !lab.random)
    throw new UsageError(
      `${lab.id} makes no random choice, so --seed would change nothing`,
      'leave --seed out; `midlab list` shows what each lab takes',
    );
  return params;
}

/**
 * Runs one lab through its phases: provision, health, mechanism, workload (with
 * faults), heal, converge, final, check, evidence, teardown. Teardown always runs; the
 * evidence folder is always written, pass or fail.
 */
export async function runLab(lab: AnyLab, opts: RunOptions = {}): Promise<RunResult> {
  const params = validateRun(lab, opts.params ?? {}, opts.seed);
  const events = new EventStream();
  for (const l of opts.listeners ?? []) events.on(l);
  // Every wait below (cluster readiness, a lab's waits) shows its progress while it lasts.
  return waitProgress.run(
    (p) => events.emit({ kind: 'progress', ...p }),
    () => runPhases(lab, opts, params, events),
  );
}

async function runPhases(
  lab: AnyLab,
  opts: RunOptions,
  params: ParamValues<AnyLab['params']>,
  events: EventStream,
): Promise<RunResult> {
  const seed = opts.seed ?? newSeed();
  const outDir = opts.outDir ?? join('runs', `${new Date().toISOString().replace(/[:.]/g, '-')}-${labSlug(lab.id)}`);
  const history = new History();
  history.onOp((op) => events.emit({ kind: 'op', op }));
  const story: RunStory = {
    nodes: [],
    lines: [],
    series: (lab.plots ?? []).map((p) => ({ label: p.label, observation: p.observation, points: [] })),
  };
  events.on((e) => {
    const time = history.now();
    if (e.kind === 'cluster') story.nodes = e.nodes;
    else if (e.kind === 'step')
      story.lines.push({
        kind: 'step',
        time,
        index: e.index,
        title: e.title,
        narration: e.narration,
        commands: e.commands,
      });
    else if (e.kind === 'say' || e.kind === 'warning') story.lines.push({ kind: e.kind, time, text: e.text });
    else if (e.kind === 'fault' || e.kind === 'heal') story.lines.push({ kind: e.kind, time, text: e.text });
    else if (e.kind === 'observe' && e.text) story.lines.push({ kind: 'observe', time, text: e.text });
    else if (e.kind === 'roles')
      story.lines.push({
        kind: 'observe',
        time,
        text: `roles: ${Object.entries(e.roles)
          .map(([n, r]) => `${n} ${r}`)
          .join(', ')}`,
      });
    else if (e.kind === 'point')
      story.series?.find((x) => x.label === e.label)?.points.push({ x: e.time / 1000, y: e.y });
  });
  const phases: Partial<Record<Phase, number>> = {};
  let phaseStart = Date.now();
  let current: Phase | undefined;
  const phase = (p: Phase, detail?: string) => {
    if (current) phases[current] = (phases[current] ?? 0) + (Date.now() - phaseStart) / 1000;
    current = p;
    phaseStart = Date.now();
    events.emit({ kind: 'phase', phase: p, detail });
  };
  const t0 = Date.now();
  const abort = new AbortController();
  let stack: StartedStack | undefined;
  let checks: Check[] = [];
  let verdict: Verdict = 'unknown';
  let reason = '';
  const chosen = new Map<Prediction, number | undefined>();
  events.emit({
    kind: 'start',
    lab: lab.id,
    title: lab.title,
    notes: lab.notes,
    params,
    seed: lab.random ? seed : undefined,
    outDir,
  });

  try {
    phase('provision', `${lab.stack.name} ${JSON.stringify(lab.topology(params))}`);
    stack = await startStack(lab.stack, lab.topology(params), {
      lab: lab.id,
      logDir: join(outDir, 'logs'),
      onWarning: (text) => events.emit({ kind: 'warning', text }),
    });
    events.emit({ kind: 'cluster', nodes: stack.cluster.nodes.map((n) => n.name) });
    phase('health');
    let stepIndex = 0;
    const keys = new Set<string>();
    const faults = new Nemesis(stack.cluster, history, events);
    const started = stack;
    const ctx: LabContext<StartedStack, typeof params> = {
      stack,
      params,
      history,
      faults,
      random: new Random(seed),
      signal: abort.signal,
      async step(key, fn, run = {}) {
        const index = ++stepIndex;
        const { title, narration, commands } = stepText(lab, params, key, run, started);
        keys.add(key);
        events.emit({ kind: 'step', index, title, narration, commands, key });
        for (const p of lab.predictions?.filter((x) => x.before === key) ?? []) {
          if (opts.ask) chosen.set(p, await opts.ask(p));
        }
        await opts.beforeStep?.({ index, title, narration, commands });
        return fn();
      },
      say: (text) => events.emit({ kind: 'say', text }),
      observe(name, value, text) {
        const o = history.observe(name, value);
        events.emit({ kind: 'observe', name, value, text, time: o.time });
        for (const pl of lab.plots ?? []) {
          const y = pl.observation === name ? pl.y(value) : undefined;
          if (y !== undefined) events.emit({ kind: 'point', label: pl.label, time: o.time, y });
        }
        return value;
      },
      warn: (text) => events.emit({ kind: 'warning', text }),
      async until(what, probe, o) {
        try {
          return await waitUntil(what, probe, { ...o, signal: abort.signal });
        } catch (err) {
          if (!(err instanceof NotReadyError)) throw err;
          events.emit({ kind: 'warning', text: `gave up waiting: ${err.message}` });
          return undefined;
        }
      },
    };
    if (opts.watchRoles && stack.liveRoles) void watchRoles(stack, abort.signal, history, events);
    phase('mechanism');
    const misconfigured = await lab.mechanism(ctx);
    if (misconfigured.length) {
      reason = `the mechanism this lab teaches is not in force: ${misconfigured.join('; ')}`;
    } else {
      phase('workload');
      await lab.run(ctx);
      phase('heal');
      await faults.healAll();
      phase('converge');
      await stack.waitHealthy();
      phase('final');
      await lab.final?.(ctx);
      phase('check');
      checks = safely('checks', 'the lab checks run', () => lab.check(history.evidence(), params));
      for (const c of checks) events.emit({ kind: 'check', check: c });
      for (const p of lab.predictions ?? [])
        if (!keys.has(p.before))
          events.emit({
            kind: 'warning',
            text: `no step has the key "${p.before}" that the prediction "${p.question}" names`,
          });
      ({ verdict, reason } = verdictOf(checks));
    }
  } catch (err) {
    verdict = 'unknown';
    const hint = err instanceof MidlabError && err.hint ? ` (${err.hint})` : '';
    reason = `the run could not complete: ${describe(err)}${hint}`;
    if (!(err instanceof Error && 'code' in err))
      events.emit({ kind: 'warning', text: (err as Error)?.stack ?? String(err) });
  } finally {
    abort.abort();
    if (stack) phase('teardown');
    await stack?.stop().catch((e: unknown) => events.emit({ kind: 'warning', text: `teardown: ${describe(e)}` }));
    phase('evidence');
    const result: RunResult = {
      lab: lab.id,
      title: lab.title,
      notes: lab.notes,
      params,
      seed,
      verdict,
      reason,
      checks,
      seconds: (Date.now() - t0) / 1000,
      phases,
      outDir,
      predictions: chosen.size ? grade(chosen, history) : undefined,
    };
    for (const sink of opts.sinks ?? []) {
      await sink(result, history, story).catch((e: unknown) =>
        events.emit({ kind: 'warning', text: `could not keep the results in ${outDir}: ${describe(e)}` }),
      );
    }
    events.emit({ kind: 'verdict', verdict, reason, seconds: result.seconds });
    // biome-ignore lint/correctness/noUnsafeFinally: the result is the point of the run
    return result;
  }
}

/** Emits the nodes' roles whenever they change, until the run ends. */
async function watchRoles(stack: StartedStack, signal: AbortSignal, history: History, events: EventStream) {
  let last = '';
  while (!signal.aborted) {
    const roles = await stack.liveRoles?.().catch(() => undefined);
    const key = JSON.stringify(roles);
    if (roles && key !== last && !signal.aborted) {
      last = key;
      events.emit({ kind: 'roles', roles, time: history.now() });
    }
    await sleep(1000, signal).catch(() => undefined);
  }
}

/** A declared step's title and narration, filled from the run's values and the parameters. */
function stepText(
  lab: AnyLab,
  params: ParamValues<AnyLab['params']>,
  key: string,
  run: StepRun,
  stack: StartedStack,
): { title: string; narration: string; commands: string[] } {
  const text = lab.steps?.[key];
  if (!text) throw new MidlabError('NO_SUCH_STEP', `${lab.id} declares no step "${key}"`, { exitCode: 3 });
  const vars = { ...params, ...run.vars };
  const narration = typeof text.narration === 'function' ? text.narration(params) : text.narration;
  const nodes = stack.cluster.nodes.map((n) => n.name);
  const container = (node: string) => (nodes.includes(node) ? stack.cluster.node(node).containerName : node);
  return {
    title: fillText(text.title, vars),
    narration: fillText(narration, vars),
    commands: fillCommands(text.commands, params, vars, nodes, container),
  };
}

/** Each asked prediction against what the evidence says happened. */
function grade(chosen: Map<Prediction, number | undefined>, history: History): GradedPrediction[] {
  return [...chosen].map(([p, pick]) => {
    let answer: number | undefined;
    try {
      answer = p.answer(history.evidence());
    } catch {
      answer = undefined;
    }
    return {
      question: p.question,
      chosen: pick === undefined ? undefined : p.choices[pick],
      correct: answer === undefined ? undefined : p.choices[answer],
      right: pick === undefined || answer === undefined ? undefined : pick === answer,
    };
  });
}
