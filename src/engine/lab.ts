import type { Check } from '../checkers/check.ts';
import type { Nemesis } from '../faults/nemesis.ts';
import type { ParamTable, ParamValues } from '../params.ts';
import type { Probe } from '../runtime/poll.ts';
import type { Stack, StartedStack } from '../runtime/stack.ts';
import { answeredBetween, type Evidence, type History } from './history.ts';
import type { Random } from './random.ts';

/**
 * A lab, as one value: the stack it needs and with which parameters, what it does
 * (workload and faults, narrated step by step), and the checks that decide, from the
 * evidence alone, whether what happened is what the lab teaches.
 *
 * Scenarios live in `scenarios/<stack>/<lab>.ts` and export `defineLab({...})`.
 */
export interface LabDefinition<T extends ParamTable, H extends StartedStack, K extends string = string> {
  /** `<stack>/<lab>` */
  id: string;
  title: string;
  /** One line for `midlab list`. */
  teaches: string;
  /** Where in the study notes the lesson is, and what the notes get wrong if anything. */
  notes: string;
  params: T;
  stack: Stack<ParamTable, H>;
  /** The stack's parameters for this lab's parameters. */
  topology: (p: ParamValues<T>) => Record<string, string | number | boolean>;
  /**
   * What `--seed` chooses in this lab (which node is paused first, which values are
   * written). A lab without it makes no random choice, and `--seed` is refused for it.
   */
  random?: string;
  /**
   * Every parameter set the tests run this lab with (its variants, and for Kafka each
   * mode). Default: one run with the defaults. The scenario tests read this list.
   */
  variants?: Record<string, string | number | boolean>[];
  /**
   * Proves the mechanism being taught is really on before any fault. Return the reasons
   * it is not (an empty list when it is): the verdict is then `unknown`, not pass.
   * Every lab has one.
   */
  mechanism: (lab: LabContext<H, ParamValues<T>, K>) => Promise<string[]>;
  /**
   * Workload and faults, as narrated steps. It observes and never decides: a wait that
   * times out (`lab.until`) records what it saw and the run goes on, so `check` can say
   * `fail`. Faults still open afterwards are healed.
   */
  run: (lab: LabContext<H, ParamValues<T>, K>) => Promise<void>;
  /** After healing and convergence: final reads, drains. */
  final?: (lab: LabContext<H, ParamValues<T>, K>) => Promise<void>;
  /** Pure: the evidence and parameters in, checks out. */
  check: (ev: Evidence, p: ParamValues<T>) => Check[];
  /**
   * The steps, in the order the lab usually runs them: a key, a title, the narration and
   * the commands to try. `run` (and `mechanism`) perform them with `lab.step(key, fn,
   * { vars })`; `{name}` is filled from `vars` and the lab's parameters. `midlab show`
   * prints them without running anything.
   */
  steps?: Record<K, StepText<ParamValues<T>>>;
  /** Questions step mode asks before a fault; graded against the evidence at the end. */
  predictions?: Prediction<NoInfer<K>>[];
  /** Observations the reports draw as a line over time (consumer lag, say). */
  plots?: Plot[];
}

/** A step as the lab declares it; narration may depend on the parameters. */
export interface StepText<P> {
  title: string;
  narration: string | ((p: P) => string);
  /**
   * What a trainee can type against the live nodes at this step. `{name}` is filled like
   * the narration; `{@name}` is a node's container: the node a var names (`{@leader}`)
   * or, when no var has that name, the node itself (`{@zk1}`).
   */
  commands?: string[] | ((p: P) => string[]);
}

/** Fills `{name}` in a step's text from `vars`; a name not given stays as written. */
export function fillText(text: string, vars: Record<string, unknown>): string {
  return text.replace(/\{(\w+)\}/g, (all, name: string) => (name in vars ? String(vars[name]) : all));
}

/**
 * A step's commands filled: `{@name}` becomes `container(node)` for the node `vars.name`
 * names, or for the node `name` itself when it is one of `nodes`; otherwise
 * `container('{name}')`, a placeholder the run fills. Then `{name}` as in `fillText`.
 */
export function fillCommands(
  text: StepText<never>['commands'],
  p: unknown,
  vars: Record<string, unknown>,
  nodes: string[],
  container: (node: string) => string,
): string[] {
  const list = typeof text === 'function' ? (text as (p: unknown) => string[])(p) : (text ?? []);
  return list.map((c) =>
    fillText(
      c.replace(/\{@(\w+)\}/g, (_, name: string) =>
        container(name in vars ? String(vars[name]) : nodes.includes(name) ? name : `{${name}}`),
      ),
      vars,
    ),
  );
}

export interface Prediction<K extends string = string> {
  /** Asked before the step with this key. */
  before: K;
  question: string;
  choices: string[];
  /** The index of the right choice, read from the evidence (undefined: cannot tell). */
  answer: (ev: Evidence) => number | undefined;
}

/** A series the reports draw: each observation named `observation`, read as a number by `y`. */
export interface Plot {
  observation: string;
  /** The line's legend, with its unit: "consumer lag (messages)". */
  label: string;
  y: (value: unknown) => number | undefined;
}

/** A plot of the observations `observation`, read with `y` (typed as the lab observes them). */
export function plot<V>(observation: string, label: string, y: (value: V) => number | undefined): Plot {
  return {
    observation,
    label,
    y: (v) => {
      const n = y(v as V);
      return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
    },
  };
}

export interface GradedPrediction {
  question: string;
  chosen: string | undefined;
  correct: string | undefined;
  right: boolean | undefined;
}

/** How a declared step is performed: values for its `{name}` placeholders (in its text and commands). */
export interface StepRun {
  vars?: Record<string, string | number | boolean>;
}

export interface LabContext<H extends StartedStack, P, K extends string = string> {
  readonly stack: H;
  readonly params: P;
  readonly history: History;
  readonly faults: Nemesis;
  readonly random: Random;
  readonly signal: AbortSignal;
  /**
   * A declared step (see `steps`): narrated with its title, text and commands (what a
   * trainee can type against the live nodes now), then performed.
   */
  step<T>(key: K, fn: () => Promise<T>, run?: StepRun): Promise<T>;
  say(text: string): void;
  /** Records a fact for the checks, and tells the trainee when `text` is given. */
  observe<V>(name: string, value: V, text?: string): V;
  /**
   * Polls `probe` until done and returns its value, or `undefined` when `timeoutMs`
   * passes: then it tells the trainee what it waited for and last saw, and the run goes
   * on. Labs wait with this, never with a wait that throws, so a lesson that does not
   * hold ends in `fail`, not `unknown`.
   */
  until<V>(
    what: string,
    probe: () => Promise<Probe<V>>,
    opts: { timeoutMs: number; intervalMs?: number },
  ): Promise<V | undefined>;
  warn(text: string): void;
}

/**
 * Waits (giving up without throwing) until `count` operations `f` invoked from `from` on
 * were answered and `holdMs` has passed: a fault held long enough to be seen. How many were.
 */
export function untilAnswered(
  lab: Pick<LabContext<StartedStack, unknown>, 'history' | 'until'>,
  what: string,
  f: string,
  from: number,
  { count, holdMs, ...opts }: { count: number; holdMs: number; timeoutMs: number; intervalMs?: number },
): Promise<number | undefined> {
  const holdUntil = Date.now() + holdMs;
  return lab.until(
    what,
    async () => {
      const n = answeredBetween(lab.history.ops, f, from).length;
      return n >= count && Date.now() >= holdUntil ? { done: true, value: n } : { done: false, seen: `${n} answered` };
    },
    opts,
  );
}

/**
 * Kills `node` and at once awaits `then` (what the death sets off). Records `killedAt`
 * (history ms) from when the process died by the engine's record, not from when the kill
 * call returned: under load that call alone can outlast an election. `then`'s value, when
 * it resolved and when the process died (both Date.now() ms).
 */
export async function killTimed<T>(
  lab: Pick<LabContext<StartedStack, unknown>, 'stack' | 'faults' | 'history' | 'observe'>,
  node: string,
  then: () => Promise<T>,
): Promise<{ value: T; seenAt: number; died: number }> {
  const requested = Date.now();
  await lab.faults.kill(node);
  const value = await then();
  const seenAt = Date.now();
  const died = Math.max((await lab.stack.cluster.node(node).diedAt()) ?? requested, requested);
  lab.observe('killedAt', lab.history.now() - (Date.now() - died));
  return { value, seenAt, died };
}

export type AnyLab = LabDefinition<ParamTable, StartedStack>;

/** The lab, taking the stack's `labParams` too (its own declaration of one wins). */
export function defineLab<const T extends ParamTable, H extends StartedStack, K extends string = string>(
  lab: LabDefinition<T, H, K>,
): AnyLab {
  const shared = (lab.stack.labParams ?? []).filter((k) => !(k in lab.params));
  if (!shared.length) return lab as unknown as AnyLab;
  const { params, topology } = lab as unknown as AnyLab;
  return {
    ...(lab as unknown as AnyLab),
    params: { ...Object.fromEntries(shared.map((k) => [k, lab.stack.params[k]])), ...params } as ParamTable,
    topology: (p) => ({ ...Object.fromEntries(shared.map((k) => [k, p[k] as string])), ...topology(p) }),
  };
}
