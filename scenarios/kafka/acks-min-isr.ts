import * as kit from './kit.ts';

const TOPIC = 'acks';
/**
 * Four brokers; the partition's replicas in assignment order: kafka1 is the preferred
 * leader and stays the leader. In KRaft mode kafka1..3 are also the metadata quorum, so
 * the followers are one voter and the broker-only kafka4: with both stopped the quorum
 * still has a majority. (With replicas on kafka1..3, stopping two voters froze the
 * metadata whenever the second was the active controller: its own "out of the ISR"
 * record was never committed, and the ISR stayed at two for good.)
 */
const REPLICAS = ['kafka1', 'kafka2', 'kafka4'];
const [LEADER, SECOND_DOWN, FIRST_DOWN] = REPLICAS as [string, string, string];
const MIN_ISR = 2;
/** One producer per acks setting; the producer's name is its History process and its ids' prefix. */
const PRODUCERS = ([0, 1, 'all'] as kit.Acks[]).map((acks) => ({ name: `acks${acks}`, acks, label: `acks=${acks}` }));
const [PHASES, LABELS] = [['all-up', 'one-down', 'two-down', 'back'], PRODUCERS.map((x) => x.label)];
/** What a trainee can type meanwhile: the partition seen from the leader, a console producer with acks=all. */
const DESCRIBE = kit.describeTopicCommand(TOPIC, LEADER);
const PRODUCE = kit.consoleProducerCommand(LEADER, TOPIC, 'acks=all');

/** What the lab reads beyond each round's `phase` mark: the leader's first accepted acks=all send after the followers returned. */
interface Seen {
  canary: { accepted: boolean; refusals: number; ms: number };
}

export default kit.defineLab({
  id: 'kafka/acks-min-isr',
  title: 'acks=0, 1, all against min.insync.replicas=2 while brokers go down',
  teaches:
    'with min.insync.replicas=2, acks=all keeps working with one follower down and is refused (NOT_ENOUGH_REPLICAS) ' +
    'with two down, while acks=1 and acks=0 carry on; nothing acknowledged with acks=all is ever lost',
  notes:
    'Notes, Kafka chapter (seed lines 712-746 and 1573-1595): "Kafka 工作机制" (line 744: 要实现强一致性 ... min.insync.replicas 参数设置为大于1 ... acks 为 all 或者-1) ' +
    'and "说一下同步投递和重复消费" (lines 1592-1595, # acks配置: acks=0 / acks=1 / acks=all). What the notes leave out: acks=all waits ' +
    'for the *current* ISR, which may shrink to the leader alone; min.insync.replicas is what turns that into a ' +
    'refusal (NOT_ENOUGH_REPLICAS) instead of a write held by one copy. acks=0 gets no answer at all: the lab ' +
    `only reports what the final read holds of those sends. ${kit.ACKS_DEFAULT} ${kit.OUTDATED}`,
  variants: kit.bothModes(),
  params: {
    mode: kit.modeParam,
    perPhase: kit.intParam(5, 'messages sent with each acks setting per phase', 1, 100),
    isrTimeoutMs: kit.intParam(60_000, 'the bound for the ISR to shrink after a stop, or to grow after a start', 5000),
  },
  stack: kit.kafka,
  topology: (p) => ({ mode: p.mode, brokers: 4 }),
  steps: {
    topic: {
      title: `Topic "${TOPIC}": one partition on ${REPLICAS.join(', ')}, min.insync.replicas=${MIN_ISR}`,
      narration:
        `One partition, one leader. Its replicas are assigned in the order ${REPLICAS.join(', ')}: the first is ` +
        `the preferred leader, so ${LEADER} leads, and only followers are ever taken down (${FIRST_DOWN}, then ` +
        `${SECOND_DOWN}). min.insync.replicas=${MIN_ISR} on the topic (the broker default is 1): an acks=all write ` +
        `needs ${MIN_ISR} replicas in the ISR, the leader included, to be accepted.`,
      commands: [kit.describeTopicCommand(TOPIC), kit.topicConfigCommand(TOPIC)],
    },
    'all-up': {
      title: 'All three up: send with acks=0, 1 and all',
      narration:
        '{perPhase} identified messages with each setting, one after the other. acks=0: no answer (the broker sends ' +
        'none), so "ok" only means "handed to the socket". acks=1: the leader appended it. acks=all (-1): every ' +
        'replica in the ISR has it. No retries: a refusal shows as it is.',
      commands: [PRODUCE],
    },
    'first-down': {
      title: `Stop ${FIRST_DOWN}: one follower down`,
      narration:
        `${FIRST_DOWN} shuts down cleanly (SIGTERM, a controlled shutdown): the controller removes it from the ISR ` +
        `at once; a killed broker is dropped after its session timeout, a frozen follower after ${kit.LAG_TIME_TEXT}. ` +
        `ISR ${LEADER},${SECOND_DOWN}: 2 >= min.insync.replicas, so acks=all still succeeds, waiting for one follower.`,
      commands: [DESCRIBE],
    },
    'second-down': {
      title: `Stop ${SECOND_DOWN}: two followers down`,
      narration: (p) =>
        `ISR ${LEADER} alone: 1 < min.insync.replicas=${MIN_ISR}. The leader refuses acks=all writes before ` +
        'appending them: NOT_ENOUGH_REPLICAS (code 19); the producer can retry later or alert. (It applies the ' +
        'shrink a moment after the metadata shows it: canary writes, judged by no check, wait for its own first ' +
        'refusal.) NOT_ENOUGH_REPLICAS_AFTER_APPEND (code 20) is the rarer case where the ISR shrank after the ' +
        "append: in the leader's log but not acknowledged, unknown rather than failed. acks=1 needs only the " +
        'leader and carries on, each write held by a single copy. ' +
        (p.mode === 'kraft'
          ? `kafka1..3 are also the metadata quorum: with ${SECOND_DOWN} stopped two of three voters remain and the ` +
            'ISR change is committed; with two voters stopped it could not be, and acks=all would time out instead.'
          : 'In ZooKeeper mode the controller moves to a live broker if it was on a stopped one.'),
      commands: [DESCRIBE, PRODUCE],
    },
    back: {
      title: `Start ${SECOND_DOWN} and ${FIRST_DOWN} again`,
      narration:
        'The followers fetch what they missed (the acks=1 writes included) and rejoin the ISR once caught up; with ' +
        'one of them back, acks=all is accepted again.',
      commands: [DESCRIBE],
    },
  },
  async mechanism(lab) {
    kit.observeMode(lab);
    return lab.step('topic', () => kit.placedTopic(lab, TOPIC, REPLICAS, { 'min.insync.replicas': MIN_ISR }));
  },
  async run(lab) {
    const [k, p] = [lab.stack, lab.params];
    // All bootstrap on the leader, up throughout; `canary` only asks it whether it accepts acks=all (no retries).
    const opts = { retries: 0, deliveryTimeoutMs: 6000, requestTimeoutMs: 4000, ackTimeoutMs: 3000 };
    const specs = [{ name: 'canary', acks: 'all' as const }, ...PRODUCERS];
    const connected = await kit.connectProducers(k.brokerEndpoints([LEADER]), lab.history, specs, opts);
    const [canary, ...producers] = connected as [kit.KafkaProducer, ...kit.KafkaProducer[]];
    const round = (name: string, part: kit.PartitionState) =>
      kit.sendPhase(lab, name, part, producers, LABELS, TOPIC, p.perPhase);
    const settled = (probe: kit.KafkaReader, name: string, ok: (x: kit.PartitionState) => boolean) =>
      kit.settledIsr(lab, probe, TOPIC, name, ok, p.isrTimeoutMs);
    const steps = async (probe: kit.KafkaReader) => {
      await lab.step('all-up', async () => round('all-up', await probe.partition(TOPIC, 0)));
      await lab.step('first-down', async () => {
        await lab.faults.stop(FIRST_DOWN);
        await round('one-down', await settled(probe, 'isrOneDown', (x) => kit.sameSet(x.isr, [LEADER, SECOND_DOWN])));
      });
      await lab.step('second-down', async () => {
        await lab.faults.stop(SECOND_DOWN);
        const part = await settled(probe, 'isrTwoDown', (x) => kit.sameSet(x.isr, [LEADER]));
        await kit.askLeader(lab, 'canaryRefused', canary, LEADER, TOPIC, 'refuses', p.isrTimeoutMs);
        await round('two-down', part);
      });
      await lab.step('back', async () => {
        await lab.faults.start(SECOND_DOWN);
        await lab.faults.start(FIRST_DOWN);
        const part = await settled(probe, 'isrBack', (x) => x.isr.length >= MIN_ISR);
        await kit.askLeader(lab, 'canary', canary, LEADER, TOPIC, 'accepts', p.isrTimeoutMs);
        await round('back', part);
      });
    };
    await kit
      .withProbe(k, [LEADER], steps)
      .finally(() => Promise.all([canary, ...producers].map((x) => x.disconnect())));
  },
  final: (lab) => kit.finalRead(lab, TOPIC),
  predictions: [
    {
      before: 'second-down',
      question: `Only the leader is left in the ISR (min.insync.replicas=${MIN_ISR}). What happens to acks=all sends?`,
      choices: [
        'they succeed, held by the leader only',
        'they are refused with NOT_ENOUGH_REPLICAS',
        'they hang until the request times out',
        'they succeed, and are lost later',
      ],
      answer: (ev) => {
        const r = kit.phaseOps(ev, 'two-down', 'acksall');
        if (!r.length) return undefined;
        if (kit.allOk(r)) return 0;
        if (r.every(kit.refusedBeforeAppend)) return 1;
        return r.some((o) => o.type === 'info') ? 2 : undefined;
      },
    },
  ],
  check(ev) {
    const { canary } = kit.observed<Seen>(ev);
    const [, one, two, back] = PHASES.map((ph) => kit.phaseMark(ev, ph));
    const missing = PHASES.filter((ph) => !kit.phaseMark(ev, ph));
    if (missing.length) return kit.cannotTell('every phase ran', PHASES.join(', '), `missing: ${missing.join(', ')}`);
    const all = (ph: string, prod: string) => kit.phaseOps(ev, ph, prod);
    const ones = kit.delivery(kit.ofProducer(ev.ops, 'acks1'), { receive: 'read-all' });
    const zeros = kit.delivery(kit.ofProducer(ev.ops, 'acks0'), { receive: 'read-all' });
    return [
      kit.check(
        'all three up: acks=0, 1 and all succeed',
        PRODUCERS.every((x) => kit.allOk(all('all-up', x.name))),
        'every send acknowledged',
        PRODUCERS.map((x) => `${x.label} ${kit.tally(all('all-up', x.name))}`).join('; '),
      ),
      kit.check(
        `one follower down (ISR ${one?.isr}): acks=all still succeeds`,
        kit.sameSet(one?.isr ?? [], [LEADER, SECOND_DOWN]) && kit.allOk(all('one-down', 'acksall')),
        `ISR ${LEADER},${SECOND_DOWN}; every acks=all send acknowledged`,
        `ISR ${one?.isr}; acks=all ${kit.tally(all('one-down', 'acksall'))}`,
      ),
      kit.refusedCheck(
        `two followers down (ISR ${two?.isr}): acks=all refused before the append (NOT_ENOUGH_REPLICAS)`,
        all('two-down', 'acksall'),
        `ISR ${LEADER} alone; every acks=all send refused with NOT_ENOUGH_REPLICAS (19); an after-append refusal ` +
          '(20) or an unknown outcome is not that',
        `ISR ${two?.isr}; acks=all `,
        kit.sameSet(two?.isr ?? [], [LEADER]),
      ),
      kit.check(
        'two followers down: acks=1 still succeeds',
        kit.allOk(all('two-down', 'acks1')),
        'every acks=1 send acknowledged by the leader alone',
        `acks=1 ${kit.tally(all('two-down', 'acks1'))}; acks=0 ${kit.tally(all('two-down', 'acks0'))} (acks=0 gets no answer to fail with)`,
      ),
      kit.check(
        `followers back (ISR ${back?.isr}): acks=all succeeds again`,
        (back?.isr.length ?? 0) >= MIN_ISR && kit.allOk(all('back', 'acksall')),
        `ISR of at least ${MIN_ISR}; every acks=all send acknowledged`,
        `ISR ${back?.isr}; acks=all ${kit.tally(all('back', 'acksall'))}` +
          (canary ? `; accepted ${canary.ms} ms after the ISR grew (${canary.refusals} canary refusal(s))` : ''),
      ),
      ...kit.nothingLost(kit.ofProducer(ev.ops, 'acksall'), 'read-all', 'allowed', 'acks=all'),
      kit.check(
        'acks=1 and acks=0: what the final read holds (reported)',
        true,
        'reported only: the leader never changed, so nothing was truncated; acks=0 sends are excluded from every loss check',
        `acks=1: ${kit.lostText(ones)}; acks=0: ${zeros.received} of ${zeros.acknowledged} "sent" found`,
      ),
    ];
  },
});
