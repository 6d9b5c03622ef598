import * as kit from './kit.ts';

const TOPIC = 'cut';
const REPLICAS = ['kafka1', 'kafka2', 'kafka3'];
/** PEER, on the majority's side, is where the lab reads the majority's view. */
const [LEADER, PEER, OTHERS] = [REPLICAS[0] as string, REPLICAS[1] as string, REPLICAS.slice(1)];
const zkState = kit.kafkaTool(PEER, 'zookeeper-shell.sh', 'get', `/brokers/topics/${TOPIC}/partitions/0/state`);
/** What the lab reads, by observation name (ms are after the cut, or after the heal for `rejoined`). */
interface Seen {
  /** Right after the cut (at `cutAt`): the peers the leader still reached; the brokers this machine still reached. */
  cut: { leaderReaches: string[]; hostReaches: string[] };
  cutAt: number;
  /** The partition on the majority's side once it had another leader (or at the end of the cut). */
  majority: { leader?: string; isr: string[]; text: string; ms: number };
  /** What the cut-off leader told this machine after that, and its high watermark at the end of the cut. */
  oldView: { leader?: string; isr: string[]; error?: string };
  oldLeaderHw: number;
  /** The partition once its ISR was full again after the heal (or at the bound). */
  rejoined: { leader?: string; isr: string[]; ms: number };
  finalRead: number;
}

export default kit.defineLab({
  id: 'kafka/partitioned-leader',
  title: 'A partition leader cut off, not killed: acks=1 writes it accepts are truncated after the heal',
  teaches:
    'a leader cut off from the other brokers and the controller, but not from its producer, believes it leads while ' +
    'the majority elects another; what it acknowledges with acks=1 is truncated when it rejoins as a follower; with ' +
    'acks=all and min.insync.replicas=2 it acknowledges nothing, so nothing acknowledged is lost',
  notes:
    'Notes, Kafka chapter: "说一下同步投递和重复消费" (seed line 1594: acks=1 "如果leader副本在消息传递给follower之前发生故障，消息可能会丢失") and ' +
    '"Kafka 工作机制" (lines 742-744: min.insync.replicas with acks=all). The notes speak only of a leader that fails. ' +
    'A cut-off leader does not fail: it answers the clients on its side, and nothing demotes it until it hears ' +
    "from the controller (fencing is the controller's act); no timeout bounds what it acknowledges with acks=1, " +
    'only the cut does. The loss is log truncation at the rejoin (KIP-101: to where its leader epoch ended, as the ' +
    'new leader reports it). min.insync.replicas binds acks=all only (Kafka docs, topic configs): it is 2 in both ' +
    'variants, and acks=1 ignores it.',
  variants: kit.bothModes([{ acks: 'all' }]),
  params: {
    mode: kit.modeParam,
    acks: kit.enumParam(['1', 'all'], 'acks of the producer on the cut-off side'),
    before: kit.intParam(10, 'acks=all messages sent before the cut', 1, 1000),
    cutMs: kit.intParam(20_000, "the cut's length; the producer writes to the old leader throughout", 8000, 120_000),
  },
  stack: kit.kafka,
  topology: (p) => ({ mode: p.mode }),
  steps: {
    topic: {
      title: `Topic "${TOPIC}" on ${REPLICAS.join(', ')}, led by ${LEADER}, min.insync.replicas=2`,
      narration: 'Proven before any fault: the leader, a full ISR, min.insync.replicas=2, unclean election off.',
      commands: [kit.describeTopicCommand(TOPIC, LEADER)],
    },
    before: {
      title: '{before} messages with acks=all while every replica is in sync',
      narration: 'A baseline on all three replicas: it must survive everything that follows, in both variants.',
    },
    cut: {
      title: `Cut ${LEADER} off from every other node; cut ${OTHERS.join(' and ')} off from this machine`,
      narration: (p) =>
        `iptables in ${LEADER} drops all traffic with the other brokers and ` +
        (p.mode === 'kraft' ? 'the KRaft quorum (kafka1..3 are its voters too)' : 'ZooKeeper (zk1..3)') +
        `; ${OTHERS.join(' and ')} drop this machine. The producer here can reach ${LEADER} only, and ${LEADER} ` +
        `answers its metadata requests naming itself the leader. Proven from inside ${LEADER} (a TCP connect to each ` +
        'peer) and from here (a metadata request to each other broker).',
      commands: [
        `docker exec {@${LEADER}} iptables -L MIDLAB -n`,
        `docker exec {@${LEADER}} timeout 2 bash -c 'exec 3<>/dev/tcp/${PEER}/9092'`,
      ],
    },
    writes: {
      title: 'The producer writes with acks={acks} to the cut-off leader for {cutMs} ms',
      narration: (p) =>
        (p.mode === 'kraft'
          ? `The controller fences ${LEADER} after broker.session.timeout.ms without a heartbeat (6 s here, 9 s in production)`
          : `${LEADER}'s ZooKeeper session expires after zookeeper.session.timeout.ms (6 s here, 18 s in production)`) +
        `; the controller elects ${OTHERS.join(' or ')} from the ISR. Nobody can tell ${LEADER}: it still leads, and ` +
        (p.acks === '1'
          ? 'with acks=1 it appends each write and acknowledges it at once, one copy on a log the cluster has left.'
          : 'with acks=all it waits for followers that never fetch; after replica.lag.time.max.ms (10 s here, 30 s in ' +
            'production) it asks the controller to shrink the ISR, which it cannot reach: no write is acknowledged, ' +
            'each times out (unknown) or is refused.') +
        ` Its high watermark stays where the followers left it: no consumer sees these writes. The majority's view is read inside ${PEER}.`,
      commands: (p) => [p.mode === 'zookeeper' ? zkState : kit.describeTopicCommand(TOPIC, PEER)],
    },
    heal: {
      title: 'Heal the cut',
      narration: (p) =>
        `${LEADER} learns the newer leader epoch and becomes a follower: it asks the new leader where its own epoch ` +
        'ended (OffsetsForLeaderEpoch, KIP-101), truncates its log there and fetches: what it appended alone is gone. ' +
        (p.mode === 'kraft'
          ? `${LEADER}, a quorum voter too, campaigned alone during the cut, raising the Raft epoch: rejoining, it forces ` +
            'a new election of the metadata quorum (Kafka 3.9 has no Pre-Vote; KIP-996 came with 4.0).'
          : `If ${LEADER} was the controller, it stayed one in its own eyes all along; now it finds its session expired and resigns.`),
      commands: [kit.describeTopicCommand(TOPIC, LEADER)],
    },
  },
  async mechanism(lab) {
    kit.observeMode(lab);
    const config = { 'min.insync.replicas': 2, 'unclean.leader.election.enable': false };
    return lab.step('topic', () => kit.placedTopic(lab, TOPIC, REPLICAS, config));
  },
  async run(lab) {
    const [k, p] = [lab.stack, lab.params];
    const [toLeader, zero] = [k.brokerEndpoints([LEADER]), () => ({ partition: 0 })];
    const before = { name: 'before', acks: 'all', route: zero } as const;
    await lab.step('before', () => kit.produceSaid(lab, toLeader, TOPIC, p.before, before));
    // A reader given only kafka1 asks it for offsets (its leader, reached before the cut), never a broker it cannot reach.
    await kit.withProbe(k, [LEADER], async (pinned) => {
      await kit.logEnd(pinned, TOPIC);
      const peers = [...OTHERS, ...k.zookeepers];
      const cutAt = await lab.step('cut', () => kit.cutWithClients(lab, LEADER, peers, OTHERS));
      await lab.step('writes', async () => {
        const opts = { name: 'cut', retries: 0, deliveryTimeoutMs: 5000, intervalMs: 100, route: zero } as const;
        const acks: kit.Acks = p.acks === '1' ? 1 : 'all';
        const loop = await kit.ProducerLoop.start(toLeader, lab.history, TOPIC, { ...opts, acks });
        const left = () => Math.max(0, cutAt + p.cutMs - Date.now());
        const side = await kit.untilLeaderOnSide(lab, k, PEER, TOPIC, LEADER, left());
        const majority = { ...side, ms: Date.now() - cutAt };
        lab.observe('majority', majority, `${PEER}'s side: ${side.text}, read ${majority.ms} ms after the cut`);
        const old = await kit.viewOf(k.broker(LEADER), TOPIC);
        lab.observe('oldView', old, `${LEADER} tells this machine: leader ${old.leader ?? 'none'}, isr ${old.isr}`);
        await kit.sleep(left());
        await loop.stop();
        const hw = await kit.logEnd(pinned, TOPIC);
        if (hw !== undefined) lab.observe('oldLeaderHw', hw, `${LEADER}'s high watermark: ${hw}`);
        lab.say(`during the cut: ${kit.resultsText(loop.results)}`);
      });
    });
    await lab.step('heal', () => kit.healAndRejoin(lab, REPLICAS, TOPIC));
  },
  final: (lab) => kit.finalRead(lab, TOPIC),
  check(ev, p) {
    const { cut, majority, oldView, rejoined, ...seen } = kit.observed<Seen>(ev);
    const expectCut = `${LEADER} reached no peer, this machine none of ${OTHERS}`;
    if (!cut || cut.leaderReaches.length || cut.hostReaches.length)
      return kit.cannotTell('the cut was in force', expectCut, cut ? JSON.stringify(cut) : 'no cut seen');
    if (seen.finalRead === undefined) return kit.noFinalRead('after the heal');
    const during = kit.sendsOf(ev.ops, 'cut');
    const acked = during.filter((o) => o.type === 'ok');
    const last = acked.at(-1);
    const window = last ? `, the last ${((last.time - (seen.cutAt ?? 0)) / 1000).toFixed(1)} s after the cut` : '';
    const tally = kit.tally(during) + window;
    const checks = [
      kit.check(
        `the majority elected ${OTHERS.join(' or ')} while ${LEADER} was cut off`,
        OTHERS.includes(majority?.leader ?? ''),
        `another leader on ${PEER}'s side, read before the heal`,
        majority ? `${majority.text}, read ${majority.ms} ms after the cut` : 'never read',
      ),
      kit.check(
        `${LEADER}, cut off, still named itself leader after that`,
        oldView?.leader === LEADER,
        `${LEADER} answers this machine: leader ${LEADER}`,
        oldView
          ? `leader ${oldView.leader ?? 'none'}, isr ${oldView.isr}${oldView.error ? ` (${oldView.error})` : ''}`
          : 'never asked',
      ),
      kit.check(
        `nothing written during the cut was committed: ${LEADER}'s high watermark stayed at ${p.before}`,
        seen.oldLeaderHw === p.before,
        `high watermark ${p.before}`,
        `high watermark ${seen.oldLeaderHw ?? 'not read'}`,
      ),
      kit.check(
        `after the heal ${LEADER} rejoined: ISR ${REPLICAS} again`,
        kit.sameSet(rejoined?.isr ?? [], REPLICAS),
        `isr ${REPLICAS}`,
        rejoined ? `leader ${rejoined.leader}, isr ${rejoined.isr}, ${rejoined.ms} ms after the heal` : 'never read',
      ),
      ...kit.finalReadChecks(kit.ofProducer(ev.ops, 'before'), 'acks=all messages from before the cut'),
    ];
    const loss = kit.delivery(ev.ops, { receive: 'read-all' });
    if (p.acks === '1') {
      return [
        ...checks,
        kit.check(`acks=1: ${LEADER} acknowledged writes while cut off`, acked.length > 0, '> 0', tally),
        kit.allLost(
          ev.ops,
          'cut',
          'every write acknowledged during the cut is lost after the heal',
          'all acknowledged acks=1 writes of the cut missing from the final read',
        ),
      ];
    }
    return [
      ...checks,
      kit.check(
        'acks=all with min.insync.replicas=2: no write acknowledged during the cut',
        during.length > 0 && acked.length === 0,
        'every write refused or timed out (unknown), none acknowledged',
        tally,
      ),
      kit.check(
        'no acknowledged message lost, before or during the cut',
        loss.lost.length === 0,
        '0 lost',
        kit.lostText(loss),
      ),
    ];
  },
});
