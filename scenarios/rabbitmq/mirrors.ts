// What the mirrored-queue labs share: a policy applied and a queue filled through its master,
// the mirrors' state once statistics settle, steady traffic through a failover; and the
// checks built on what they observe.
import { type Check, check } from '../../src/checkers/check.ts';
import { delivery, deliveryChecks, sample } from '../../src/checkers/delivery.ts';
import { completions, type Evidence } from '../../src/engine/history.ts';
import type { LabContext } from '../../src/engine/lab.ts';
import { sleep } from '../../src/runtime/poll.ts';
import { describeQueue, type MirrorView, mirrorView, type StartedRabbitMQ } from '../../stacks/rabbitmq/stack.ts';
import { describeTally, Publisher, SlowConsumer } from '../../stacks/rabbitmq/workload.ts';
import { backOn, redeliveries, refused, tookOver } from './checks.ts';
import { killAndWatch, publishVia, startAgain, untilRunning } from './steps.ts';

type Lab = LabContext<StartedRabbitMQ, unknown>;

/** `master` is the master, with a mirror on each of `mirrors` (all synchronised, if `synced`). */
export const mirroredOn = (x: MirrorView, master: string, mirrors: string[], synced: boolean) =>
  x.master === master && mirrors.every((m) => x.mirrors.includes(m) && (!synced || x.synchronised.includes(m)));

/**
 * Applies the ha policy `name` (pattern ^ha\.), declares `queue` through `master` (so it is
 * its master) and publishes `messages` confirmed messages through it; a policy that reads
 * back otherwise is a reason the set-up is wrong. Returns the policy as read back.
 */
export async function mirrorAndFill(
  lab: Lab,
  reasons: string[],
  o: { name: string; definition: Record<string, string>; master: string; queue: string; messages: number },
) {
  const set = await lab.stack.applyPolicy(o.master, o.name, '^ha\\.', o.definition);
  await lab.stack.using(o.master, (c) => c.declare(o.queue, { kind: 'classic', durable: true }));
  lab.say(`publisher: ${describeTally(await publishVia(lab, o.master, o.queue, 'm', o.messages))}`);
  if (JSON.stringify(set) !== JSON.stringify(o.definition)) {
    reasons.push(`the policy reads back as ${JSON.stringify(set)}, not ${JSON.stringify(o.definition)}`);
  }
  return set;
}

/**
 * Mirrors that must stay unsynchronised: statistics trail by a few seconds, so this waits 3 s
 * for a synchronisation that is going to show, observes the mirrors as `mirrorsBefore`, and
 * adds a reason if any is synchronised.
 */
export async function unsyncedMirrors(lab: Lab, reasons: string[], queue: string, definition: unknown) {
  await sleep(3000);
  const q = await lab.stack.queue(queue).catch(() => undefined);
  const view = mirrorView(q);
  lab.observe('mirrorsBefore', { ...view, definition }, q ? describeQueue(q) : 'queue not found');
  if (view.synchronised.length > 0) {
    reasons.push(`mirror(s) ${view.synchronised.join(', ')} synchronised: the lesson needs both unsynchronised`);
  }
}

/**
 * Steady recorded traffic on `queue`: a slow consumer through `nodes.consumer` (prefetch 50,
 * each delivery acked `ackDelayMs` after it came, so some are always unacked), as `consumer`,
 * and a publisher through `nodes.publisher` adding confirmed batches of 50, as `steady-publisher`.
 */
export async function steadyTraffic(
  lab: Lab,
  queue: string,
  nodes: { consumer: string; publisher: string },
  ackDelayMs: number,
) {
  const r = lab.stack;
  const consumer = new SlowConsumer(lab.history, await r.client(nodes.consumer), {
    ...{ queue, process: 'consumer', prefetch: 50, ackDelayMs },
    say: (t: string) => lab.say(t),
    warn: (t: string) => lab.warn(t),
  });
  const publisher = new Publisher(lab.history, await r.client(nodes.publisher), {
    ...{ queue, process: 'steady-publisher', prefix: 's', confirm: true, persistent: true },
    ...{ batch: 50, pauseMs: 100, confirmTimeoutMs: 5000 },
  });
  return {
    consumer,
    publisher,
    progress: () => lab.say(`${consumer.received} received so far; publisher: ${describeTally(publisher.tally)}`),
    /** The publisher stops, the consumer 3 s later; what it saw is observed (cancellations, deliveries, redelivered). */
    async stop() {
      await publisher.stop();
      lab.say(`publisher: ${describeTally(publisher.tally)}`);
      await sleep(3000);
      await consumer.stop();
      lab.observe('consumerCancelled', consumer.cancellations);
      const flagged = redeliveries(lab.history.ops).flagged;
      lab.observe('receivedByConsumer', consumer.received, `the consumer received ${consumer.received} deliveries`);
      lab.observe('redelivered', flagged, `${flagged} of them flagged redelivered`);
    },
    async close() {
      await publisher.close();
      await consumer.close();
    },
  };
}

/**
 * Steady traffic through a failover, in the steps `consume` (2 s of it), `kill-master` (what
 * the consumer held unacked observed as `unackedAtKill`, then `kill`, then 3 s more) and `stop`.
 */
export async function steadyThroughFailover(
  lab: Lab,
  queue: string,
  nodes: { consumer: string; publisher: string },
  ackDelayMs: number,
  kill: () => Promise<void>,
) {
  const { consumer, publisher, progress, stop, close } = await steadyTraffic(lab, queue, nodes, ackDelayMs);
  try {
    await lab.step('consume', async () => {
      await consumer.start();
      publisher.start();
      await sleep(2000);
      progress();
    });
    await lab.step('kill-master', async () => {
      lab.observe('unackedAtKill', consumer.unacked, `${consumer.unacked} deliveries unacknowledged at the kill`);
      await kill();
      await sleep(3000);
      progress();
    });
    await lab.step('stop', stop);
  } finally {
    await close();
  }
}

/** Starts `node` again, until the cluster is healthy and `queue` has a running master: observed as `name`. */
export async function startAndWatch(lab: Lab, node: string, queue: string, name: string) {
  await startAgain(lab, [node]);
  const back = await untilRunning(lab, queue, 60_000);
  lab.observe(name, back.node, back.q ? describeQueue(back.q) : 'no master');
}

/**
 * Kills `master` and watches for a mirror promoted in its place (killAndWatch): observed as
 * `masterAfter`, `failoverMs`, `promotionLog`, or none as `masterDuringOutage`; then the mirrors.
 */
export async function killMaster(lab: Lab, master: string, queue: string, timeoutMs: number) {
  const names = { host: 'masterAfter', ms: 'failoverMs', log: 'promotionLog', none: 'masterDuringOutage' };
  const { q } = await killAndWatch(lab, master, queue, 'node', names, timeoutMs);
  if (q) lab.observe('mirrorsAfter', mirrorView(q).mirrors, describeQueue(q));
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
