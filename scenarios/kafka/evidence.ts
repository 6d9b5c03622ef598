import { type Check, check } from '../../src/checkers/check.ts';
import { delivery, deliveryChecks, idsOf } from '../../src/checkers/delivery.ts';
import { completions, type Evidence, invokedBetween, type Op, observedSeries } from '../../src/engine/history.ts';
import { errorType } from './commands.ts';
import type { PhaseMark } from './steps.ts';

/** What the Kafka labs' checks share: one producer's story, tallies, and "cannot tell". */

/** One check that cannot decide: the evidence lacks what it needs. */
export function cannotTell(name: string, expected: string, observed: string): Check[] {
  return [{ name, ok: 'unknown', expected, observed }];
}

/** The completions of the sends made by History process `producer`. */
export function sendsOf(ops: Op[], producer: string): Op[] {
  return completions(ops, 'send').filter((o) => o.process === producer);
}

/**
 * One producer's sends, and the final read (`read-all`) cut down to that producer's ids,
 * so the delivery checker judges each producer on its own.
 */
export function ofProducer(ops: Op[], producer: string): Op[] {
  return ops.filter(
    (o) =>
      (o.f === 'send' && o.process === producer) ||
      (o.f === 'read-all' && o.type === 'ok' && (idsOf(o.value)[0] ?? '').startsWith(`${producer}-`)),
  );
}

/** The final read against the sends in `ops`: nothing acknowledged lost (or, `expected`, something lost). */
export function finalReadChecks(ops: Op[], label: string, loss: 'forbidden' | 'expected' = 'forbidden'): Check[] {
  return deliveryChecks(delivery(ops, { receive: 'read-all' }), { loss, duplicates: 'allowed' }, label);
}

/** A refusal before the append: the message is certainly not in the log. */
export function refusedBeforeAppend(o: Op): boolean {
  return o.type === 'fail' && errorType(o) === 'NOT_ENOUGH_REPLICAS';
}

/** "3 ok, 2 refused, 0 unknown of 5 (NOT_ENOUGH_REPLICAS)". */
export function tally(ops: Op[]): string {
  if (!ops.length) return 'none sent';
  const n = (t: string) => ops.filter((o) => o.type === t).length;
  const errors = errorTypes(ops);
  return `${n('ok')} ok, ${n('fail')} refused, ${n('info')} unknown of ${ops.length}${errors.length ? ` (${errors.join(', ')})` : ''}`;
}

/** Kafka's numeric codes of the errors the labs name (the protocol's ErrorCode table). */
const ERROR_CODES: Record<string, number> = { NOT_ENOUGH_REPLICAS: 19, NOT_ENOUGH_REPLICAS_AFTER_APPEND: 20 };

/** The distinct Kafka errors among failed operations with their codes: "NOT_ENOUGH_REPLICAS (19)", or "none". */
export function errorCodes(ops: Op[]): string {
  return (
    errorTypes(ops)
      .map((t) => `${t} (${ERROR_CODES[t] ?? '?'})`)
      .join(', ') || 'none'
  );
}

/** The distinct Kafka error names among failed operations, for a check's text. */
export function errorTypes(ops: Op[]): string[] {
  return [...new Set(ops.map(errorType).filter((t): t is string => !!t))];
}

/** A check that every operation in `ops` succeeded (and there was one). */
export function allOk(ops: Op[]): boolean {
  return ops.length > 0 && ops.every((o) => o.type === 'ok');
}

/** The mark of phase `name` (see `phase` in steps.ts). */
export function phaseMark(ev: Evidence, name: string): PhaseMark | undefined {
  return observedSeries<PhaseMark>(ev, 'phase').find((o) => o.value.phase === name)?.value;
}

/** Completions of one producer's sends invoked within a phase. */
export function phaseOps(ev: Evidence, name: string, producer: string): Op[] {
  const m = phaseMark(ev, name);
  return m ? invokedBetween(ev.ops, 'send', m.start, m.end).filter((o) => o.process === producer) : [];
}

/** The offsets `process` received (completions of `receive`, ok), sorted. */
export function offsetsOf(ops: Op[], process: string): number[] {
  return completions(ops, 'receive')
    .filter((o) => o.process === process && o.type === 'ok')
    .map((o) => Number((o.value as { offset: number }).offset))
    .sort((a, b) => a - b);
}

/** The distinct message ids received so far (every receiver). */
export function receivedIds(ops: Op[]): Set<string> {
  return new Set(
    completions(ops, 'receive')
      .filter((o) => o.type === 'ok')
      .map((o) => (o.value as { id: string }).id),
  );
}

/** Offsets in a few words: "none", "7", "20..39 (20)". */
export function offsetRange(xs: number[]): string {
  if (!xs.length) return 'none';
  return xs.length === 1 ? String(xs[0]) : `${xs[0]}..${xs.at(-1)} (${xs.length})`;
}

/** The ids of the acknowledged sends (completions of `send`, ok). */
export function ackedIds(ops: Op[]): Set<string> {
  return new Set(
    completions(ops, 'send')
      .filter((o) => o.type === 'ok')
      .map((o) => (o.value as { id: string }).id),
  );
}

/** The longest stretch of [from, to] without one of `ops` (undefined without both ends). */
export function longestGap(ops: { time: number }[], from?: number, to?: number): number | undefined {
  if (from === undefined || to === undefined) return undefined;
  const inside = ops.map((o) => o.time).filter((t) => t >= from && t <= to);
  const ts = [from, ...inside.sort((a, b) => a - b), to];
  return Math.max(...ts.slice(1).map((t, i) => t - (ts[i] as number)));
}

/** `what` kept going from the first phase to the end of the run: its longest gap `ms` is within `bound`. */
export function gapCheck(what: string, ms: number | undefined, bound: number, more = ''): Check {
  return check(
    `${what} throughout, no gap over ${bound} ms`,
    ms !== undefined && ms <= bound,
    `${what} at least every ${bound} ms from the first phase to the end of the run`,
    `longest gap ${ms ?? '?'} ms ${more}`.trim(),
  );
}
