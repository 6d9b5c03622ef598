/**
 * The checks of kafka/rebalance-protocols, pure functions of the Java consumers' events
 * (rebalances.ts): what each membership change revoked and how long each member held no
 * partition; what the eviction of a stalled member left behind.
 */
import { type Check, check } from '../../src/checkers/check.ts';
import type { ConsumerEvent } from './java-clients.ts';
import { type Change, type Eviction, measureChange, type RebalanceProtocol } from './rebalances.ts';
/** The assignment strategy kafka-consumer-groups.sh --state reports for each protocol. */
export const STRATEGY: Record<RebalanceProtocol, string> = {
  eager: 'range',
  cooperative: 'cooperative-sticky',
  consumer: 'uniform',
};

/** What each membership change did to the members present before and after it. */
export function rebalanceChecks(
  p: { protocol: RebalanceProtocol; settleSec: number },
  strategy: string | undefined,
  changes: Change[],
  events: ConsumerEvent[],
): Check[] {
  if (strategy !== STRATEGY[p.protocol])
    return [
      {
        name: 'the group runs the protocol asked for',
        ok: 'unknown',
        expected: STRATEGY[p.protocol],
        observed: strategy ?? 'not read',
      },
    ];
  const measures = changes.map((ch) => ({ ch, ms: measureChange(events, ch) }));
  const text = (f: (m: ReturnType<typeof measureChange>[number]) => string) =>
    measures.map(({ ch, ms }) => `${ch.kind}: ${ms.map((m) => `${m.consumer} ${f(m)}`).join(', ')}`).join('; ');
  const all = measures.flatMap(({ ms }) => ms.filter((m) => m.before.length > 0));
  const settled = check(
    `each change (c3 joins, c3 leaves, c2 evicted) settles within ${p.settleSec} s`,
    changes.length === 3 && changes.every((c) => c.end !== undefined),
    '3 changes, each ending balanced',
    changes.map((c) => `${c.kind} ${c.end === undefined ? 'never settled' : `${c.end - c.start} ms`}`).join(', ') ||
      'none',
  );
  const pauses = text((m) => `held nothing ${m.heldNothingMs} ms, gap ${m.gapMs} ms`);
  if (p.protocol === 'eager')
    return [
      settled,
      check(
        'eager: on every change each member gives up all its partitions and holds none for a while',
        all.length > 0 && all.every((m) => m.before.every((x) => m.revoked.includes(x)) && m.heldNothingMs > 0),
        'revoked = everything held before; held nothing > 0 ms',
        `${text((m) => `revoked [${m.revoked}] of [${m.before}]`)}; ${pauses}`,
      ),
    ];
  return [
    settled,
    check(
      `${p.protocol}: only the partitions that move are revoked`,
      all.length > 0 && all.every((m) => m.revoked.every((x) => !m.after.includes(x))),
      'no member gives up a partition it gets back',
      text((m) => `revoked [${m.revoked}], kept [${m.kept}] of [${m.before}]`),
    ),
    check(
      `${p.protocol}: the members keeping partitions never stop (held nothing 0 ms)`,
      all.length > 0 && all.every((m) => m.kept.length > 0 && m.heldNothingMs === 0),
      'each member keeps some partitions and holds at least one throughout',
      pauses,
    ),
  ];
}

/**
 * How often a member heartbeats: the classic client's heartbeat.interval.ms (default 3000), or
 * under the consumer protocol the broker's group.consumer.heartbeat.interval.ms (default 5000).
 */
export function heartbeatMs(protocol: RebalanceProtocol): number {
  return protocol === 'consumer' ? 5000 : 3000;
}

/** The eviction of c2 (stalled) in favour of c1, against max.poll.interval.ms. */
export function evictionChecks(
  p: { protocol: RebalanceProtocol; maxPollMs: number; evictMarginMs: number },
  eviction: Eviction | undefined,
): Check[] {
  if (!eviction) return [check('c2 was stalled', false, 'a stall', 'the run did not reach the stall')];
  // The eviction counts from c2's last poll; its last output follows that poll by the time it
  // printed before blocking, a few ms: 500 ms of allowance below max.poll.interval.ms.
  const low = p.maxPollMs - 500;
  const high = p.maxPollMs + 2 * heartbeatMs(p.protocol) + p.evictMarginMs;
  const e = eviction;
  return [
    check(
      `c2 is evicted max.poll.interval.ms after its poll loop stalls (${low}..${high} ms after its last output)`,
      e.evictedAfterMs !== undefined && e.evictedAfterMs >= low && e.evictedAfterMs <= high && e.pollTimeoutLogged,
      `c1 holds c2's partitions within the bound; c2 logs "consumer poll timeout has expired"`,
      `c2's loop stalled ${e.stalledMs} ms; c1 took its partitions ${e.evictedAfterMs ?? 'never'} ms after c2's ` +
        `last output; poll timeout logged: ${e.pollTimeoutLogged}`,
    ),
    check(
      'what c2 processed and had not committed when evicted is consumed again by c1; c2 may not commit it',
      e.duplicates === e.uncommitted && (e.uncommitted === 0 || e.commitFailed),
      `the ${e.uncommitted} records c2 consumed past its last commit consumed by both` +
        (e.uncommitted ? "; c2's commit of them refused" : ' (it stalled after a commit)'),
      `${e.duplicates} records consumed by both; c2's commit after resuming: ` +
        `${e.commitFailed ? 'refused' : 'accepted'}${e.commitError ? ` (${e.commitError})` : ''}`,
    ),
  ];
}
