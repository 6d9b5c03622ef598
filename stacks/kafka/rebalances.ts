/**
 * What a group's membership changes did to each Java consumer, read from its events
 * (java-clients.ts): which partitions it gave up, how long it held none, the longest gap
 * between its consumed batches, and what an eviction left behind. Times are the
 * consumers' own clocks (ms since the epoch; the containers share the host's clock).
 */
import { type ConsumerEvent, holdings, LOG, ownedAt } from './java-clients.ts';

/** The lab's three ways to rebalance: classic eager, classic cooperative, KIP-848. */
export const REBALANCE_PROTOCOLS = ['eager', 'cooperative', 'consumer'] as const;
export type RebalanceProtocol = (typeof REBALANCE_PROTOCOLS)[number];

/** One membership change: from the action (`start`) until the group was balanced again (`end`). */
export interface Change {
  kind: 'join' | 'leave' | 'evict';
  start: number;
  end?: number;
  /** The consumers present before and after, whose pauses are measured. */
  members: string[];
}

export interface ChangeMeasure {
  consumer: string;
  before: number[];
  after: number[];
  revoked: number[];
  kept: number[];
  heldNothingMs: number;
  gapMs: number;
}

export function measureChange(events: ConsumerEvent[], ch: Change): ChangeMeasure[] {
  const end = ch.end ?? Math.max(ch.start, ...events.map((e) => e.timestamp));
  const inWindow = (t: number) => t > ch.start && t <= end;
  return ch.members.map((consumer) => {
    const before = ownedAt(events, ch.start).get(consumer) ?? [];
    const after = ownedAt(events, end).get(consumer) ?? [];
    const mine = events.filter((e) => e.consumer === consumer);
    const revoked = [
      ...new Set(
        mine
          .filter((e) => e.name === 'partitions_revoked' && inWindow(e.timestamp))
          .flatMap((e) => (e.partitions ?? []).map((p) => p.partition)),
      ),
    ].sort((a, b) => a - b);
    let since = before.length ? undefined : ch.start;
    let heldNothingMs = 0;
    for (const h of holdings(mine).filter((x) => inWindow(x.timestamp))) {
      if (!h.owned.length && since === undefined) since = h.timestamp;
      if (h.owned.length && since !== undefined) {
        heldNothingMs += h.timestamp - since;
        since = undefined;
      }
    }
    if (since !== undefined) heldNothingMs += end - since;
    const consumed = mine.filter((e) => e.name === 'records_consumed' && (e.count ?? 0) > 0).map((e) => e.timestamp);
    const times = [
      Math.max(ch.start - 1, ...consumed.filter((t) => t <= ch.start)),
      ...consumed.filter(inWindow),
      Math.min(end, ...consumed.filter((t) => t > end)),
    ];
    const gapMs = Math.max(0, ...times.slice(1).map((t, i) => t - (times[i] ?? t)));
    const kept = before.filter((x) => after.includes(x) && !revoked.includes(x));
    return { consumer, before, after, revoked, kept, heldNothingMs, gapMs };
  });
}

export interface Eviction {
  /** The victim's partitions when its loop stalled. */
  lost: number[];
  /** From the victim's last output before the stall to its first after. */
  stalledMs?: number;
  /** From the victim's last output before the stall to the heir's assignment of one of its partitions. */
  evictedAfterMs?: number;
  pollTimeoutLogged: boolean;
  /** Records the victim consumed that the heir consumed too. */
  duplicates: number;
  /** Records of its lost partitions the victim consumed past its last accepted commit. */
  uncommitted: number;
  commitFailed: boolean;
  commitError?: string;
}

/** What the stall of `victim` (its loop blocked from `at`, going on at `resumedAt`) did. */
export function evictionOf(
  events: ConsumerEvent[],
  observations: { name: string; value: unknown }[],
  stall: { at: number; resumedAt: number },
  victim: string,
  heir: string,
): Eviction {
  const mine = events.filter((e) => e.consumer === victim);
  const lost = ownedAt(mine, stall.at).get(victim) ?? [];
  const before = mine.filter((e) => e.timestamp < stall.resumedAt).map((e) => e.timestamp);
  const last = before.length ? Math.max(...before) : undefined;
  const first = mine.find((e) => e.timestamp >= stall.resumedAt)?.timestamp;
  const takeover = events.find(
    (e) =>
      e.consumer === heir &&
      e.name === 'partitions_assigned' &&
      last !== undefined &&
      e.timestamp > last &&
      (e.partitions ?? []).some((p) => lost.includes(p.partition)),
  )?.timestamp;
  const ranges = events
    .filter((e) => e.consumer === heir && e.name === 'records_consumed')
    .flatMap((e) => e.partitions ?? []);
  const committed = new Map<number, number>();
  for (const e of mine)
    if (e.name === 'offsets_committed' && e.success !== false && e.timestamp < stall.resumedAt)
      for (const o of e.offsets ?? []) committed.set(o.partition, o.offset);
  const refused = mine.find(
    (e) => e.name === 'offsets_committed' && e.success === false && e.timestamp >= stall.resumedAt,
  );
  // The records of its lost partitions it consumed past its last accepted commit, up to the
  // refused one (the batch it was printing when it blocked ends after the resume).
  const cutoff = refused?.timestamp ?? stall.resumedAt;
  const inFlight = mine.filter(
    (e) =>
      e.name === 'record_data' &&
      e.timestamp <= cutoff &&
      lost.includes(e.partition ?? -1) &&
      (e.offset ?? -1) >= (committed.get(e.partition ?? -1) ?? 0),
  );
  const duplicates = inFlight.filter((e) =>
    ranges.some(
      (r) =>
        r.partition === e.partition &&
        (r.minOffset ?? 0) <= (e.offset ?? -1) &&
        (e.offset ?? -1) <= (r.maxOffset ?? -1),
    ),
  ).length;
  const logged = observations
    .filter((o) => o.name === LOG)
    .map((o) => o.value as { consumer: string; line: string })
    .some((l) => l.consumer === victim && /poll timeout has expired/.test(l.line));
  return {
    lost,
    stalledMs: last !== undefined && first !== undefined ? first - last : undefined,
    evictedAfterMs: takeover !== undefined && last !== undefined ? takeover - last : undefined,
    pollTimeoutLogged: logged,
    duplicates,
    uncommitted: inFlight.length,
    commitFailed: refused !== undefined,
    commitError: refused?.error,
  };
}
