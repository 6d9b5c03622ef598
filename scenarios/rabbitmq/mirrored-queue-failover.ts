import { check } from '../../src/checkers/check.ts';
import { delivery, deliveryChecks, sample } from '../../src/checkers/delivery.ts';
import { completions, type Evidence, lastObservation } from '../../src/engine/history.ts';
import { defineLab } from '../../src/engine/lab.ts';
import { sleep } from '../../src/runtime/poll.ts';
import { promotionLines } from '../../stacks/rabbitmq/cli.ts';
import type { Consumer } from '../../stacks/rabbitmq/client.ts';
import { describeQueue, rabbitmq } from '../../stacks/rabbitmq/stack.ts';
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
import { apiCommand, rabbitmqctl } from './commands.ts';

const QUEUE = 'ha.orders';
const POLICY = 'ha-all';
const MASTER = 'rabbit1';
const CONSUMER_NODE = 'rabbit2';
const PUBLISHER_NODE = 'rabbit3';

interface MirrorView {
  master: string | undefined;
  mirrors: string[];
  synchronised: string[];
  policy: string | undefined;
}

/** Receives of one id: is every copy after the first flagged redelivered? */
function redeliveries(ev: Evidence) {
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

export default defineLab({
  id: 'rabbitmq/mirrored-queue-failover',
  title: 'Classic mirrored queue: the master dies, a synchronised mirror takes over',
  teaches:
    'with ha-mode all and synchronised mirrors, killing the master promotes a mirror within a second; every confirmed message is still consumed, some of them redelivered',
  notes:
    'Notes, RabbitMQ chapter: "镜像集群模式" and "将集群设置为镜像模式" (rabbitmqctl set_policy ha-all "^" ' +
    '\'{"ha-mode":"all"}\'). OUTDATED: RabbitMQ 4.0 removed classic queue mirroring; on 4.x the ha-* keys of a ' +
    'policy are ignored and the queue is simply not mirrored. This lab runs 3.10, where it still exists (deprecated ' +
    'since 3.9); the replacement is the quorum queue (rabbitmq/quorum-queue-failover). A mirror only protects what ' +
    'it holds: the lab proves the mirrors are synchronised before it kills anything.',
  params: {
    messages: { type: 'int', default: 3000, min: 100, max: 50_000, describe: 'confirmed messages before the kill' },
    maxFailoverMs: {
      type: 'int',
      default: 15_000,
      min: 100,
      describe: 'the bound within which the API must show a new master after the kill',
    },
  },
  stack: rabbitmq,
  topology: () => ({ nodes: 3 }),
  async mechanism(lab) {
    const r = lab.stack;
    const reasons: string[] = [];
    await lab.step(
      `Mirror every queue named ha.*, then fill ${QUEUE}`,
      `The policy "${POLICY}" (pattern ^ha\\., ha-mode all, ha-sync-mode automatic, applied to queues) gives every ` +
        `matching queue a mirror on every other node. "${QUEUE}" is declared through ${MASTER}, so its master runs ` +
        `there. ${lab.params.messages} persistent messages are published with confirms; for a mirrored queue the ` +
        'confirm comes once every mirror has the message. Then the lab waits until the broker reports both mirrors ' +
        'synchronised: an unsynchronised mirror lacks older messages, and promoting it would lose them.',
      async () => {
        await r.admin(MASTER).setPolicy(POLICY, {
          pattern: '^ha\\.',
          definition: { 'ha-mode': 'all', 'ha-sync-mode': 'automatic' },
          priority: 0,
          applyTo: 'queues',
        });
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
        const others = r.members.filter((m) => m !== MASTER).map((m) => r.nodeName(m));
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
        const view: MirrorView = {
          master: r.hostOf(q?.node),
          mirrors: (q?.mirrors ?? []).map((m) => r.hostOf(m) ?? m).sort(),
          synchronised: (q?.synchronisedMirrors ?? []).map((m) => r.hostOf(m) ?? m).sort(),
          policy: q?.policy,
        };
        lab.observe('mirrorsBefore', view, q ? describeQueue(q) : 'queue not found');
      },
      [
        rabbitmqctl(r, MASTER, 'list_policies'),
        rabbitmqctl(r, MASTER, 'list_queues name policy pid slave_pids synchronised_slave_pids'),
        apiCommand(r, CONSUMER_NODE, `/api/queues/%2F/${QUEUE}`),
      ],
    );
    return reasons;
  },
  async run(lab) {
    const r = lab.stack;
    const consumerClient = await r.client(CONSUMER_NODE);
    const publisherClient = await r.client(PUBLISHER_NODE);
    let consumer: Consumer | undefined;
    let stopping = false;
    let received = 0;
    let lastAt = Date.now();
    const cancellations: string[] = [];
    // Asks to be told of a failover (basic.cancel) and subscribes again when told, as a
    // consumer of a mirrored queue should: without x-cancel-on-ha-failover it may just stall.
    const subscribe = async (): Promise<void> => {
      const c = await consumerClient.consume(
        QUEUE,
        (m) => {
          received++;
          lastAt = Date.now();
          recordReceive(lab.history, 'consumer', CONSUMER_NODE, QUEUE, m);
        },
        { prefetch: 50, ackDelayMs: 100, arguments: { 'x-cancel-on-ha-failover': true } },
      );
      consumer = c;
      void c.ended.then(async (why) => {
        if (stopping) return;
        cancellations.push(why);
        lab.say(`the consumer's subscription ended (${why}); it subscribes again`);
        await c.cancel();
        if (!stopping) await subscribe().catch((e: Error) => lab.warn(`could not subscribe again: ${e.message}`));
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
          `acks each 100 ms after it arrives: there are always messages delivered but not yet acknowledged. It ` +
          'subscribes with x-cancel-on-ha-failover=true, so a failover cancels its subscription (basic.cancel) and ' +
          `it subscribes again. A publisher connected to ${PUBLISHER_NODE} keeps adding batches of 50 with confirms.`,
        async () => {
          await subscribe();
          publisher.start();
          await sleep(2000);
          lab.say(`${received} received so far; publisher: ${describeTally(publisher.tally)}`);
        },
      );
      const before = lastObservation(lab.history.evidence(), 'mirrorsBefore') as MirrorView;
      await lab.step(
        `Kill the master (${MASTER})`,
        'SIGKILL. The mirrors notice at once (the Erlang connection to the node closes) and the oldest ' +
          'synchronised mirror is promoted to master. A promoted mirror cannot know which messages the old master ' +
          'had delivered, so it requeues all it holds marked "redelivered", and the consumer, subscribed again ' +
          'after its basic.cancel, sees them again. ' +
          '(A frozen master, whose connections stay open, would only be noticed after net_ticktime: 10 s here, ' +
          '60 s by default in production.)',
        async () => {
          await lab.faults.kill(MASTER);
          const killed = Date.now();
          const q = await r.waitForQueue(
            QUEUE,
            `a master other than ${MASTER}`,
            (x) => x.node !== undefined && x.node !== r.nodeName(MASTER),
            { via: [CONSUMER_NODE, PUBLISHER_NODE], timeoutMs: 60_000, intervalMs: 50 },
          );
          const ms = Date.now() - killed;
          const master = r.hostOf(q.node) as string;
          lab.observe('masterAfter', master, `${master} is the master now`);
          lab.observe('failoverMs', ms, `the API shows the new master ${ms} ms after the kill`);
          const promoted = promotionLines(await r.cluster.node(master).logs(), QUEUE);
          lab.observe('promotionLog', promoted, promoted[0] ? `${master}'s log: ${promoted[0]}` : undefined);
          lab.observe(
            'mirrorsAfter',
            q.mirrors.map((m) => r.hostOf(m)),
            describeQueue(q),
          );
          await sleep(3000);
          lab.say(`${received} received so far; publisher: ${describeTally(publisher.tally)}`);
        },
        [
          rabbitmqctl(r, CONSUMER_NODE, 'list_queues name pid slave_pids synchronised_slave_pids messages'),
          `docker logs ${r.containerName(before?.mirrors?.[0] ?? CONSUMER_NODE)} 2>&1 | grep -i promoting`,
        ],
      );
      await lab.step(
        'Stop publishing; let the consumer finish',
        'The publisher stops; the consumer keeps going until nothing has come for two seconds.',
        async () => {
          await publisher.stop();
          lab.say(`publisher: ${describeTally(publisher.tally)}`);
          const start = Date.now();
          while (Date.now() - lastAt < 2000 && Date.now() - start < 60_000) await sleep(200);
          stopping = true;
          await consumer?.cancel();
          lab.observe('consumerCancelled', cancellations, undefined);
          const ev = lab.history.evidence();
          lab.observe('receivedByConsumer', received, `the consumer received ${received} deliveries`);
          lab.observe(
            'redelivered',
            redeliveries(ev).flagged,
            `${redeliveries(ev).flagged} of them flagged redelivered`,
          );
        },
      );
    } finally {
      stopping = true;
      await publisher.stop();
      await consumer?.cancel();
      await consumerClient.close();
      await publisherClient.close();
    }
  },
  async final(lab) {
    const c = await lab.stack.client(CONSUMER_NODE);
    try {
      const got = await drainRecorded(lab.history, c, QUEUE);
      lab.say(`${got.length} more consumed after the heal`);
    } finally {
      await c.close();
    }
  },
  predictions: [
    {
      beforeStep: 3,
      question: `The master of ${QUEUE} is about to be killed. What happens to the confirmed messages?`,
      choices: [
        'a mirror is promoted and serves every one of them',
        'those on the master are lost: mirrors only copy new messages',
        `the queue is unavailable until ${MASTER} is back`,
      ],
      answer: (ev) => {
        const lost = delivery(ev.ops).lost.length;
        const master = lastObservation(ev, 'masterAfter');
        if (typeof master === 'string' && lost === 0) return 0;
        return lost > 0 ? 1 : 2;
      },
    },
  ],
  check(ev, p) {
    const before = lastObservation(ev, 'mirrorsBefore') as MirrorView | undefined;
    const after = lastObservation(ev, 'masterAfter');
    const ms = Number(lastObservation(ev, 'failoverMs'));
    const redel = redeliveries(ev);
    const f = delivery(ev.ops);
    const cancelled = (lastObservation(ev, 'consumerCancelled') as string[] | undefined) ?? [];
    const killedAt = ev.faults.find((x) => x.kind === 'kill')?.start ?? Number.POSITIVE_INFINITY;
    const afterKill = completions(ev.ops, 'receive').filter(
      (o) => o.type === 'ok' && o.process === 'consumer' && o.time > killedAt,
    ).length;
    return [
      check(
        'before the kill, both mirrors were synchronised',
        before?.master === MASTER &&
          before.mirrors.length === 2 &&
          before.synchronised.join() === before.mirrors.join(),
        `master ${MASTER}, 2 mirrors, both synchronised`,
        `master ${before?.master}, mirrors ${before?.mirrors.join(',')}, synchronised ${before?.synchronised.join(',')}`,
      ),
      check(
        `a mirror was promoted within ${p.maxFailoverMs} ms`,
        typeof after === 'string' && (before?.mirrors ?? []).includes(after) && ms <= p.maxFailoverMs,
        `one of ${before?.mirrors.join(', ')} is master`,
        `${String(after)} after ${ms} ms`,
        { failoverMs: ms },
      ),
      ...deliveryChecks(f, { loss: 'forbidden', duplicates: 'allowed' }, 'confirmed messages'),
      check(
        'the consumer was told of the failover and consumed on',
        cancelled.length > 0 && afterKill > 0,
        'basic.cancel at the failover, then deliveries on a new subscription',
        `${cancelled.length} cancellation(s) (${cancelled.join(', ') || 'none'}); ${afterKill} deliveries after the kill`,
      ),
      check(
        'messages seen twice were flagged redelivered',
        redel.unflaggedCopies.length === 0,
        'every second delivery of a message carries redelivered=true',
        `${redel.duplicated} messages delivered more than once, ${redel.flagged} deliveries flagged redelivered` +
          (redel.unflaggedCopies.length ? `; unflagged: ${sample(redel.unflaggedCopies)}` : ''),
        { unflagged: redel.unflaggedCopies },
      ),
    ];
  },
});
