import { check } from '../../src/checkers/check.ts';
import { delivery, deliveryChecks } from '../../src/checkers/delivery.ts';
import { completions, type Evidence, observed } from '../../src/engine/history.ts';
import { defineLab } from '../../src/engine/lab.ts';
import { classifyRead } from '../../stacks/rabbitmq/client.ts';
import { rabbitmq } from '../../stacks/rabbitmq/stack.ts';
import { describeTally, drainRecorded, messageIds, publishRecorded, tally } from '../../stacks/rabbitmq/workload.ts';
import { apiCommand, listQueues, rabbitmqctl, stopCleanly } from './commands.ts';

const QUEUE = 'orders';
const HOME = 'rabbit1';
const VIA = 'rabbit2';
/** Messages published while the home node is down, in each of the two ways. */
const OUTAGE = 20;

interface Seen {
  home: string;
  mirrorsBefore: string[];
  before: number;
  consumeError: string;
  /** The queue's node once the home node is back (absent: it never came back). */
  homeBack: string;
}

/** The outage publishes: confirmed (and dropped) without mandatory, returned with it. */
function outage(ev: Evidence, mandatory: boolean) {
  const ops = completions(ev.ops, 'send-outage').filter(
    (o) => (o.value as { mandatory: boolean }).mandatory === mandatory,
  );
  const received = new Set(
    completions(ev.ops, 'receive')
      .filter((o) => o.type === 'ok')
      .map((o) => (o.value as { id: string }).id),
  );
  return {
    ok: ops.filter((o) => o.type === 'ok').length,
    fail: ops.filter((o) => o.type === 'fail').length,
    info: ops.filter((o) => o.type === 'info').length,
    arrived: ops.filter((o) => received.has((o.value as { id: string }).id)).length,
    returned: ops.filter((o) => /returned/.test(o.error ?? '')).length,
  };
}

export default defineLab({
  id: 'rabbitmq/home-node-loss',
  title: 'A plain cluster queue lives on one node',
  teaches:
    'an unmirrored queue exists on its home node only: with that node down no other node can serve it; once it is back, every persistent message is there',
  notes:
    'Notes, RabbitMQ chapter: "RabbitMQ集群模式" - 普通集群模式: the queue\'s messages live only on the node that ' +
    'created it; other nodes hold its metadata and forward to it. The notes say that when A fails "可能会丢失数据": ' +
    'for a durable queue with persistent, confirmed messages they are not lost, only unreachable until A returns ' +
    "(and gone for good only if A's disk is). What the notes do not say: publishes made meanwhile are confirmed and " +
    'dropped unless the publisher sets mandatory.',
  params: {
    messages: {
      type: 'int',
      default: 1000,
      min: 1,
      max: 50_000,
      describe: 'persistent messages published before the stop',
    },
  },
  stack: rabbitmq,
  topology: () => ({ nodes: 3 }),
  async mechanism(lab) {
    const r = lab.stack;
    const reasons: string[] = [];
    await lab.step(
      `A durable classic queue, declared through ${HOME}`,
      `A client of ${HOME} declares "${QUEUE}" (durable, classic, no policy). A classic queue's process runs on the ` +
        'node the declaring client was connected to: its home. No policy mirrors it, so no other node has a copy.',
      async () => {
        const c = await r.client(HOME);
        try {
          await c.declare(QUEUE, { kind: 'classic', durable: true });
        } finally {
          await c.close();
        }
        const q = await r.waitForQueue(QUEUE, 'listed', () => true);
        lab.observe('home', r.hostOf(q.node), `${QUEUE} lives on ${r.hostOf(q.node)}`);
        lab.observe('mirrorsBefore', q.mirrors, `mirrors: ${q.mirrors.length ? q.mirrors.join(', ') : 'none'}`);
        if (r.hostOf(q.node) !== HOME) reasons.push(`${QUEUE} lives on ${q.node}, not on ${HOME}`);
        if (q.mirrors.length)
          reasons.push(`${QUEUE} is mirrored to ${q.mirrors.join(', ')}: this lab needs a plain queue`);
        if (q.type !== 'classic' || !q.durable) reasons.push(`${QUEUE} is ${q.type}, durable=${q.durable}`);
      },
      [rabbitmqctl(r, HOME, 'list_queues name type durable pid'), apiCommand(r, VIA, `/api/queues/%2F/${QUEUE}`)],
    );
    return reasons;
  },
  async run(lab) {
    const r = lab.stack;
    const n = lab.params.messages;
    await lab.step(
      `Publish through ${VIA}`,
      `A publisher connected to ${VIA} sends ${n} persistent messages with confirms. ${VIA} holds no copy: its ` +
        `channel hands each message to the queue process on ${HOME}, which writes it to ${HOME}'s disk and confirms.`,
      async () => {
        const c = await r.client(VIA);
        try {
          const out = await publishRecorded(
            lab.history,
            c,
            QUEUE,
            messageIds('m', 1, n),
            { confirm: true, persistent: true },
            { process: 'publisher' },
          );
          lab.say(`publisher: ${describeTally(tally(out.values()))}`);
          const { messages } = await c.check(QUEUE);
          lab.observe('before', messages, `${QUEUE} holds ${messages} messages, asked through ${VIA}`);
        } finally {
          await c.close();
        }
      },
      [listQueues(r, 'rabbit3')],
    );
    await lab.step(
      `Stop ${HOME}, the queue's home`,
      `A clean shutdown of ${HOME}. ${VIA} and rabbit3 keep running and still know "${QUEUE}" exists (the metadata is ` +
        'replicated to every node), but its messages are on the stopped node only.',
      async () => {
        const ms = await stopCleanly(lab, HOME);
        lab.say(`${HOME} stopped cleanly in ${(ms / 1000).toFixed(1)} s`);
      },
      { key: 'stop-home' },
    );
    await lab.step(
      `Consume through ${VIA}`,
      'Three ways to read the queue through a surviving node: basic.get, a subscription (basic.consume), and a ' +
        'passive declare. Each fails at once: channel error 404 NOT_FOUND, "home node ... is down or inaccessible". ' +
        'Nothing waits, nothing is served from elsewhere.',
      async () => {
        const c = await r.client(VIA);
        try {
          const tries: [string, () => Promise<unknown>][] = [
            ['get', () => c.get(QUEUE)],
            ['consume', () => c.consume(QUEUE, () => {})],
            ['passive declare', () => c.check(QUEUE)],
          ];
          for (const [how, fn] of tries) {
            const res = await lab.history.record('consumer', 'consume-attempt', { how }, VIA, fn, classifyRead);
            lab.say(`${how}: ${res.ok ? 'worked' : res.op.error}`);
          }
          const last = completions(lab.history.ops, 'consume-attempt').at(-1);
          lab.observe('consumeError', last?.error, undefined);
        } finally {
          await c.close();
        }
      },
      [listQueues(r, VIA), apiCommand(r, VIA, `/api/queues/%2F/${QUEUE}`)],
    );
    await lab.step(
      `Publish through ${VIA} while ${HOME} is down`,
      `${OUTAGE} more messages with confirms, first without and then with the mandatory flag. Without it the broker ` +
        'routes each message to the queue, finds no running queue process, drops it, and still confirms it: a ' +
        'confirm means "I have dealt with it", and dropping is dealing with it. With mandatory it returns each ' +
        'message (basic.return) before the confirm, so the publisher knows.',
      async () => {
        const c = await r.client(VIA);
        try {
          for (const mandatory of [false, true]) {
            const out = await publishRecorded(
              lab.history,
              c,
              QUEUE,
              messageIds(mandatory ? 'y' : 'x', 1, OUTAGE),
              { confirm: true, persistent: true, mandatory },
              { process: 'outage-publisher', f: 'send-outage', extra: { mandatory } },
            );
            lab.say(`${mandatory ? 'with' : 'without'} mandatory: ${describeTally(tally(out.values()))}`);
          }
        } finally {
          await c.close();
        }
      },
      { key: 'publish-down' },
    );
    await lab.step(
      `Start ${HOME} again`,
      `${HOME} rejoins (the others are running, so it finds the cluster at once) and recovers "${QUEUE}" from its disk.`,
      async () => {
        await lab.faults.start(HOME);
        await r.waitHealthy(90_000);
        const q = await lab.until(
          `${QUEUE} to run again`,
          async () => {
            const x = await r.queue(QUEUE).catch(() => undefined);
            return x?.node && x.state === 'running'
              ? { done: true, value: x }
              : { done: false, seen: x ? `state ${x.state}` : 'the API did not answer' };
          },
          { timeoutMs: 30_000, intervalMs: 250 },
        );
        lab.observe('homeBack', r.hostOf(q?.node), q ? `${QUEUE} is back on ${r.hostOf(q.node)}` : undefined);
      },
      [rabbitmqctl(r, VIA, 'cluster_status')],
    );
  },
  async final(lab) {
    const c = await lab.stack.client(VIA);
    try {
      const got = await drainRecorded(lab.history, c, QUEUE);
      lab.say(`${got.length} messages consumed through ${VIA}`);
    } finally {
      await c.close();
    }
  },
  predictions: [
    {
      before: 'stop-home',
      question: `${HOME}, home of the queue, is about to stop. What does a consumer connected to ${VIA} get?`,
      choices: [
        `the messages: ${VIA} serves them from its copy`,
        "an error at once: the queue's home node is down",
        'nothing: it waits until the node is back',
        'an empty queue',
      ],
      answer: (ev) => {
        const e = String(observed<Seen>(ev).consumeError ?? '');
        return /home node/.test(e) ? 1 : e ? undefined : 0;
      },
    },
    {
      before: 'publish-down',
      question: `With ${HOME} down, a publisher with confirms (no mandatory flag) sends ${OUTAGE} messages. What happens to them?`,
      choices: [
        'the broker nacks them',
        'they are confirmed, and silently dropped',
        'they wait on another node until the queue is back',
      ],
      answer: (ev) => {
        const o = outage(ev, false);
        if (o.fail === OUTAGE) return 0;
        if (o.ok === OUTAGE && o.arrived === 0) return 1;
        return o.arrived === OUTAGE ? 2 : undefined;
      },
    },
  ],
  check(ev, p) {
    const attempts = completions(ev.ops, 'consume-attempt');
    const refused = attempts.filter(
      (o) => o.type === 'fail' && /home node .* is down or inaccessible/.test(o.error ?? ''),
    );
    const plain = outage(ev, false);
    const mandatory = outage(ev, true);
    const seen = observed<Seen>(ev);
    return [
      check(
        `the queue holds ${p.messages} messages before the stop`,
        seen.before === p.messages,
        `${p.messages}`,
        String(seen.before),
      ),
      check(
        `consuming through ${VIA} fails while ${HOME} is down`,
        attempts.length === 3 && refused.length === 3,
        'get, consume and passive declare each fail: 404 home node down',
        `${refused.length} of ${attempts.length} refused${attempts[0]?.error ? `: ${attempts[0].error}` : ''}`,
      ),
      check(
        `the queue runs again once ${HOME} is back`,
        seen.homeBack === HOME,
        `${QUEUE} running on ${HOME}`,
        seen.homeBack ? `running on ${seen.homeBack}` : 'never seen running again',
      ),
      ...deliveryChecks(delivery(ev.ops), { loss: 'forbidden', duplicates: 'forbidden' }, 'persistent messages'),
      check(
        'during the outage, a confirm without mandatory did not mean stored',
        plain.ok === OUTAGE && plain.arrived === 0,
        `${OUTAGE} confirmed, 0 of them in the queue afterwards`,
        `${plain.ok} confirmed, ${plain.fail} failed, ${plain.info} unknown; ${plain.arrived} in the queue afterwards`,
      ),
      check(
        'with mandatory, the broker returned them instead',
        mandatory.returned === OUTAGE && mandatory.arrived === 0,
        `${OUTAGE} returned (basic.return)`,
        `${mandatory.returned} returned, ${mandatory.ok} confirmed; ${mandatory.arrived} in the queue afterwards`,
      ),
    ];
  },
});
