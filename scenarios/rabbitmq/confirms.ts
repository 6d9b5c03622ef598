import { type Check, check } from '../../src/checkers/check.ts';
import { delivery, deliveryChecks, idsOf, sample } from '../../src/checkers/delivery.ts';
import { completions, type Evidence, invokedBetween, type Op, observed } from '../../src/engine/history.ts';
import { defineLab } from '../../src/engine/lab.ts';
import { sleep, withTimeout } from '../../src/runtime/poll.ts';
import { rabbitmq } from '../../stacks/rabbitmq/stack.ts';
import { describeTally, drainRecorded, Publisher, publishRecorded, tally } from '../../stacks/rabbitmq/workload.ts';
import { listQueues, rabbitmqctl } from './commands.ts';

/** Both queues live on QUEUE_NODE; both publishers talk to PUBLISHER_NODE, which is killed. */
const WITH = 'confirms.with';
const WITHOUT = 'confirms.without';
const QUEUE_NODE = 'rabbit2';
const PUBLISHER_NODE = 'rabbit1';

const onQueue = (ev: Evidence, queue: string): Op[] =>
  ev.ops.filter((o) => (o.value as { queue?: string } | undefined)?.queue === queue);

/** What each publisher could tell, and what arrived. */
function findings(ev: Evidence) {
  const withOps = onQueue(ev, WITH);
  const withoutOps = onQueue(ev, WITHOUT);
  const first = completions(withOps, 'send').filter((o) => o.process === 'with-confirms');
  const republished = new Set(
    completions(withOps, 'send')
      .filter((o) => o.process === 'republisher')
      .flatMap((o) => idsOf(o.value)),
  );
  const copies = (ops: Op[]) => {
    const n = new Map<string, number>();
    for (const o of completions(ops, 'receive')) {
      if (o.type === 'ok') for (const id of idsOf(o.value)) n.set(id, (n.get(id) ?? 0) + 1);
    }
    return n;
  };
  const withCopies = copies(withOps);
  const gotWithout = copies(withoutOps);
  const unconfirmed = first.filter((o) => o.type === 'info').flatMap((o) => idsOf(o.value));
  const sentWithout = completions(withoutOps, 'send');
  const frozen = ev.faults.find((x) => x.kind === 'pause');
  const killed = ev.faults.find((x) => x.kind === 'kill');
  // Writes to a node that was never really frozen put nothing at risk: they do not count.
  const duringFreeze =
    frozen && killed && observed<{ frozen: boolean }>(ev).frozen === true
      ? invokedBetween(
          withoutOps.filter((o) => o.process === 'without-confirms'),
          'send',
          frozen.start,
          killed.start,
        ).length
      : 0;
  const infoIds = sentWithout.filter((o) => o.type === 'info').flatMap((o) => idsOf(o.value));
  return {
    duringFreeze,
    withoutArrived: infoIds.filter((id) => gotWithout.has(id)).length,
    with: delivery(withOps),
    confirmedFirstTime: first.filter((o) => o.type === 'ok').length,
    unconfirmed: unconfirmed.length,
    // Arrived from the first attempt: more copies than republishing alone accounts for.
    unconfirmedArrived: unconfirmed.filter((id) => (withCopies.get(id) ?? 0) > (republished.has(id) ? 1 : 0)).length,
    republished,
    without: delivery(withoutOps),
    sentWithout: sentWithout.length,
    withoutTypes: {
      ok: sentWithout.filter((o) => o.type === 'ok').length,
      fail: sentWithout.filter((o) => o.type === 'fail').length,
      info: sentWithout.filter((o) => o.type === 'info').length,
    },
    withoutMissing: sentWithout
      .filter((o) => o.type === 'info')
      .flatMap((o) => idsOf(o.value))
      .filter((id) => !gotWithout.has(id)),
  };
}

export default defineLab({
  id: 'rabbitmq/confirms',
  title: 'Publisher confirms: knowing what the broker has',
  teaches:
    'a node that freezes and dies mid-publish takes what was in flight with it: with confirms, every confirmed ' +
    'message survives and the publisher knows exactly which ones to send again; without confirms messages are ' +
    'really lost and the publisher, whose every send looks the same, cannot tell which',
  notes:
    'Notes, RabbitMQ chapter: "RabbitMQ介绍" lists 消息确认机制 among RabbitMQ\'s strengths, and "消息持久化 vs 队列持久化" ' +
    'says durable queue + delivery_mode=2 gives reliability. Neither says how a publisher learns that the broker ' +
    'has a message: that is publisher confirms (confirm.select, then basic.ack / basic.nack per message), which the ' +
    'notes never mention. Persistence without confirms does not tell the publisher what was lost.',
  params: {
    sentBeforeKill: {
      type: 'int',
      default: 6000,
      min: 100,
      max: 50_000,
      describe: 'the node is frozen once the publisher without confirms has sent this many messages',
    },
    freezeMs: {
      type: 'int',
      default: 1000,
      min: 100,
      max: 10_000,
      describe: 'how long the node stays frozen (publishers still writing to it) before it is killed',
    },
    republish: {
      type: 'bool',
      default: true,
      describe: 'whether the confirming publisher sends its unconfirmed messages again through another node',
    },
  },
  stack: rabbitmq,
  topology: () => ({ nodes: 3 }),
  async mechanism(lab) {
    const r = lab.stack;
    const reasons: string[] = [];
    await lab.step(
      `Two durable queues on ${QUEUE_NODE}`,
      `"${WITH}" and "${WITHOUT}" are declared through ${QUEUE_NODE}, so both live there, away from the node the ` +
        `publishers use (${PUBLISHER_NODE}). Killing ${PUBLISHER_NODE} then loses no queue: only what was in flight.`,
      async () => {
        const c = await r.client(QUEUE_NODE);
        try {
          for (const q of [WITH, WITHOUT]) await c.declare(q, { kind: 'classic', durable: true });
        } finally {
          await c.close();
        }
        for (const q of [WITH, WITHOUT]) {
          const info = await r.waitForQueue(q, 'listed', () => true);
          lab.observe(`home:${q}`, r.hostOf(info.node), `${q} lives on ${r.hostOf(info.node)}`);
          if (r.hostOf(info.node) !== QUEUE_NODE) reasons.push(`${q} lives on ${info.node}, not ${QUEUE_NODE}`);
        }
      },
      [listQueues(r, QUEUE_NODE)],
    );
    return reasons;
  },
  async run(lab) {
    const r = lab.stack;
    const withClient = await r.client(PUBLISHER_NODE);
    const withoutClient = await r.client(PUBLISHER_NODE);
    const common = { persistent: true, batch: 100, pauseMs: 0, confirmTimeoutMs: 10_000 };
    const confirming = new Publisher(lab.history, withClient, {
      ...common,
      queue: WITH,
      process: 'with-confirms',
      prefix: 'c',
      confirm: true,
      inFlight: 4,
    });
    const blind = new Publisher(lab.history, withoutClient, {
      ...common,
      queue: WITHOUT,
      process: 'without-confirms',
      prefix: 'u',
      confirm: false,
    });
    try {
      await lab.step(
        `Two publishers through ${PUBLISHER_NODE}`,
        'Both publish persistent messages as fast as they can, each on its own connection to ' +
          `${PUBLISHER_NODE}. One uses publisher confirms, keeping up to 4 batches of 100 unconfirmed; each message ` +
          'counts as safe only once the broker acks it. The other just writes to its socket: the client library ' +
          'says "sent", which only means it left the program. Publishing faster than the broker stores, it ' +
          'builds a backlog in socket buffers and in the node.',
        async () => {
          confirming.start();
          blind.start();
          const start = Date.now();
          while (blind.attempted.length < lab.params.sentBeforeKill && Date.now() - start < 30_000) await sleep(20);
          lab.say(`with confirms: ${describeTally(confirming.tally)}; without: ${describeTally(blind.tally)}`);
        },
        [listQueues(r, QUEUE_NODE), rabbitmqctl(r, PUBLISHER_NODE, 'list_connections name state')],
      );
      await lab.step(
        `Freeze ${PUBLISHER_NODE}, then kill it`,
        `SIGSTOP to the broker, then SIGKILL ${lab.params.freezeMs} ms later: a node that stalls (a long GC, a hung disk) ` +
          'and then crashes. While it is frozen both publishers keep writing: their messages wait in the client library and the ' +
          `socket buffers of a node that will never read them. The kill throws them away with whatever ${PUBLISHER_NODE}'s ` +
          'channel processes held on their way to the queues; both connections close. The freeze is what makes ' +
          'the loss certain: a bare kill loses only what happens to be in flight at that instant, which can be nothing.',
        async () => {
          await confirming.nextBatchWritten();
          // SIGSTOP to the Erlang VM rather than docker pause: the cgroup freezer can fail on a busy node.
          const stopped = await r.cluster.node(PUBLISHER_NODE).exec(['pkill', '-STOP', '-x', 'beam.smp']);
          if (stopped.exitCode !== 0) {
            lab.warn(`could not freeze ${PUBLISHER_NODE}: ${stopped.stderr || stopped.stdout}`);
          }
          lab.observe('frozen', stopped.exitCode === 0, undefined);
          const frozen = lab.faults.note('pause', [PUBLISHER_NODE], `froze ${PUBLISHER_NODE} (SIGSTOP to beam.smp)`);
          const atFreeze = blind.attempted.length;
          await sleep(lab.params.freezeMs);
          const during = blind.attempted.length - atFreeze;
          await lab.faults.kill(PUBLISHER_NODE);
          lab.faults.endNote(frozen, `${PUBLISHER_NODE} was killed while frozen`);
          lab.say(`the publisher without confirms wrote ${during} messages to the frozen node`);
          await withTimeout(30_000, 'both publishers to notice', () =>
            Promise.all([confirming.ended, blind.ended]),
          ).catch(() => {});
          lab.observe('withConfirms', { ...confirming.tally }, `with confirms: ${describeTally(confirming.tally)}`);
          lab.observe('withoutConfirms', { ...blind.tally }, `without confirms: ${describeTally(blind.tally)}`);
        },
        { key: 'kill' },
      );
    } finally {
      await confirming.stop();
      await blind.stop();
      await withClient.close();
      await withoutClient.close();
    }
    await lab.step(
      'What each publisher knows',
      `The confirming publisher has ${confirming.unsure.length} messages it cannot vouch for: they may or may not ` +
        'have reached the queue (indeterminate, never "lost"). ' +
        (lab.params.republish
          ? `It sends exactly those again through ${QUEUE_NODE}: at-least-once, so any that had arrived after all ` +
            'now arrive twice, and the consumer must tolerate duplicates (an idempotent consumer, or dedup by id). '
          : 'With republish=false it leaves them: some may be missing. ') +
        `The other publisher has ${blind.unsure.length} messages "sent" and no way to know which of them the ` +
        'broker has: it could only send everything again, duplicating most of it, or accept silent loss.',
      async () => {
        if (!lab.params.republish || confirming.unsure.length === 0) return;
        const c = await r.client(QUEUE_NODE);
        try {
          const out = await publishRecorded(
            lab.history,
            c,
            WITH,
            confirming.unsure,
            { confirm: true, persistent: true },
            { process: 'republisher' },
          );
          lab.say(`republished: ${describeTally(tally(out.values()))}`);
        } finally {
          await c.close();
        }
      },
    );
  },
  async final(lab) {
    const c = await lab.stack.client(QUEUE_NODE);
    try {
      for (const q of [WITH, WITHOUT]) {
        const got = await drainRecorded(lab.history, c, q);
        lab.say(`${q}: ${got.length} messages consumed`);
      }
    } finally {
      await c.close();
    }
    const f = findings(lab.history.evidence());
    lab.observe(
      'summary',
      { unconfirmedArrived: f.unconfirmedArrived, withoutMissing: f.withoutMissing.length },
      `with confirms: ${f.confirmedFirstTime} confirmed, ` +
        `${f.with.lost.length ? `${f.with.lost.length} of the confirmed missing` : 'all there'}; ` +
        `${f.unconfirmed} unconfirmed, of which ` +
        `${f.unconfirmedArrived} had arrived anyway. Without confirms: ${f.sentWithout} "sent", ` +
        `${f.withoutMissing.length} never arrived, and the publisher could not have said which.`,
    );
  },
  predictions: [
    {
      before: 'kill',
      question: `${PUBLISHER_NODE} is about to die mid-publish. What can the publisher WITHOUT confirms tell afterwards?`,
      choices: [
        'which of its messages were lost',
        'how many were lost, not which',
        'nothing: every message it sent is of unknown fate',
      ],
      answer: (ev) => {
        const f = findings(ev);
        return f.withoutTypes.ok === 0 && f.withoutTypes.info > 0 ? 2 : undefined;
      },
    },
  ],
  check(ev) {
    const f = findings(ev);
    const dups = Object.keys(f.with.duplicated);
    const notRepublished = dups.filter((id) => !f.republished.has(id));
    return [
      ...deliveryChecks(f.with, { loss: 'forbidden', duplicates: 'allowed' }, 'confirmed messages'),
      check(
        'duplicates come only from republishing unconfirmed messages',
        notRepublished.length === 0,
        'every duplicated id was one the publisher sent again',
        `${dups.length} duplicated${notRepublished.length ? `, ${sample(notRepublished)} never republished` : ''}`,
      ),
      check(
        'the confirming publisher reports its unconfirmed messages as indeterminate',
        f.confirmedFirstTime > 0 && f.unconfirmed > 0,
        'some confirmed (all received, above), the ones in flight at the kill indeterminate',
        `${f.confirmedFirstTime} confirmed; ${f.unconfirmed} indeterminate (${f.unconfirmedArrived} of them had arrived anyway)`,
      ),
      lossWithout(f),
      {
        name: 'without confirms the publisher cannot tell the lost from the arrived',
        // Nothing lost leaves nothing to tell apart: false as the loss check is (unknown when nothing was at risk).
        ok:
          f.withoutTypes.ok > 0
            ? false
            : f.withoutMissing.length > 0
              ? f.withoutTypes.info > 0
              : f.duringFreeze > 0
                ? false
                : 'unknown',
        expected: 'lost and arrived messages alike are "sent" (indeterminate) in its own record: none known safe',
        observed:
          `${f.sentWithout} sent: ${f.withoutTypes.ok} known safe, ${f.withoutTypes.info} of unknown fate ` +
          `(${f.withoutArrived} arrived, ${f.withoutMissing.length} lost), ${f.withoutTypes.fail} refused`,
      } satisfies Check,
    ];
  },
});

/**
 * The gap itself: messages the publisher without confirms "sent" that never arrived. None
 * lost although it wrote to the frozen node is a lesson that did not hold (fail); nothing
 * written during the freeze means the schedule never made the gap (unknown).
 */
function lossWithout(f: ReturnType<typeof findings>) {
  const lost = f.withoutMissing.length;
  return {
    name: 'without confirms, messages were really lost',
    ok: lost > 0 ? true : f.duringFreeze > 0 ? false : 'unknown',
    expected: '> 0 of the messages written to the node before it died never arrived',
    observed:
      `${f.sentWithout} sent, ${f.sentWithout - lost} consumed, ${lost} never arrived; ` +
      `${f.duringFreeze} written while the node was frozen`,
    details: { missing: lost },
  } satisfies Check;
}
