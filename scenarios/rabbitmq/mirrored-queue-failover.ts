import * as kit from './kit.ts';

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
const HA_HELP = "the ha-* policy: automatic sync, the notes' (manual sync, mirrors restarted), or when-synced";
/** Where the steady consumer and publisher connect (policy=automatic). */
const TRAFFIC = { consumer: CONSUMER_NODE, publisher: PUBLISHER_NODE };

/** The policy definitions: what the lab sets up, by variant. */
const POLICIES = {
  automatic: { 'ha-mode': 'all', 'ha-sync-mode': 'automatic' },
  notes: { 'ha-mode': 'all' },
  'when-synced': { 'ha-mode': 'all', 'ha-promote-on-failure': 'when-synced' },
} as const;

interface Seen {
  mirrorsBefore: kit.MirrorView;
  /** The new master (absent when none was seen within the watch), after how long, and its log line. */
  masterAfter: string;
  failoverMs: number;
  promotionLog: { line?: string; msAfterKill?: number; msAfterDown?: number };
  /** The master the API named while the old one was down (when-synced: still the dead one), and once it is back. */
  masterDuringOutage: string;
  masterBack: string;
  consumerCancelled: string[];
  unackedAtKill: number;
}

export default kit.defineLab({
  id: 'rabbitmq/mirrored-queue-failover',
  title: 'Classic mirrored queue: the master dies, the oldest mirror takes over, synchronised or not',
  teaches:
    "a killed master's longest-running mirror takes over within a second. Synchronised (automatic sync): nothing " +
    "confirmed is lost, unacked ones come again flagged redelivered. Unsynchronised (the notes' policy): confirmed " +
    'messages are lost. With ha-promote-on-failure=when-synced: nothing lost, no master until the old one returns',
  notes:
    'Notes, RabbitMQ chapter: "镜像集群模式" (line 2494) says messages are actively synchronised between mirrors, and ' +
    '"将集群设置为镜像模式" (line 2656) sets rabbitmqctl set_policy ha-all "^" \'{"ha-mode":"all"}\'. INCOMPLETE: ' +
    'that policy leaves ha-sync-mode at its default, manual: a mirror that joins (or restarts) gets only new ' +
    'messages and stays unsynchronised until the old ones are consumed, and by default (ha-promote-on-failure: ' +
    'always) RabbitMQ promotes the longest-running mirror when the master dies, synchronised or not, losing what ' +
    "only the master had (policy=notes runs the notes' exact policy). OUTDATED: RabbitMQ 4.0 removed classic queue " +
    'mirroring; on 4.x the ha-* keys are ignored and the queue is simply not mirrored. This lab runs 3.10, where ' +
    'it still exists (deprecated since 3.9); the replacement is the quorum queue (rabbitmq/quorum-queue-failover).',
  params: {
    policy: { type: 'enum', default: 'automatic', choices: ['automatic', 'notes', 'when-synced'], describe: HA_HELP },
    messages: { type: 'int', default: 3000, min: 100, max: 50_000, describe: 'confirmed messages before the kill' },
  },
  variants: [{}, { policy: 'notes' }, { policy: 'when-synced' }],
  stack: kit.rabbitmq,
  topology: () => ({ nodes: 3 }),
  steps: {
    mirror: {
      title: `Mirror every queue named ha.*, then fill ${QUEUE}`,
      narration: (p) =>
        `The policy "${POLICY}" (^ha\\., ${JSON.stringify(POLICIES[p.policy])}) mirrors each matching queue on every ` +
        `other node. "${QUEUE}", declared through ${MASTER} (its master), gets ${p.messages} persistent messages, ` +
        'each confirmed once every mirror has it. ' +
        (p.policy === 'automatic' ? 'Then both mirrors are reported synchronised.' : 'The mirrors hold all of them.'),
      commands: [
        kit.rabbitmqctl(MASTER, 'list_policies'),
        kit.listQueues(MASTER, 'name policy pid slave_pids synchronised_slave_pids'),
        kit.listQueues(CONSUMER_NODE, `${kit.MIRROR_COLUMNS} state`),
      ],
    },
    'restart-mirrors': {
      title: `Restart both mirrors (${MIRROR_NODES.join(', ')})`,
      narration:
        'A clean restart of each mirror node, as after maintenance: each mirror comes back empty and gets only new ' +
        'messages. With manual sync (no ha-sync-mode) both stay unsynchronised: only the master has all {messages}.',
      commands: [
        kit.listQueues(MASTER, kit.MIRROR_COLUMNS),
        kit.rabbitmqctl(MASTER, `sync_queue ${QUEUE}   # what an operator would run to synchronise them`),
      ],
    },
    consume: {
      title: 'A slow consumer and a steady publisher',
      narration:
        `A consumer on ${CONSUMER_NODE} (prefetch 50) acks each delivery ${ACK_DELAY_MS} ms late: some are always ` +
        'unacked. x-cancel-on-ha-failover=true makes a failover cancel it (basic.cancel); it subscribes again. ' +
        `A publisher on ${PUBLISHER_NODE} adds confirmed batches of 50.`,
    },
    'kill-master': {
      commands: [
        kit.listQueues(CONSUMER_NODE, `${kit.MIRROR_COLUMNS} state`),
        `docker logs {@${CONSUMER_NODE}} 2>&1 | grep -i -e promoting -e 'not promoting' -e unsynchron`,
      ],
      title: `Kill the master (${MASTER})`,
      narration: (p) =>
        'SIGKILL: the mirrors notice at once (the Erlang connection closes). ' +
        {
          automatic:
            'The longest-running mirror is promoted (synchronised: nothing lost). Not knowing what the old master ' +
            'delivered, it marks all it holds "redelivered": what the consumer held unacked comes again. (A frozen ' +
            'master is noticed only after net_ticktime: 10 s here, 60 s by default in production.)',
          notes:
            'ha-promote-on-failure=always (the default) promotes the longest-running mirror, unsynchronised: the ' +
            `queue goes on with only what came after the mirrors restarted. Then 100 new messages via ${PUBLISHER_NODE}.`,
          'when-synced':
            'ha-promote-on-failure=when-synced forbids promoting an unsynchronised mirror: the queue has no master. ' +
            `The lab watches ${WATCH_MS / 1000} s for a promotion and tries a basic.get through ${CONSUMER_NODE}.`,
        }[p.policy],
    },
    stop: {
      title: 'Stop publishing and consuming',
      narration: 'The publisher stops, the consumer 3 s later (its unacked go back); a final drain takes the rest.',
    },
    'start-master': {
      commands: [kit.listQueues(MASTER, `${kit.MIRROR_COLUMNS} state`)],
      title: `Start ${MASTER} again`,
      narration: (p) =>
        p.policy === 'when-synced'
          ? `${MASTER} comes back, reads the queue from its disk and is its master again: every message still there.`
          : `${MASTER} comes back to a new master: it drops what it had on disk and joins as a new, empty mirror.`,
    },
  },
  async mechanism(lab) {
    const definition = POLICIES[lab.params.policy];
    const mirrored = (synced: boolean) => (x: kit.QueueInfo) =>
      kit.mirroredOn(kit.mirrorView(x), MASTER, MIRROR_NODES, synced);
    const reasons = await kit.prove(lab, 'mirror', async (no) => {
      const fill = { name: POLICY, definition, master: MASTER, queue: QUEUE, messages: lab.params.messages };
      const set = await kit.mirrorAndFill(lab, no, fill);
      if (lab.params.policy !== 'automatic') return;
      const synced = (x: kit.QueueInfo) => x?.policy === POLICY && mirrored(true)(x);
      const q = await kit.expectQueue(lab, no, QUEUE, `both mirrors synchronised under ${POLICY}`, synced, 30_000);
      const view = { ...kit.mirrorView(q), definition: set };
      lab.observe('mirrorsBefore', view, q ? kit.describeQueue(q) : 'queue not found');
    });
    if (lab.params.policy === 'automatic') return reasons;
    await lab.step('restart-mirrors', async () => {
      await kit.restartCleanly(lab, MIRROR_NODES);
      const q = await kit.expectQueue(lab, reasons, QUEUE, 'both mirrors back', mirrored(false), 30_000);
      if (q) await kit.unsyncedMirrors(lab, reasons, QUEUE, definition);
    });
    return reasons;
  },
  async run(lab) {
    const kill = (timeoutMs: number) => kit.killMaster(lab, MASTER, QUEUE, timeoutMs);
    if (lab.params.policy === 'automatic')
      return kit.steadyThroughFailover(lab, QUEUE, TRAFFIC, ACK_DELAY_MS, () => kill(30_000));
    // policy=notes or when-synced: both mirrors unsynchronised when the master dies.
    const whenSynced = lab.params.policy === 'when-synced';
    const as = { process: 'publisher-after', opts: { timeoutMs: 5000 } };
    const publishAfter = () => kit.publishVia(lab, PUBLISHER_NODE, QUEUE, 'n', 100, as);
    await lab.step('kill-master', async () => {
      await kill(whenSynced ? WATCH_MS : 30_000);
      if (whenSynced) await kit.tryGet(lab, 'get-during-outage', CONSUMER_NODE, QUEUE);
      else lab.say(`after the failover: ${kit.describeTally(await publishAfter())}`);
    });
    await lab.step('start-master', () => kit.startAndWatch(lab, MASTER, QUEUE, 'masterBack'));
  },
  final: (lab) => kit.drainVia(lab, CONSUMER_NODE, [QUEUE], { firstMs: 5000 }),
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
        const lost = kit.delivery(ev.ops).lost.length;
        if (kit.observed<Seen>(ev).masterAfter === undefined) return lost === 0 ? 2 : undefined;
        return lost > 0 ? 1 : 0;
      },
    },
  ],
  check(ev, p) {
    const seen = kit.observed<Seen>(ev);
    const b = seen.mirrorsBefore;
    const synced = p.policy === 'automatic';
    const what = synced ? 'synchronised' : 'present and unsynchronised';
    const before = kit.mirrorsCheck(`before the kill, both mirrors were ${what}`, b, MASTER, synced);
    const promoted = kit.promotedWithin(b?.mirrors ?? [], seen, MAX_FAILOVER_MS);
    if (synced)
      return [
        before,
        promoted,
        ...kit.deliveryChecks(kit.delivery(ev.ops), { loss: 'forbidden', duplicates: 'allowed' }, 'confirmed messages'),
        ...kit.failoverConsumerChecks(ev, 'consumer', seen.consumerCancelled ?? [], seen.unackedAtKill),
      ];
    if (p.policy === 'when-synced') {
      const where = { master: MASTER, queue: QUEUE, via: CONSUMER_NODE, watchMs: WATCH_MS };
      return [before, ...kit.heldForMasterChecks(ev, where, seen, 'get-during-outage')];
    }
    return [before, promoted, ...kit.lostWithMasterChecks(ev, 'n')];
  },
});
