// The pure readers and check builders the RabbitMQ labs share: what a process sent and
// what came back, how a failover looked to a consumer, what a queue's mirrors were.
import { type Check, check } from '../../src/checkers/check.ts';
import { delivery, deliveryChecks, idsOf, sample } from '../../src/checkers/delivery.ts';
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

/** How one side's publishes ended: `some` confirmed, `none` confirmed, or none and some `refused` outright. */
export function confirmed(name: string, t: ReturnType<typeof sentBy>, want: 'some' | 'none' | 'refused'): Check {
  const ok = want === 'some' ? t.ok > 0 : t.total > 0 && t.ok === 0 && (want === 'none' || t.fail > 0);
  const expected = { some: '> 0 confirmed', none: '0 confirmed', refused: '0 confirmed, some refused' }[want];
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
 * A consumer through a failover: told of it (basic.cancel) and consuming on, and what it
 * held unacked delivered again, every second copy flagged redelivered. Nothing unacked at
 * the kill means nothing could come twice: the run did not set the lesson up (unknown).
 */
export function failoverConsumerChecks(ev: Evidence, consumer: string, cancelled: string[], unackedAtKill?: number) {
  const redel = redeliveries(ev.ops);
  const killedAt = ev.faults.find((x) => x.kind === 'kill')?.start ?? Number.POSITIVE_INFINITY;
  const afterKill = completions(ev.ops, 'receive').filter(
    (o) => o.type === 'ok' && o.process === consumer && o.time > killedAt,
  ).length;
  const outstanding = unackedAtKill === 0 ? 'unknown' : false;
  return [
    check(
      'the consumer was told of the failover and consumed on',
      cancelled.length > 0 && afterKill > 0,
      'basic.cancel at the failover, then deliveries on a new subscription',
      `${cancelled.length} cancellation(s) (${cancelled.join(', ') || 'none'}); ${afterKill} deliveries after the kill`,
    ),
    {
      name: 'unacked deliveries came again, flagged redelivered',
      ok: redel.unflaggedCopies.length > 0 ? false : redel.duplicated > 0 ? true : outstanding,
      expected: `> 0 messages delivered again (${unackedAtKill ?? '?'} were unacked at the kill), every second copy flagged redelivered`,
      observed:
        `${redel.duplicated} messages delivered more than once; ${redel.flagged} deliveries flagged redelivered` +
        (redel.unflaggedCopies.length ? `; unflagged copies: ${sample(redel.unflaggedCopies)}` : ''),
      details: { unflagged: redel.unflaggedCopies },
    } satisfies Check,
  ];
}

/** A classic queue's master and mirrors as the lab set them up: on `master`, 2 mirrors, all or none synchronised. */
export function mirrorsCheck(
  name: string,
  b: { master?: string; mirrors: string[]; synchronised: string[] } | undefined,
  master: string,
  synced: boolean,
): Check {
  const ok =
    b?.master === master &&
    b.mirrors.length === 2 &&
    (synced ? b.synchronised.join() === b.mirrors.join() : b.synchronised.length === 0);
  return check(
    name,
    ok,
    `master ${master}, 2 mirrors, ${synced ? 'both' : 'none'} synchronised`,
    `master ${b?.master}, mirrors ${b?.mirrors.join(',') || 'none'}, synchronised ${b?.synchronised.join(',') || 'none'}`,
  );
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
  const { decisions, last, named, restarted } = autohealRound(logs);
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
      `${decisions.length} decision(s): ${rounds.join('; ') || 'none logged'}`,
      { decisions: decisions.length },
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

/**
 * ha-promote-on-failure=when-synced with no mirror synchronised: while the master was down
 * the API named no other (for `watchMs`), a read through `via` (recorded as `read`) was not
 * served, the queue came back with its master, and no confirmed message was lost.
 */
export function heldForMasterChecks(
  ev: Evidence,
  where: { master: string; queue: string; via: string; watchMs: number },
  seen: { masterAfter?: string; failoverMs?: number; masterDuringOutage?: string; masterBack?: string },
  read: string,
): Check[] {
  return [
    check(
      'no unsynchronised mirror was promoted while the master was down',
      seen.masterAfter === undefined && seen.masterDuringOutage !== undefined,
      `the API names no master but ${where.master} for ${where.watchMs} ms after the kill`,
      seen.masterAfter
        ? `${seen.masterAfter} promoted after ${seen.failoverMs} ms`
        : `master: ${seen.masterDuringOutage ?? 'never answered'}`,
    ),
    refused(
      'the queue was unavailable while the master was down',
      completions(ev.ops, read)[0],
      `a basic.get through ${where.via} is not served`,
    ),
    backOn(`the queue came back with ${where.master}`, seen.masterBack, where.master, where.queue),
    ...deliveryChecks(delivery(ev.ops), { loss: 'forbidden', duplicates: 'forbidden' }, 'confirmed messages'),
  ];
}

/**
 * An unsynchronised mirror promoted: confirmed messages were lost with the old master, and
 * the promoted queue confirmed and served what was published after (ids starting `after`).
 */
export function lostWithMasterChecks(ev: Evidence, after: string): Check[] {
  const f = delivery(ev.ops);
  const late = delivery(ev.ops.filter((o) => (o.value as { id?: string } | undefined)?.id?.startsWith(after)));
  return [
    check(
      'confirmed messages were lost with the old master',
      f.lost.length > 0,
      'at least 1 confirmed message never consumed',
      `${f.lost.length} of ${f.acknowledged} confirmed messages lost${f.lost.length ? ` (${sample(f.lost)})` : ''}`,
      { lost: f.lost.length },
    ),
    check(
      'the promoted queue took new messages and served them',
      late.acknowledged > 0 && late.lost.length === 0,
      'publishes after the failover confirmed and consumed',
      `${late.acknowledged} confirmed after the failover, ${late.lost.length} of them lost`,
    ),
    ...deliveryChecks(f, { loss: 'allowed', duplicates: 'forbidden' }, 'confirmed messages'),
  ];
}

/** A classic queue's master taken over by one of `mirrors` within `maxMs` (as the API showed it; its log line told). */
export function promotedWithin(
  mirrors: string[],
  seen: { masterAfter?: string; failoverMs?: number; promotionLog?: { msAfterDown?: number } },
  maxMs: number,
): Check {
  const expected = `one of ${mirrors.join(', ') || 'the mirrors'} is master within ${maxMs} ms`;
  const name = `a mirror was promoted within ${maxMs} ms`;
  return tookOver(
    name,
    expected,
    seen.masterAfter,
    seen.failoverMs,
    maxMs,
    (h) => mirrors.includes(h),
    seen.promotionLog,
  );
}
