import * as kit from './kit.ts';

const NODE = 'rabbit1';
/** The three cases of the notes' "消息持久化 vs 队列持久化". */
const QUEUES = {
  transient: { name: 'transient-queue', durable: false, persistent: true, prefix: 't' },
  persistent: { name: 'durable-queue-persistent-msgs', durable: true, persistent: true, prefix: 'p' },
  transientMsgs: { name: 'durable-queue-transient-msgs', durable: true, persistent: false, prefix: 'n' },
} as const;
const ALL = Object.values(QUEUES);

/** `before:<queue>` and `after:<queue>`: messages counted by a passive declare (null: no such queue). */
type Seen = Record<string, number | null>;

export default kit.defineLab({
  id: 'rabbitmq/queue-durability',
  title: 'What survives a broker restart: durable queues, persistent messages',
  teaches:
    'after a restart a transient queue is gone; a durable queue keeps every persistent message and loses every transient one',
  notes:
    'Notes, RabbitMQ chapter: "创建Queue" - "Durability字段解析" and "消息持久化 vs 队列持久化" (持久化队列不等于持久化消息; ' +
    'delivery_mode=2). The notes are right here; what they leave out is that "persistent" only counts once the broker ' +
    'has confirmed the message (publisher confirms): the lab publishes with confirms.',
  params: {
    messages: { type: 'int', default: 500, min: 1, max: 20_000, describe: 'messages published into each queue' },
    how: {
      type: 'enum',
      default: 'restart',
      choices: ['restart', 'kill'],
      describe: 'restart: clean shutdown and start (docker restart); kill: SIGKILL, then start',
    },
  },
  variants: [{}, { how: 'kill' }],
  stack: kit.rabbitmq,
  topology: () => ({ nodes: 1 }),
  steps: {
    declare: {
      title: 'Three queues, declared the three ways',
      narration:
        `On a single broker (${NODE}): "${QUEUES.transient.name}" is declared with durable=false, the other two with ` +
        'durable=true. The broker itself says which is which (the management API, the same as `list_queues durable`).',
      commands: [kit.listQueues(NODE)],
    },
    publish: {
      title: 'Publish with confirms',
      narration:
        '{messages} messages into each queue, with publisher confirms: persistent ones (delivery_mode=2) into the ' +
        'transient queue and the first durable queue, transient ones (delivery_mode=1) into the second. A confirm ' +
        'means the broker took responsibility: for a persistent message in a durable queue, that it is on disk.',
      commands: [kit.listQueues(NODE)],
    },
    restart: {
      title: 'Restart the broker ({how})',
      narration: (p) =>
        p.how === 'kill'
          ? 'SIGKILL: nothing is flushed or tidied; then the same container starts again with its data directory. ' +
            'Seen on a loaded machine (1 run in 7; 2 of 4 tries by hand): a durable queue declared a moment after the ' +
            "node's first boot was missing after the kill, though its record had reached Mnesia's log. The lab then " +
            'fails: the broker confirmed a durable queue that did not survive.'
          : 'A clean shutdown (SIGTERM: RabbitMQ stops its queues and flushes) and a start, with the same data directory.',
      commands: [kit.rabbitmqctl(NODE, 'await_startup'), kit.listQueues(NODE)],
    },
    inspect: {
      title: 'Which queues are still there?',
      narration: 'A passive declare asks whether a queue exists without creating it: a missing one is a 404 NOT_FOUND.',
      commands: [kit.listQueues(NODE), kit.listQueues(NODE, 'name durable arguments messages_persistent messages_ram')],
    },
  },
  mechanism: (lab) =>
    kit.prove(lab, 'declare', async (no) => {
      for (const q of ALL) {
        const durable = (await kit.declareClassic(lab, NODE, q.name, q.durable)).durable;
        lab.observe(`durable:${q.name}`, durable, `${q.name}: durable=${String(durable)}`);
        if (durable !== q.durable) no.push(`${q.name} reports durable=${String(durable)}`);
      }
    }),
  async run(lab) {
    const r = lab.stack;
    await lab.step('publish', async () => {
      for (const q of ALL) {
        const as = { process: 'publisher', opts: { persistent: q.persistent } };
        const t = await kit.publishVia(lab, NODE, q.name, q.prefix, lab.params.messages, as);
        lab.say(`${q.name}: ${kit.describeTally(t)}`);
      }
      for (const q of ALL) await kit.observeDepth(lab, NODE, q.name, `before:${q.name}`);
    });
    await lab.step('restart', async () => {
      if (lab.params.how === 'restart') await lab.faults.restart(NODE);
      else await lab.faults.kill(NODE).then(() => lab.faults.start(NODE));
      await r.waitHealthy(90_000);
      lab.say(`${NODE} is back`);
    });
    await lab.step('inspect', () =>
      r.using(NODE, async (c) => {
        for (const q of ALL) {
          const exists = () => c.check(q.name);
          const res = await kit.recordRead(lab.history, 'inspector', 'exists', { queue: q.name }, NODE, exists);
          const n = res.ok ? res.result.messages : null;
          lab.observe(`after:${q.name}`, n, `${q.name}: ${res.ok ? `exists, ${n} messages` : res.op.error}`);
        }
      }),
    );
  },
  final: (lab) =>
    kit.drainVia(lab, NODE, [QUEUES.persistent.name, QUEUES.transientMsgs.name], {
      idleMs: 1000,
      skipMissing: true,
    }),
  predictions: [
    {
      before: 'restart',
      question: 'The broker is about to restart. Which queue still holds its messages afterwards?',
      choices: [
        'all three',
        'the two durable queues',
        'only the durable queue with persistent messages',
        'none: RabbitMQ keeps messages in memory',
      ],
      answer: (ev) => {
        const seen = kit.observed<Seen>(ev);
        const kept = ALL.filter((q) => Number(seen[`after:${q.name}`]) > 0);
        if (kept.length === 3) return 0;
        if (kept.length === 2) return 1;
        if (kept.length === 1 && kept[0]?.name === QUEUES.persistent.name) return 2;
        return kept.length === 0 ? 3 : undefined;
      },
    },
  ],
  check(ev, p) {
    const exists = (q: string) => kit.completions(kit.onQueue(ev, q), 'exists')[0];
    const transientAfter = exists(QUEUES.transient.name);
    const transientMsgsAfter = exists(QUEUES.transientMsgs.name);
    const tm = kit.delivery(kit.onQueue(ev, QUEUES.transientMsgs.name));
    const seen = kit.observed<Seen>(ev);
    return [
      kit.check(
        'every message was confirmed before the restart',
        ALL.every((q) => seen[`before:${q.name}`] === p.messages),
        `${p.messages} in each queue`,
        ALL.map((q) => `${q.name}: ${String(seen[`before:${q.name}`])}`).join(', '),
      ),
      kit.check(
        'the transient queue is gone after the restart',
        transientAfter?.type === 'fail' && /NOT_FOUND/.test(transientAfter.error ?? ''),
        'passive declare fails with 404 NOT_FOUND',
        transientAfter ? `${transientAfter.type}: ${transientAfter.error ?? 'exists'}` : 'not checked',
      ),
      ...kit.allKept(kit.onQueue(ev, QUEUES.persistent.name), 'persistent messages in the durable queue'),
      kit.check(
        'the durable queue with transient messages survives, empty',
        transientMsgsAfter?.type === 'ok' && tm.acknowledged === p.messages && tm.received === 0,
        `the queue exists; 0 of ${p.messages} confirmed transient messages left`,
        transientMsgsAfter?.type === 'ok'
          ? `exists; ${tm.received} of ${tm.acknowledged} confirmed transient messages left`
          : `queue ${transientMsgsAfter?.error ?? 'not checked'}`,
      ),
    ];
  },
});
