import { check } from '../../src/checkers/check.ts';
import { delivery, deliveryChecks, sample } from '../../src/checkers/delivery.ts';
import { type Evidence, type History, type Op, observed } from '../../src/engine/history.ts';
import { defineLab, type LabContext } from '../../src/engine/lab.ts';
import type { GroupState, PartitionState } from '../../stacks/kafka/admin.ts';
import { KafkaGroupConsumer } from '../../stacks/kafka/client.ts';
import { kafka, type StartedKafka } from '../../stacks/kafka/stack.ts';
import { produce } from '../../stacks/kafka/workload.ts';
import {
  bothModes,
  describeTopicCommand,
  groupCommand,
  modeParam,
  notInSync,
  OUTDATED,
  partText,
  untilInSync,
} from './commands.ts';

type Lab = LabContext<StartedKafka, { mode: string }>;

const TOPIC = 'groups';
const FIRST = 90;
const SECOND = 60;
const THIRD = 30;

interface Split {
  /** consumer -> partitions assigned. */
  assignment: Record<string, number[]>;
  /** consumer -> messages received. */
  counts: Record<string, number>;
}

interface Seen {
  mode: string;
  partitions: PartitionState[];
  twoAssignment: Record<string, number[]>;
  twoSplit: Split;
  otherCount: number;
  consoleCounts: number[];
  fourSplit: Split;
  leaveAt: number;
  rebalanceMs: number;
  afterLeave: number[];
}

/** Waits until a group is Stable with `members` members covering all 3 partitions (undefined: it never was). */
async function stableGroup(lab: Lab, group: string, members: number): Promise<GroupState | undefined> {
  const k = lab.stack;
  return lab.until(
    `group ${group} stable with ${members} members`,
    async () => {
      const g = await k.admin.group(group);
      const covered = new Set(g.members.flatMap((m) => m.assignment[TOPIC] ?? []));
      return g.state === 'Stable' && g.members.length === members && covered.size === 3
        ? { done: true, value: g }
        : { done: false, seen: `${g.state}, ${g.members.length} members, ${covered.size} partitions assigned` };
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
}

/** Waits until receives of function `f` cover `n` distinct messages of `producer` (or gives up). */
async function received(lab: Lab, f: string, producer: string, n: number, what: string): Promise<void> {
  const history: History = lab.history;
  await lab.until(
    what,
    async () => {
      const ids = new Set(
        history.ops
          .filter((o) => o.f === f && o.type === 'ok' && producerOf(o) === producer)
          .map((o) => (o.value as { id: string }).id),
      );
      return ids.size >= n ? { done: true, value: undefined } : { done: false, seen: `${ids.size} of ${n}` };
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

function assignmentOf(g: GroupState): Record<string, number[]> {
  return Object.fromEntries(g.members.map((m) => [m.clientId, m.assignment[TOPIC] ?? []]));
}

function describeSplit(s: Split | undefined): string {
  if (!s) return 'not observed';
  return Object.keys(s.assignment)
    .sort()
    .map((c) => `${c}: partitions [${(s.assignment[c] ?? []).join(',')}] ${s.counts[c] ?? 0} msgs`)
    .join('; ');
}

export default defineLab({
  id: 'kafka/consumer-groups',
  title: 'Consumer groups: partitions are shared out, groups each get everything',
  teaches:
    'inside one group each partition goes to one consumer, so the group gets every message once and the split ' +
    'follows partitions (not 50/50); another group gets every message again; a consumer beyond the partition ' +
    'count sits idle; a consumer leaving triggers a rebalance and nothing is lost',
  notes:
    'Notes, Kafka chapter: "Consumer group" under "Kafka角色和流程" (line 692) and "消费 Topic" (lines 1360-1373: ' +
    '单播 within a group, 多播 across groups). Two corrections: the notes say "共100条消息, A消费50条, B消费另外的50条" ' +
    '(line 1360) - the split is by partition, not by message count; and "如果不指定组，则消费者算作是默认组中 ... 共享消息" ' +
    '(lines 692 and 1373) is wrong: kafka-console-consumer.sh without --group makes a random group of its own ' +
    '(console-consumer-<random number>, with auto-commit off), so every such consumer sees every message. ' +
    OUTDATED,
  variants: bothModes(),
  params: { mode: modeParam },
  stack: kafka,
  topology: (p) => ({ mode: p.mode }),
  async mechanism(lab) {
    const k = lab.stack;
    lab.observe('mode', k.mode);
    await k.admin.createTopic(TOPIC, { partitions: 3, replicationFactor: 3 });
    // The lesson's arithmetic (2 members share 3 partitions as 2+1, a 4th member idles) needs exactly 3.
    const parts = (await untilInSync(lab, TOPIC, 3, 3, 30_000)) ?? (await k.admin.partitions([TOPIC]));
    lab.observe('partitions', parts, partsText(parts));
    const wrong = notInSync(parts, 3, 3);
    return wrong.length
      ? [`${TOPIC} must have 3 partitions, each with a leader and 3 replicas in sync: ${wrong.join('; ')}`]
      : [];
  },
  async run(lab) {
    const k = lab.stack;
    const member = (name: string, group: string, f: string) =>
      new KafkaGroupConsumer(k.bootstrap, lab.history, { name, groupId: group, topics: [TOPIC], f, commit: 'manual' });
    const [a, b] = [member('two-a', 'two', 'receive:two'), member('two-b', 'two', 'receive:two')];

    await lab.step(
      'Group "two": two consumers, three partitions',
      'Both consumers subscribe with group.id=two. The group coordinator (a broker) runs a rebalance: the ' +
        'group leader (one of the consumers) assigns partitions to members. Three partitions cannot be shared ' +
        'evenly by two: one member gets two, the other one.',
      async () => {
        await Promise.all([a.start(), b.start()]);
        const g = (await stableGroup(lab, 'two', 2)) ?? (await k.admin.group('two'));
        lab.observe('twoAssignment', assignmentOf(g), `assignment: ${JSON.stringify(assignmentOf(g))}`);
      },
      [groupCommand(k, 'two'), describeTopicCommand(k, TOPIC)],
    );

    await lab.step(
      `Produce ${FIRST} keyed messages`,
      'The producer sends 90 messages with 9 different keys (acks=all); the key decides the partition ' +
        '(murmur2 hash of the key modulo 3), so partitions end up with different counts. Each consumer gets the ' +
        'messages of its own partitions, and only those.',
      async () => {
        await produce(k.bootstrap, lab.history, TOPIC, FIRST, {
          name: 'p1',
          acks: 'all',
          route: (seq) => ({ key: `key-${seq % 9}` }),
        });
        await received(lab, 'receive:two', 'p1', FIRST, `group two receiving ${FIRST} messages`);
        const split: Split = {
          assignment: Object.fromEntries([a, b].map((c) => [c.name, c.assignment[TOPIC] ?? []])),
          counts: { [a.name]: a.received, [b.name]: b.received },
        };
        lab.observe('twoSplit', split, describeSplit(split));
        lab.observe('ends', await k.admin.endOffsets(TOPIC));
      },
      { key: 'produce', commands: [groupCommand(k, 'two')] },
    );

    await lab.step(
      'Group "other" reads the same topic',
      'A second group has offsets of its own: it reads all 90 messages again. Consumers started without ' +
        '--group behave the same way, because kafka-console-consumer.sh then joins a fresh random group ' +
        '(console-consumer-<n>): two of them, run at once here inside kafka1 and kafka2, each print all 90.',
      async () => {
        const o = member('other', 'other', 'receive:other');
        await o.start();
        await received(lab, 'receive:other', 'p1', FIRST, `group other receiving ${FIRST} messages`);
        await o.stop();
        lab.observe('otherCount', o.received, `group other received ${o.received}`);
        const consoleRun = (node: string) =>
          k
            .tool(
              node,
              'kafka-console-consumer.sh',
              '--topic',
              TOPIC,
              '--from-beginning',
              '--max-messages',
              String(FIRST),
              '--timeout-ms',
              '30000',
            )
            .then((r) => r.stdout.split('\n').filter((l) => l.includes('"id"')).length);
        const counts = await Promise.all([consoleRun('kafka1'), consoleRun('kafka2')]);
        lab.observe(
          'consoleCounts',
          counts,
          `two console consumers without --group printed ${counts.join(' and ')} messages`,
        );
      },
      [
        k.toolCommand(
          'kafka1',
          'kafka-console-consumer.sh',
          '--topic',
          TOPIC,
          '--from-beginning',
          '--max-messages',
          '5',
        ),
        k.toolCommand('kafka1', 'kafka-consumer-groups.sh', '--list'),
      ],
    );

    await lab.step(
      'Group "four": more consumers than partitions',
      'Four consumers, three partitions: a partition is never split between members of a group, so one ' +
        'consumer gets nothing and idles (a hot standby). More consumers than partitions adds no throughput. ' +
        `Once the group is stable, ${THIRD} new messages show who gets what.`,
      async () => {
        const four = ['four-a', 'four-b', 'four-c', 'four-d'].map((n) => member(n, 'four', 'receive:four'));
        await Promise.all(four.map((c) => c.start()));
        const g = (await stableGroup(lab, 'four', 4)) ?? (await k.admin.group('four'));
        // Whoever joined first may already have read the old messages: count the new ones.
        lab.observe('fourStableAt', lab.history.now());
        await produce(k.bootstrap, lab.history, TOPIC, THIRD, {
          name: 'p3',
          acks: 'all',
          route: (seq) => ({ key: `key-${seq % 9}` }),
        });
        await received(lab, 'receive:four', 'p3', THIRD, `group four receiving ${THIRD} new messages`);
        await received(lab, 'receive:four', 'p1', FIRST, `group four receiving the ${FIRST} old ones`);
        const split: Split = {
          assignment: assignmentOf(g),
          counts: Object.fromEntries(
            four.map((c) => [
              c.name,
              lab.history.ops.filter(
                (o) => o.f === 'receive:four' && o.type === 'ok' && o.process === c.name && producerOf(o) === 'p3',
              ).length,
            ]),
          ),
        };
        lab.observe('fourSplit', split, `new messages: ${describeSplit(split)}`);
        await Promise.all(four.map((c) => c.stop()));
      },
      [groupCommand(k, 'four')],
    );

    await lab.step(
      `${b.name} leaves group "two"`,
      `${b.name} commits and leaves (a clean shutdown sends LeaveGroup). The coordinator rebalances at once and ` +
        `${a.name} takes over every partition, from the offsets the group committed. Then ${SECOND} more messages.`,
      async () => {
        const before = a.assignments.length;
        lab.observe('leaveAt', lab.history.now());
        const t0 = Date.now();
        await b.stop();
        await lab.until(
          `${a.name} owning all 3 partitions`,
          async () =>
            a.assignments.length > before && (a.assignment[TOPIC] ?? []).length === 3
              ? { done: true, value: undefined }
              : { done: false, seen: JSON.stringify(a.assignment) },
          { timeoutMs: 60_000, intervalMs: 100 },
        );
        lab.observe('rebalanceMs', Date.now() - t0, `${a.name} owns partitions 0,1,2 after ${Date.now() - t0} ms`);
        lab.observe('afterLeave', a.assignment[TOPIC] ?? []);
        await produce(k.bootstrap, lab.history, TOPIC, SECOND, {
          name: 'p2',
          acks: 'all',
          route: (seq) => ({ key: `key-${seq % 9}` }),
        });
        await received(lab, 'receive:two', 'p2', SECOND, `${a.name} receiving ${SECOND} more`);
        await a.stop();
      },
      [groupCommand(k, 'two')],
    );
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
        const s = observed<Seen>(ev).twoSplit;
        if (!s) return undefined;
        const counts = Object.values(s.counts);
        const sizes = Object.values(s.assignment)
          .map((x) => x.length)
          .sort();
        if (counts.every((c) => c === FIRST)) return 2;
        if (sizes.join(',') === '1,2') return 1;
        return counts.every((c) => c === FIRST / 2) ? 0 : undefined;
      },
    },
  ],
  check(ev) {
    const seen = observed<Seen>(ev);
    const two = seen.twoSplit;
    const four = seen.fourSplit;
    const other = Number(seen.otherCount);
    const consoleCounts = seen.consoleCounts ?? [];
    const leaveAt = Number(seen.leaveAt);
    const afterLeave = seen.afterLeave ?? [];
    const firstOnly = ev.ops.filter((o) => o.f !== 'send' || producerOf(o) === 'p1');
    const beforeLeave = firstOnly.filter((o) => o.f !== 'receive:two' || o.time < leaveAt);
    const once = delivery(beforeLeave, { receive: 'receive:two' });
    const partitionsSeen = partitionsBy(ev, 'receive:two', leaveAt);
    const assigned = two ? Object.values(two.assignment).map((ps) => [...ps].sort().join(',')) : [];
    const fromParts = two ? Object.keys(two.assignment).map((c) => (partitionsSeen[c] ?? []).join(',')) : [];
    const idle = four ? Object.entries(four.assignment).filter(([, ps]) => ps.length === 0) : [];
    const fourLost = delivery(
      ev.ops.filter((o) => o.f !== 'send' || producerOf(o) !== 'p2'),
      { receive: 'receive:four' },
    ).lost;
    return [
      check(
        'group "two" gets every message exactly once',
        once.lost.length === 0 && Object.keys(once.duplicated).length === 0 && once.acknowledged === FIRST,
        `${FIRST} acknowledged, 0 lost, 0 duplicated before anyone left`,
        `${once.acknowledged} acknowledged, ${once.lost.length} lost, ${Object.keys(once.duplicated).length} duplicated` +
          (once.lost.length ? ` (lost ${sample(once.lost)})` : ''),
      ),
      check(
        'the split follows partitions, not 50/50',
        assigned.length === 2 &&
          assigned
            .map((x) => x.split(',').length)
            .sort()
            .join(',') === '1,2' &&
          fromParts.join('|') === assigned.join('|'),
        'one consumer owns 2 partitions and the other 1, and each receives from exactly its own partitions',
        describeSplit(two),
        { partitionsSeen },
      ),
      check(
        'another group gets every message again',
        other >= FIRST && delivery(firstOnly, { receive: 'receive:other' }).lost.length === 0,
        `group "other" receives all ${FIRST}`,
        `${other} received`,
      ),
      check(
        'consumers without --group each get everything',
        consoleCounts.length === 2 && consoleCounts.every((c) => c === FIRST),
        `two console consumers without a group print ${FIRST} each`,
        consoleCounts.join(' and ') || 'not run',
      ),
      check(
        'a consumer beyond the partition count is idle',
        four !== undefined &&
          Object.keys(four.assignment).length === 4 &&
          idle.length === 1 &&
          (four.counts[idle[0]?.[0] ?? ''] ?? -1) === 0 &&
          fourLost.length === 0,
        `4 members, exactly 1 with no partition and none of the ${THIRD} new messages; the group gets all ` +
          `${FIRST + THIRD}`,
        `${describeSplit(four)}; ${fourLost.length} lost`,
      ),
      check(
        'a consumer leaving triggers a rebalance',
        afterLeave.length === 3,
        'the remaining consumer owns partitions 0,1,2 after the rebalance',
        `[${afterLeave.join(',')}] after ${String(seen.rebalanceMs)} ms`,
      ),
      ...deliveryChecks(delivery(ev.ops, { receive: 'receive:two' }), { loss: 'forbidden', duplicates: 'allowed' }).map(
        (c) => ({ ...c, name: `group "two": ${c.name}` }),
      ),
    ];
  },
});

function producerOf(o: Op): string | undefined {
  return (o.value as { producer?: string } | undefined)?.producer;
}

/** consumer -> partitions it received from, before `until`. */
function partitionsBy(ev: Evidence, f: string, until: number): Record<string, string[]> {
  const out: Record<string, Set<number>> = {};
  for (const o of ev.ops) {
    if (o.f !== f || o.type !== 'ok' || o.time >= until) continue;
    const set = out[o.process] ?? new Set<number>();
    set.add((o.value as { partition: number }).partition);
    out[o.process] = set;
  }
  return Object.fromEntries(Object.entries(out).map(([c, s]) => [c, [...s].sort().map(String)]));
}

function partsText(ps: PartitionState[]): string {
  return ps.map(partText).join('; ') || 'no partitions';
}
