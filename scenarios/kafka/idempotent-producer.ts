import * as kit from './kit.ts';

const TOPIC = 'idem';
/** Lab time-outs (production defaults in the narration). */
const [REQUEST_TIMEOUT_MS, DELIVERY_TIMEOUT_MS, REPLICA_LAG_MS] = [2000, 60_000, 30_000];

type Placement = { client: string; leader: string; follower: string };
/** What the lab reads, by observation name. */
interface Seen {
  placement: Placement;
  /** The topic's end offset once the producer was running, before the cut. */
  beforeCut: number;
  /** The producer state the leader keeps for the topic, read before the cut. */
  producerState: kit.ProducerState[];
  /** The high watermark when the cut began and when it ended, and the ISR then. */
  cut: { hwAtCut: number; hwAtEnd: number; isr: string[] };
  producer: kit.JavaProducerReport;
  /** Partition 0 from its first offset, in offset order: the producer's sequence numbers. */
  log: string[];
}

/** The producer's config: acks=all and 5 in flight in both variants; idempotence as the variant says. */
function producerProps(idempotence: string): Record<string, string | number | boolean> {
  return {
    acks: 'all',
    'enable.idempotence': idempotence === 'on',
    'max.in.flight.requests.per.connection': 5,
    retries: 2147483647,
    'request.timeout.ms': REQUEST_TIMEOUT_MS,
    'delivery.timeout.ms': DELIVERY_TIMEOUT_MS,
  };
}

export default kit.defineLab({
  id: 'kafka/idempotent-producer',
  title:
    'A produce request times out after the leader appended it: the retry duplicates unless the producer is idempotent',
  teaches:
    'a producer that times out cannot know if the leader appended its batch; it retries, and without idempotence ' +
    'the leader appends it again. With enable.idempotence (the Java default since 3.0) the leader knows the batch ' +
    'by (producer id, epoch, sequence) and answers the retry with the first append: each record once, in order',
  notes:
    'Notes, Kafka chapter, "说一下同步投递和重复消费" (seed lines 1573-1628): acks=all (1596) and "调整 retries 和 ' +
    'retry.backoff.ms" (1602) as tuning only; duplicates appear there on the consumer side only (1613-1624) and ' +
    "the remedies (幂等性操作, 使用事务, 1627-1628) are the application's. Missing: retries write duplicates when a request " +
    'times out after the append, and the producer has its own remedy, enable.idempotence (KIP-98, Kafka 0.11), on ' +
    'by default in the Java client since 3.0 (KIP-679) unless a conflicting setting (acks other than all, ' +
    'retries=0, more than 5 in flight) turns it off; the verifiable producer used here sets retries=0 unless told ' +
    'otherwise, so the lab sets each explicitly. The 3.0 default took effect only from 3.0.1, 3.1.1 and 3.2.0 ' +
    '(KAFKA-13598), and the producers Kafka Connect makes turn it off (KAFKA-13759). The broker dedups only the ' +
    "last 5 batches per producer, hence max.in.flight.requests.per.connection <= 5 with idempotence. Kafka's own " +
    'Java client is the reference here (kafkajs, used before, marked its idempotent mode experimental and is ' +
    'reported to drop concurrent sends: kafkajs issue 1005).',
  params: {
    mode: kit.modeParam,
    idempotence: kit.enumParam(['on', 'off'], 'enable.idempotence of the Java producer (on by default since 3.0)'),
    cutMs: kit.intParam(8000, 'how long the follower is cut off from the leader (> request.timeout.ms)', 4000, 25_000),
    rate: kit.intParam(20, 'messages a second the producer sends', 1, 500),
  },
  variants: [...kit.bothModes([{ idempotence: 'off' }]), { version: '4.4', mode: 'kraft', idempotence: 'off' }],
  stack: kit.kafka,
  topology: (p) => ({ mode: p.mode, replicaLagMs: REPLICA_LAG_MS }),
  steps: {
    topic: {
      title: `Topic "${TOPIC}" on {leader} (leader) and {follower}, min.insync.replicas=2; the producer runs in {client}`,
      narration:
        'Replication factor 2 on the two nodes that are not the active controller, so the cut below touches no ' +
        "controller link. The producer is Kafka's own Java client (kafka-verifiable-producer.sh) in the third node.",
      commands: [kit.describeTopicCommand(TOPIC, 'leader')],
    },
    produce: {
      title: 'The Java producer sends {rate} msg/s with acks=all, 5 in flight, enable.idempotence={idempotence}',
      narration:
        `request.timeout.ms=${REQUEST_TIMEOUT_MS} (production default 30000), delivery.timeout.ms=${DELIVERY_TIMEOUT_MS} ` +
        '(default 120000), retries unbounded (the default). Proven before the cut: records committed, and the ' +
        'state the leader keeps for an idempotent producer (producer id, epoch, last sequence): none without idempotence.',
      commands: [
        kit.kafkaTool('client', 'kafka-transactions.sh', 'describe-producers', '--topic', TOPIC, '--partition', '0'),
      ],
    },
    cut: {
      title: 'Cut {follower} off from {leader} for {cutMs} ms; the producer keeps sending',
      narration:
        'The leader appends a batch, then holds the acks=all answer until every ISR member has fetched it; it ' +
        'serves one request per connection at a time (protocol guide: answers in order), so of 5 in flight only ' +
        'the first is appended while its answer waits. The follower stays in the ISR ' +
        `(replica.lag.time.max.ms=${REPLICA_LAG_MS}, the production default), so no answer comes: after ` +
        'request.timeout.ms the producer gives up on requests the leader has appended, and retries them. The high ' +
        'watermark stands still during the cut. In production (request.timeout.ms=30000) a follower or a leader ' +
        'disk stalled longer than that, or a lost answer, does the same.',
      commands: [`docker exec {@follower} iptables -L MIDLAB -n`],
    },
    drain: {
      title: 'Heal; the follower fetches, the retries are answered; the producer flushes and stops',
      narration:
        'Without idempotence each retry was a new append: the log holds some records twice; and the producer put ' +
        'the batches of the connection it dropped back at the head of its queue one by one (addFirst: the last ' +
        'failed goes first), so with 5 in flight they land out of order. With it, they go back in sequence order ' +
        "(insertInSequenceOrder) and the leader found each retried batch among that producer's last 5 and answered " +
        "with the first append's offset.",
    },
  },
  async mechanism(lab) {
    const k = kit.observeMode(lab);
    const controller = (await k.admin.controller().catch(() => undefined))?.node;
    const client = controller && k.brokers.includes(controller) ? controller : 'kafka3';
    const [leader, follower] = k.brokers.filter((b) => b !== client) as [string, string];
    const pl = { client, leader, follower };
    lab.observe('placement', pl, `producer in ${client}, leader ${leader}, follower ${follower}`);
    const config = { 'min.insync.replicas': 2, 'unclean.leader.election.enable': false };
    return lab.step('topic', () => kit.placedTopic(lab, TOPIC, [leader, follower], config), { vars: pl });
  },
  async run(lab) {
    const [k, p] = [lab.stack, lab.params];
    const pl = lab.history.last('placement') as Placement;
    const hw = async () => (await k.admin.endOffsets(TOPIC))[0] ?? 0;
    const step = kit.stepsWith(lab, pl);
    const producer = await step('produce', async () => {
      const jp = await kit.JavaProducer.start(k, pl.client, TOPIC, producerProps(p.idempotence), p.rate);
      const n = await kit.untilCount(lab, 'records committed before the cut', hw, 2 * p.rate, 90_000, 500);
      lab.observe('beforeCut', n ?? 0, `${n ?? 0} records committed before the cut`);
      const state = await kit.describeProducers(k, pl.client, TOPIC);
      lab.observe('producerState', state, `leader's producer state: ${stateText(state)}`);
      return jp;
    });
    await step('cut', async () => {
      await lab.faults.partition(pl.follower, [pl.leader]);
      const hwAtCut = await hw();
      await kit.sleep(p.cutMs);
      const [hwAtEnd, part] = [await hw(), await k.admin.partition(TOPIC, 0)];
      await lab.faults.heal(pl.follower);
      lab.observe('cut', { hwAtCut, hwAtEnd, isr: part.isr }, `hw ${hwAtCut} -> ${hwAtEnd}, isr ${part.isr}`);
    });
    await step('drain', async () => {
      await kit.sleep(3000);
      const r = await producer.stop();
      const errs = r.errors.length ? `, ${r.errors.length} failed: ${r.errors[0]?.message}` : '';
      lab.observe('producer', r, `${r.acked.length} acknowledged, ${r.retries} retries logged${errs}`);
      for (const l of r.retryLines) lab.say(l);
    });
  },
  async final(lab) {
    const log = await kit.readLog(lab.stack.bootstrap, lab.stack.admin, TOPIC);
    lab.observe('log', log, `final read: ${log.length} records in ${TOPIC}-0`);
  },
  check(ev, p) {
    const { producer, log, producerState: state } = kit.observed<Seen>(ev);
    if (!producer || !log) return kit.cannotTell('the run completed', 'a producer report and a final read', 'missing');
    const want = p.idempotence === 'on' ? 'one producer id >= 0' : 'none (no producer id)';
    const stateOk = p.idempotence === 'on' ? state?.length === 1 && (state[0]?.producerId ?? -1) >= 0 : !state?.length;
    if (!stateOk)
      return kit.cannotTell('the leader kept producer state as the variant says', want, stateText(state ?? []));
    if (producer.retries === 0)
      return kit.cannotTell('the producer timed out and retried during the cut', '> 0 retries', '0 retries logged');
    const f = kit.logFindings(log, producer.acked);
    const read = `${f.records} records, ${f.distinct} distinct, ${f.duplicates} extra copies`;
    const common = [
      kit.check('the producer timed out and retried', true, '> 0 retries', `${producer.retries} retries logged`),
      kit.check(
        'no acknowledged record lost',
        f.lost.length === 0,
        '0 of the acknowledged missing from the final read',
        `${f.lost.length} of ${producer.acked.length} missing${f.lost.length ? `: ${kit.sample(f.lost.map(String))}` : ''}`,
      ),
    ];
    if (p.idempotence === 'off')
      return [
        ...common,
        kit.check(
          'retries without idempotence wrote duplicates',
          f.duplicates > 0,
          '> 0 records twice in the final read',
          `${read} (${kit.sample(f.twice.map(String))})`,
        ),
        kit.check(
          'with 5 in flight, the retried batches landed out of order',
          f.reordered > 0,
          '> 0 values first appended after a greater one',
          `${f.reordered}`,
        ),
      ];
    return [
      ...common,
      kit.check('idempotence: no record written twice', f.duplicates === 0, '0 extra copies', read),
      kit.check(
        "the log holds the producer's sequence in order",
        f.stepsBack === 0,
        'each value greater than the one before',
        `${f.stepsBack} steps back`,
      ),
    ];
  },
});

function stateText(s: kit.ProducerState[]): string {
  return s.length ? s.map((x) => `id ${x.producerId} epoch ${x.epoch} last seq ${x.lastSequence}`).join('; ') : 'none';
}
