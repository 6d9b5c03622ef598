/**
 * midlab's library API: start a stack from your own tests the way you would use
 * testcontainers (a definition in, a disposable started handle out), or run a lab and
 * read its verdict.
 *
 *   await using zk = await startStack(zookeeper, { nodes: 3 });
 *   const result = await runLab(findLab('zookeeper/quorum-loss'));
 */
export { labs } from '../scenarios/index.ts';
export { stacks } from '../stacks/index.ts';
export { ZkClient } from '../stacks/zookeeper/client.ts';
export { StartedZooKeeper, zookeeper } from '../stacks/zookeeper/stack.ts';
export type { Check, Verdict } from './checkers/check.ts';
export { delivery, deliveryChecks } from './checkers/delivery.ts';
export type { RunEvent } from './engine/events.ts';
export type { Evidence, Op } from './engine/history.ts';
export { defineLab, type LabContext, type LabDefinition } from './engine/lab.ts';
export { EXIT_CODES, type RunResult } from './engine/result.ts';
export type { RunOptions } from './engine/runner.ts';
export { MidlabError, UsageError } from './errors.ts';
export { consoleReporter } from './report/console.ts';
export { writeEvidence } from './report/evidence.ts';
export { reap } from './runtime/reaper.ts';
export { type Stack, type StartedStack, startStack } from './runtime/stack.ts';

import { labs } from '../scenarios/index.ts';
import type { AnyLab } from './engine/lab.ts';
import type { RunResult } from './engine/result.ts';
import { type RunOptions, runLab as runInEngine } from './engine/runner.ts';
import { UsageError } from './errors.ts';
import { writeEvidence } from './report/evidence.ts';

/** Runs a lab and keeps its evidence folder (unless `sinks` says otherwise). */
export function runLab(lab: AnyLab, opts: RunOptions = {}): Promise<RunResult> {
  return runInEngine(lab, { ...opts, sinks: opts.sinks ?? [writeEvidence] });
}

/** A lab by its id (`<stack>/<lab>`), or a UsageError listing the ids. */
export function findLab(id: string): AnyLab {
  const lab = labs.find((l) => l.id === id);
  if (!lab) throw new UsageError(`no lab named "${id}"`, `labs: ${labs.map((l) => l.id).join(', ')}`);
  return lab;
}
