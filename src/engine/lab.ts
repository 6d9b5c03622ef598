import type { Check } from '../checkers/check.ts';
import type { Nemesis } from '../faults/nemesis.ts';
import type { ParamTable, ParamValues } from '../params.ts';
import type { Probe } from '../runtime/poll.ts';
import type { Stack, StartedStack } from '../runtime/stack.ts';
import type { Evidence, History } from './history.ts';
import type { Random } from './random.ts';

/**
 * A lab, as one value: the stack it needs and with which parameters, what it does
 * (workload and faults, narrated step by step), and the checks that decide, from the
 * evidence alone, whether what happened is what the lab teaches.
 *
 * Scenarios live in `scenarios/<stack>/<lab>.ts` and export `defineLab({...})`.
 */
export interface LabDefinition<T extends ParamTable, H extends StartedStack> {
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
  mechanism: (lab: LabContext<H, ParamValues<T>>) => Promise<string[]>;
  /**
   * Workload and faults, as narrated steps. It observes and never decides: a wait that
   * times out (`lab.until`) records what it saw and the run goes on, so `check` can say
   * `fail`. Faults still open afterwards are healed.
   */
  run: (lab: LabContext<H, ParamValues<T>>) => Promise<void>;
  /** After healing and convergence: final reads, drains. */
  final?: (lab: LabContext<H, ParamValues<T>>) => Promise<void>;
  /** Pure: the evidence and parameters in, checks out. */
  check: (ev: Evidence, p: ParamValues<T>) => Check[];
  /** Questions step mode asks before a fault; graded against the evidence at the end. */
  predictions?: Prediction[];
  /** Observations the reports draw as a line over time (consumer lag, say). */
  plots?: Plot[];
}

export interface Prediction {
  /** Asked before the step that carries this key (`lab.step(..., { key })`). */
  before: string;
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

/** How a step is shown: the commands a trainee can try now; the key a prediction names. */
export interface StepOptions {
  commands?: string[];
  key?: string;
}

export interface GradedPrediction {
  question: string;
  chosen: string | undefined;
  correct: string | undefined;
  right: boolean | undefined;
}

export interface LabContext<H extends StartedStack, P> {
  readonly stack: H;
  readonly params: P;
  readonly history: History;
  readonly faults: Nemesis;
  readonly random: Random;
  readonly signal: AbortSignal;
  /**
   * A narrated step. `commands` (or `opts.commands`) are what a trainee can type against
   * the live nodes now; `opts.key` names the step for the predictions asked before it.
   */
  step<T>(title: string, narration: string, fn: () => Promise<T>, opts?: string[] | StepOptions): Promise<T>;
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

export type AnyLab = LabDefinition<ParamTable, StartedStack>;

export function defineLab<T extends ParamTable, H extends StartedStack>(lab: LabDefinition<T, H>): AnyLab {
  return lab as unknown as AnyLab;
}
