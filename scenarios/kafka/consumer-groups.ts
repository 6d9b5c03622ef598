import * as kit from './kit.ts';

const TOPIC = 'groups';
const [FIRST, SECOND, THIRD] = [90, 60, 30];
const CONSOLE = `--topic ${TOPIC} --from-beginning --max-messages 5`.split(' ');
const KEYED = { acks: 'all', route: (seq: number) => ({ key: `key-${seq % 9}` }) } as const;

interface Seen {
  twoSplit: kit.Split;
  otherCount: number;
  consoleCounts: number[];
  fourSplit: kit.Split;
  leaveAt: number;
  rebalanceMs: number;
  afterLeave: number[];
}

export default kit.defineLab({
  id: 'kafka/consumer-groups',
  title: 'Consumer groups: partitions are shared out, groups each get everything',
  teaches:
    'in a group each partition goes to one consumer: the group gets every message once, split by partition (not ' +
    '50/50); another group gets all again; a consumer beyond the partition count idles; one leaving causes a ' +
    'rebalance, losing nothing',
  notes:
    'Notes, Kafka chapter: "Consumer group" under "Kafka角色和流程" (line 692) and "消费 Topic" (lines 1360-1373: ' +
    '单播 within a group, 多播 across groups). Two corrections: the notes say "共100条消息, A消费50条, B消费另外的50条" ' +
    '(line 1360) - the split is by partition, not by message count; and "如果不指定组，则消费者算作是默认组中 ... 共享消息" ' +
    '(lines 692 and 1373) is wrong: kafka-console-consumer.sh without --group makes a random group of its own ' +
    '(console-consumer-<random number>, auto-commit off), so each such consumer sees every message. ' +
    kit.OUTDATED,
  variants: kit.bothModes(),
  params: { mode: kit.modeParam },
  stack: kit.kafka,
  topology: (p) => ({ mode: p.mode }),
  steps: {
    two: {
      title: 'Group "two": two consumers, three partitions',
      narration:
        'Both consumers subscribe with group.id=two. The group coordinator (a broker) runs a rebalance: the group ' +
        'leader (one of the consumers) shares out three partitions: one member gets two, the other one.',
      commands: [kit.groupCommand('two'), kit.describeTopicCommand(TOPIC)],
    },
    produce: {
      title: `Produce ${FIRST} keyed messages`,
      narration:
        `${FIRST} messages with 9 different keys (acks=all); the key decides the partition (murmur2 hash of the key ` +
        'modulo 3), so partitions get different counts. Each consumer gets the messages of its own partitions only.',
      commands: [kit.groupCommand('two')],
    },
    other: {
      title: 'Group "other" reads the same topic',
      narration:
        `A second group has offsets of its own: it reads all ${FIRST} again. So do consumers started without --group: ` +
        'kafka-console-consumer.sh then joins a fresh random group (console-consumer-<n>); two run at once here, ' +
        `inside kafka1 and kafka2, each print all ${FIRST}.`,
      commands: [kit.kafkaTool('kafka1', 'kafka-console-consumer.sh', ...CONSOLE), kit.LIST_GROUPS],
    },
    four: {
      title: 'Group "four": more consumers than partitions',
      narration:
        'Four consumers, three partitions: a partition is never split within a group, so one consumer idles (a hot ' +
        `standby) and adds no throughput. Once the group is stable, ${THIRD} new messages show who gets what.`,
      commands: [kit.groupCommand('four')],
    },
    leave: {
      title: 'two-b leaves group "two"',
      narration:
        'two-b commits and leaves (a clean shutdown sends LeaveGroup). The coordinator rebalances at once: two-a ' +
        `takes every partition, from the group's committed offsets. Then ${SECOND} more messages.`,
      commands: [kit.groupCommand('two')],
    },
  },
  async mechanism(lab) {
    kit.observeMode(lab);
    // The lesson's arithmetic (2 members share 3 partitions as 2+1, a 4th member idles) needs exactly 3.
    return kit.createdHealthy(lab, 'partitions', { [TOPIC]: 3 });
  },
  async run(lab) {
    const k = lab.stack;
    const opts = { topics: [TOPIC], commit: 'manual' as const };
    const member = (name: string, g: string) =>
      new kit.KafkaGroupConsumer(k.bootstrap, lab.history, { ...opts, name, groupId: g, f: `receive:${g}` });
    const received = (g: string, producer: string, n: number, what = `group ${g} receiving ${n} messages`) =>
      kit.untilReceived(lab, `receive:${g}`, producer, n, what);
    const [a, b] = [member('two-a', 'two'), member('two-b', 'two')];
    await lab.step('two', async () => {
      await Promise.all([a.start(), b.start()]);
      const g = kit.assignmentOf(await kit.stableGroup(lab, 'two', TOPIC, 2, 3), TOPIC);
      lab.observe('twoAssignment', g, `assignment: ${JSON.stringify(g)}`);
    });
    await lab.step('produce', async () => {
      await kit.produce(k.bootstrap, lab.history, TOPIC, FIRST, { name: 'p1', ...KEYED });
      await received('two', 'p1', FIRST);
      const split = kit.splitOf([a, b], TOPIC);
      lab.observe('twoSplit', split, kit.describeSplit(split));
    });
    await lab.step('other', async () => {
      const o = member('other', 'other');
      await o.start();
      await received('other', 'p1', FIRST);
      await o.stop();
      lab.observe('otherCount', o.received, `group other received ${o.received}`);
      const counts = await Promise.all(['kafka1', 'kafka2'].map((n) => kit.consoleCount(k, n, TOPIC, FIRST)));
      lab.observe('consoleCounts', counts, `two console consumers without --group printed ${counts.join(' and ')}`);
    });
    await lab.step('four', async () => {
      const four = ['four-a', 'four-b', 'four-c', 'four-d'].map((n) => member(n, 'four'));
      await Promise.all(four.map((c) => c.start()));
      const g = await kit.stableGroup(lab, 'four', TOPIC, 4, 3);
      await kit.produce(k.bootstrap, lab.history, TOPIC, THIRD, { name: 'p3', ...KEYED });
      await received('four', 'p3', THIRD, `group four receiving ${THIRD} new messages`);
      await received('four', 'p1', FIRST, `group four receiving the ${FIRST} old ones`);
      // Whoever joined first may already have read the old messages: count the new ones.
      const count = (c: kit.KafkaGroupConsumer) => kit.receivesOf(lab.history.ops, 'receive:four', 'p3', c.name).length;
      const counts = Object.fromEntries(four.map((c) => [c.name, count(c)]));
      const split = { assignment: kit.assignmentOf(g, TOPIC), counts };
      lab.observe('fourSplit', split, `new messages: ${kit.describeSplit(split)}`);
      await Promise.all(four.map((c) => c.stop()));
    });
    await lab.step('leave', async () => {
      lab.observe('leaveAt', lab.history.now());
      const ms = await kit.untilOwns(lab, a, TOPIC, 3, () => b.stop());
      lab.observe('rebalanceMs', ms, `${a.name} owns partitions 0,1,2 after ${ms} ms`);
      lab.observe('afterLeave', a.assignment[TOPIC] ?? []);
      await kit.produce(k.bootstrap, lab.history, TOPIC, SECOND, { name: 'p2', ...KEYED });
      await received('two', 'p2', SECOND, `${a.name} receiving ${SECOND} more`);
      await a.stop();
    });
  },
  predictions: [
    {
      before: 'produce',
      question: `Group "two" has 2 consumers and the topic 3 partitions. ${FIRST} messages arrive. How are they split?`,
      choices: [
        '45 and 45: the group shares messages evenly',
        'by partition: one consumer gets the messages of two partitions, the other of one',
        `each consumer gets all ${FIRST}`,
      ],
      answer: (ev) => {
        const s = kit.observed<Seen>(ev).twoSplit;
        if (!s) return undefined;
        const counts = Object.values(s.counts);
        const sizes = Object.values(s.assignment).map((x) => x.length);
        if (counts.every((c) => c === FIRST)) return 2;
        if (sizes.sort().join(',') === '1,2') return 1;
        return counts.every((c) => c === FIRST / 2) ? 0 : undefined;
      },
    },
  ],
  check(ev) {
    const { twoSplit: two, fourSplit: four, consoleCounts = [], afterLeave = [], ...seen } = kit.observed<Seen>(ev);
    const leaveAt = Number(seen.leaveAt);
    const firstOnly = ev.ops.filter((o) => o.f !== 'send' || kit.producerOf(o) === 'p1');
    const beforeLeave = firstOnly.filter((o) => o.f !== 'receive:two' || o.time < leaveAt);
    const once = kit.delivery(beforeLeave, { receive: 'receive:two' });
    const dups = Object.keys(once.duplicated).length;
    const partitionsSeen = kit.partitionsBy(ev.ops, 'receive:two', leaveAt);
    const assigned = Object.values(two?.assignment ?? {}).map((ps) => [...ps].sort().join(','));
    const fromParts = Object.keys(two?.assignment ?? {}).map((c) => (partitionsSeen[c] ?? []).join(','));
    const sizes = assigned.map((x) => x.split(',').length).sort();
    const idle = Object.entries(four?.assignment ?? {}).filter(([, ps]) => ps.length === 0);
    const idleGotNone = idle.length === 1 && (four?.counts[idle[0]?.[0] ?? ''] ?? -1) === 0;
    const notP2 = ev.ops.filter((o) => o.f !== 'send' || kit.producerOf(o) !== 'p2');
    const fourLost = kit.delivery(notP2, { receive: 'receive:four' }).lost;
    return [
      kit.check(
        'group "two" gets every message exactly once',
        once.lost.length === 0 && dups === 0 && once.acknowledged === FIRST,
        `${FIRST} acknowledged, 0 lost, 0 duplicated before anyone left`,
        `${once.acknowledged} acknowledged, ${once.lost.length} lost, ${dups} duplicated` +
          (once.lost.length ? ` (lost ${kit.sample(once.lost)})` : ''),
      ),
      kit.check(
        'the split follows partitions, not 50/50',
        assigned.length === 2 && sizes.join(',') === '1,2' && fromParts.join('|') === assigned.join('|'),
        'one consumer owns 2 partitions and the other 1, and each receives from exactly its own partitions',
        kit.describeSplit(two),
        { partitionsSeen },
      ),
      kit.check(
        'another group gets every message again',
        Number(seen.otherCount) >= FIRST && kit.delivery(firstOnly, { receive: 'receive:other' }).lost.length === 0,
        `group "other" receives all ${FIRST}`,
        `${Number(seen.otherCount)} received`,
      ),
      kit.check(
        'consumers without --group each get everything',
        consoleCounts.length === 2 && consoleCounts.every((c) => c === FIRST),
        `two console consumers without a group print ${FIRST} each`,
        consoleCounts.join(' and ') || 'not run',
      ),
      kit.check(
        'a consumer beyond the partition count is idle',
        Object.keys(four?.assignment ?? {}).length === 4 && idleGotNone && fourLost.length === 0,
        `4 members, exactly 1 with no partition and none of the ${THIRD} new messages; the group gets all ${FIRST + THIRD}`,
        `${kit.describeSplit(four)}; ${fourLost.length} lost`,
      ),
      kit.check(
        'a consumer leaving triggers a rebalance',
        afterLeave.length === 3,
        'the remaining consumer owns partitions 0,1,2 after the rebalance',
        `[${afterLeave.join(',')}] after ${String(seen.rebalanceMs)} ms`,
      ),
      ...kit.nothingLost(ev.ops, 'receive:two', 'allowed', 'group "two"'),
    ];
  },
});
