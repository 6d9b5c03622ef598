import { type Check, check } from '../../src/checkers/check.ts';
import { type DeliveryFindings, delivery, deliveryChecks, idsOf, sample } from '../../src/checkers/delivery.ts';
import { completions, type Evidence, invokedBetween, type Op, observedSeries } from '../../src/engine/history.ts';
import type { Election } from '../../stacks/kafka/elections.ts';
import { type lagEvidence, lagText } from '../../stacks/kafka/lag.ts';
import { sameSet } from '../../stacks/kafka/partitions.ts';
import { MARKER, sinkKeys } from '../../stacks/kafka/sink.ts';
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

/**
 * A check that every one of `ops` (at least one) was refused before the append
 * (NOT_ENOUGH_REPLICAS), and `also` holds; the observed text starts with `seen` and gives
 * the tally and codes.
 */
export function refusedCheck(name: string, ops: Op[], expected: string, seen = '', also = true): Check {
  return check(
    name,
    also && ops.length > 0 && ops.every(refusedBeforeAppend),
    expected,
    `${seen}${tally(ops)}; errors ${errorCodes(ops)}`,
    { errors: ops.map((o) => ({ id: idsOf(o.value)[0], type: o.type, error: o.error })) },
  );
}

/** The check of a lab that judges the final read when it did not run: nothing can be said of what survived. */
export function noFinalRead(after: string): Check[] {
  return cannotTell('the final read ran', `a read of the whole topic ${after}`, 'no final read');
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

/** A check that every one of `ops` (at least one) was acknowledged; the observed text is their tally. */
export function allAcknowledged(name: string, ops: Op[], expected: string): Check {
  return check(name, allOk(ops), expected, tally(ops));
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

/**
 * An unclean election of `want`, outside the ISR (`leader` alone in it, as `isr` was seen);
 * `forced`: also that the partition went offline after the kill until the tool forced it.
 */
export function uncleanChecks(
  want: string,
  leader: string,
  seen: { newLeader: string | undefined; isr: string[] | undefined; election: Election | undefined },
  forced: boolean,
): Check[] {
  const { newLeader, isr, election: e } = seen;
  const checks = [
    check(
      `unclean election: ${want}, outside the ISR, became leader`,
      newLeader === want && sameSet(isr ?? [], [leader]),
      `leader ${want} (not in the ISR ${leader})`,
      `leader ${newLeader ?? 'none'}${e ? `, elected by ${e.electedBy}` : ''}`,
      { election: e },
    ),
  ];
  if (!forced) return checks;
  const how = e ? `${e.offlineSeen ? 'offline after the kill' : 'never seen offline'}; elected by ${e.electedBy}` : '';
  return [
    ...checks,
    check(
      'with unclean election off, the partition went offline until kafka-leader-election.sh forced it',
      !!e?.offlineSeen && e.electedBy === 'kafka-leader-election.sh',
      'no leader after the kill; elected by kafka-leader-election.sh --election-type unclean',
      how || 'no election observed',
      { outputs: e?.outputs },
    ),
  ];
}

/** "3 of 97 lost: cut-1, ...". */
export function lostText(f: DeliveryFindings): string {
  return `${f.lost.length} of ${f.acknowledged} lost${f.lost.length ? `: ${sample(f.lost, 6)}` : ''}`;
}

/** Every send `producer` had acknowledged (at least one) is missing from the final read. */
export function allLost(ops: Op[], producer: string, name: string, expected: string): Check {
  const f = delivery(ofProducer(ops, producer), { receive: 'read-all' });
  return check(name, f.acknowledged > 0 && f.lost.length === f.acknowledged, expected, lostText(f), { lost: f.lost });
}

/** The ISR seen at a settled point (`settledIsr`) is `want`, with how long it took after `since`. */
export function isrCheck(
  name: string,
  want: string[],
  isr: string[] | undefined,
  ms: number | undefined,
  since: string,
) {
  const took = ms !== undefined ? ` ${(ms / 1000).toFixed(1)} s after ${since}` : '';
  return check(name, sameSet(isr ?? [], want), `ISR ${want}`, `ISR ${isr?.join(',') ?? 'never observed'}${took}`);
}

/** What the probe writes of `askLeader` met before the leader answered: "after 3 probe write(s) in 812 ms (...): ". */
export function probesText(c: { probes: string[]; ms: number } | undefined): string {
  return c ? `after ${c.probes.length} probe write(s) in ${c.ms} ms (${c.probes.join('; ')}): ` : '';
}

/**
 * The idempotent sink's checks: every delivery of `payments` (the duplicates included) was
 * written by `writer` to the sink, and the sink, read back after the cleaner, holds each
 * acknowledged payment once (`compactedMs`: when the cleaner was seen done).
 */
export function sinkChecks(payments: Op[], ops: Op[], writer: string, compactedMs: number | undefined): Check[] {
  const sent = ackedIds(payments);
  const deliveries = completions(payments, 'receive').filter((o) => o.type === 'ok');
  const upserts = completions(ops, 'send').filter((o) => o.process === writer && o.type === 'ok');
  const upsertKeys = upserts.map((o) => String((o.value as { key?: string }).key));
  const stored = sinkKeys(ops).filter((key) => key !== MARKER);
  const distinct = new Set(stored);
  return [
    check(
      'every delivery, the duplicates included, was written to the sink',
      deliveries.length > sent.size && upserts.length - (upsertKeys.includes(MARKER) ? 1 : 0) === deliveries.length,
      `${deliveries.length} acknowledged upserts, one per delivery (more deliveries than the ${sent.size} payments)`,
      `${deliveries.length} deliveries of ${sent.size} payments; ${upserts.length} acknowledged writes to the sink ` +
        `(the marker included), ${upsertKeys.length - new Set(upsertKeys).size} of them a key written before`,
    ),
    check(
      'the sink, read back after the cleaner, holds each payment once',
      stored.length > 0 &&
        stored.length === sent.size &&
        distinct.size === stored.length &&
        [...sent].every((id) => distinct.has(id)),
      `${sent.size} records, one per payment`,
      `${stored.length} records for ${distinct.size} keys` +
        (compactedMs !== undefined
          ? `; compacted ${compactedMs} ms after the marker`
          : '; not compacted within the bound'),
      { stored: stored.length, keys: distinct.size },
    ),
  ];
}

/** Whether `process` completed an `f` successfully within History times (from, to]. */
export function okWithin(ops: Op[], process: string, f: string, from: number, to: number): boolean {
  return ops.some((o) => o.process === process && o.f === f && o.type === 'ok' && o.time > from && o.time <= to);
}

/** A lag run as `lagEvidence` reads it. */
type LagEvidence = ReturnType<typeof lagEvidence>;

/** The sampler raised its alert at the first sample at or above `threshold` (within one sample of it). */
export function alertRaised(l: LagEvidence, threshold: number, sampleMs: number, w: { start: number } | undefined) {
  const { alert, findings: f, samples } = l;
  return check(
    `lag crosses the alert threshold (${threshold}) and the lab raises an alert`,
    // The alert is observed right after the sample that crossed (same total, before the next sample).
    f.alertAt !== undefined &&
      alert !== undefined &&
      alert.value.total >= threshold &&
      alert.value.total === samples.find((x) => x.time === f.alertAt)?.value.total &&
      alert.time >= f.alertAt &&
      alert.time - f.alertAt < sampleMs,
    `an alert at the first sample >= ${threshold}`,
    alert
      ? `alert at +${(alert.time / 1000).toFixed(1)} s: ${alert.value.total} messages, ` +
          `${alert.value.seconds.toFixed(1)} s behind` +
          (w ? ` (${((alert.time - w.start) / 1000).toFixed(1)} s after the group left)` : '')
      : `no alert (peak ${f.peak})`,
  );
}

/**
 * Lag in time: while the group is away (`w`) the oldest uncommitted message ages with the
 * clock, within one sample (`sampleMs`), from the first sample after it left to the alert.
 */
export function agesWithClock(l: LagEvidence, sampleMs: number, w: { start: number } | undefined) {
  const { alert, first, peak, samples } = l;
  return check(
    `lag in time: while the group is away the oldest uncommitted message ages with the clock (within ${sampleMs} ms)`,
    // Not "as old as the absence": it was already as old as the committed position when the group left.
    !!peak &&
      peak.value.total > 0 &&
      alert !== undefined &&
      first !== undefined &&
      w !== undefined &&
      Math.abs((alert.value.seconds - first.value.seconds) * 1000 - (alert.time - first.time)) <= sampleMs &&
      alert.value.seconds * 1000 >= alert.time - w.start - sampleMs,
    `from the first sample after the group left to the alert, seconds behind grow as much as the clock, +-${sampleMs} ms; at the alert at least the time since it left`,
    // How old the committed position was when the group left: the age at the first sample after, less the time since.
    (alert && w && first
      ? `${first.value.seconds.toFixed(1)} -> ${alert.value.seconds.toFixed(1)} s behind over ` +
        `${((alert.time - first.time) / 1000).toFixed(1)} s; ${((alert.time - w.start) / 1000).toFixed(1)} s after the group left ` +
        `(its committed position was ${(first.value.seconds - (first.time - w.start) / 1000).toFixed(1)} s old when it left); `
      : 'no alert; ') +
      (peak
        ? `peak ${peak.value.total} messages (${lagText(peak.value)}), ${peak.value.seconds.toFixed(1)} s behind`
        : 'no peak'),
    { peak: peak?.value, samples: samples.length },
  );
}
