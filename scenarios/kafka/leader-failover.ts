import * as kit from './kit.ts';

const TOPIC = 'failover';
/**
 * A dead broker is noticed within the session timeout (6 s in the lab) of its last heartbeat, then the controller
 * elects at once. Measured from the kill to the metadata naming the new leader: KRaft 4.8..6.2 s (median 5.5 s,
 * 10 runs), ZooKeeper mode 4.5..5.9 s (median 4.6 s, 5 runs). The bound leaves about 3 s over the worst of them
 * for a loaded machine.
 */
const ELECTION_BOUND_MS = 9000;
/**
 * Each broker leads one partition and its followers are listed larger id first, so the first live replica in
 * assignment order is never the smallest id: the lab can tell Kafka's rule from the notes' "smallest broker id".
 */
const ASSIGNMENT = [
  ['kafka1', 'kafka3', 'kafka2'],
  ['kafka2', 'kafka3', 'kafka1'],
  ['kafka3', 'kafka2', 'kafka1'],
];

interface Seen {
  isrBefore: kit.PartitionState[];
  choice: kit.LeaderToKill;
  newLeader: string;
  electionMs: number;
  servingFrom: number;
  urpWhileDown: string[];
  isrAfterRestart: kit.PartitionState[];
  leaderAfterPreferred: string;
}

export default kit.defineLab({
  id: 'kafka/leader-failover',
  title: 'A partition leader dies under load',
  teaches:
    'the controller moves leadership to the first live in-sync replica in assignment order; partitions are ' +
    'under-replicated while the broker is down; after its restart the ISR fills again and a preferred-leader ' +
    'election gives leadership back; no acks=all write is lost',
  notes:
    'Notes, Kafka chapter: "Kafka 工作机制" (line 712 on: leader, follower, ISR, failover) and the interview ' +
    'answer "说说kafka是怎样选举的" (line 1520 on). The notes are wrong about the rule: their code (line 1567) ' +
    'picks Collections.min(isr), the smallest broker id; Kafka picks the first replica in the assignment order ' +
    'that is alive and in the ISR (PartitionLeaderElectionAlgorithms in the ZooKeeper-mode controller, ' +
    'PartitionChangeBuilder in KRaft; this lab lays the replicas out so the two rules disagree). It is the ' +
    'controller that elects, not ZooKeeper (lines 729-730 have ZooKeeper notify the replicas): in ZooKeeper mode ' +
    "the controller reacts to the dead broker's znode vanishing, in KRaft mode to missed heartbeats. And " +
    'followers replicate by fetching from the leader, as consumers do; the leader pushes nothing (line 1585 says ' +
    `the leader passes each message to the ISR). ${kit.OUTDATED}`,
  variants: kit.bothModes(),
  params: {
    mode: kit.modeParam,
    maxElectionMs: kit.boundParam(
      ELECTION_BOUND_MS,
      'a new leader within this: session timeout 6 s (production 18/9 s) + headroom',
    ),
  },
  stack: kit.kafka,
  // Automatic leader rebalancing off, so that the preferred election is the trainee's own.
  topology: (p) => ({ mode: p.mode, leaderRebalanceSec: 0 }),
  steps: {
    load: {
      title: 'Steady writes to every partition (acks=all)',
      narration:
        'A producer writes to partitions 0, 1, 2 in turn every 30 ms, acks=all, min.insync.replicas=2. Each ' +
        'partition has 3 replicas: the leader serves the writes, the followers fetch. The victim leads a partition ' +
        'and is not the active controller (losing that is the controller-failover lab).',
      commands: [kit.describeTopicCommand(TOPIC)],
    },
    'kill-leader': {
      title: `Kill {victim}, leader of ${TOPIC}-{partition}`,
      narration: (p) =>
        `SIGKILL. {victim} is noticed after ${kit.sessionTimeoutText(p.mode)}: ` +
        (p.mode === 'zookeeper'
          ? 'its ZooKeeper session expires, its ephemeral /brokers/ids znode vanishes and the controller'
          : 'it stops heartbeating and the KRaft controller fences it,') +
        ' elects new leaders for the partitions it led and removes it from every ISR. Writes to partition ' +
        '{partition} fail or wait until the metadata names a new leader, timed by the lab (bound {maxElectionMs} ms).',
      commands: [kit.describeTopicCommand(TOPIC, 'survivor'), kit.underReplicatedCommand('survivor')],
    },
    restart: {
      title: 'Restart {victim}',
      narration:
        'It comes back with its log, truncates what the new leader does not have, fetches what it missed and ' +
        'rejoins each ISR once caught up. It does not take leadership back by itself: auto.leader.rebalance.enable ' +
        'is off here (production: on, checked every 300 s).',
      commands: [kit.describeTopicCommand(TOPIC, 'survivor')],
    },
    preferred: {
      title: 'Preferred-leader election',
      narration:
        `The preferred leader of ${TOPIC}-{partition} is the first replica of its assignment, {victim}. ` +
        'kafka-leader-election.sh asks the controller to move leadership back to it, in sync again.',
      commands: [kit.electionCommand('survivor', 'preferred', TOPIC, '{partition}')],
    },
    stop: { title: 'Stop the workload', narration: 'The final read then checks every acknowledged write.' },
  },
  async mechanism(lab) {
    const k = kit.observeMode(lab);
    await k.admin.createTopic(TOPIC, { assignment: ASSIGNMENT, config: { 'min.insync.replicas': 2 } });
    return kit.topicsHealthy(lab, 'isrBefore', { [TOPIC]: 3 }, 3, true);
  },
  async run(lab) {
    const [k, bound] = [lab.stack, lab.params.maxElectionMs];
    const { loop, c } = await lab.step('load', async () => {
      const route = (seq: number) => ({ partition: seq % 3 });
      const opts = { name: 'producer', acks: 'all', intervalMs: 30, route, deliveryTimeoutMs: 15_000 } as const;
      const loop = await kit.ProducerLoop.start(k.bootstrap, lab.history, TOPIC, opts);
      await kit.sleep(3000);
      const c = await kit.chooseLeaderToKill(lab, TOPIC);
      lab.say(`${loop.acknowledged} writes acknowledged so far`);
      return { loop, c };
    });
    const survivor = k.brokers.find((b) => b !== c.victim) as string;
    const step = kit.stepsWith(lab, { victim: c.victim, partition: c.partition, survivor });
    await step('kill-leader', async () => {
      const wait = (ms: number) => kit.untilLeader(lab, TOPIC, c.partition, 'a survivor', (l) => l !== c.victim, ms);
      const took = await kit.killAndTime(lab, c.victim, bound, wait);
      if (!took) return;
      const { now: leader, ms } = took;
      lab.observe('newLeader', leader, `new leader of ${TOPIC}-${c.partition}: ${kit.named(leader)}`);
      lab.observe('electionMs', ms, `elected ${ms} ms after the kill (bound ${bound} ms)`);
      lab.observe('servingFrom', lab.history.now());
      const rule = `the first live replica in the assignment ${c.replicas.join(',')}`;
      lab.say(`${leader} ${leader === c.expected ? 'is' : 'is not'} ${rule}; the notes' rule picks ${c.smallest}`);
      const urp = await kit.untilUnderReplicated(lab, 20_000);
      lab.observe('urpWhileDown', urp, `${urp.length} under-replicated partitions while ${c.victim} is down`);
      await kit.sleep(2000);
      lab.say(`${loop.acknowledged} writes acknowledged so far`);
    });
    await step('restart', async () => {
      await lab.faults.start(c.victim);
      const t0 = Date.now();
      const [parts, ms] = [await kit.inSync(lab, TOPIC, 3, 3, 120_000, 250), Date.now() - t0];
      if (!kit.notInSync(parts, 3, 3).length)
        lab.observe('isrRecoveryMs', ms, `ISR full again ${ms} ms after the restart`);
      lab.observe('isrAfterRestart', parts, kit.partsText(parts));
    });
    await step('preferred', async () => {
      const { said, leader } = await kit.electPreferred(lab, survivor, TOPIC, c.partition, c.victim, 30_000);
      lab.say(said);
      lab.observe('leaderAfterPreferred', leader, `leader after the preferred election: ${kit.named(leader)}`);
    });
    await lab.step('stop', () => loop.stop().then(() => lab.say(`${loop.acknowledged} writes acknowledged in all`)));
  },
  final: (lab) => kit.finalRead(lab, TOPIC),
  predictions: [
    {
      before: 'kill-leader',
      question:
        'The leader of the partition is about to be killed. Its replicas are listed as [leader, b, c] with b > c. ' +
        'Which broker becomes the new leader?',
      choices: [
        'b: the first live in-sync replica in the assignment order',
        'c: the in-sync replica with the smallest broker id',
        'none until the dead broker returns',
      ],
      answer: (ev) => {
        const { choice: c, newLeader: leader } = kit.observed<Seen>(ev);
        if (!c) return undefined;
        return leader === c.expected ? 0 : leader === c.smallest ? 1 : leader === undefined ? 2 : undefined;
      },
    },
  ],
  check(ev, p) {
    const { choice: c, newLeader: leader, urpWhileDown: urp = [], ...seen } = kit.observed<Seen>(ev);
    if (!c) return kit.faultNotReached('the leader was killed', 'a partition leader chosen and killed under load');
    const [part, preferred] = [`${TOPIC}-${c.partition}`, seen.leaderAfterPreferred];
    const isrBefore = (seen.isrBefore ?? []).find((x) => x.partition === c.partition)?.isr ?? [];
    const sent = (o: kit.Op) => o.type === 'ok' && o.time > Number(seen.servingFrom);
    const writesAfter = kit
      .completions(ev.ops, 'send')
      .filter((o) => sent(o) && (o.value as { partition?: number }).partition === c.partition);
    const took = { now: leader, old: c.victim, ms: Number(seen.electionMs), bound: p.maxElectionMs };
    return [
      kit.takenOver('leader', `a surviving replica leads ${part}`, took, 'electionMs'),
      kit.check(
        'the new leader is the first live ISR member in assignment order',
        leader !== undefined && leader === c.expected && isrBefore.includes(leader),
        `${kit.named(c.expected)} (assignment ${c.replicas.join(',')}; ISR before ${isrBefore.join(',')}), ` +
          `not the smallest id ${kit.named(c.smallest)}`,
        kit.named(leader),
      ),
      kit.check(
        'partitions are under-replicated while the broker is down',
        urp.length > 0,
        '> 0 under-replicated partitions',
        `${urp.length} (${kit.sample(urp, 6)})`,
      ),
      kit.allInSync('after the restart every ISR is full again', seen.isrAfterRestart ?? [], 3, 3),
      kit.check(
        'the preferred-leader election gives leadership back',
        preferred !== undefined && preferred === c.victim,
        `${kit.named(c.victim)} leads ${part} again`,
        kit.named(preferred),
      ),
      kit.check(
        'writes to the partition are acknowledged again after the election',
        writesAfter.length > 0,
        `> 0 acks=all writes to ${part} acknowledged after the new leader`,
        `${writesAfter.length} acknowledged`,
        { windows: kit.availability(ev.ops, ev.faults, 'send') },
      ),
      ...kit.nothingLost(ev.ops, 'read-all', 'allowed'),
    ];
  },
});
