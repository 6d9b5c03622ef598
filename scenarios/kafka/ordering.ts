import * as kit from './kit.ts';

const [ONE, THREE, N, KEYED] = ['ordered-1', 'ordered-3', 60, 30] as const;
/** Keyless lines written by the Java console producer, to see where its partitioner puts them. */
const [KEYLESS, LINES] = ['keyless-3', 30] as const;
const READ_THREE = `--topic ${THREE} --from-beginning --max-messages ${N}`.split(' ');

interface Seen {
  order1: number[];
  order3: number[];
  /** partition -> records the console producer's keyless lines landed in. */
  keylessCounts: Record<string, number>;
}

type Msg = { seq: number; producer: string; partition: number; msgKey?: string };

/** What `producer`'s messages carried, as received (function `f`), in receive order. */
function received(ops: kit.Op[], f: string, producer: string): Msg[] {
  return kit.receivesOf(ops, f, producer).map((o) => o.value as Msg);
}

/** "0: 30, 1: 0, 2: 0" (`label` before each partition). */
function perPartition(counts: Record<string, number>, label = ''): string {
  return Object.entries(counts)
    .map(([p, n]) => `${label}${p}: ${n}`)
    .join(', ');
}

export default kit.defineLab({
  id: 'kafka/ordering',
  title: 'Order holds within a partition, not across partitions',
  teaches:
    'a consumer sees each partition in exactly the order it was written; across the partitions of a topic ' +
    'there is no order (the lab shows a pair that arrives the wrong way round); one partition, or one key, ' +
    'keeps a sequence in order',
  notes:
    'Notes, Kafka chapter: "顺序保证" under "Kafka 特点和优势" (Kafka保证一个Partiton内的消息的有序性, 分区间数据是无序的; ' +
    'set partitions to 1 when order matters) and "Partition" (同一个partition数据是有顺序的, 不同的partition则是无序的). ' +
    'The notes are right here (lines 670 and 694); the lab adds the usual fix they leave out: a message key, which ' +
    'keeps each key in one partition and so in order. It also shows what the Java producer does with records ' +
    'that have no key: not round robin but "sticky" (KIP-480, Kafka 2.4; since 3.3 KIP-794 switches partition ' +
    `after batch.size bytes), so a small burst of keyless records lands in a single partition. ${kit.OUTDATED}`,
  variants: kit.bothModes(),
  params: { mode: kit.modeParam },
  stack: kit.kafka,
  topology: (p) => ({ mode: p.mode }),
  steps: {
    write: {
      title: `Write sequence numbers 1..${N} into a 1-partition and a 3-partition topic`,
      narration:
        `Producer "one" writes 1..${N} to ${ONE}. Producer "three" writes 1..${N} to ${THREE}, naming partitions ` +
        '0, 1, 2 in turn itself (round robin is NOT what a keyless record gets from the Java client: see the next ' +
        `step). Producer "keyed" writes ${KEYED} messages to ${THREE} with keys acct-0..acct-2: one key, one ` +
        'partition. All acks=all, one at a time, so the write order is the sequence order.',
      commands: [kit.describeTopicCommand(THREE)],
    },
    keyless: {
      title: `Keyless records from the Java console producer into ${KEYLESS}`,
      narration:
        `kafka-console-producer.sh (the Java client) sends the lines 1..${LINES}, without keys, into ${KEYLESS} ` +
        '(3 partitions). The notes do not say where keyless records go; the common belief is round robin. Since ' +
        'Kafka 2.4 the default partitioner is sticky (KIP-480): it fills a batch for one partition before it ' +
        'moves on, and since 3.3 (KIP-794) it moves after batch.size (16384) bytes. So this burst should land in ' +
        "a single partition: per-partition end offsets tell. Clients differ here: the labs' Node client " +
        '(@platformatic/kafka) spreads keyless records round robin unless given a partitioner.',
      commands: [
        kit
          .kafkaTool('kafka1', 'kafka-console-producer.sh', '--topic', KEYLESS)
          .replace(/^docker exec /, 'docker exec -i '),
        kit.kafkaTool('kafka1', 'kafka-get-offsets.sh', '--topic', KEYLESS),
      ],
    },
    read: {
      title: 'Read both topics back',
      narration:
        'One consumer group per topic reads from the beginning. The consumer fetches each partition from its ' +
        "leader and hands over one partition's batch at a time: within a batch, offsets (and so sequence " +
        'numbers) rise; between partitions nothing relates them.',
      commands: [
        `kcat -b {bootstrap} -C -t ${THREE} -e -f '%p:%o %s\\n'`,
        kit.kafkaTool('kafka1', 'kafka-console-consumer.sh', ...READ_THREE),
      ],
    },
  },
  async mechanism(lab) {
    kit.observeMode(lab);
    // The lesson compares a topic of 1 partition with topics of 3: read back that they are so.
    return kit.createdHealthy(lab, 'topics', { [ONE]: 1, [THREE]: 3, [KEYLESS]: 3 });
  },
  async run(lab) {
    const k = lab.stack;
    await lab.step('write', async () => {
      await kit.produce(k.bootstrap, lab.history, ONE, N, { name: 'one', acks: 'all' });
      const rr = (seq: number) => ({ partition: (seq - 1) % 3 });
      await kit.produce(k.bootstrap, lab.history, THREE, N, { name: 'three', acks: 'all', route: rr });
      const byKey = (seq: number) => ({ key: `acct-${seq % 3}` });
      await kit.produce(k.bootstrap, lab.history, THREE, KEYED, { name: 'keyed', acks: 'all', route: byKey });
    });
    const producer = `kafka-console-producer.sh --bootstrap-server kafka1:${kit.INTERNAL_PORT} --topic ${KEYLESS}`;
    await lab.step('keyless', async () => {
      const r = await k.cluster.node('kafka1').exec(['sh', '-c', `seq 1 ${LINES} | ${producer}`]);
      if (r.exitCode !== 0) lab.warn(`console producer exit ${r.exitCode}: ${(r.stderr || r.stdout).trim()}`);
      const counts: Record<string, number> = await k.admin.endOffsets(KEYLESS);
      lab.observe('keylessCounts', counts, `records per partition of ${KEYLESS}: ${perPartition(counts)}`);
    });
    await lab.step(
      'read',
      async () => {
        const reader = (name: string, topic: string, f: string) => ({ name, groupId: name, topics: [topic], f });
        await kit.readGroup(lab, N, reader('reader-1', ONE, 'receive:1p'));
        await kit.readGroup(lab, N + KEYED, reader('reader-3', THREE, 'receive:3p'));
        const order = (f: string, p: string) => received(lab.history.ops, f, p).map((m) => m.seq);
        lab.observe('order1', order('receive:1p', 'one'), `${ONE}: ${order('receive:1p', 'one').join(' ')}`);
        lab.observe('order3', order('receive:3p', 'three'), `${THREE}: ${order('receive:3p', 'three').join(' ')}`);
      },
      { vars: { bootstrap: k.bootstrapServers() } },
    );
  },
  predictions: [
    {
      before: 'read',
      question: `In what order will a consumer of the 3-partition topic see the sequence numbers 1..${N}?`,
      choices: [
        `1, 2, 3 ... ${N}: Kafka keeps the order of the topic`,
        'in order within each partition, but partitions interleaved: some later number comes before an earlier one',
        'in no order at all, not even within a partition',
      ],
      answer: (ev) => {
        const f = kit.ordering(kit.receivesOf(ev.ops, 'receive:3p', 'three'), 'receive:3p');
        if (f.received === 0) return undefined;
        if (f.withinKey.length) return 2;
        return f.crossKey ? 1 : 0;
      },
    },
  ],
  check(ev) {
    const one = kit.ordering(kit.receivesOf(ev.ops, 'receive:1p', 'one'), 'receive:1p');
    const three = kit.ordering(kit.receivesOf(ev.ops, 'receive:3p', 'three'), 'receive:3p');
    const seen = kit.observed<Seen>(ev);
    const order1 = seen.order1 ?? [];
    const keyless = Object.values(seen.keylessCounts ?? {});
    const keyed = received(ev.ops, 'receive:3p', 'keyed');
    const byKey = new Map<string, number[]>();
    for (const m of keyed) byKey.set(m.msgKey ?? '', [...(byKey.get(m.msgKey ?? '') ?? []), m.seq]);
    const keyInversions = [...byKey].filter(([, seqs]) => seqs.some((s, i) => i > 0 && s < (seqs[i - 1] as number)));
    const sends = (topic: string) =>
      ev.ops.filter((o) => o.f !== 'send' || (o.value as { topic?: string }).topic === topic);
    return [
      kit.check(
        `${ONE}: every message in the order written`,
        one.received === N && order1.every((s, i) => s === i + 1),
        `1..${N} in order`,
        `${one.received} received; ${order1.slice(0, 12).join(' ')}${order1.length > 12 ? ' ...' : ''}`,
      ),
      kit.check(
        `${THREE}: strict order within each partition`,
        three.received === N && three.withinKey.length === 0,
        'sequence numbers rise within every partition',
        three.withinKey.length
          ? `${three.withinKey.length} inversions, e.g. ${JSON.stringify(three.withinKey[0])}`
          : `${three.received} received, no inversion within a partition`,
      ),
      {
        ...kit.check(
          `${THREE}: no order across partitions`,
          three.crossKey !== undefined,
          'some message arrives after one written later (in another partition)',
          three.crossKey
            ? `seq ${three.crossKey.later} arrived after seq ${three.crossKey.first}`
            : 'everything arrived in write order: no counter-example this time, which cannot show an order either',
          { crossKey: three.crossKey },
        ),
        // A lack of order is shown by one counter-example; its absence proves nothing.
        ...(three.crossKey || three.received !== N ? {} : { ok: 'unknown' as const }),
      },
      kit.check(
        'keyless records from the Java producer stick to one partition',
        keyless.length === 3 && keyless.reduce((a, b) => a + b, 0) === LINES && keyless.includes(LINES),
        `all ${LINES} keyless lines in one of the 3 partitions (sticky partitioner), not ${LINES / 3} in each`,
        seen.keylessCounts ? perPartition(seen.keylessCounts, 'partition ') : 'not observed',
      ),
      kit.check(
        'one key keeps its order',
        keyed.length === KEYED && keyInversions.length === 0,
        'within each key (acct-0..2) sequence numbers rise',
        `${keyed.length} keyed messages, ${keyInversions.length} keys out of order`,
      ),
      ...kit.nothingLost(sends(ONE), 'receive:1p', 'forbidden', ONE),
      ...kit.nothingLost(sends(THREE), 'receive:3p', 'forbidden', THREE),
    ];
  },
});
