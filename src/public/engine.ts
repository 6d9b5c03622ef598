// midlab/engine: the parts that know no middleware, for a user's own tests and labs:
// starting any stack, the history, the nemesis, the checkers, the lab runner, the reports.
export { availability } from '../checkers/availability.ts';
export { type Check, check, type Expectation, safely, type Verdict, verdictOf } from '../checkers/check.ts';
export { type DeliveryFindings, delivery, deliveryChecks } from '../checkers/delivery.ts';
export { lag } from '../checkers/lag.ts';
export { latency } from '../checkers/latency.ts';
export { ordering } from '../checkers/ordering.ts';
export type { RunEvent } from '../engine/events.ts';
export * from '../engine/history.ts';
export { type AnyLab, defineLab, type LabContext, type LabDefinition } from '../engine/lab.ts';
export { EXIT_CODES, type ResultSink, type RunResult, type RunStory } from '../engine/result.ts';
export { type RunOptions, validateRun } from '../engine/runner.ts';
export { MidlabError, UsageError } from '../errors.ts';
export { Nemesis } from '../faults/nemesis.ts';
export { consoleReporter } from '../report/console.ts';
export { writeEvidence } from '../report/evidence.ts';
export { htmlReport } from '../report/html.ts';
export { junitXml } from '../report/junit.ts';
export { runLab } from '../run-lab.ts';
export { adoptCluster } from '../runtime/adopt.ts';
export { reap } from '../runtime/reaper.ts';
export { type Stack, type StartedStack, type StartOptions, startStack } from '../runtime/stack.ts';
