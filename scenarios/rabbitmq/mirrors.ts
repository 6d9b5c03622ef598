// What the mirrored-queue labs share: a policy applied and a queue filled through its master,
// the mirrors' state once statistics settle, steady traffic through a failover.
import type { LabContext } from '../../src/engine/lab.ts';
import { sleep } from '../../src/runtime/poll.ts';
import { describeQueue, type MirrorView, mirrorView, type StartedRabbitMQ } from '../../stacks/rabbitmq/stack.ts';
import { describeTally, Publisher, SlowConsumer } from '../../stacks/rabbitmq/workload.ts';
import { redeliveries } from './checks.ts';
import { killAndWatch, publishVia, untilRunning } from './kit.ts';

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
  await lab.faults.start(node);
  await lab.stack.waitHealthy(120_000);
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
