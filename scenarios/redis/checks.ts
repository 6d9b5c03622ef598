// Pure checks the Redis labs share: ids of identified writes, the final read, window loss,
// the cut's replication view and what WAIT confirmed.
import { type Check, check } from '../../src/checkers/check.ts';
import { type DeliveryFindings, deliveryChecks, idsOf, sample } from '../../src/checkers/delivery.ts';
import { completions, type Evidence, type Op } from '../../src/engine/history.ts';
import { FAILOVER_TIMEOUT_MS } from '../../stacks/redis/config.ts';
import { describeKeys, type KeysView } from '../../stacks/redis/replication.ts';

/** The id an identified write carries. */
export function idOf(o: { value?: unknown }): string {
  return idsOf(o.value)[0] ?? '';
}

/**
 * Whether the final read lost all of `writes` (acknowledged writes of one window) or
 * none of them; `lost` holds the lost ids. Holds only for a window that has writes.
 */
export function windowLoss(name: string, writes: Op[], lost: Set<string>, want: 'all' | 'none'): Check {
  const gone = writes.filter((o) => lost.has(idOf(o)));
  return check(
    name,
    writes.length > 0 && gone.length === (want === 'all' ? writes.length : 0),
    `${want === 'all' ? 'every one' : 'none'} of > 0 acknowledged writes lost`,
    `${gone.length} of ${writes.length} lost${gone.length ? ` (${sample(gone.map(idOf))})` : ''}`,
  );
}

/** The ids every completed final read (`read-all`) returned. */
export function readIds(ev: Evidence): string[] {
  return completions(ev.ops, 'read-all')
    .filter((o) => o.type === 'ok')
    .flatMap((o) => idsOf(o.value));
}

/** Without a final read nothing says which writes survived: loss can be neither shown nor ruled out. */
export function finalReadMissing(ev: Evidence): Check | undefined {
  if (completions(ev.ops, 'read-all').some((o) => o.type === 'ok')) return undefined;
  return {
    name: 'the final read shows which writes survived',
    ok: 'unknown',
    expected: 'a read of every key after the failover',
    observed: 'no final read completed',
  };
}

/** Whether every replica in `cut` lacks exactly the `writes` made on the primary during the cut. Pure. */
export function cutNotReplicated(cut: KeysView | undefined, writes: number): Check {
  const views = Object.values(cut?.replicas ?? {});
  return check(
    'the replicas did not receive the writes made during the cut',
    cut !== undefined &&
      views.length > 0 &&
      views.every((v) => v.dbsize === cut.primaryDbsize - writes && v.offset < cut.primaryOffset),
    `each replica ${writes} keys behind the primary, its offset behind the primary's`,
    cut ? describeKeys(cut) : 'not observed',
  );
}

/** Writes before the cut, writes during it, and the replicas (as the cut's view counts them). */
export interface WriteCounts {
  before: number;
  cut: number;
  replicas: number;
}

/**
 * The checks of the writes made with WAIT (`writeId` with `confirm`: ok when a replica
 * acknowledged it, with the count, info when none did): the `before` writes before the cut
 * confirmed by all `replicas`, none of the confirmed lost, and every one of the `cut` writes
 * made during the cut unconfirmed. Ids: `before-..`, `cut-..`.
 */
export function waitChecks(ev: Evidence, findings: DeliveryFindings, { before, cut, replicas }: WriteCounts): Check[] {
  const writes = completions(ev.ops, 'write');
  const cutWrites = writes.filter((o) => idOf(o).startsWith('cut-'));
  const confirmed = writes.filter((o) => o.type === 'ok');
  const replicasOf = (o: { value?: unknown }) => (o.value as { replicas?: number }).replicas;
  const beforeConfirmed = confirmed.filter((o) => idOf(o).startsWith('before-'));
  const unconfirmed = cutWrites.filter((o) => o.type === 'info');
  const received = new Set(readIds(ev));
  const survived = unconfirmed.filter((o) => received.has(idOf(o))).length;
  const cutOk = cutWrites.filter((o) => o.type === 'ok').length;
  const by = [...new Set(beforeConfirmed.map(replicasOf))].join('/') || '-';
  return [
    check(
      'WAIT confirmed the writes made before the cut on every replica',
      beforeConfirmed.length === before && beforeConfirmed.every((o) => replicasOf(o) === replicas),
      `all ${before} writes before the cut acknowledged by all ${replicas || 2} replicas, so by whichever is promoted`,
      `${beforeConfirmed.length} confirmed, by ${by} replica(s); ${confirmed.length} confirmed in all: ${sample(confirmed.map(idOf))}`,
    ),
    // Here `ok` means confirmed by WAIT, by replicas one of which was promoted.
    ...deliveryChecks(findings, { loss: 'forbidden', duplicates: 'forbidden' }, 'writes').map((c) =>
      c.name === 'no acknowledged writes lost' ? { ...c, name: 'no write WAIT confirmed is lost' } : c,
    ),
    check(
      'writes WAIT did not confirm are reported as unconfirmed',
      cutWrites.length === cut && unconfirmed.length === cut,
      `all ${cut} writes in the cut recorded as unknown (info), none as ok`,
      `${unconfirmed.length} unconfirmed, ${cutOk} confirmed; of the unconfirmed, ${survived} survived`,
      { unconfirmed: unconfirmed.map(idOf), survived },
    ),
  ];
}

/**
 * The checks of writes acknowledged by the primary alone (acks): loss expected, no
 * duplicates, and exactly the `cut` writes made during the cut (`cut-..`) lost, the
 * `before` writes and the rest kept.
 */
export function cutLossChecks(ev: Evidence, findings: DeliveryFindings, { before, cut }: WriteCounts): Check[] {
  const cutIds = completions(ev.ops, 'write')
    .map(idOf)
    .filter((id) => id.startsWith('cut-'));
  const lost = new Set(findings.lost);
  const other = findings.lost.filter((id) => !id.startsWith('cut-')).length;
  return [
    ...deliveryChecks(findings, { loss: 'expected', duplicates: 'forbidden' }, 'writes'),
    check(
      'exactly the writes made during the cut are lost',
      cutIds.length === cut && cutIds.every((id) => lost.has(id)) && lost.size === cutIds.length,
      `the ${cut} writes of the cut lost; the ${before} before it and the one after the failover kept`,
      `${findings.lost.length - other} of ${cutIds.length} cut writes lost, ${other} other writes lost`,
      { lost: findings.lost },
    ),
  ];
}

/**
 * The failover bound, given the epochs the Sentinels voted in: `maxMs` for a vote that
 * elected a leader at once, plus 2 x failover-timeout for each split vote retried (a
 * Sentinel tries again 2 x failover-timeout after its last attempt, sentinel.conf).
 */
export function failoverBound(maxMs: number, epochs: number[] | undefined): { ms: number; splitVotes: number } {
  const splitVotes = Math.max(0, (epochs?.length ?? 1) - 1);
  return { ms: maxMs + splitVotes * 2 * FAILOVER_TIMEOUT_MS, splitVotes };
}
