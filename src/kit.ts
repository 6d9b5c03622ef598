// What a lab needs from the engine, in one import: the lab sheet, the history and its
// readers, the checkers, and the runtime's waits. A lab imports this and its stack's kit
// (`scenarios/<stack>/kit.ts`), nothing else.
export { availability, type Window } from './checkers/availability.ts';
export { type Check, check, unobserved } from './checkers/check.ts';
export { type DeliveryFindings, delivery, deliveryChecks, idsOf, sample, writesKept } from './checkers/delivery.ts';
export { failoverWithin } from './checkers/failover.ts';
export { type LagFindings, type LagSample, lag } from './checkers/lag.ts';
export { type LatencySummary, latency } from './checkers/latency.ts';
export { type OrderingFindings, ordering } from './checkers/ordering.ts';
export {
  answeredBetween,
  completions,
  type Evidence,
  errorText,
  type FaultRecord,
  type History,
  invokedBetween,
  type Op,
  type OpPair,
  observed,
  observedSeries,
  outcomes,
  pairs,
} from './engine/history.ts';
export {
  type AnyLab,
  defineLab,
  killTimed,
  type LabContext,
  type Plot,
  type Prediction,
  plot,
  untilAnswered,
} from './engine/lab.ts';
export { HOST } from './faults/nemesis.ts';
export { type Probe, sleep, waitUntil, withTimeout } from './runtime/poll.ts';
