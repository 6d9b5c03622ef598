import * as kit from './kit.ts';

const TOPIC = 'after-failover';
const MESSAGES = 20;
/**
 * KRaft: the survivors notice after controller.quorum.fetch.timeout.ms (2 s) and elect, often after one split vote
 * (the epoch then rises by 2); ZooKeeper mode: /controller goes when the dead broker's session (6 s in the lab)
 * expires. Measured from the kill to another node being the controller: KRaft combined 2.1..4.5 s (median 4.1 s,
 * 10 runs), KRaft isolated 6.1..6.4 s (median 6.2 s, 6 runs), ZooKeeper mode 5.1..5.9 s (median 5.3 s, 5 runs).
 * The bound leaves about 2.5 s over the worst of them for a loaded machine.
 */
const FAILOVER_BOUND_MS = 9000;

interface Seen {
  controllerBefore: string;
  epochBefore: number;
  controllerAfter: string;
  epochAfter: number;
  failoverMs: number;
}

export default kit.defineLab({
  id: 'kafka/controller-failover',
  title: 'The active controller dies',
  teaches:
    "another node becomes the controller within a bound (ZooKeeper mode: once the dead one's session expires; " +
    'KRaft: a Raft election among the controllers), with a higher epoch, and creating a topic works again',
  notes:
    'Notes, Kafka chapter: "Kafka角色和流程" (Controller: one per cluster, fails over between brokers, "利用 ' +
    'Zookeeper 来实现") and the 监控项 table ("Controller存活数": exactly 1). In ZooKeeper mode the notes are ' +
    'right: the controller is whoever creates the ephemeral /controller znode first. In KRaft mode the ' +
    `controller is the leader of a Raft quorum, and no ZooKeeper is involved. ${kit.OUTDATED}`,
  variants: kit.bothModes([], [{ layout: 'isolated' }]),
  params: {
    mode: kit.modeParam,
    layout: kit.layoutParam,
    maxFailoverMs: kit.boundParam(FAILOVER_BOUND_MS, 'a new controller must be active within this (see the source)'),
  },
  stack: kit.kafka,
  topology: (p) => ({ mode: p.mode, layout: p.layout }),
  steps: {
    who: {
      title: 'Who is the active controller?',
      narration: (p) =>
        p.mode === 'zookeeper'
          ? 'The controller is the broker named in the ephemeral znode /controller, which every other broker ' +
            'watches; /controller_epoch counts the controllers so far.'
          : `The controller is the leader of the Raft quorum of controllers (here ${kit.kraftRoles(p.layout)}); the ` +
            'leader epoch counts elections. The other voters fetch the metadata log from it.',
      commands: (p) => kit.controllerCommands(p.mode),
    },
    'kill-controller': {
      title: 'Kill the controller ({old})',
      narration: (p) =>
        (p.mode === 'zookeeper'
          ? "SIGKILL. Once {old}'s ZooKeeper session expires (zookeeper.session.timeout.ms: 6 s here, 18 s in " +
            "production), ZooKeeper deletes /controller, every broker's watch fires, and the first to re-create " +
            'it is the new controller.'
          : 'SIGKILL. After controller.quorum.fetch.timeout.ms (2 s, the production default) without the leader, a ' +
            'voter starts an election; whoever gets 2 of 3 votes leads. Both survivors may start together and ' +
            'split the vote; each retries after a random back-off, and the epoch counts every round.') +
        ` The lab times it until another node is the active controller: bound ${p.maxFailoverMs} ms.`,
      commands: (p) => kit.controllerCommands(p.mode, 'survivor'),
    },
    create: {
      title: `Create topic "${TOPIC}" with the new controller`,
      narration:
        'A controller job (assign replicas, write the metadata): replication factor 2 on the 2 brokers left, then ' +
        'a few messages. A new KRaft controller counts a dead broker live until broker.session.timeout.ms (6 s) ' +
        'passes without its heartbeat and may place replicas on it: the lab first waits until it is fenced.',
      commands: [kit.describeTopicCommand(TOPIC, 'survivor')],
    },
    restart: {
      title: 'Restart {old}',
      narration: (p) =>
        `It comes back as ${p.mode === 'zookeeper' ? 'a broker and finds /controller taken' : 'a follower voter'}` +
        `${p.mode === 'kraft' && p.layout !== 'isolated' ? ' (and a broker)' : ''}: no failback.`,
    },
  },
  mechanism: (lab) => kit.successionReady(kit.observeMode(lab)),
  async run(lab) {
    const [k, bound] = [lab.stack, lab.params.maxFailoverMs];
    const before = await lab.step('who', async () => {
      const c = await k.admin.controller();
      lab.observe('controllerBefore', c.node, `active controller: ${kit.named(c.node)}, epoch ${c.epoch}`);
      lab.observe('epochBefore', c.epoch);
      return c;
    });
    if (!before.node) throw new Error('no active controller before the fault');
    const old = before.node;
    const survivor = k.brokers.find((b) => b !== old) as string;
    const step = kit.stepsWith(lab, { old, survivor });
    await step('kill-controller', async () => {
      const took = await kit.killAndTime(lab, old, bound, (ms) => kit.untilNewController(lab, old, ms));
      if (!took) return;
      const { now, ms } = took;
      lab.observe('controllerAfter', now.node, `new controller: ${kit.named(now.node)}, epoch ${now.epoch}`);
      lab.observe('epochAfter', now.epoch);
      lab.observe('failoverMs', ms, `a new controller ${ms} ms after the kill (bound ${bound} ms)`);
      const rounds = (now.epoch ?? 0) - (before.epoch ?? 0);
      if (k.mode === 'kraft' && rounds > 1)
        lab.say(`the epoch rose by ${rounds}: ${rounds - 1} round(s) ended in a split vote before one got 2 of 3`);
    });
    await step('create', async () => {
      const fenced = k.brokers.includes(old) ? await kit.untilFenced(lab, old, 30_000) : 0;
      lab.observe('fencedMs', fenced, `${old} out of the live brokers after ${fenced ?? '> 30000'} ms`);
      const error = await kit.createTopicRecorded(k, lab.history, TOPIC, 3, 2);
      if (error) return lab.warn(`creating ${TOPIC} failed: ${error}`);
      lab.say(`created ${TOPIC}`);
      const live = k.brokerEndpoints(k.brokers.filter((b) => b !== old));
      await kit.produceSaid(lab, live, TOPIC, MESSAGES, { name: 'producer', acks: 'all' });
    });
    await step('restart', async () => {
      await lab.faults.start(old);
      await k.waitHealthy();
      const c = await k.admin.controller();
      lab.observe('controllerAfterRestart', c.node, `controller after ${old}'s return: ${kit.named(c.node)}`);
    });
  },
  final: (lab) => kit.finalRead(lab, TOPIC).catch((e: unknown) => lab.warn(`final read: ${kit.errorText(e)}`)),
  predictions: [
    {
      before: 'kill-controller',
      question: 'The active controller is about to be killed. How long until another node is the controller?',
      choices: ['under 1 s', '1 to 5 s', '5 to 20 s', 'more than 20 s'],
      answer: (ev) => kit.band(kit.observed<Seen>(ev).failoverMs, [1000, 5000, 20_001]),
    },
  ],
  check(ev, p) {
    const { controllerBefore: old, controllerAfter: now, ...seen } = kit.observed<Seen>(ev);
    const took = { now, old, ms: Number(seen.failoverMs), bound: p.maxFailoverMs };
    const [e0, e1] = [Number(seen.epochBefore), Number(seen.epochAfter)];
    const created = ev.ops.find((o) => o.f === 'create-topic' && o.type !== 'invoke');
    if (!old) return kit.faultNotReached('the controller was killed', 'the active controller found and killed');
    return [
      kit.takenOver('controller', 'another node is the active controller', took, 'failoverMs'),
      kit.check(
        'the controller epoch went up',
        e1 > e0,
        p.mode === 'zookeeper' ? '/controller_epoch increases' : 'the Raft leader epoch increases',
        `${e0} -> ${e1}`,
      ),
      kit.check(
        'creating a topic works after the failover',
        created?.type === 'ok',
        `${TOPIC} created while the old controller is down`,
        created ? `${created.type}${created.error ? `: ${created.error}` : ''}` : 'not attempted',
      ),
      ...kit.nothingLost(ev.ops, 'read-all', 'allowed'),
    ];
  },
});
