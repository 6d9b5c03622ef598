import {
  backOn,
  type Check,
  check,
  completions,
  defineLab,
  delivery,
  deliveryChecks,
  describeQueue,
  describeTally,
  drainVia,
  type Evidence,
  expectQueue,
  killAndWatch,
  type LabContext,
  listQueues,
  MIRROR_COLUMNS,
  type MirrorView,
  mirrorView,
  observed,
  Publisher,
  prove,
  publishVia,
  type QueueInfo,
  rabbitmq,
  rabbitmqctl,
  redeliveries,
  refused,
  SlowConsumer,
  type StartedRabbitMQ,
  sample,
  sleep,
  stopCleanly,
  tookOver,
  tryRead,
  untilRunning,
} from './kit.ts';

const QUEUE = 'ha.orders';
const POLICY = 'ha-all';
const MASTER = 'rabbit1';
const CONSUMER_NODE = 'rabbit2';
const PUBLISHER_NODE = 'rabbit3';
const MIRROR_NODES = [CONSUMER_NODE, PUBLISHER_NODE];
/** Measured over 13 runs (API polled every 50 ms from the end of docker kill): a new master 4-196 ms, median 11 ms. */
const MAX_FAILOVER_MS = 1000;
/** How long the when-synced variant watches for a promotion that must not come. */
const WATCH_MS = 10_000;
/** The consumer acks each delivery this long after it came: long enough that its prefetch window stays full. */
const ACK_DELAY_MS = 500;
const CONFIRMED = 'confirmed messages';

/** The policy definitions: what the lab sets up, by variant. */
const POLICIES = {
  automatic: { 'ha-mode': 'all', 'ha-sync-mode': 'automatic' },
  notes: { 'ha-mode': 'all' },
  'when-synced': { 'ha-mode': 'all', 'ha-promote-on-failure': 'when-synced' },
} as const;

interface Seen {
  mirrorsBefore: MirrorView;
  /** The new master, absent when none was seen within the watch. */
  masterAfter: string;
  failoverMs: number;
  /** The new master's "Promoting mirror" log line, and when it was written. */
  promotionLog: { line?: string; msAfterKill?: number; msAfterDown?: number };
  /** The master the API named while the old one was down (when-synced: still the dead one). */
  masterDuringOutage: string;
  consumerCancelled: string[];
  unackedAtKill: number;
  /** when-synced: the API names the old master again once it is back. */
  masterBack: string;
}

type Lab = LabContext<StartedRabbitMQ, { policy: keyof typeof POLICIES; messages: number }>;

export default defineLab({
  id: 'rabbitmq/mirrored-queue-failover',
  title: 'Classic mirrored queue: the master dies, the oldest mirror takes over, synchronised or not',
  teaches:
    "a killed master's longest-running mirror takes over within a second. Synchronised (automatic sync): every " +
    "confirmed message survives, unacked ones come again flagged redelivered. Unsynchronised (the notes' policy, " +
    'mirrors restarted): confirmed messages are lost. With ha-promote-on-failure=when-synced: nothing is lost, but ' +
    'the queue has no master until the old one returns',
  notes:
    'Notes, RabbitMQ chapter: "镜像集群模式" (line 2494) says messages are actively synchronised between mirrors, and ' +
    '"将集群设置为镜像模式" (line 2656) sets rabbitmqctl set_policy ha-all "^" \'{"ha-mode":"all"}\'. INCOMPLETE: ' +
    'that policy leaves ha-sync-mode at its default, manual: a mirror that joins (or restarts) gets only new ' +
    'messages and stays unsynchronised until the old ones are consumed, and by default (ha-promote-on-failure: ' +
    'always) RabbitMQ promotes the longest-running mirror when the master dies, synchronised or not, losing what ' +
    "only the master had. The variants show it: policy=notes is the notes' exact policy; policy=when-synced " +
    'refuses to promote an unsynchronised mirror (the queue waits for its master); the default adds ha-sync-mode ' +
    'automatic. OUTDATED: RabbitMQ 4.0 removed classic queue mirroring; on 4.x the ha-* keys are ignored and the ' +
    'queue is simply not mirrored. This lab runs 3.10, where it still exists (deprecated since 3.9); the ' +
    'replacement is the quorum queue (rabbitmq/quorum-queue-failover).',
  params: {
    policy: {
      type: 'enum',
      default: 'automatic',
      choices: ['automatic', 'notes', 'when-synced'],
      describe: "the ha-* policy: automatic sync, the notes' (manual sync, mirrors restarted), or when-synced",
    },
    messages: { type: 'int', default: 3000, min: 100, max: 50_000, describe: 'confirmed messages before the kill' },
  },
  variants: [{}, { policy: 'notes' }, { policy: 'when-synced' }],
  stack: rabbitmq,
  topology: () => ({ nodes: 3 }),
  steps: {
    mirror: {
      title: `Mirror every queue named ha.*, then fill ${QUEUE}`,
      narration: (p) =>
        `The policy "${POLICY}" (pattern ^ha\\., ${JSON.stringify(POLICIES[p.policy])}, applied to queues) gives ` +
        `every matching queue a mirror on every other node. "${QUEUE}" is declared through ${MASTER}, so its master ` +
        `runs there. ${p.messages} persistent messages are published with confirms; for a mirrored queue the ` +
        'confirm comes once every mirror has the message. ' +
        (p.policy === 'automatic'
          ? 'Then the lab waits until the broker reports both mirrors synchronised.'
          : 'The mirrors exist from the start, so they hold every message so far.'),
      commands: [
        rabbitmqctl(MASTER, 'list_policies'),
        listQueues(MASTER, 'name policy pid slave_pids synchronised_slave_pids'),
        listQueues(CONSUMER_NODE, `${MIRROR_COLUMNS} state`),
      ],
    },
    'restart-mirrors': {
      title: `Restart both mirrors (${MIRROR_NODES.join(', ')})`,
      narration:
        'A clean restart of each mirror node, as after maintenance. Each comes back with a new, empty mirror of the ' +
        'queue (ha-mode all): it gets what is published from now on, not the messages already there. With manual ' +
        "synchronisation (the default: the notes' policy sets no ha-sync-mode) nothing copies the old messages over: " +
        'both mirrors stay unsynchronised and the master alone holds the {messages} confirmed messages.',
      commands: [
        listQueues(MASTER, MIRROR_COLUMNS),
        rabbitmqctl(MASTER, `sync_queue ${QUEUE}   # what an operator would run to synchronise them`),
      ],
    },
    consume: {
      title: 'A slow consumer and a steady publisher',
      narration:
        `A consumer connected to ${CONSUMER_NODE} takes messages with manual acks, 50 at a time (prefetch), and acks ` +
        `each ${ACK_DELAY_MS} ms after it arrives: with {messages} queued some are always delivered but unacked. It ` +
        'subscribes with x-cancel-on-ha-failover=true, so a failover cancels its subscription (basic.cancel) and ' +
        `it subscribes again. A publisher connected to ${PUBLISHER_NODE} adds batches of 50 with confirms.`,
    },
    'kill-master': {
      commands: [
        listQueues(CONSUMER_NODE, `${MIRROR_COLUMNS} state`),
        `docker logs {@${CONSUMER_NODE}} 2>&1 | grep -i -e promoting -e 'not promoting' -e unsynchron`,
      ],
      title: `Kill the master (${MASTER})`,
      narration: (p) =>
        'SIGKILL. The mirrors notice at once (the Erlang connection to the node closes). ' +
        {
          automatic:
            'The longest-running mirror is promoted (both are synchronised: nothing is lost). It cannot know which ' +
            'messages the old master had delivered, so it marks all it holds "redelivered": those the consumer held ' +
            'unacked come again on its new subscription. (A frozen master, whose connections stay open, would only ' +
            'be noticed after net_ticktime: 10 s here, 60 s by default in production.)',
          notes:
            'With ha-promote-on-failure at its default (always) the longest-running mirror is promoted although it is ' +
            'unsynchronised: the queue goes on, holding only what was published after the mirrors restarted ' +
            `(nothing). Then 100 new messages go in through ${PUBLISHER_NODE}.`,
          'when-synced':
            'ha-promote-on-failure=when-synced forbids promoting an unsynchronised mirror: the queue keeps its state ' +
            `and has no master. The lab watches ${WATCH_MS / 1000} s for a promotion and tries a basic.get through ` +
            `${CONSUMER_NODE}.`,
        }[p.policy],
    },
    stop: {
      title: 'Stop publishing and consuming',
      narration:
        'The publisher stops; the consumer goes on for 3 s more, then cancels (what it held unacked goes back to ' +
        'the queue). A final drain takes whatever is left.',
    },
    'start-master': {
      commands: [listQueues(MASTER, `${MIRROR_COLUMNS} state`)],
      title: `Start ${MASTER} again`,
      narration: (p) =>
        p.policy === 'when-synced'
          ? `${MASTER} comes back, reads the queue from its disk and is its master again: every message still there.`
          : `${MASTER} comes back, but the queue already has a new master: ${MASTER} drops what it had on disk and ` +
            'joins as a new, empty mirror. The messages only it held do not come back.',
    },
  },
  async mechanism(lab) {
    const r = lab.stack;
    const definition = POLICIES[lab.params.policy];
    const mirrored = (x: MirrorView, synced: boolean) =>
      x.master === MASTER &&
      MIRROR_NODES.every((m) => x.mirrors.includes(m) && (!synced || x.synchronised.includes(m)));
    const reasons = await prove(lab, 'mirror', async (no) => {
      const set = await r.applyPolicy(MASTER, POLICY, '^ha\\.', definition);
      await r.using(MASTER, (c) => c.declare(QUEUE, { kind: 'classic', durable: true }));
      lab.say(`publisher: ${describeTally(await publishVia(lab, MASTER, QUEUE, 'm', lab.params.messages))}`);
      if (JSON.stringify(set) !== JSON.stringify(definition)) {
        no.push(`the policy reads back as ${JSON.stringify(set)}, not ${JSON.stringify(definition)}`);
      }
      if (lab.params.policy !== 'automatic') return;
      const synced = (x: QueueInfo) => x?.policy === POLICY && mirrored(mirrorView(x), true);
      const q = await expectQueue(lab, no, QUEUE, `both mirrors synchronised under ${POLICY}`, synced, 30_000);
      lab.observe('mirrorsBefore', { ...mirrorView(q), definition: set }, q ? describeQueue(q) : 'queue not found');
    });
    if (lab.params.policy === 'automatic') return reasons;
    await lab.step('restart-mirrors', async () => {
      await Promise.all(MIRROR_NODES.map((m) => stopCleanly(lab, m)));
      for (const m of MIRROR_NODES) await lab.faults.start(m);
      await r.waitHealthy(120_000);
      const q = await expectQueue(
        lab,
        reasons,
        QUEUE,
        'both mirrors back',
        (x) => mirrored(mirrorView(x), false),
        30_000,
      );
      // Statistics trail by a few seconds: let a synchronisation that is going to show, show.
      await sleep(3000);
      const again = (await r.queue(QUEUE).catch(() => undefined)) ?? q;
      const view = mirrorView(again);
      lab.observe('mirrorsBefore', { ...view, definition }, again ? describeQueue(again) : 'queue not found');
      if (view.synchronised.length > 0) {
        reasons.push(`mirror(s) ${view.synchronised.join(', ')} synchronised: the lesson needs both unsynchronised`);
      }
    });
    return reasons;
  },
  run: (lab) => (lab.params.policy === 'automatic' ? steadyFailover(lab) : unsyncedFailover(lab)),
  final: (lab) => drainVia(lab, CONSUMER_NODE, [QUEUE], { firstMs: 5000 }),
  predictions: [
    {
      before: 'kill-master',
      question: `The master of ${QUEUE} is about to be killed. What happens to the confirmed messages?`,
      choices: [
        'a mirror is promoted and serves every one of them',
        'a mirror is promoted, and the messages it never had are lost',
        `the queue is unavailable until ${MASTER} is back, and nothing is lost`,
      ],
      answer: (ev) => {
        const lost = delivery(ev.ops).lost.length;
        if (observed<Seen>(ev).masterAfter === undefined) return lost === 0 ? 2 : undefined;
        return lost > 0 ? 1 : 0;
      },
    },
  ],
  check(ev, p) {
    const seen = observed<Seen>(ev);
    const b = seen.mirrorsBefore;
    const f = delivery(ev.ops);
    const synced = p.policy === 'automatic';
    const before = check(
      `before the kill, both mirrors were ${synced ? 'synchronised' : 'present and unsynchronised'}`,
      b?.master === MASTER &&
        b.mirrors.length === 2 &&
        (synced ? b.synchronised.join() === b.mirrors.join() : b.synchronised.length === 0),
      `master ${MASTER}, 2 mirrors, ${synced ? 'both' : 'none'} synchronised`,
      `master ${b?.master}, mirrors ${b?.mirrors.join(',') || 'none'}, synchronised ${b?.synchronised.join(',') || 'none'}`,
    );
    const promoted = tookOver(
      `a mirror was promoted within ${MAX_FAILOVER_MS} ms`,
      `one of ${b?.mirrors.join(', ') || 'the mirrors'} is master within ${MAX_FAILOVER_MS} ms`,
      seen.masterAfter,
      seen.failoverMs,
      MAX_FAILOVER_MS,
      (host) => (b?.mirrors ?? []).includes(host),
      seen.promotionLog,
    );
    if (synced) {
      return [
        before,
        promoted,
        ...deliveryChecks(f, { loss: 'forbidden', duplicates: 'allowed' }, CONFIRMED),
        ...consumerChecks(ev, seen),
      ];
    }
    if (p.policy === 'when-synced') {
      return [
        before,
        check(
          'no unsynchronised mirror was promoted while the master was down',
          seen.masterAfter === undefined && seen.masterDuringOutage !== undefined,
          `the API names no master but ${MASTER} for ${WATCH_MS} ms after the kill`,
          seen.masterAfter
            ? `${seen.masterAfter} promoted after ${seen.failoverMs} ms`
            : `master: ${seen.masterDuringOutage ?? 'never answered'}`,
        ),
        refused(
          'the queue was unavailable while the master was down',
          completions(ev.ops, 'get-during-outage')[0],
          `a basic.get through ${CONSUMER_NODE} is not served`,
        ),
        backOn(`the queue came back with ${MASTER}`, seen.masterBack, MASTER, QUEUE),
        ...deliveryChecks(f, { loss: 'forbidden', duplicates: 'forbidden' }, CONFIRMED),
      ];
    }
    const late = delivery(ev.ops.filter((o) => (o.value as { id?: string } | undefined)?.id?.startsWith('n')));
    return [
      before,
      promoted,
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
      ...deliveryChecks(f, { loss: 'allowed', duplicates: 'forbidden' }, CONFIRMED),
    ];
  },
});

/** policy=automatic: the consumer is told of the failover, and what it held unacked comes again, flagged. */
function consumerChecks(ev: Evidence, seen: Partial<Seen>): Check[] {
  const redel = redeliveries(ev.ops);
  const cancelled = seen.consumerCancelled ?? [];
  const killedAt = ev.faults.find((x) => x.kind === 'kill')?.start ?? Number.POSITIVE_INFINITY;
  const afterKill = completions(ev.ops, 'receive').filter(
    (o) => o.type === 'ok' && o.process === 'consumer' && o.time > killedAt,
  ).length;
  // No delivery outstanding at the kill means nothing could come twice: the run did not set the lesson up.
  const outstanding = seen.unackedAtKill === 0 ? 'unknown' : false;
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
      expected: `> 0 messages delivered again (${seen.unackedAtKill ?? '?'} were unacked at the kill), every second copy flagged redelivered`,
      observed:
        `${redel.duplicated} messages delivered more than once; ${redel.flagged} deliveries flagged redelivered` +
        (redel.unflaggedCopies.length ? `; unflagged copies: ${sample(redel.unflaggedCopies)}` : ''),
      details: { unflagged: redel.unflaggedCopies },
    },
  ];
}

/** Kills the master and watches for a promotion: which mirror, when, and what its log says. */
async function failover(lab: Lab, timeoutMs: number) {
  const names = { host: 'masterAfter', ms: 'failoverMs', log: 'promotionLog', none: 'masterDuringOutage' };
  const { q } = await killAndWatch(lab, MASTER, QUEUE, 'node', names, timeoutMs);
  if (q) lab.observe('mirrorsAfter', mirrorView(q).mirrors, describeQueue(q));
}

/** policy=automatic: a slow consumer and a steady publisher through the failover. */
async function steadyFailover(lab: Lab) {
  const r = lab.stack;
  const say = (t: string) => lab.say(t);
  const consumer = new SlowConsumer(lab.history, await r.client(CONSUMER_NODE), {
    queue: QUEUE,
    process: 'consumer',
    prefetch: 50,
    ackDelayMs: ACK_DELAY_MS,
    say,
    warn: (t: string) => lab.warn(t),
  });
  const publisher = new Publisher(lab.history, await r.client(PUBLISHER_NODE), {
    queue: QUEUE,
    process: 'steady-publisher',
    prefix: 's',
    confirm: true,
    persistent: true,
    batch: 50,
    pauseMs: 100,
    confirmTimeoutMs: 5000,
  });
  const progress = () => say(`${consumer.received} received so far; publisher: ${describeTally(publisher.tally)}`);
  try {
    await lab.step('consume', async () => {
      await consumer.start();
      publisher.start();
      await sleep(2000);
      progress();
    });
    await lab.step('kill-master', async () => {
      lab.observe('unackedAtKill', consumer.unacked, `${consumer.unacked} deliveries unacknowledged at the kill`);
      await failover(lab, 30_000);
      await sleep(3000);
      progress();
    });
    await lab.step('stop', async () => {
      await publisher.stop();
      say(`publisher: ${describeTally(publisher.tally)}`);
      await sleep(3000);
      await consumer.stop();
      lab.observe('consumerCancelled', consumer.cancellations);
      const redel = redeliveries(lab.history.ops);
      lab.observe('receivedByConsumer', consumer.received, `the consumer received ${consumer.received} deliveries`);
      lab.observe('redelivered', redel.flagged, `${redel.flagged} of them flagged redelivered`);
    });
  } finally {
    await publisher.close();
    await consumer.close();
  }
}

/** policy=notes or when-synced: both mirrors unsynchronised when the master dies. */
async function unsyncedFailover(lab: Lab) {
  const r = lab.stack;
  const whenSynced = lab.params.policy === 'when-synced';
  await lab.step('kill-master', async () => {
    await failover(lab, whenSynced ? WATCH_MS : 30_000);
    if (whenSynced) {
      await r.using(CONSUMER_NODE, (c) =>
        tryRead(lab, 'get-during-outage', { queue: QUEUE }, CONSUMER_NODE, () => c.get(QUEUE)),
      );
      return;
    }
    const as = { process: 'publisher-after', opts: { timeoutMs: 5000 } };
    lab.say(`after the failover: ${describeTally(await publishVia(lab, PUBLISHER_NODE, QUEUE, 'n', 100, as))}`);
  });
  await lab.step('start-master', async () => {
    await lab.faults.start(MASTER);
    await r.waitHealthy(120_000);
    const back = await untilRunning(lab, QUEUE, 60_000);
    lab.observe('masterBack', back.node, back.q ? describeQueue(back.q) : 'no master');
  });
}
