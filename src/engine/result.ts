import type { Check, Verdict } from '../checkers/check.ts';
import type { Phase } from './events.ts';
import type { GradedPrediction } from './lab.ts';

/**
 * What a run produced, as the runner hands it to whoever listens (the evidence writer,
 * the CLI, a test). Nothing here imports a report: reports import this.
 */
export interface RunResult {
  lab: string;
  title: string;
  /** Where in the study notes the lesson is, and what the notes get wrong. */
  notes: string;
  params: Record<string, unknown>;
  seed: number;
  verdict: Verdict;
  reason: string;
  checks: Check[];
  seconds: number;
  phases: Partial<Record<Phase, number>>;
  outDir: string;
  predictions?: GradedPrediction[];
}

export const EXIT_CODES: Record<Verdict, 0 | 1 | 3> = { pass: 0, fail: 1, unknown: 3 };

/** The story a trainee was told, kept for the report: steps, narration, faults, findings. */
export interface RunStory {
  nodes: string[];
  lines: StoryLine[];
  /** The lab's plots, as drawn: a label and its points (seconds, value). */
  series?: Series[];
}

export interface Series {
  label: string;
  observation: string;
  points: { x: number; y: number }[];
}

export type StoryLine =
  | { kind: 'step'; time: number; index: number; title: string; narration: string; commands: string[] }
  | { kind: 'say' | 'observe' | 'fault' | 'heal' | 'warning'; time: number; text: string };

/** Once a run is over: the evidence folder, a JUnit file, anything that keeps results. */
export type ResultSink = (
  result: RunResult,
  evidence: import('./history.ts').History,
  story: RunStory,
) => Promise<void>;
