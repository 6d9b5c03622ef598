import * as kit from './kit.ts';

/** Both queues live on QUEUE_NODE; both publishers talk to PUBLISHER_NODE, which is killed. */
const WITH = 'confirms.with';
const WITHOUT = 'confirms.without';
const QUEUE_NODE = 'rabbit2';
const PUBLISHER_NODE = 'rabbit1';
const FREEZE_AFTER = 'the node is frozen once the publisher without confirms has sent this many messages';
/** The ids of the operations that `keep` selects. */
const idsWhere = (ops: kit.Op[], keep: (o: kit.Op) => boolean) => ops.filter(keep).flatMap((o) => kit.idsOf(o.value));

/** What each publisher could tell, and what arrived. */
function findings(ev: kit.Evidence) {
  const withOps = kit.onQueue(ev, WITH);
  const withoutOps = kit.onQueue(ev, WITHOUT);
  const sends = kit.completions(withOps, 'send');
  const sent = (type: string) => idsWhere(sends, (o) => o.process === 'with-confirms' && o.type === type);
  const republished = new Set(idsWhere(sends, (o) => o.process === 'republisher'));
  const withCopies = kit.copies(withOps);
  const gotWithout = kit.copies(withoutOps);
  const unconfirmed = sent('info');
  const [frozen, killed] = ['pause', 'kill'].map((kind) => ev.faults.find((x) => x.kind === kind));
  // Writes to a node that was never really frozen put nothing at risk: they do not count.
  const blind = withoutOps.filter((o) => o.process === 'without-confirms');
  const froze = frozen && killed && kit.observed<{ frozen: boolean }>(ev).frozen === true;
  const duringFreeze = froze ? kit.invokedBetween(blind, 'send', frozen.start, killed.start).length : 0;
  const infoIds = idsWhere(kit.completions(withoutOps, 'send'), (o) => o.type === 'info');
  return {
    duringFreeze,
    withoutArrived: infoIds.filter((id) => gotWithout.has(id)).length,
    with: kit.delivery(withOps),
    confirmedFirstTime: sent('ok').length,
    unconfirmed: unconfirmed.length,
    // Arrived from the first attempt: more copies than republishing alone accounts for.
    unconfirmedArrived: unconfirmed.filter((id) => (withCopies.get(id) ?? 0) > (republished.has(id) ? 1 : 0)).length,
    republished,
    without: kit.sentBy(withoutOps, 'without-confirms'),
    withoutMissing: infoIds.filter((id) => !gotWithout.has(id)),
  };
}

export default kit.defineLab({
  id: 'rabbitmq/confirms',
  title: 'Publisher confirms: knowing what the broker has',
  teaches:
    'a node that freezes and dies mid-publish takes what was in flight: with confirms every confirmed message ' +
    'survives and the publisher knows which to send again; without, messages are lost and it cannot tell which',
  notes:
    `Notes, RabbitMQ chapter: "RabbitMQ介绍" lists 消息确认机制 among RabbitMQ's strengths, and "消息持久化 vs 队列持久化" says ` +
    `durable queue + delivery_mode=2 gives reliability. Neither says how a publisher learns that the broker has a ` +
    `message: publisher confirms (confirm.select, then basic.ack / basic.nack per message), which the notes never ` +
    `mention.`,
  params: {
    sentBeforeKill: { type: 'int', default: 6000, min: 100, max: 50_000, describe: FREEZE_AFTER },
    freezeMs: { type: 'int', default: 1000, min: 100, max: 10_000, describe: 'ms frozen (written to) before the kill' },
    republish: { type: 'bool', default: true, describe: 'send the unconfirmed messages again through another node' },
  },
  stack: kit.rabbitmq,
  topology: () => ({ nodes: 3 }),
  steps: {
    declare: {
      title: `Two durable queues on ${QUEUE_NODE}`,
      narration:
        `"${WITH}" and "${WITHOUT}" are declared through ${QUEUE_NODE}, so both live there, away from the node the ` +
        `publishers use (${PUBLISHER_NODE}). Killing ${PUBLISHER_NODE} then loses no queue: only what was in flight.`,
      commands: [kit.listQueues(QUEUE_NODE)],
    },
    publish: {
      title: `Two publishers through ${PUBLISHER_NODE}`,
      narration:
        `Both publish persistent messages as fast as they can, each on its own connection to ${PUBLISHER_NODE}. One ` +
        'uses confirms (up to 4 batches of 100 unconfirmed): a message is safe once the broker acks it. The other ' +
        'just writes to its socket ("sent" only means it left the program), building a backlog in the node.',
      commands: [kit.listQueues(QUEUE_NODE), kit.rabbitmqctl(PUBLISHER_NODE, 'list_connections name state')],
    },
    kill: {
      title: `Freeze ${PUBLISHER_NODE}, then kill it`,
      narration:
        'SIGSTOP to the broker, SIGKILL {freezeMs} ms later: a node that stalls (a long GC, a hung disk), then ' +
        'crashes. The kill throws away what was written to it while frozen (in socket buffers) and what its ' +
        'channels held. The freeze makes the loss certain: a bare kill loses only what is in flight, maybe nothing.',
    },
    know: {
      title: 'What each publisher knows',
      narration: (p) =>
        'The confirming publisher has {unsure} messages it cannot vouch for: indeterminate, never "lost". ' +
        (p.republish
          ? `It sends exactly those again through ${QUEUE_NODE}: at-least-once, so any that had arrived come twice ` +
            'and the consumer must tolerate duplicates (idempotent, or dedup by id). '
          : 'With republish=false it leaves them: some may be missing. ') +
        'The other has {sent} messages "sent" and no way to know which the broker has: it could only send ' +
        'everything again, duplicating most of it, or accept silent loss.',
    },
  },
  mechanism: (lab) =>
    kit.prove(lab, 'declare', async (no) => {
      for (const q of [WITH, WITHOUT]) await kit.declareHomed(lab, no, QUEUE_NODE, q, `home:${q}`);
    }),
  async run(lab) {
    const common = { persistent: true, batch: 100, pauseMs: 0, confirmTimeoutMs: 10_000 };
    const as = { queue: WITH, process: 'with-confirms', prefix: 'c', confirm: true, inFlight: 4 };
    const confirming = new kit.Publisher(lab.history, await lab.stack.client(PUBLISHER_NODE), { ...common, ...as });
    const blindAs = { queue: WITHOUT, process: 'without-confirms', prefix: 'u', confirm: false };
    const blind = new kit.Publisher(lab.history, await lab.stack.client(PUBLISHER_NODE), { ...common, ...blindAs });
    const tallies = () =>
      `with confirms: ${kit.describeTally(confirming.tally)}; without: ${kit.describeTally(blind.tally)}`;
    try {
      await lab.step('publish', async () => {
        confirming.start();
        blind.start();
        const start = Date.now();
        while (blind.attempted.length < lab.params.sentBeforeKill && Date.now() - start < 30_000) await kit.sleep(20);
        lab.say(tallies());
      });
      await lab.step('kill', async () => {
        await confirming.nextBatchWritten();
        const frozen = await kit.freezeBroker(lab, PUBLISHER_NODE, 'frozen');
        const atFreeze = blind.attempted.length;
        await kit.sleep(lab.params.freezeMs);
        const wrote = blind.attempted.length - atFreeze;
        lab.say(`the publisher without confirms wrote ${wrote} messages to the frozen node`);
        await lab.faults.kill(PUBLISHER_NODE);
        lab.faults.endNote(frozen, `${PUBLISHER_NODE} was killed while frozen`);
        const ended = Promise.all([confirming.ended, blind.ended]);
        await kit.withTimeout(30_000, 'both publishers to notice', () => ended).catch(() => {});
        lab.observe('withConfirms', { ...confirming.tally });
        lab.observe('withoutConfirms', { ...blind.tally }, tallies());
      });
    } finally {
      await confirming.close().then(() => blind.close());
    }
    const vars = { unsure: confirming.unsure.length, sent: blind.unsure.length };
    const again = async () => {
      const t = await kit.publishIds(lab, QUEUE_NODE, WITH, confirming.unsure, { process: 'republisher' });
      lab.say(`republished: ${kit.describeTally(t)}`);
    };
    await lab.step('know', async () => (lab.params.republish && vars.unsure > 0 ? again() : undefined), { vars });
  },
  async final(lab) {
    await kit.drainVia(lab, QUEUE_NODE, [WITH, WITHOUT]);
    const f = findings(lab.history.evidence());
    const missing = f.with.lost.length ? `${f.with.lost.length} of the confirmed missing` : 'all there';
    const text =
      `with confirms: ${f.confirmedFirstTime} confirmed, ${missing}; ${f.unconfirmed} unconfirmed, of which ` +
      `${f.unconfirmedArrived} had arrived anyway. Without confirms: ${f.without.total} "sent", ` +
      `${f.withoutMissing.length} never arrived, and the publisher could not have said which.`;
    lab.observe('summary', { unconfirmedArrived: f.unconfirmedArrived, withoutMissing: f.withoutMissing.length }, text);
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
      answer: (ev) => (findings(ev).without.ok === 0 && findings(ev).without.info > 0 ? 2 : undefined),
    },
  ],
  check(ev) {
    const f = findings(ev);
    const dups = Object.keys(f.with.duplicated);
    const notRepublished = dups.filter((id) => !f.republished.has(id));
    const lost = f.withoutMissing.length;
    return [
      ...kit.deliveryChecks(f.with, { loss: 'forbidden', duplicates: 'allowed' }, 'confirmed messages'),
      kit.check(
        'duplicates come only from republishing unconfirmed messages',
        notRepublished.length === 0,
        'every duplicated id was one the publisher sent again',
        `${dups.length} duplicated${notRepublished.length ? `, ${kit.sample(notRepublished)} never republished` : ''}`,
      ),
      kit.check(
        'the confirming publisher reports its unconfirmed messages as indeterminate',
        f.confirmedFirstTime > 0 && f.unconfirmed > 0,
        'some confirmed (all received, above), the ones in flight at the kill indeterminate',
        `${f.confirmedFirstTime} confirmed; ${f.unconfirmed} indeterminate (${f.unconfirmedArrived} of them had arrived anyway)`,
      ),
      // None lost although it wrote to the frozen node: the lesson did not hold (fail); nothing written during
      // the freeze: the schedule never made the gap (unknown).
      {
        name: 'without confirms, messages were really lost',
        ok: lost > 0 ? true : f.duringFreeze > 0 ? false : 'unknown',
        expected: '> 0 of the messages written to the node before it died never arrived',
        observed:
          `${f.without.total} sent, ${f.without.total - lost} consumed, ${lost} never arrived; ` +
          `${f.duringFreeze} written while the node was frozen`,
        details: { missing: lost },
      },
      {
        name: 'without confirms the publisher cannot tell the lost from the arrived',
        // Nothing lost leaves nothing to tell apart: false as the loss check is (unknown when nothing was at risk).
        ok: f.without.ok > 0 ? false : lost > 0 ? f.without.info > 0 : f.duringFreeze > 0 ? false : 'unknown',
        expected: 'lost and arrived messages alike are "sent" (indeterminate) in its own record: none known safe',
        observed:
          `${f.without.total} sent: ${f.without.ok} known safe, ${f.without.info} of unknown fate ` +
          `(${f.withoutArrived} arrived, ${lost} lost), ${f.without.fail} refused`,
      },
    ];
  },
});
