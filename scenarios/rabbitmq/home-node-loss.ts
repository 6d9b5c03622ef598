import * as kit from './kit.ts';

const QUEUE = 'orders';
const HOME = 'rabbit1';
const VIA = 'rabbit2';
/** Messages published while the home node is down, in each of the two ways. */
const OUTAGE = 20;
const HOME_DOWN = /home node .* is down or inaccessible/;
type Sent = { id: string; mandatory: boolean };

interface Seen {
  before: number;
  consumeError: string;
  /** The queue's node once the home node is back (absent: it never came back). */
  homeBack: string;
}

/** The outage publishes: confirmed (and dropped) without mandatory, returned with it. */
function outage(ev: kit.Evidence, mandatory: boolean) {
  const ops = kit.completions(ev.ops, 'send-outage').filter((o) => (o.value as Sent).mandatory === mandatory);
  const received = kit.copies(ev.ops);
  return {
    ...kit.outcomes(ops),
    arrived: ops.filter((o) => received.has((o.value as Sent).id)).length,
    returned: ops.filter((o) => /returned/.test(o.error ?? '')).length,
  };
}

export default kit.defineLab({
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
    messages: { type: 'int', default: 1000, min: 1, max: 50_000, describe: 'persistent messages sent before the stop' },
  },
  stack: kit.rabbitmq,
  topology: () => ({ nodes: 3 }),
  steps: {
    declare: {
      title: `A durable classic queue, declared through ${HOME}`,
      narration:
        `A client of ${HOME} declares "${QUEUE}" (durable, classic, no policy). A classic queue's process runs on the ` +
        'node the declaring client was connected to: its home. No policy mirrors it, so no other node has a copy.',
      commands: [
        kit.listQueues(HOME, 'name type durable pid'),
        kit.listQueues(VIA, 'name pid slave_pids policy state'),
      ],
    },
    publish: {
      title: `Publish through ${VIA}`,
      narration:
        `A publisher connected to ${VIA} sends {messages} persistent messages with confirms. ${VIA} holds no copy: its ` +
        `channel hands each message to the queue process on ${HOME}, which writes it to ${HOME}'s disk and confirms.`,
      commands: [kit.listQueues('rabbit3')],
    },
    'stop-home': {
      title: `Stop ${HOME}, the queue's home`,
      narration:
        `A clean shutdown of ${HOME}. ${VIA} and rabbit3 keep running and still know "${QUEUE}" exists (the metadata ` +
        'is replicated to every node), but its messages are on the stopped node only.',
    },
    consume: {
      title: `Consume through ${VIA}`,
      narration:
        'Three ways to read the queue through a surviving node: basic.get, a subscription (basic.consume), a passive ' +
        'declare. Each fails at once (404 NOT_FOUND, "home node ... is down or inaccessible"): nothing waits.',
      commands: [kit.listQueues(VIA), kit.listQueues(VIA, 'name pid state')],
    },
    'publish-down': {
      title: `Publish through ${VIA} while ${HOME} is down`,
      narration:
        `${OUTAGE} more with confirms, without then with mandatory. Without it the broker drops each (no queue process ` +
        'runs) yet confirms it: a confirm means "I have dealt with it". With mandatory it returns each (basic.return).',
    },
    'start-home': {
      title: `Start ${HOME} again`,
      narration: `${HOME} rejoins (the others are running, so it finds the cluster at once) and recovers "${QUEUE}" from its disk.`,
      commands: [kit.rabbitmqctl(VIA, 'cluster_status')],
    },
  },
  mechanism: (lab) =>
    kit.prove(lab, 'declare', async (no) => {
      const q = await kit.declareHomed(lab, no, HOME, QUEUE, 'home');
      lab.observe('mirrorsBefore', q.mirrors, `mirrors: ${q.mirrors.length ? q.mirrors.join(', ') : 'none'}`);
      if (q.mirrors.length) no.push(`${QUEUE} is mirrored to ${q.mirrors.join(', ')}: this lab needs a plain queue`);
      if (q.type !== 'classic' || !q.durable) no.push(`${QUEUE} is ${q.type}, durable=${q.durable}`);
    }),
  async run(lab) {
    await lab.step('publish', async () => {
      lab.say(`publisher: ${kit.describeTally(await kit.publishVia(lab, VIA, QUEUE, 'm', lab.params.messages))}`);
      await kit.observeDepth(lab, VIA, QUEUE, 'before');
    });
    await lab.step('stop-home', () => kit.stopCleanly(lab, HOME));
    await lab.step('consume', () =>
      lab.stack.using(VIA, async (c) => {
        await kit.tryRead(lab, 'consume-attempt', { how: 'get' }, VIA, () => c.get(QUEUE));
        await kit.tryRead(lab, 'consume-attempt', { how: 'consume' }, VIA, () => c.consume(QUEUE, () => {}));
        await kit.tryRead(lab, 'consume-attempt', { how: 'passive declare' }, VIA, () => c.check(QUEUE));
        lab.observe('consumeError', kit.completions(lab.history.ops, 'consume-attempt').at(-1)?.error);
      }),
    );
    await lab.step('publish-down', async () => {
      for (const mandatory of [false, true]) {
        const as = { process: 'outage-publisher', f: 'send-outage', extra: { mandatory }, opts: { mandatory } };
        const t = await kit.publishVia(lab, VIA, QUEUE, mandatory ? 'y' : 'x', OUTAGE, as);
        lab.say(`${mandatory ? 'with' : 'without'} mandatory: ${kit.describeTally(t)}`);
      }
    });
    await lab.step('start-home', async () => {
      await kit.startAgain(lab, [HOME], 90_000);
      const { node } = await kit.untilRunning(lab, QUEUE, 30_000);
      lab.observe('homeBack', node, node ? `${QUEUE} is back on ${node}` : undefined);
    });
  },
  final: (lab) => kit.drainVia(lab, VIA, [QUEUE]),
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
        const e = String(kit.observed<Seen>(ev).consumeError ?? '');
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
  check(ev, { messages: n }) {
    const attempts = kit.completions(ev.ops, 'consume-attempt');
    const refused = attempts.filter((o) => o.type === 'fail' && HOME_DOWN.test(o.error ?? ''));
    const plain = outage(ev, false);
    const mandatory = outage(ev, true);
    const seen = kit.observed<Seen>(ev);
    return [
      kit.check(`the queue holds ${n} messages before the stop`, seen.before === n, `${n}`, String(seen.before)),
      kit.check(
        `consuming through ${VIA} fails while ${HOME} is down`,
        attempts.length === 3 && refused.length === 3,
        'get, consume and passive declare each fail: 404 home node down',
        `${refused.length} of ${attempts.length} refused${attempts[0]?.error ? `: ${attempts[0].error}` : ''}`,
      ),
      kit.backOn(`the queue runs again once ${HOME} is back`, seen.homeBack, HOME, QUEUE),
      ...kit.allKept(ev.ops, 'persistent messages'),
      kit.check(
        'during the outage, a confirm without mandatory did not mean stored',
        plain.ok === OUTAGE && plain.arrived === 0,
        `${OUTAGE} confirmed, 0 of them in the queue afterwards`,
        `${plain.ok} confirmed, ${plain.fail} failed, ${plain.info} unknown; ${plain.arrived} in the queue afterwards`,
      ),
      kit.check(
        'with mandatory, the broker returned them instead',
        mandatory.returned === OUTAGE && mandatory.arrived === 0,
        `${OUTAGE} returned (basic.return)`,
        `${mandatory.returned} returned, ${mandatory.ok} confirmed; ${mandatory.arrived} in the queue afterwards`,
      ),
    ];
  },
});
