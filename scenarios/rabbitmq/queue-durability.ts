import { check } from '../../src/checkers/check.ts';
import { delivery, deliveryChecks } from '../../src/checkers/delivery.ts';
import { completions, type Evidence, type Op, observed } from '../../src/engine/history.ts';
import { defineLab } from '../../src/engine/lab.ts';
import { classifyRead } from '../../stacks/rabbitmq/client.ts';
import { rabbitmq } from '../../stacks/rabbitmq/stack.ts';
import { describeTally, drainRecorded, messageIds, publishRecorded, tally } from '../../stacks/rabbitmq/workload.ts';
import { apiCommand, listQueues, rabbitmqctl } from './commands.ts';

const NODE = 'rabbit1';
/** The three cases of the notes' "消息持久化 vs 队列持久化". */
const QUEUES = {
  transient: { name: 'transient-queue', durable: false, persistent: true, prefix: 't' },
  persistent: { name: 'durable-queue-persistent-msgs', durable: true, persistent: true, prefix: 'p' },
  transientMsgs: { name: 'durable-queue-transient-msgs', durable: true, persistent: false, prefix: 'n' },
} as const;

/** `before:<queue>` and `after:<queue>`: messages counted by a passive declare (null: no such queue). */
type Seen = Record<string, number | null>;

const onQueue = (ev: Evidence, queue: string): Op[] =>
  ev.ops.filter((o) => (o.value as { queue?: string } | undefined)?.queue === queue);

export default defineLab({
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
  stack: rabbitmq,
  topology: () => ({ nodes: 1 }),
  async mechanism(lab) {
    const r = lab.stack;
    const reasons: string[] = [];
    await lab.step(
      'Three queues, declared the three ways',
      `On a single broker (${NODE}): "${QUEUES.transient.name}" is declared with durable=false, the other two with ` +
        'durable=true. The broker itself says which is which (the management API, the same as `list_queues durable`).',
      async () => {
        const c = await r.client(NODE);
        try {
          for (const q of Object.values(QUEUES)) await c.declare(q.name, { kind: 'classic', durable: q.durable });
        } finally {
          await c.close();
        }
        for (const q of Object.values(QUEUES)) {
          const info = await r.queue(q.name);
          lab.observe(`durable:${q.name}`, info?.durable, `${q.name}: durable=${String(info?.durable)}`);
          if (info?.durable !== q.durable) reasons.push(`${q.name} reports durable=${String(info?.durable)}`);
        }
      },
      [listQueues(r, NODE)],
    );
    return reasons;
  },
  async run(lab) {
    const r = lab.stack;
    const n = lab.params.messages;
    await lab.step(
      'Publish with confirms',
      `${n} messages into each queue, with publisher confirms: persistent ones (delivery_mode=2) into the transient ` +
        'queue and into the first durable queue, transient ones (delivery_mode=1) into the second durable queue. A ' +
        'confirm means the broker took responsibility: for a persistent message in a durable queue, that it is on disk.',
      async () => {
        const c = await r.client(NODE);
        try {
          for (const q of Object.values(QUEUES)) {
            const out = await publishRecorded(
              lab.history,
              c,
              q.name,
              messageIds(q.prefix, 1, n),
              { confirm: true, persistent: q.persistent },
              { process: 'publisher' },
            );
            lab.say(`${q.name}: ${describeTally(tally(out.values()))}`);
          }
          for (const q of Object.values(QUEUES)) {
            const { messages } = await c.check(q.name);
            lab.observe(`before:${q.name}`, messages, `${q.name} holds ${messages} messages`);
          }
        } finally {
          await c.close();
        }
      },
      [listQueues(r, NODE)],
    );
    await lab.step(
      lab.params.how === 'kill' ? `Kill the broker and start it again` : 'Restart the broker',
      lab.params.how === 'kill'
        ? 'SIGKILL: nothing is flushed or tidied; then the same container starts again with its data directory.'
        : 'A clean shutdown (SIGTERM: RabbitMQ stops its queues and flushes) and a start, with the same data directory.',
      async () => {
        if (lab.params.how === 'kill') {
          await lab.faults.kill(NODE);
          await lab.faults.start(NODE);
        } else {
          await lab.faults.restart(NODE);
        }
        await r.waitHealthy(90_000);
        lab.say(`${NODE} is back`);
      },
      { key: 'restart', commands: [rabbitmqctl(r, NODE, 'await_startup'), listQueues(r, NODE)] },
    );
    await lab.step(
      'Which queues are still there?',
      'A passive declare asks the broker whether a queue exists without creating it: a missing queue is a channel ' +
        'error 404 NOT_FOUND.',
      async () => {
        const c = await r.client(NODE);
        try {
          for (const q of Object.values(QUEUES)) {
            const res = await lab.history.record(
              'inspector',
              'exists',
              { queue: q.name },
              NODE,
              () => c.check(q.name),
              classifyRead,
            );
            lab.observe(
              `after:${q.name}`,
              res.ok ? res.result.messages : null,
              res.ok ? `${q.name}: exists, ${res.result.messages} messages` : `${q.name}: ${res.op.error}`,
            );
          }
        } finally {
          await c.close();
        }
      },
      [listQueues(r, NODE), apiCommand(r, NODE, '/api/queues')],
    );
  },
  async final(lab) {
    const c = await lab.stack.client(NODE);
    try {
      for (const q of [QUEUES.persistent, QUEUES.transientMsgs]) {
        const got = await drainRecorded(lab.history, c, q.name, { idleMs: 1000 });
        lab.say(`${q.name}: ${got.length} messages consumed after the restart`);
      }
    } finally {
      await c.close();
    }
  },
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
        const seen = observed<Seen>(ev);
        const kept = Object.values(QUEUES).filter((q) => Number(seen[`after:${q.name}`]) > 0);
        if (kept.length === 3) return 0;
        if (kept.length === 2) return 1;
        if (kept.length === 1 && kept[0]?.name === QUEUES.persistent.name) return 2;
        return kept.length === 0 ? 3 : undefined;
      },
    },
  ],
  check(ev, p) {
    const exists = (q: string) => completions(ev.ops, 'exists').find((o) => (o.value as { queue: string }).queue === q);
    const transientAfter = exists(QUEUES.transient.name);
    const transientMsgsAfter = exists(QUEUES.transientMsgs.name);
    const tm = delivery(onQueue(ev, QUEUES.transientMsgs.name));
    const seen = observed<Seen>(ev);
    return [
      check(
        'every message was confirmed before the restart',
        Object.values(QUEUES).every((q) => seen[`before:${q.name}`] === p.messages),
        `${p.messages} in each queue`,
        Object.values(QUEUES)
          .map((q) => `${q.name}: ${String(seen[`before:${q.name}`])}`)
          .join(', '),
      ),
      check(
        'the transient queue is gone after the restart',
        transientAfter?.type === 'fail' && /NOT_FOUND/.test(transientAfter.error ?? ''),
        'passive declare fails with 404 NOT_FOUND',
        transientAfter ? `${transientAfter.type}: ${transientAfter.error ?? 'exists'}` : 'not checked',
      ),
      ...deliveryChecks(
        delivery(onQueue(ev, QUEUES.persistent.name)),
        { loss: 'forbidden', duplicates: 'forbidden' },
        'persistent messages in the durable queue',
      ),
      check(
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
