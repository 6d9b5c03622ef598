// The pure readers and check builders the RabbitMQ labs share: what a process sent and
// what came back, takeovers, and what autoheal decided (the mirrored queues' own: mirrors.ts).
import { type Check, check } from '../../src/checkers/check.ts';
import { delivery, deliveryChecks, idsOf } from '../../src/checkers/delivery.ts';
import { completions, type Evidence, type Op, outcomes } from '../../src/engine/history.ts';
import { type AutohealLog, autohealRound, partitionsText } from '../../stacks/rabbitmq/cli.ts';

/** The operations on one queue (by the `queue` in their value). */
export const onQueue = (ev: Evidence, queue: string): Op[] =>
  ev.ops.filter((o) => (o.value as { queue?: string } | undefined)?.queue === queue);

/** How the publishes of one process ended. */
export const sentBy = (ev: Evidence | Op[], process: string, f = 'send') =>
  outcomes(completions(Array.isArray(ev) ? ev : ev.ops, f).filter((o) => o.process === process));

/** How many times each id was received. */
export function copies(ops: Op[]): Map<string, number> {
  const n = new Map<string, number>();
  for (const o of completions(ops, 'receive')) {
    if (o.type === 'ok') for (const id of idsOf(o.value)) n.set(id, (n.get(id) ?? 0) + 1);
  }
  return n;
}

/** The messages `process` saw confirmed that are missing from the final drain. */
export const lostOf = (ev: Evidence, process: string) =>
  delivery(ev.ops.filter((o) => o.f !== 'send' || o.process === process)).lost;

/** What `process` saw confirmed, against the final drain: `none` lost (of > 0 confirmed), or `some` lost. */
export function lossOf(name: string, ev: Evidence, process: string, want: 'none' | 'some'): Check {
  const lost = lostOf(ev, process).length;
  const ok = sentBy(ev, process).ok;
  const expected = want === 'none' ? '0 lost of > 0 confirmed' : '> 0 confirmed, never read back';
  return check(name, want === 'none' ? lost === 0 && ok > 0 : lost > 0, expected, `${lost} of ${ok} confirmed lost`, {
    lost,
  });
}

/** How one side's publishes ended: `some` confirmed, `all` confirmed, `none` confirmed, or none and some `refused` outright. */
export function confirmed(
  name: string,
  t: ReturnType<typeof sentBy>,
  want: 'some' | 'all' | 'none' | 'refused',
): Check {
  const [ok, expected] = {
    some: [t.ok > 0, '> 0 confirmed'],
    all: [t.total > 0 && t.ok === t.total, 'every publish confirmed'],
    none: [t.total > 0 && t.ok === 0, '0 confirmed'],
    refused: [t.total > 0 && t.ok === 0 && t.fail > 0, '0 confirmed, some refused'],
  }[want] as [boolean, string];
  return check(
    name,
    ok,
    expected,
    `${t.ok} of ${t.total} confirmed, ${t.fail} refused or nacked, ${t.info} unanswered`,
  );
}

/** Every message acknowledged by the broker is received, and once only. */
export const allKept = (ops: Op[], what: string) =>
  deliveryChecks(delivery(ops), { loss: 'forbidden', duplicates: 'forbidden' }, what);

/** A read that must not be served: it was tried, and failed. */
export const refused = (name: string, op: Op | undefined, expected: string): Check =>
  check(name, op !== undefined && op.type !== 'ok', expected, op ? `${op.type}: ${op.error ?? 'served'}` : 'not tried');

/** Receives per id: how many deliveries were flagged redelivered, how many ids came twice, which second copies were not flagged. */
export function redeliveries(ops: Op[]) {
  const seen = new Map<string, boolean[]>();
  for (const o of completions(ops, 'receive')) {
    if (o.type !== 'ok') continue;
    const v = o.value as { id: string; redelivered: boolean };
    seen.set(v.id, [...(seen.get(v.id) ?? []), v.redelivered]);
  }
  const flagged = [...seen.values()].flat().filter(Boolean).length;
  const duplicated = [...seen].filter(([, r]) => r.length > 1);
  const unflaggedCopies = duplicated.filter(([, r]) => r.slice(1).some((x) => !x)).map(([id]) => id);
  return { flagged, duplicated: duplicated.length, unflaggedCopies };
}

/**
 * A queue's master or leader taken over by `host`, one `eligible` to, within `maxMs` as the
 * API showed it; `logged` (ms from the kill to the takeover in the new one's log) says how
 * much of that was the broker and how much the API trailing it.
 */
export function tookOver(
  name: string,
  expected: string,
  host: string | undefined,
  ms: number | undefined,
  maxMs: number,
  eligible: (host: string) => boolean,
  logged?: { msAfterDown?: number },
): Check {
  const ok = typeof host === 'string' && eligible(host) && typeof ms === 'number' && ms <= maxMs;
  const log =
    logged?.msAfterDown === undefined ? '' : ` (its log: ${logged.msAfterDown} ms after it saw the node down)`;
  return check(name, ok, expected, host === undefined ? 'none seen' : `${host} after ${ms} ms in the API${log}`, {
    ms,
  });
}

/** The queue runs again on `home` once it is back (`back`: where it was seen running). */
export const backOn = (name: string, back: unknown, home: string, queue: string) =>
  check(name, back === home, `${queue} running on ${home}`, back ? `running on ${back}` : 'never seen running again');

/**
 * `process`'s sends split at `t` by when each message was invoked (by message id: a batch
 * is invoked together and completed together, so invocations pair by id, not in turn):
 * how those invoked from `t` on ended, and which confirmed messages were lost, all and from `t` on.
 */
export function sentSince(ev: Evidence, process: string, t: number | undefined) {
  const sends = ev.ops.filter((o) => o.process === process && o.f === 'send');
  const sentAt = new Map(sends.filter((o) => o.type === 'invoke').map((o) => [idsOf(o.value)[0], o.time]));
  const late = (id = '') => (sentAt.get(id) ?? 0) >= (t ?? Number.POSITIVE_INFINITY);
  const lost = lostOf(ev, process);
  const after = outcomes(completions(sends, 'send').filter((o) => late(idsOf(o.value)[0])));
  return { after, lost, lostAfter: lost.filter((id) => late(id)) };
}

/**
 * autoheal judged by its own logged decisions, the last one deciding: it split the cluster
 * as `cut` did; the losers named in every round restarted, and no other node; of the mirrored
 * queue's `publishers` (process: its node), the winning side's confirmed messages are kept
 * and the losing side's gone, whichever side autoheal chose.
 */
export function autohealChecks(
  ev: Evidence,
  logs: Record<string, AutohealLog>,
  cut: string[][],
  publishers: Record<string, string>,
): Check[] {
  const { again, decisions, last, named, restarted } = autohealRound(logs);
  const sides = Object.keys(publishers);
  const winning = last?.partitions.find((x) => x.includes(last.winner)) ?? [];
  const lost = sides.find((p) => last?.losers.includes(publishers[p] ?? ''));
  const won = sides.find((p) => winning.includes(publishers[p] ?? ''));
  const on = (c: Check, p?: string) => ({
    ...c,
    observed: `${p ?? 'no side'} (${publishers[p ?? '']}): ${c.observed}`,
  });
  const rounds = decisions.map((d) => `${partitionsText(d)}, winner ${d.winner}`);
  return [
    check(
      "autoheal's last decision split the cluster as the cut did",
      last !== undefined && partitionsText(last) === partitionsText({ partitions: cut }),
      `the last decision (of any number): ${partitionsText({ partitions: cut })}`,
      `${decisions.length} decision(s): ${rounds.join('; ') || 'none logged'}` +
        (again.length ? `; ${again.length} named a loser that had already restarted` : ''),
      { decisions: decisions.length, again: again.length },
    ),
    check(
      'the nodes the decision named losers restarted, and no other',
      named.length > 0 && named.join() === restarted.join(),
      'the losers the leader logged are the nodes that logged "we were selected to restart"',
      `losers ${named.join(',') || 'none'}; restarted ${restarted.join(',') || 'none'}`,
    ),
    on(lossOf('the mirrored queue keeps what the winning side confirmed', ev, won ?? '', 'none'), won),
    on(lossOf("the losing side's confirmed messages are thrown away", ev, lost ?? '', 'some'), lost),
  ];
}
