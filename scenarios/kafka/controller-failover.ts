import { check } from '../../src/checkers/check.ts';
import { delivery, deliveryChecks } from '../../src/checkers/delivery.ts';
import { observed } from '../../src/engine/history.ts';
import { defineLab } from '../../src/engine/lab.ts';
import { errorText } from '../../stacks/kafka/client.ts';
import { kafka } from '../../stacks/kafka/stack.ts';
import { produce, readAll } from '../../stacks/kafka/workload.ts';
import { bothModes, controllerCommands, kraftRoles, layoutParam, modeParam, named, OUTDATED } from './commands.ts';

const TOPIC = 'after-failover';
const MESSAGES = 20;
/**
 * KRaft: the survivors notice after controller.quorum.fetch.timeout.ms (2 s) and elect, often
 * after one split vote (the epoch then rises by 2); ZooKeeper mode: /controller goes when the
 * dead broker's session (6 s in the lab) expires. Measured from the kill to another node being
 * the controller: KRaft combined 2.1..4.5 s (median 4.1 s, 10 runs), KRaft isolated 6.1..6.4 s
 * (median 6.2 s, 6 runs), ZooKeeper mode 5.1..5.9 s (median 5.3 s, 5 runs). The bound leaves
 * about 2.5 s over the worst of them for a loaded machine.
 */
const FAILOVER_BOUND_MS = 9000;

interface Seen {
  mode: string;
  controllerBefore: string;
  epochBefore: number;
  controllerAfter: string;
  epochAfter: number;
  failoverMs: number;
  controllerAfterRestart: string;
}

export default defineLab({
  id: 'kafka/controller-failover',
  title: 'The active controller dies',
  teaches:
    "another node becomes the controller within a bounded time (ZooKeeper mode: after the dead one's ZooKeeper " +
    'session expires; KRaft: a Raft election among the controllers), with a higher epoch, and cluster changes ' +
    'such as creating a topic work again',
  notes:
    'Notes, Kafka chapter: "Kafka角色和流程" (Controller: one per cluster, fails over between brokers, "利用 ' +
    'Zookeeper 来实现") and the 监控项 table ("Controller存活数": exactly 1). In ZooKeeper mode the notes are ' +
    'right: the controller is whoever creates the ephemeral /controller znode first. In KRaft mode (the only ' +
    `mode since Kafka 4.0) the controller is the leader of a Raft quorum, and no ZooKeeper is involved. ${OUTDATED}`,
  variants: bothModes([], [{ layout: 'isolated' }]),
  params: {
    mode: modeParam,
    layout: layoutParam,
    maxFailoverMs: {
      type: 'int',
      default: FAILOVER_BOUND_MS,
      min: 100,
      describe: 'the bound a new controller must be active within (measured figures in the source)',
    },
  },
  stack: kafka,
  topology: (p) => ({ mode: p.mode, layout: p.layout }),
  async mechanism(lab) {
    const k = lab.stack;
    lab.observe('mode', k.mode);
    if (k.mode === 'zookeeper') {
      const registered = await k.admin.registeredBrokers();
      const c = await k.admin.controller();
      return [
        ...(registered.length === k.brokers.length
          ? []
          : [`only ${registered.join(',')} registered in /brokers/ids: another broker could not take over`]),
        ...(c.node ? [] : ['no broker holds /controller']),
      ];
    }
    // A Raft election needs a majority of voters that are caught up.
    const q = await k.admin.quorum();
    const lagging = q.voters.filter((v) => v.logEndOffset < q.highWatermark - 100);
    return q.voters.length === 3 && lagging.length === 0 && q.leaderId >= 0
      ? []
      : [`the quorum must have 3 caught-up voters: ${JSON.stringify(q.voters)} (high watermark ${q.highWatermark})`];
  },
  async run(lab) {
    const k = lab.stack;
    const before = await lab.step(
      'Who is the active controller?',
      k.mode === 'zookeeper'
        ? 'The controller is the broker named in the ephemeral znode /controller; /controller_epoch counts how ' +
            'many controllers there have been. Every other broker watches /controller.'
        : `The controller is the leader of the Raft quorum of controllers (here ${kraftRoles(k)}); the leader ` +
            'epoch counts elections. The other voters fetch the metadata log from it.',
      async () => {
        const c = await k.admin.controller();
        lab.observe('controllerBefore', c.node, `active controller: ${named(c.node)}, epoch ${c.epoch}`);
        lab.observe('epochBefore', c.epoch);
        return c;
      },
      controllerCommands(k),
    );
    if (!before.node) throw new Error('no active controller before the fault');
    const old = before.node;
    const survivor = k.brokers.find((b) => b !== old) as string;
    await lab.step(
      `Kill the controller (${old})`,
      `${
        k.mode === 'zookeeper'
          ? `SIGKILL. ${old}'s ZooKeeper session lives on until zookeeper.session.timeout.ms (6 s here, 18 s in ` +
            "production) passes without a heartbeat; then ZooKeeper deletes /controller, every broker's watch " +
            'fires, and the first to re-create the znode is the new controller.'
          : `SIGKILL. The other voters stop hearing from the leader; after controller.quorum.fetch.timeout.ms ` +
            '(2 s, the production default) one of them starts an election and the one that gets a majority of ' +
            'votes (2 of 3) becomes leader. Both survivors may time out together and split the vote; each then ' +
            'retries after a random back-off, and the epoch counts every round.'
      } The lab measures the time until another node is the active controller, and expects it within ` +
        `${lab.params.maxFailoverMs} ms.`,
      async () => {
        await lab.faults.kill(old);
        const t0 = Date.now();
        // Watched well past the bound, so that a slow failover is measured, not cut off.
        const now = await lab.until(
          `an active controller other than ${old}`,
          async () => {
            const c = await k.admin.controller();
            return c.node && c.node !== old
              ? { done: true, value: c }
              : { done: false, seen: `controller ${c.node ?? 'none'} (epoch ${c.epoch ?? '?'})` };
          },
          { timeoutMs: lab.params.maxFailoverMs + 30_000, intervalMs: 50 },
        );
        const ms = Date.now() - t0;
        if (!now) return;
        lab.observe('controllerAfter', now.node, `new controller: ${named(now.node)}, epoch ${now.epoch}`);
        lab.observe('epochAfter', now.epoch);
        lab.observe(
          'failoverMs',
          ms,
          `a new controller ${ms} ms after the kill (bound ${lab.params.maxFailoverMs} ms)`,
        );
        const rounds = (now.epoch ?? 0) - (before.epoch ?? 0);
        if (k.mode === 'kraft' && rounds > 1)
          lab.say(
            `the epoch rose by ${rounds}: ${rounds - 1} election round(s) ended without a winner (split vote) ` +
              'before one survivor got 2 of 3 votes',
          );
      },
      { key: 'kill-controller', commands: controllerCommands(k, survivor) },
    );
    await lab.step(
      `Create topic "${TOPIC}" with the new controller`,
      'Creating a topic is a controller job (assign replicas, write the new metadata). With 2 brokers left the ' +
        'replication factor is 2. Then a few messages go through it.',
      async () => {
        const h = lab.history.invoke('admin', 'create-topic', { topic: TOPIC, partitions: 3, replicationFactor: 2 });
        try {
          await k.admin.createTopic(TOPIC, { partitions: 3, replicationFactor: 2 });
          h.ok();
          lab.say(`created ${TOPIC}`);
        } catch (err) {
          h.fail(errorText(err));
          lab.warn(`creating ${TOPIC} failed: ${errorText(err)}`);
          return;
        }
        const live = k.brokers.filter((b) => b !== old);
        const sent = await produce(k.brokerEndpoints(live), lab.history, TOPIC, MESSAGES, {
          name: 'producer',
          acks: 'all',
        });
        lab.say(`${sent.filter((s) => s.ok).length} of ${MESSAGES} messages acknowledged`);
      },
      [k.toolCommand(survivor, 'kafka-topics.sh', '--describe', '--topic', TOPIC)],
    );
    await lab.step(
      `Restart ${old}`,
      k.mode === 'zookeeper'
        ? 'It comes back as an ordinary broker and finds /controller taken: no failback.'
        : `It comes back as a follower voter${k.brokers.includes(old) ? ' (and a broker)' : ''}: no failback.`,
      async () => {
        await lab.faults.start(old);
        await k.waitHealthy();
        const c = await k.admin.controller();
        lab.observe('controllerAfterRestart', c.node, `controller after ${old}'s return: ${named(c.node)}`);
      },
    );
  },
  async final(lab) {
    await readAll(lab.stack.bootstrap, lab.stack.admin, lab.history, TOPIC).catch((e: unknown) =>
      lab.warn(`final read: ${errorText(e)}`),
    );
  },
  predictions: [
    {
      before: 'kill-controller',
      question: 'The active controller is about to be killed. How long until another node is the controller?',
      choices: ['under 1 s', '1 to 5 s', '5 to 20 s', 'more than 20 s'],
      answer: (ev) => {
        const ms = Number(observed<Seen>(ev).failoverMs);
        if (Number.isNaN(ms)) return undefined;
        return ms < 1000 ? 0 : ms < 5000 ? 1 : ms <= 20_000 ? 2 : 3;
      },
    },
  ],
  check(ev, p) {
    const seen = observed<Seen>(ev);
    const old = seen.controllerBefore;
    const now = seen.controllerAfter;
    const ms = Number(seen.failoverMs);
    const e0 = Number(seen.epochBefore);
    const e1 = Number(seen.epochAfter);
    const created = ev.ops.find((o) => o.f === 'create-topic' && o.type !== 'invoke');
    if (!old) {
      // The run ended before the lab found and killed the controller: nothing here can be judged.
      return [
        {
          name: 'the controller was killed',
          ok: 'unknown',
          expected: 'the active controller found and killed',
          observed: 'the run ended before the fault',
        },
      ];
    }
    return [
      check(
        `a new controller within ${p.maxFailoverMs} ms`,
        typeof now === 'string' && now !== old && ms <= p.maxFailoverMs,
        `another node is the active controller within ${p.maxFailoverMs} ms`,
        now ? `${named(now)} after ${ms} ms (was ${named(old)})` : `none within ${p.maxFailoverMs + 30_000} ms`,
        { failoverMs: ms },
      ),
      check(
        'the controller epoch went up',
        e1 > e0,
        p.mode === 'zookeeper' ? '/controller_epoch increases' : 'the Raft leader epoch increases',
        `${e0} -> ${e1}`,
      ),
      check(
        'creating a topic works after the failover',
        created?.type === 'ok',
        `${TOPIC} created while the old controller is down`,
        created ? `${created.type}${created.error ? `: ${created.error}` : ''}` : 'not attempted',
      ),
      ...deliveryChecks(delivery(ev.ops, { send: 'send', receive: 'read-all' }), {
        loss: 'forbidden',
        duplicates: 'allowed',
      }),
    ];
  },
});
