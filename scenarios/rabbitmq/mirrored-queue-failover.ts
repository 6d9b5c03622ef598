import { type Check, check } from '../../src/checkers/check.ts';
import { delivery, deliveryChecks, sample } from '../../src/checkers/delivery.ts';
import { completions, type Evidence, observed } from '../../src/engine/history.ts';
import { defineLab, type LabContext } from '../../src/engine/lab.ts';
import type { Probe } from '../../src/runtime/poll.ts';
import { sleep } from '../../src/runtime/poll.ts';
import { promotionLines } from '../../stacks/rabbitmq/cli.ts';
import { type Consumer, classifyRead } from '../../stacks/rabbitmq/client.ts';
import { describeQueue, rabbitmq, type StartedRabbitMQ } from '../../stacks/rabbitmq/stack.ts';
import {
  describeTally,
  drainRecorded,
  emptyTally,
  messageIds,
  Publisher,
  publishRecorded,
  recordReceive,
  tally,
} from '../../stacks/rabbitmq/workload.ts';
import { apiCommand, rabbitmqctl, stopCleanly } from './commands.ts';

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

/** The policy definitions: what the lab sets up, by variant. */
export const POLICIES = {
  automatic: { 'ha-mode': 'all', 'ha-sync-mode': 'automatic' },
  notes: { 'ha-mode': 'all' },
  'when-synced': { 'ha-mode': 'all', 'ha-promote-on-failure': 'when-synced' },
} as const;
type PolicyName = keyof typeof POLICIES;

interface MirrorView {
  master: string | undefined;
  mirrors: string[];
  synchronised: string[];
  policy: string | undefined;
  definition: Record<string, unknown> | undefined;
}

interface Seen {
  mirrorsBefore: MirrorView;
  /** The new master, absent when none was seen within the watch. */
  masterAfter: string;
  failoverMs: number;
  /** The master the API named while the old one was down (when-synced: still the dead one). */
  masterDuringOutage: string;
  consumerCancelled: string[];
  unackedAtKill: number;
  /** when-synced: the API names the old master again once it is back. */
  masterBack: string;
}

/** Receives of one id: is every copy after the first flagged redelivered? */
export function redeliveries(ev: Evidence) {
  const seen = new Map<string, boolean[]>();
  for (const o of completions(ev.ops, 'receive')) {
    if (o.type !== 'ok') continue;
    const v = o.value as { id: string; redelivered: boolean };
    seen.set(v.id, [...(seen.get(v.id) ?? []), v.redelivered]);
  }
  const flagged = [...seen.values()].flat().filter(Boolean).length;
  const duplicated = [...seen].filter(([, r]) => r.length > 1);
  const unflaggedCopies = duplicated.filter(([, r]) => r.slice(1).some((x) => !x)).map(([id]) => id);
  return { flagged, duplicated: duplicated.length, unflaggedCopies };
}

const mirrorView = (
  r: StartedRabbitMQ,
  q: Awaited<ReturnType<StartedRabbitMQ['queue']>>,
  def?: Record<string, unknown>,
): MirrorView => ({
  master: r.hostOf(q?.node),
  mirrors: (q?.mirrors ?? []).map((m) => r.hostOf(m) ?? m).sort(),
  synchronised: (q?.synchronisedMirrors ?? []).map((m) => r.hostOf(m) ?? m).sort(),
  policy: q?.policy,
  definition: def,
});

type Lab = LabContext<StartedRabbitMQ, { policy: string; messages: number }>;

/**
 * Kills the master and watches for a new one. The clock starts when Docker reports the kill
 * done (the node may have died during the call, which takes up to ~1.5 s on a busy machine:
 * its length is observed too).
 */
async function killMaster(lab: Lab, timeoutMs: number) {
  const t0 = Date.now();
  await lab.faults.kill(MASTER);
  const killed = Date.now();
  lab.observe('killCallMs', killed - t0, `docker kill took ${killed - t0} ms`);
  return watchPromotion(lab, killed, timeoutMs);
}

/** Watches the API (through the surviving nodes) for a master other than the killed one. */
async function watchPromotion(lab: Lab, killed: number, timeoutMs: number) {
  const r = lab.stack;
  let lastMaster: string | undefined;
  const q = await lab.until(
    `a master of ${QUEUE} other than ${MASTER}`,
    async (): Promise<Probe<NonNullable<Awaited<ReturnType<StartedRabbitMQ['queue']>>>>> => {
      const x = await r.queue(QUEUE, MIRROR_NODES).catch(() => undefined);
      lastMaster = r.hostOf(x?.node) ?? lastMaster;
      if (x?.node && x.node !== r.nodeName(MASTER)) return { done: true, value: x };
      return { done: false, seen: x ? describeQueue(x) : 'the API did not answer' };
    },
    { timeoutMs, intervalMs: 50 },
  );
  const ms = Date.now() - killed;
  if (q) {
    const master = r.hostOf(q.node) as string;
    lab.observe('masterAfter', master, `${master} is the master now`);
    lab.observe('failoverMs', ms, `the API shows the new master ${ms} ms after the kill`);
    const promoted = promotionLines(await r.cluster.node(master).logs(), QUEUE);
    lab.observe('promotionLog', promoted, promoted[0] ? `${master}'s log: ${promoted[0]}` : undefined);
  } else {
    lab.observe(
      'masterDuringOutage',
      lastMaster,
      `no mirror promoted in ${timeoutMs} ms: the API still names ${lastMaster ?? 'no master'}`,
    );
  }
  return q;
}

export default defineLab({
  id: 'rabbitmq/mirrored-queue-failover',
  title: 'Classic mirrored queue: the master dies, the oldest mirror takes over, synchronised or not',
  teaches:
    'killing the master of a mirrored queue promotes its longest-running mirror within a second; with automatic sync ' +
    'every confirmed message survives and those delivered but unacked come again, flagged redelivered; with the ' +
    "notes' policy (manual sync) a mirror that restarted after the messages were published is promoted " +
    'unsynchronised and confirmed messages are lost; with ha-promote-on-failure=when-synced nothing is lost but ' +
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
      describe:
        'automatic: ha-mode all + ha-sync-mode automatic; notes: the notes\' {"ha-mode":"all"} (manual sync) with ' +
        'both mirrors restarted after publishing; when-synced: the same with ha-promote-on-failure when-synced',
    },
    messages: { type: 'int', default: 3000, min: 100, max: 50_000, describe: 'confirmed messages before the kill' },
  },
  variants: [{}, { policy: 'notes' }, { policy: 'when-synced' }],
  stack: rabbitmq,
  topology: () => ({ nodes: 3 }),
  async mechanism(lab) {
    const r = lab.stack;
    const reasons: string[] = [];
    const name = lab.params.policy as PolicyName;
    const definition = POLICIES[name];
    const others = MIRROR_NODES.map((m) => r.nodeName(m));
    await lab.step(
      `Mirror every queue named ha.*, then fill ${QUEUE}`,
      `The policy "${POLICY}" (pattern ^ha\\., ${JSON.stringify(definition)}, applied to queues) gives every ` +
        `matching queue a mirror on every other node. "${QUEUE}" is declared through ${MASTER}, so its master runs ` +
        `there. ${lab.params.messages} persistent messages are published with confirms; for a mirrored queue the ` +
        'confirm comes once every mirror has the message.' +
        (name === 'automatic'
          ? ' Then the lab waits until the broker reports both mirrors synchronised.'
          : ' The mirrors exist from the start, so they hold every message so far.'),
      async () => {
        await r.admin(MASTER).setPolicy(POLICY, { pattern: '^ha\\.', definition, priority: 0, applyTo: 'queues' });
        const c = await r.client(MASTER);
        try {
          await c.declare(QUEUE, { kind: 'classic', durable: true });
          const t = emptyTally();
          for (let from = 1; from <= lab.params.messages; from += 500) {
            const ids = messageIds('m', from, Math.min(500, lab.params.messages - from + 1));
            const out = await publishRecorded(
              lab.history,
              c,
              QUEUE,
              ids,
              { confirm: true, persistent: true },
              { process: 'publisher' },
            );
            tally(out.values(), t);
          }
          lab.say(`publisher: ${describeTally(t)}`);
        } finally {
          await c.close();
        }
        const set = (await r.admin(MASTER).policies()).find((p) => p.name === POLICY);
        if (JSON.stringify(set?.definition) !== JSON.stringify(definition)) {
          reasons.push(
            `the policy reads back as ${JSON.stringify(set?.definition)}, not ${JSON.stringify(definition)}`,
          );
        }
        if (name !== 'automatic') return;
        const q = await r
          .waitForQueue(
            QUEUE,
            'both mirrors synchronised under the ha-all policy',
            (x) =>
              x.policy === POLICY &&
              others.every((o) => x.mirrors.includes(o) && x.synchronisedMirrors.includes(o)) &&
              x.node === r.nodeName(MASTER),
            { timeoutMs: 30_000, intervalMs: 250 },
          )
          .catch(async (err: Error) => {
            reasons.push(err.message);
            return r.queue(QUEUE);
          });
        lab.observe('mirrorsBefore', mirrorView(r, q, set?.definition), q ? describeQueue(q) : 'queue not found');
      },
      [
        rabbitmqctl(r, MASTER, 'list_policies'),
        rabbitmqctl(r, MASTER, 'list_queues name policy pid slave_pids synchronised_slave_pids'),
        apiCommand(r, CONSUMER_NODE, `/api/queues/%2F/${QUEUE}`),
      ],
    );
    if (name === 'automatic') return reasons;
    await lab.step(
      `Restart both mirrors (${MIRROR_NODES.join(', ')})`,
      'A clean restart of each mirror node, as after maintenance. Each comes back and, under ha-mode all, gets a ' +
        'new, empty mirror of the queue: it receives what is published from now on, not the messages already ' +
        "there. With manual synchronisation (the default: the notes' policy sets no ha-sync-mode) nothing copies " +
        'the old messages over, so both mirrors stay unsynchronised. The master alone holds the ' +
        `${lab.params.messages} confirmed messages.`,
      async () => {
        await Promise.all(MIRROR_NODES.map((m) => stopCleanly(lab, m)));
        for (const m of MIRROR_NODES) await lab.faults.start(m);
        await r.waitHealthy(120_000);
        const q = await r
          .waitForQueue(
            QUEUE,
            'both mirrors back',
            (x) => others.every((o) => x.mirrors.includes(o)) && x.node === r.nodeName(MASTER),
            { timeoutMs: 30_000, intervalMs: 250 },
          )
          .catch(async (err: Error) => {
            reasons.push(err.message);
            return r.queue(QUEUE);
          });
        // Statistics trail by a few seconds: let a synchronisation that is going to show, show.
        await sleep(3000);
        const again = (await r.queue(QUEUE).catch(() => undefined)) ?? q;
        const view = mirrorView(r, again, definition);
        lab.observe('mirrorsBefore', view, again ? describeQueue(again) : 'queue not found');
        if (view.synchronised.length > 0) {
          reasons.push(`mirror(s) ${view.synchronised.join(', ')} synchronised: the lesson needs both unsynchronised`);
        }
      },
      [
        rabbitmqctl(r, MASTER, 'list_queues name pid slave_pids synchronised_slave_pids messages'),
        rabbitmqctl(r, MASTER, `sync_queue ${QUEUE}   # what an operator would run to synchronise them (not run here)`),
      ],
    );
    return reasons;
  },
  async run(lab) {
    if (lab.params.policy === 'automatic') await steadyFailover(lab);
    else await unsyncedFailover(lab);
  },
  async final(lab) {
    const c = await lab.stack.client(CONSUMER_NODE);
    try {
      const got = await drainRecorded(lab.history, c, QUEUE, { firstMs: 5000 });
      lab.say(`${got.length} consumed at the end`);
    } finally {
      await c.close();
    }
  },
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
        const seen = observed<Seen>(ev);
        if (seen.masterAfter === undefined) return lost === 0 ? 2 : undefined;
        return lost > 0 ? 1 : 0;
      },
    },
  ],
  check(ev, p) {
    const seen = observed<Seen>(ev);
    const before = seen.mirrorsBefore;
    const f = delivery(ev.ops);
    if (p.policy === 'automatic') return automaticChecks(ev, seen, f);
    const unsynced = check(
      'before the kill, both mirrors were present and unsynchronised',
      before?.master === MASTER && before.mirrors.length === 2 && before.synchronised.length === 0,
      `master ${MASTER}, 2 mirrors, none synchronised`,
      `master ${before?.master}, mirrors ${before?.mirrors.join(',') || 'none'}, synchronised ${before?.synchronised.join(',') || 'none'}`,
    );
    const early = completions(ev.ops, 'send').filter((o) => o.process === 'publisher' && o.type === 'ok');
    const late = delivery(ev.ops.filter((o) => (o.value as { id?: string } | undefined)?.id?.startsWith('n')));
    if (p.policy === 'notes') {
      return [
        unsynced,
        promoted(seen, before),
        check(
          'confirmed messages were lost with the old master',
          f.lost.length > 0,
          'at least 1 confirmed message never consumed',
          `${f.lost.length} of ${early.length + late.acknowledged} confirmed messages lost` +
            (f.lost.length ? ` (${sample(f.lost)})` : ''),
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
    const get = completions(ev.ops, 'get-during-outage')[0];
    return [
      unsynced,
      check(
        'no unsynchronised mirror was promoted while the master was down',
        seen.masterAfter === undefined && seen.masterDuringOutage !== undefined,
        `the API names no master but ${MASTER} for ${WATCH_MS} ms after the kill`,
        seen.masterAfter
          ? `${seen.masterAfter} promoted after ${seen.failoverMs} ms`
          : `master: ${seen.masterDuringOutage ?? 'never answered'}`,
      ),
      check(
        'the queue was unavailable while the master was down',
        get !== undefined && get.type !== 'ok',
        `a basic.get through ${CONSUMER_NODE} is not served`,
        get ? `${get.type}: ${get.error ?? 'served'}` : 'not tried',
      ),
      check(
        `the queue came back with ${MASTER}`,
        seen.masterBack === MASTER,
        `${MASTER} is the master again`,
        String(seen.masterBack ?? 'no master seen'),
      ),
      ...deliveryChecks(f, { loss: 'forbidden', duplicates: 'forbidden' }, 'confirmed messages'),
    ];
  },
});

function promoted(seen: Partial<Seen>, before: MirrorView | undefined) {
  const ms = seen.failoverMs;
  return check(
    `a mirror was promoted within ${MAX_FAILOVER_MS} ms`,
    typeof seen.masterAfter === 'string' &&
      (before?.mirrors ?? []).includes(seen.masterAfter) &&
      ms !== undefined &&
      ms <= MAX_FAILOVER_MS,
    `one of ${before?.mirrors.join(', ') || 'the mirrors'} is master within ${MAX_FAILOVER_MS} ms`,
    `${seen.masterAfter ?? 'no new master'}${ms === undefined ? '' : ` after ${ms} ms`}`,
    { failoverMs: ms },
  );
}

function automaticChecks(ev: Evidence, seen: Partial<Seen>, f: ReturnType<typeof delivery>) {
  const before = seen.mirrorsBefore;
  const redel = redeliveries(ev);
  const cancelled = seen.consumerCancelled ?? [];
  const killedAt = ev.faults.find((x) => x.kind === 'kill')?.start ?? Number.POSITIVE_INFINITY;
  const afterKill = completions(ev.ops, 'receive').filter(
    (o) => o.type === 'ok' && o.process === 'consumer' && o.time > killedAt,
  ).length;
  return [
    check(
      'before the kill, both mirrors were synchronised',
      before?.master === MASTER && before.mirrors.length === 2 && before.synchronised.join() === before.mirrors.join(),
      `master ${MASTER}, 2 mirrors, both synchronised`,
      `master ${before?.master}, mirrors ${before?.mirrors.join(',')}, synchronised ${before?.synchronised.join(',')}`,
    ),
    promoted(seen, before),
    ...deliveryChecks(f, { loss: 'forbidden', duplicates: 'allowed' }, 'confirmed messages'),
    check(
      'the consumer was told of the failover and consumed on',
      cancelled.length > 0 && afterKill > 0,
      'basic.cancel at the failover, then deliveries on a new subscription',
      `${cancelled.length} cancellation(s) (${cancelled.join(', ') || 'none'}); ${afterKill} deliveries after the kill`,
    ),
    {
      name: 'unacked deliveries came again, flagged redelivered',
      // No delivery outstanding at the kill means nothing could come twice: the run did not set the lesson up.
      ok:
        redel.unflaggedCopies.length > 0
          ? false
          : redel.duplicated > 0
            ? true
            : seen.unackedAtKill === 0
              ? 'unknown'
              : false,
      expected: `> 0 messages delivered again (${seen.unackedAtKill ?? '?'} were unacked at the kill), every second copy flagged redelivered`,
      observed:
        `${redel.duplicated} messages delivered more than once; ${redel.flagged} deliveries flagged redelivered` +
        (redel.unflaggedCopies.length ? `; unflagged copies: ${sample(redel.unflaggedCopies)}` : ''),
      details: { unflagged: redel.unflaggedCopies },
    } satisfies Check,
  ];
}

/** policy=automatic: a slow consumer and a steady publisher through the failover. */
async function steadyFailover(lab: Lab) {
  const r = lab.stack;
  const consumerClient = await r.client(CONSUMER_NODE);
  const publisherClient = await r.client(PUBLISHER_NODE);
  let consumer: Consumer | undefined;
  let stopping = false;
  let received = 0;
  let unacked = 0;
  // Long enough that the prefetch window stays full even if this process stalls briefly.
  const ackDelayMs = 500;
  const cancellations: string[] = [];
  // Asks to be told of a failover (basic.cancel) and subscribes again when told, as a
  // consumer of a mirrored queue should: without x-cancel-on-ha-failover it may just stall.
  const subscribe = async (timeoutMs?: number): Promise<void> => {
    const c = await consumerClient.consume(
      QUEUE,
      (m) => {
        received++;
        unacked++;
        setTimeout(() => unacked--, ackDelayMs);
        recordReceive(lab.history, 'consumer', CONSUMER_NODE, QUEUE, m);
      },
      { prefetch: 50, ackDelayMs, arguments: { 'x-cancel-on-ha-failover': true }, timeoutMs },
    );
    consumer = c;
    void c.ended.then(async (why) => {
      if (stopping) return;
      cancellations.push(why);
      lab.say(`the consumer's subscription ended (${why}); it subscribes again`);
      // The old channel is closed without waiting: one run saw no delivery after the failover,
      // and a close that never completes would have kept this consumer from subscribing again.
      const t0 = Date.now();
      void c.cancel().then(() => lab.say(`the old channel closed after ${Date.now() - t0} ms`));
      // The broker cancels as soon as the master is gone, before the new one is promoted:
      // a basic.consume sent then can wait on the dead master and never be answered, nor
      // can the close of its channel (seen in 3 of about 20 runs: no delivery after the
      // kill, the consumer stuck closing). So each try gets 2 s, and a try that was not
      // answered is abandoned (its channel given up after 1 s) for another.
      for (let attempt = 1; attempt <= 5 && !stopping; attempt++) {
        const ok = await subscribe(2000).then(
          () => true,
          (e: Error) => {
            lab.say(`subscribing again, try ${attempt}: ${e.message}`);
            return false;
          },
        );
        if (ok) {
          lab.say(`subscribed again after ${Date.now() - t0} ms (try ${attempt})`);
          return;
        }
      }
      if (!stopping) lab.warn('could not subscribe again in 5 tries');
    });
  };
  const publisher = new Publisher(lab.history, publisherClient, {
    queue: QUEUE,
    process: 'steady-publisher',
    prefix: 's',
    confirm: true,
    persistent: true,
    batch: 50,
    pauseMs: 100,
    confirmTimeoutMs: 5000,
  });
  try {
    await lab.step(
      'A slow consumer and a steady publisher',
      `A consumer connected to ${CONSUMER_NODE} takes messages with manual acks, 50 at a time (prefetch), and ` +
        `acks each ${ackDelayMs} ms after it arrives: with ${lab.params.messages} messages queued there are always ` +
        'messages delivered but not yet acknowledged. It subscribes with x-cancel-on-ha-failover=true, so a ' +
        `failover cancels its subscription (basic.cancel) and it subscribes again. A publisher connected to ` +
        `${PUBLISHER_NODE} keeps adding batches of 50 with confirms.`,
      async () => {
        await subscribe();
        publisher.start();
        await sleep(2000);
        lab.say(`${received} received so far; publisher: ${describeTally(publisher.tally)}`);
      },
    );
    await lab.step(
      `Kill the master (${MASTER})`,
      'SIGKILL. The mirrors notice at once (the Erlang connection to the node closes) and the longest-running ' +
        'mirror is promoted to master (here both are synchronised, so nothing is lost). A promoted mirror cannot ' +
        'know which messages the old master had delivered, so it marks every message it holds "redelivered"; those ' +
        'the consumer held unacknowledged at the kill come a second time, on its new subscription after the ' +
        'basic.cancel. ' +
        '(A frozen master, whose connections stay open, would only be noticed after net_ticktime: 10 s here, ' +
        '60 s by default in production.)',
      async () => {
        lab.observe('unackedAtKill', unacked, `${unacked} deliveries unacknowledged at the kill`);
        const q = await killMaster(lab, 30_000);
        if (q)
          lab.observe(
            'mirrorsAfter',
            q.mirrors.map((m) => r.hostOf(m)),
            describeQueue(q),
          );
        await sleep(3000);
        lab.say(`${received} received so far; publisher: ${describeTally(publisher.tally)}`);
      },
      {
        key: 'kill-master',
        commands: [
          rabbitmqctl(r, CONSUMER_NODE, 'list_queues name pid slave_pids synchronised_slave_pids messages'),
          `docker logs ${r.containerName(CONSUMER_NODE)} 2>&1 | grep -i promoting`,
        ],
      },
    );
    await lab.step(
      'Stop publishing and consuming',
      'The publisher stops; the consumer goes on for 3 s more, then cancels (what it held unacknowledged goes ' +
        'back to the queue). A final drain takes whatever is left.',
      async () => {
        await publisher.stop();
        lab.say(`publisher: ${describeTally(publisher.tally)}`);
        await sleep(3000);
        stopping = true;
        await consumer?.cancel();
        lab.observe('consumerCancelled', cancellations, undefined);
        const redel = redeliveries(lab.history.evidence());
        lab.observe('receivedByConsumer', received, `the consumer received ${received} deliveries`);
        lab.observe('redelivered', redel.flagged, `${redel.flagged} of them flagged redelivered`);
      },
    );
  } finally {
    stopping = true;
    await publisher.stop();
    await consumer?.cancel();
    await consumerClient.close();
    await publisherClient.close();
  }
}

/** policy=notes or when-synced: both mirrors unsynchronised when the master dies. */
async function unsyncedFailover(lab: Lab) {
  const r = lab.stack;
  const whenSynced = lab.params.policy === 'when-synced';
  await lab.step(
    `Kill the master (${MASTER})`,
    whenSynced
      ? 'SIGKILL. Both mirrors notice at once, but ha-promote-on-failure=when-synced forbids promoting an ' +
          `unsynchronised one: the queue keeps its state and has no master. The lab watches ${WATCH_MS / 1000} s for ` +
          `a promotion and tries a basic.get through ${CONSUMER_NODE}.`
      : 'SIGKILL. Both mirrors notice at once, and with ha-promote-on-failure at its default (always) the ' +
          'longest-running mirror is promoted although it is unsynchronised: the queue goes on, holding only what ' +
          `was published after the mirrors restarted (nothing). Then 100 new messages go in through ${PUBLISHER_NODE}.`,
    async () => {
      const q = await killMaster(lab, whenSynced ? WATCH_MS : 30_000);
      if (q) lab.say(describeQueue(q));
      if (whenSynced) {
        const c = await r.client(CONSUMER_NODE);
        try {
          const res = await lab.history.record(
            'consumer',
            'get-during-outage',
            { queue: QUEUE },
            CONSUMER_NODE,
            () => c.get(QUEUE),
            classifyRead,
          );
          lab.say(`basic.get through ${CONSUMER_NODE}: ${res.ok ? 'served' : res.op.error}`);
        } finally {
          await c.close();
        }
        return;
      }
      const c = await r.client(PUBLISHER_NODE).catch(() => undefined);
      try {
        const out = await publishRecorded(
          lab.history,
          c,
          QUEUE,
          messageIds('n', 1, 100),
          { confirm: true, persistent: true, timeoutMs: 5000 },
          { process: 'publisher-after' },
        );
        lab.say(`after the failover: ${describeTally(tally(out.values()))}`);
      } finally {
        await c?.close();
      }
    },
    {
      key: 'kill-master',
      commands: [
        rabbitmqctl(r, CONSUMER_NODE, 'list_queues name pid slave_pids synchronised_slave_pids messages state'),
        `docker logs ${r.containerName(CONSUMER_NODE)} 2>&1 | grep -i -e promoting -e 'not promoting' -e unsynchron`,
      ],
    },
  );
  await lab.step(
    `Start ${MASTER} again`,
    whenSynced
      ? `${MASTER} comes back, reads the queue from its disk and is its master again: the queue is available, ` +
          'every message still there.'
      : `${MASTER} comes back, but the queue already has a new master: ${MASTER} drops what it had on disk and ` +
          'joins as a new, empty mirror. The messages only it held do not come back.',
    async () => {
      await lab.faults.start(MASTER);
      await r.waitHealthy(120_000);
      const q = await lab.until(
        `${QUEUE} to have a running master`,
        async () => {
          const x = await r.queue(QUEUE).catch(() => undefined);
          return x?.node && x.state === 'running'
            ? { done: true, value: x }
            : { done: false, seen: x ? describeQueue(x) : 'the API did not answer' };
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      lab.observe('masterBack', r.hostOf(q?.node), q ? describeQueue(q) : 'no master');
    },
    [rabbitmqctl(r, MASTER, 'list_queues name pid slave_pids synchronised_slave_pids messages state')],
  );
}
