import type { AnyLab } from './engine/lab.ts';
import type { RunResult } from './engine/result.ts';
import { type RunOptions, runLab as runInEngine } from './engine/runner.ts';
import { writeEvidence } from './report/evidence.ts';

/** Runs a lab and keeps its evidence folder (unless `sinks` says otherwise). */
export function runLab(lab: AnyLab, opts: RunOptions = {}): Promise<RunResult> {
  return runInEngine(lab, { ...opts, sinks: opts.sinks ?? [writeEvidence] });
}
