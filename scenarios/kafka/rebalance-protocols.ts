import {
  type Change,
  type Check,
  type ConsumerEvent,
  cannotTell,
  check,
  consumerEvents,
  defineLab,
  evictionOf,
  groupCommand,
  intParam,
  JavaConsumer,
  type JavaConsumerOptions,
  kafka,
  kafkaTool,
  measureChange,
  observed,
  ownedAt,
  perfCommand,
  REBALANCE_PROTOCOLS,
  type RebalanceProtocol,
  requireVersion,
  startPerfProducer,
} from './kit.ts';

const TOPIC = 'rebalance';
const GROUP = 'rebalance-group';
const PARTITIONS = 6;
/** Each consumer's JVM runs in a controller-only node (isolated layout): the brokers keep their memory. */
const HOSTS: Record<string, string> = { c1: 'controller1', c2: 'controller2', c3: 'controller3' };
const ASSIGNOR: Record<RebalanceProtocol, string | undefined> = {
  eager: 'org.apache.kafka.clients.consumer.RangeAssignor',
  cooperative: 'org.apache.kafka.clients.consumer.CooperativeStickyAssignor',
  consumer: undefined,
};

interface Seen {
  strategy: string;
  changes: Change[];
  stall: { at: number; resumedAt: number };
}

export default defineLab({
  id: 'kafka/rebalance-protocols',
  title: 'Rebalances: eager, cooperative and the KIP-848 consumer protocol; eviction by max.poll.interval.ms',
  teaches:
    'A membership change stops every consumer under the eager classic protocol, only the moved partitions under ' +
    'cooperative and consumer protocols; a poll loop slower than max.poll.interval.ms gets the member removed.',
  notes:
    'Notes, Kafka chapter, seed 001 lines 1613-1628 (重复消费): "如果消费者处理消息的时候过长...超过这个时间，那么下次就会' +
    '发生重复消费", with "这个时间" the 5 s auto-commit interval (line 1624). The notes say nothing of rebalances. ' +
    'Where they are wrong: slow processing causes duplicates through max.poll.interval.ms (default 300000 ms), not ' +
    'auto.commit.interval.ms: a consumer whose poll loop stalls past it is removed from the group, its partitions go ' +
    'to another member, which reads again from the last commit. This lab stalls a consumer past 5 s set as ' +
    'max.poll.interval.ms and shows the eviction and the second deliveries.',
  params: {
    protocol: {
      type: 'enum',
      default: 'eager',
      choices: REBALANCE_PROTOCOLS,
      describe:
        'eager: classic protocol, RangeAssignor; cooperative: classic, CooperativeStickyAssignor; consumer: KIP-848',
    },
    maxPollMs: intParam(5000, 'max.poll.interval.ms (default 300000; the notes speak of 5 s)', 1000, 300_000),
    evictSlackMs: intParam(8000, 'how long after max.poll.interval.ms the partitions may take to move', 100),
    rate: intParam(60, 'records per second produced (kafka-producer-perf-test.sh)', 6, 2000),
    recordSize: intParam(1024, 'bytes per record', 10, 100_000),
    settleSec: intParam(60, 'the bound on each rebalance to settle', 5),
  },
  variants: REBALANCE_PROTOCOLS.map((protocol) => ({ version: '4.4', mode: 'kraft', protocol })),
  stack: kafka,
  topology: (p) => {
    // `version` is the stack's parameter every Kafka lab takes.
    requireVersion(
      p as { version?: string },
      '4.4',
      'the consumer protocol (KIP-848) is generally available from Kafka 4.0 (a preview in 3.8 and 3.9)',
    );
    return { mode: 'kraft', layout: 'isolated' };
  },
  steps: {
    start: {
      title: `Topic "${TOPIC}" (${PARTITIONS} partitions), a steady producer, consumers c1 and c2 in group "${GROUP}"`,
      narration: (p) =>
        `${p.rate} records/s of ${p.recordSize} bytes. The consumers are Kafka's own Java client ` +
        `(kafka-verifiable-consumer.sh, --group-protocol ${p.protocol === 'consumer' ? 'consumer' : 'classic'}` +
        `${ASSIGNOR[p.protocol] ? `, ${ASSIGNOR[p.protocol]}` : ''}), commitSync after each poll, ` +
        `max.poll.interval.ms=${p.maxPollMs}. `,
      commands: (p) => [
        kafkaTool('kafka1', 'kafka-consumer-groups.sh', '--describe', '--group', GROUP, '--state'),
        `docker exec {@controller1} ${JavaConsumer.command(options(p, 'c1')).join(' ')}`,
        `docker exec {@kafka1} ${perfCommand({ topic: TOPIC, broker: 'kafka1', rate: p.rate, size: p.recordSize }).join(' ')}`,
      ],
    },
    join: {
      title: 'c3 joins the group',
      narration: (p) =>
        p.protocol === 'eager'
          ? 'Eager: every member revokes all its partitions before rejoining; nobody consumes until the new assignment.'
          : p.protocol === 'cooperative'
            ? 'Cooperative (KIP-429): two rebalances; the first revokes only the partitions that move, the second ' +
              'gives them to c3. c1 and c2 keep fetching what they keep.'
            : 'Consumer protocol (KIP-848): the coordinator computes the target assignment and each member revokes ' +
              'and gets partitions through its heartbeats; no group-wide barrier.',
      commands: [groupCommand(GROUP)],
    },
    leave: {
      title: 'c3 leaves (a clean close: LeaveGroup)',
      narration: 'Its partitions go back to c1 and c2.',
      commands: [groupCommand(GROUP)],
    },
    evict: {
      title: "c2's poll loop stalls past max.poll.interval.ms ({maxPollMs} ms)",
      narration: (p) =>
        "c2's output is no longer read: its poll loop blocks while printing the records it got, as a slow handler " +
        'would, and its heartbeats go on. After max.poll.interval.ms the client itself leaves the group ' +
        `("consumer poll timeout has expired"); c1 takes its partitions from the last commit. Production default: ` +
        `300000 ms; ${p.maxPollMs} ms here. When c2 goes on, its commit of what it processed is refused and c1 has ` +
        'consumed those records again: the duplicates the notes blame on the 5 s auto-commit.',
      commands: [groupCommand(GROUP)],
    },
  },
  async mechanism(lab) {
    const k = lab.stack;
    await k.admin.createTopic(TOPIC, { partitions: PARTITIONS, replicationFactor: 3 });
    const f = await k.tool('kafka1', 'kafka-features.sh', 'describe');
    const level = /Feature:\s*group\.version\s.*FinalizedVersionLevel:\s*(\d+)/.exec(f.stdout)?.[1];
    lab.observe('groupVersion', Number(level ?? 0), `group.version finalized at ${level ?? 'none'}`);
    return lab.params.protocol === 'consumer' && Number(level ?? 0) < 1
      ? ['group.version is not 1: the consumer protocol is off']
      : [];
  },
  async run(lab) {
    const k = lab.stack;
    const p = lab.params;
    const events = () => consumerEvents(lab.history.observations);
    const balanced = (members: string[]) => async () => {
      const owned = ownedAt(events());
      const sets = members.map((m) => owned.get(m) ?? []);
      const all = new Set(sets.flat());
      const even = sets.every((s) => s.length === PARTITIONS / members.length);
      const text = members.map((m, i) => `${m}: [${sets[i]}]`).join(' ');
      return even && all.size === PARTITIONS
        ? { done: true as const, value: Date.now() }
        : { done: false as const, seen: text };
    };
    const settle = (members: string[]) =>
      lab.until(`${members.join(', ')} hold ${PARTITIONS / members.length} partitions each`, balanced(members), {
        timeoutMs: p.settleSec * 1000,
        intervalMs: 100,
      });
    const changes: Change[] = [];
    const change = async (kind: Change['kind'], members: string[], act: () => Promise<unknown>, after: string[]) => {
      const start = Date.now();
      await act();
      const end = await settle(after);
      changes.push({ kind, start, end, members });
      for (const m of measureChange(events(), changes.at(-1) as Change))
        lab.say(
          `${m.consumer}: revoked [${m.revoked}], kept [${m.kept}], held nothing ${m.heldNothingMs} ms, ` +
            `longest gap between consumed batches ${m.gapMs} ms`,
        );
    };
    const consumers: JavaConsumer[] = [];
    const startConsumer = async (name: string) =>
      consumers.push(await JavaConsumer.start(k.cluster.node(HOSTS[name] ?? ''), lab.history, options(p, name)));
    const producer = await startPerfProducer(k.cluster.node('kafka1'), {
      topic: TOPIC,
      broker: 'kafka1',
      rate: p.rate,
      size: p.recordSize,
    });
    try {
      await lab.step('start', async () => {
        await startConsumer('c1');
        await startConsumer('c2');
        await settle(['c1', 'c2']);
        const r = await k.tool('kafka1', 'kafka-consumer-groups.sh', '--describe', '--group', GROUP, '--state');
        const line = r.stdout.split('\n').find((l) => l.startsWith(`${GROUP} `)) ?? '';
        const strategy = line.trim().split(/\s+/).at(-3) ?? '';
        return lab.observe('strategy', strategy, `the group's assignment strategy: ${strategy || 'none'}`);
      });
      await lab.step('join', () => change('join', ['c1', 'c2'], () => startConsumer('c3'), ['c1', 'c2', 'c3']));
      const c3 = consumers[2];
      await lab.step('leave', () => change('leave', ['c1', 'c2'], () => c3?.stop() ?? Promise.resolve(), ['c1', 'c2']));
      const c2 = consumers[1];
      await lab.step(
        'evict',
        async () => {
          const at = Date.now();
          await change('evict', ['c1'], () => c2?.stall() ?? Promise.resolve(), ['c1']);
          await new Promise((r) => setTimeout(r, 1000));
          const resumedAt = Date.now();
          await c2?.resume();
          await settle(['c1', 'c2']);
          lab.observe('stall', { at, resumedAt });
        },
        { vars: { maxPollMs: p.maxPollMs } },
      );
      lab.observe('changes', changes);
    } finally {
      for (const c of consumers) await c.stop();
      await producer.stop().catch(() => undefined);
    }
  },
  predictions: [
    {
      before: 'join',
      question: 'c3 joins. What happens to the partitions c1 keeps?',
      choices: ['revoked and given back: c1 stops consuming a while', 'untouched: c1 goes on consuming them'],
      answer: (ev) => {
        const ch = observed<Seen>(ev).changes?.[0];
        if (!ch) return undefined;
        const c1 = measureChange(consumerEvents(ev.observations), ch).find((m) => m.consumer === 'c1');
        if (!c1) return undefined;
        return c1.revoked.some((x) => c1.after.includes(x)) ? 0 : 1;
      },
    },
  ],
  check(ev, p) {
    const seen = observed<Seen>(ev);
    const events = consumerEvents(ev.observations);
    const eviction = seen.stall ? evictionOf(events, ev.observations, seen.stall, 'c2', 'c1') : undefined;
    return [
      ...rebalanceChecks(p, seen.strategy, seen.changes ?? [], events),
      ...(eviction
        ? [
            check(
              `c2 is evicted max.poll.interval.ms after its poll loop stalls (${p.maxPollMs}..${p.maxPollMs + p.evictSlackMs} ms)`,
              eviction.evictedAfterMs !== undefined &&
                eviction.evictedAfterMs >= p.maxPollMs - 500 &&
                eviction.evictedAfterMs <= p.maxPollMs + p.evictSlackMs &&
                eviction.pollTimeoutLogged,
              `c1 holds c2's partitions within the bound; c2 logs "consumer poll timeout has expired"`,
              `c2's loop stalled ${eviction.stalledMs} ms; c1 took its partitions ` +
                `${eviction.evictedAfterMs ?? 'never'} ms after c2's last output; poll timeout logged: ` +
                `${eviction.pollTimeoutLogged}`,
            ),
            check(
              'what c2 processed and had not committed when evicted is consumed again by c1; c2 may not commit it',
              eviction.duplicates === eviction.uncommitted && (eviction.uncommitted === 0 || eviction.commitFailed),
              `the ${eviction.uncommitted} records c2 consumed past its last commit consumed by both` +
                (eviction.uncommitted ? "; c2's commit of them refused" : ' (it stalled after a commit)'),
              `${eviction.duplicates} records consumed by both; c2's commit after resuming: ` +
                `${eviction.commitFailed ? 'refused' : 'accepted'}${eviction.commitError ? ` (${eviction.commitError})` : ''}`,
            ),
          ]
        : [check('c2 was stalled', false, 'a stall', 'the run did not reach the stall')]),
    ];
  },
});

function options(p: { protocol: RebalanceProtocol; maxPollMs: number }, name: string): JavaConsumerOptions {
  return {
    name,
    topic: TOPIC,
    group: GROUP,
    broker: 'kafka1',
    protocol: p.protocol === 'consumer' ? 'consumer' : 'classic',
    assignor: ASSIGNOR[p.protocol],
    // c2 prints every record (its output fills a stopped pipe within seconds); the others summaries.
    verbose: name === 'c2',
    config: { 'max.poll.interval.ms': p.maxPollMs },
  };
}

const STRATEGY: Record<RebalanceProtocol, string> = {
  eager: 'range',
  cooperative: 'cooperative-sticky',
  consumer: 'uniform',
};

/** What each membership change did to the members present before and after it. */
function rebalanceChecks(
  p: { protocol: RebalanceProtocol; settleSec: number },
  strategy: string | undefined,
  changes: Change[],
  events: ConsumerEvent[],
): Check[] {
  if (strategy !== STRATEGY[p.protocol])
    return cannotTell('the group runs the protocol asked for', STRATEGY[p.protocol], strategy ?? 'not read');
  const measures = changes.map((ch) => ({ ch, ms: measureChange(events, ch) }));
  const text = (f: (m: ReturnType<typeof measureChange>[number]) => string) =>
    measures.map(({ ch, ms }) => `${ch.kind}: ${ms.map((m) => `${m.consumer} ${f(m)}`).join(', ')}`).join('; ');
  const all = measures.flatMap(({ ms }) => ms.filter((m) => m.before.length > 0));
  const settled = check(
    `each change (c3 joins, c3 leaves, c2 evicted) settles within ${p.settleSec} s`,
    changes.length === 3 && changes.every((c) => c.end !== undefined),
    '3 changes, each ending balanced',
    changes.map((c) => `${c.kind} ${c.end === undefined ? 'never settled' : `${c.end - c.start} ms`}`).join(', ') ||
      'none',
  );
  const pauses = text((m) => `held nothing ${m.heldNothingMs} ms, gap ${m.gapMs} ms`);
  if (p.protocol === 'eager')
    return [
      settled,
      check(
        'eager: on every change each member gives up all its partitions and holds none for a while',
        all.length > 0 && all.every((m) => m.before.every((x) => m.revoked.includes(x)) && m.heldNothingMs > 0),
        'revoked = everything held before; held nothing > 0 ms',
        `${text((m) => `revoked [${m.revoked}] of [${m.before}]`)}; ${pauses}`,
      ),
    ];
  return [
    settled,
    check(
      `${p.protocol}: only the partitions that move are revoked`,
      all.length > 0 && all.every((m) => m.revoked.every((x) => !m.after.includes(x))),
      'no member gives up a partition it gets back',
      text((m) => `revoked [${m.revoked}], kept [${m.kept}] of [${m.before}]`),
    ),
    check(
      `${p.protocol}: the members keeping partitions never stop (held nothing 0 ms)`,
      all.length > 0 && all.every((m) => m.kept.length > 0 && m.heldNothingMs === 0),
      'each member keeps some partitions and holds at least one throughout',
      pauses,
    ),
  ];
}
