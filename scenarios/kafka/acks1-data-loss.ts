import * as kit from './kit.ts';

const TOPIC = 'loss';
/** Replication factor 2: kafka1 leads, kafka2 follows; kafka3 holds no replica and is always up. */
const [LEADER, FOLLOWER, BYSTANDER] = ['kafka1', 'kafka2', 'kafka3'];

/** What the lab reads: the ISR once the follower was out (or at the bound), and when; the election; the probes. */
interface Seen {
  isrAlone: string[];
  isrAloneMs: number;
  newLeader: string | undefined;
  election: kit.Election;
  finalRead: number;
  leaderRefuses: { ms: number; probes: string[] };
}

export default kit.defineLab({
  id: 'kafka/acks1-data-loss',
  title: 'acks=1 loses acknowledged messages when an out-of-sync follower takes over',
  teaches:
    'with acks=1, a leader alone in the ISR acknowledges writes no one else has; when it dies and a follower is ' +
    'elected uncleanly, those acknowledged messages are gone for good. With acks=all and min.insync.replicas=2 ' +
    'the same writes are refused instead, and nothing acknowledged is lost',
  notes:
    'Notes, Kafka chapter: "说一下同步投递和重复消费" (seed line 1594) - "acks=1: ... 如果leader副本在消息传递给follower之前发生故障，' +
    '消息可能会丢失", and "Kafka 工作机制" (lines 742-744: Kafka允许领导者在数据还未被所有的追随者复制之前就将写操作确认为成功 ... ' +
    '新数据可能会丢失; 要实现强一致性 ... min.insync.replicas ... acks 为 all). The lab makes "可能" certain: the follower ' +
    'is frozen out of the ISR before the writes. The notes say a new leader comes from the ISR ("Kafka的领导者选举过程", ' +
    'lines 720-731: "选取副本集合（ISR）中最新的副本"): true unless an unclean election is allowed, by the topic config ' +
    'unclean.leader.election.enable or by an operator forcing it (param election). What the notes do not say: ' +
    'acks=1 loss needs no unclean election. A follower still in the ISR that has not fetched the newest acks=1 ' +
    'writes can be elected cleanly when the leader dies; the old leader then truncates its log to the new ' +
    "leader's, and the acknowledged tail is gone just the same (the high watermark had not passed it, so no " +
    `consumer saw it): the freeze only makes the window wide and certain. ${kit.ACKS_DEFAULT} ${kit.OUTDATED}`,
  variants: kit.bothModes([{ variant: 'acksall' }, { election: 'tool' }]),
  params: {
    mode: kit.modeParam,
    variant: kit.enumParam(
      ['acks1', 'acksall'],
      'acks1: acks=1 with min.insync.replicas=1 (messages are lost); acksall: acks=all with ' +
        'min.insync.replicas=2 (writes are refused, nothing acknowledged is lost)',
    ),
    election: kit.enumParam(
      ['config', 'tool'],
      'config: unclean.leader.election.enable=true on the topic (the controller elects by itself); tool: the ' +
        'config stays false, the partition goes offline, and kafka-leader-election.sh --election-type unclean forces it',
    ),
    before: kit.intParam(10, 'acks=all messages sent while both replicas are in sync', 1, 1000),
    messages: kit.intParam(20, 'messages sent while the leader is alone in the ISR', 1, 1000),
    isrTimeoutMs: kit.intParam(
      25_000,
      'the bound for the frozen follower to leave the ISR: the session timeout (6 s), or replica.lag.time.max.ms ' +
        "(10 s) plus up to half of it until the leader's periodic check, with headroom (seen 5.4..16.1 s)",
      5000,
    ),
    electionTimeoutMs: kit.intParam(90_000, 'the bound for the follower to become leader', 5000),
  },
  stack: kit.kafka,
  topology: (p) => ({ mode: p.mode }),
  steps: {
    topic: {
      title: `Topic "${TOPIC}": one partition on ${LEADER} and ${FOLLOWER}{unclean}`,
      narration: (p) =>
        `Replication factor 2, assigned explicitly: ${LEADER} leads, ${FOLLOWER} follows, ${BYSTANDER} holds no ` +
        'replica (the lab asks it about the other two). Not 3 replicas: in KRaft mode kafka1..3 are also the ' +
        'metadata quorum, and with two of them frozen the controller could not even record the ISR change. Topic ' +
        `configs: unclean.leader.election.enable=${p.election === 'config'}, min.insync.replicas=${p.variant === 'acks1' ? 1 : 2}.`,
      commands: [kit.describeTopicCommand(TOPIC), kit.topicConfigCommand(TOPIC)],
    },
    before: {
      title: '{before} messages with acks=all while both replicas are in sync',
      narration: `A baseline on ${LEADER} and ${FOLLOWER}: it must survive everything, in both variants.`,
    },
    freeze: {
      title: `Freeze ${FOLLOWER} until it leaves the ISR`,
      narration: (p) =>
        `docker pause: ${FOLLOWER} goes silent, its sockets open. The leader drops a follower that has not caught ` +
        `up for ${kit.LAG_TIME_TEXT}; the controller drops a silent broker after ${kit.sessionTimeoutText(p.mode)}: ` +
        `whichever comes first. The lab polls until the ISR is ${LEADER} alone, at most ${p.isrTimeoutMs / 1000} s.`,
      commands: [kit.describeTopicCommand(TOPIC, BYSTANDER)],
    },
    alone: {
      title: '{messages} messages with acks={acks} to the lone leader',
      narration: (p) =>
        p.variant === 'acks1'
          ? `acks=1: ${LEADER} appends each message and answers at once; the frozen follower has none of them.`
          : `ISR ${LEADER} alone, 1 < min.insync.replicas=2: the leader refuses each write before the append ` +
            '(NOT_ENOUGH_REPLICAS). It applies the shrink a moment after the controller publishes it (seen: the ' +
            'first write after it appended, waited for the frozen follower, outcome unknown), so probe writes ' +
            '(process "canary", judged by no check) go first, until it refuses one.',
    },
    'kill-leader': {
      title: `Kill the leader ${LEADER}, then unfreeze ${FOLLOWER}`,
      narration: `SIGKILL; ${FOLLOWER}, unfrozen after, has nobody to copy the newer messages from.`,
    },
    elect: {
      title: `Unclean election: ${FOLLOWER} becomes leader`,
      narration: (p) =>
        kit.uncleanElectionText(p.election, { old: LEADER, want: FOLLOWER, via: BYSTANDER }) +
        (p.variant === 'acks1'
          ? " The new leader's log is shorter: the acknowledged tail is gone. Restarted in the heal, " +
            `${LEADER} truncates its log to the new leader's, deleting the only copy.`
          : ' The new leader has every acknowledged message: both replicas had each.'),
      commands: [kit.electionCommand(BYSTANDER, 'unclean', TOPIC), kit.describeTopicCommand(TOPIC, BYSTANDER)],
    },
  },
  async mechanism(lab) {
    const [p, unclean] = [lab.params, lab.params.election === 'config'];
    kit.observeMode(lab, { variant: p.variant });
    const config = { 'unclean.leader.election.enable': unclean, 'min.insync.replicas': p.variant === 'acks1' ? 1 : 2 };
    const vars = { unclean: unclean ? ', unclean leader election on' : '' };
    return lab.step('topic', () => kit.placedTopic(lab, TOPIC, [LEADER, FOLLOWER], config), { vars });
  },
  async run(lab) {
    const [k, p] = [lab.stack, lab.params];
    const acks: kit.Acks = p.variant === 'acks1' ? 1 : 'all';
    const toLeader = k.brokerEndpoints([LEADER]);
    // Every probe goes through the bystander: a client never waits on the frozen follower.
    await kit.withProbe(k, [BYSTANDER], async (probe) => {
      const opts = { name: 'before', acks: 'all', retries: 2, route: () => ({ partition: 0 }) } as const;
      const aloneOpts = { ...opts, name: 'alone', acks, deliveryTimeoutMs: 6000 } as const;
      await lab.step('before', () => kit.produceSaid(lab, toLeader, TOPIC, p.before, opts));
      await lab.step('freeze', async () => {
        await lab.faults.pause(FOLLOWER);
        const alone = (x: kit.PartitionState) => x.leader === LEADER && kit.sameSet(x.isr, [LEADER]);
        await kit.settledIsr(lab, probe, TOPIC, 'isrAlone', alone, p.isrTimeoutMs, 250);
      });
      const sendAlone = async () => {
        if (acks === 'all') await kit.canaryUntilRefused(lab, 'leaderRefuses', toLeader, LEADER, TOPIC, p.isrTimeoutMs);
        // Two retries: a request routed through the frozen broker times out, the next goes to the leader. A refusal stays one.
        await kit.produceSaid(lab, toLeader, TOPIC, p.messages, aloneOpts);
        const end = await kit.logEnd(probe, TOPIC);
        if (end !== undefined) lab.observe('leaderLogEnd', end, `${LEADER}'s log now ends at offset ${end}`);
      };
      await lab.step('alone', sendAlone, { vars: { acks: String(acks) } });
      await lab.step('kill-leader', () => lab.faults.kill(LEADER).then(() => lab.faults.resume(FOLLOWER)));
      const election = { node: BYSTANDER, topic: TOPIC, old: LEADER, want: FOLLOWER };
      await lab.step('elect', () => kit.uncleanTakeover(lab, probe, election, p.electionTimeoutMs));
    });
  },
  final: (lab) => kit.finalRead(lab, TOPIC),
  predictions: [
    {
      before: 'kill-leader',
      question: `${LEADER} is about to die holding messages ${FOLLOWER} never got. After the unclean election, what happens to them?`,
      choices: [
        `${FOLLOWER} fetches them from ${LEADER} when it returns`,
        'they are lost, although the producer was told they were written',
        'the producer was never told they were written (they were refused)',
      ],
      answer: (ev) => {
        const alone = kit.sendsOf(ev.ops, 'alone');
        if (!alone.length) return undefined;
        if (alone.every((o) => o.type !== 'ok')) return 2;
        return kit.delivery(kit.ofProducer(ev.ops, 'alone'), { receive: 'read-all' }).lost.length > 0 ? 1 : 0;
      },
    },
  ],
  check(ev, p) {
    const seen = kit.observed<Seen>(ev);
    if (seen.finalRead === undefined) return kit.noFinalRead('after healing');
    const { isrAlone: isr, newLeader, election, isrAloneMs: ms } = seen;
    const [before, alone] = [kit.sendsOf(ev.ops, 'before'), kit.sendsOf(ev.ops, 'alone')];
    const checks = [
      kit.allAcknowledged(
        'acks=all writes were acknowledged while both replicas were in sync',
        before,
        `${p.before} of ${p.before} acknowledged`,
      ),
      kit.isrCheck(`the frozen follower left the ISR (ISR = ${LEADER} alone)`, [LEADER], isr, ms, 'the pause'),
      ...kit.uncleanChecks(FOLLOWER, LEADER, { newLeader, isr, election }, p.election === 'tool'),
    ];
    if (p.variant === 'acksall') {
      return [
        ...checks,
        kit.refusedCheck(
          'acks=all with min.insync.replicas=2: every write to the lone leader refused before the append (NOT_ENOUGH_REPLICAS)',
          alone,
          `${p.messages} refused with NOT_ENOUGH_REPLICAS; none acknowledged, none after the append, none unknown`,
          kit.probesText(seen.leaderRefuses),
        ),
        ...kit.finalReadChecks(ev.ops, 'acks=all messages'),
      ];
    }
    return [
      ...checks,
      kit.allAcknowledged(
        `acks=1: the lone leader acknowledged all ${p.messages} writes`,
        alone,
        `${p.messages} acknowledged`,
      ),
      ...kit.finalReadChecks(kit.ofProducer(ev.ops, 'alone'), 'acks=1 messages', 'expected'),
      kit.allLost(
        ev.ops,
        'alone',
        'exactly the messages written while the leader was alone are lost',
        'all acknowledged acks=1 messages missing from the final read',
      ),
      ...kit.finalReadChecks(kit.ofProducer(ev.ops, 'before'), 'acks=all messages from before the freeze'),
    ];
  },
});
