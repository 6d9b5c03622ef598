import * as kit from './kit.ts';

const [TOPIC, GROUP, PARTITIONS] = ['rebalance', 'rebalance-group', 6] as const;
/** Each consumer's JVM runs in a controller-only node (isolated layout): the brokers keep their memory. */
const HOSTS: Record<string, string> = { c1: 'controller1', c2: 'controller2', c3: 'controller3' };
const ASSIGNOR: Record<kit.RebalanceProtocol, string | undefined> = {
  eager: 'org.apache.kafka.clients.consumer.RangeAssignor',
  cooperative: 'org.apache.kafka.clients.consumer.CooperativeStickyAssignor',
  consumer: undefined,
};

interface Seen {
  strategy: string;
  changes: kit.Change[];
  stall: { at: number; resumedAt: number };
}

export default kit.defineLab({
  id: 'kafka/rebalance-protocols',
  title: 'Rebalances: eager, cooperative and the KIP-848 consumer protocol; eviction by max.poll.interval.ms',
  teaches:
    'A membership change stops every consumer under the eager classic protocol, only the moved partitions under ' +
    'cooperative and consumer protocols; a poll loop slower than max.poll.interval.ms gets the member removed.',
  notes:
    'Notes, Kafka chapter, seed 001 lines 1613-1628 (重复消费): "如果消费者处理消息的时候过长...超过这个时间，那么下次就会' +
    '发生重复消费", with "这个时间" the 5 s auto-commit interval (line 1624); nothing on rebalances. Where they are ' +
    'wrong: slow processing causes duplicates through max.poll.interval.ms (default 300000 ms), not the commit ' +
    'interval: a consumer whose poll loop stalls past it is removed from the group, and the member given its ' +
    'partitions reads again from the last commit.',
  params: {
    protocol: kit.enumParam(
      kit.REBALANCE_PROTOCOLS,
      'eager: classic protocol, RangeAssignor; cooperative: classic, CooperativeStickyAssignor; consumer: KIP-848',
    ),
    maxPollMs: kit.intParam(5000, 'max.poll.interval.ms (default 300000; the notes speak of 5 s)', 1000, 300_000),
    evictMarginMs: kit.intParam(2000, 'margin beyond two heartbeat intervals for the partitions to move', 0),
    rate: kit.intParam(60, 'records per second produced (kafka-producer-perf-test.sh)', 6, 2000),
    recordSize: kit.intParam(1024, 'bytes per record', 10, 100_000),
    settleSec: kit.intParam(60, 'the bound on each rebalance to settle', 5),
  },
  variants: kit.REBALANCE_PROTOCOLS.map((protocol) => ({ version: '4.4', protocol })),
  stack: kit.kafka,
  topology: (p) => {
    kit.requireVersion(
      p as { version?: string },
      '4.4',
      'the consumer protocol (KIP-848) is generally available from Kafka 4.0 (early access from 3.7, not for production)',
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
        `max.poll.interval.ms=${p.maxPollMs}.`,
      commands: (p) => [
        kit.kafkaTool('kafka1', 'kafka-consumer-groups.sh', '--describe', '--group', GROUP, '--state'),
        `docker exec {@controller1} ${kit.JavaConsumer.command(options(p, 'c1')).join(' ')}`,
        `docker exec {@kafka1} ${kit.perfCommand({ topic: TOPIC, broker: 'kafka1', rate: p.rate, size: p.recordSize }).join(' ')}`,
      ],
    },
    join: {
      title: 'c3 joins the group',
      narration: (p) =>
        p.protocol === 'eager'
          ? 'Eager: every member revokes all its partitions before rejoining; nobody consumes until the new ' +
            'assignment. The barrier waits for the slowest member, up to the rebalance timeout (max.poll.interval.ms, ' +
            '300 s by default): here every member polls often, so it is short.'
          : p.protocol === 'cooperative'
            ? 'Cooperative (KIP-429): two rebalances; the first revokes only the partitions that move, the second ' +
              'gives them to c3. c1 and c2 keep fetching what they keep.'
            : 'Consumer protocol (KIP-848): the coordinator computes the target assignment and each member revokes ' +
              'and gets partitions through its heartbeats; no group-wide barrier.',
      commands: [kit.groupCommand(GROUP)],
    },
    leave: {
      title: 'c3 leaves (a clean close: LeaveGroup)',
      narration: 'Its partitions go back to c1 and c2.',
      commands: [kit.groupCommand(GROUP)],
    },
    evict: {
      title: "c2's poll loop stalls past max.poll.interval.ms ({maxPollMs} ms)",
      narration: (p) =>
        "c2's output is no longer read: its poll loop blocks printing the records it got, as a slow handler would, " +
        'and its heartbeats go on. After max.poll.interval.ms (production default 300000 ms; ' +
        `${p.maxPollMs} ms here) the client itself leaves the group ("consumer poll timeout has expired"); c1 takes ` +
        'its partitions from the last commit. When c2 goes on, its commit is refused and c1 has consumed those ' +
        'records again: the duplicates the notes blame on the 5 s auto-commit. c2 leaves once its client notices ' +
        'the time-out (up to a heartbeat late under the consumer protocol), c1 learns of its new partitions at its ' +
        `next heartbeat: they move within two heartbeat intervals (${kit.heartbeatMs(p.protocol)} ms each: ` +
        `${p.protocol === 'consumer' ? "the broker's group.consumer." : "the classic client's "}heartbeat.interval.ms, ` +
        `both defaults) and ${p.evictMarginMs} ms after it.`,
      commands: [kit.groupCommand(GROUP)],
    },
  },
  async mechanism(lab) {
    const k = lab.stack;
    await k.admin.createTopic(TOPIC, { partitions: PARTITIONS, replicationFactor: 3 });
    const f = await k.tool('kafka1', 'kafka-features.sh', 'describe');
    const level = /Feature:\s*group\.version\s.*FinalizedVersionLevel:\s*(\d+)/.exec(f.stdout)?.[1];
    lab.observe('groupVersion', Number(level ?? 0), `group.version finalized at ${level ?? 'none'}`);
    const off = lab.params.protocol === 'consumer' && Number(level ?? 0) < 1;
    return off ? ['group.version is not 1: the consumer protocol is off'] : [];
  },
  async run(lab) {
    const [k, p] = [lab.stack, lab.params];
    const events = () => kit.consumerEvents(lab.history.observations);
    const balanced = (members: string[]) => async () => {
      const owned = kit.ownedAt(events());
      const sets = members.map((m) => owned.get(m) ?? []);
      const even = sets.every((s) => s.length === PARTITIONS / members.length);
      if (even && new Set(sets.flat()).size === PARTITIONS) return { done: true as const, value: Date.now() };
      return { done: false as const, seen: members.map((m, i) => `${m}: [${sets[i]}]`).join(' ') };
    };
    const bound = { timeoutMs: p.settleSec * 1000, intervalMs: 100 };
    const settle = (members: string[]) =>
      lab.until(`${members.join(', ')} hold ${PARTITIONS / members.length} partitions each`, balanced(members), bound);
    const changes: kit.Change[] = [];
    const change = async (kind: kit.Change['kind'], members: string[], act: () => Promise<unknown>, to: string[]) => {
      const start = Date.now();
      await act();
      const end = await settle(to);
      changes.push({ kind, start, end, members });
      for (const m of kit.measureChange(events(), changes.at(-1) as kit.Change))
        lab.say(
          `${m.consumer}: revoked [${m.revoked}], kept [${m.kept}], held nothing ${m.heldNothingMs} ms, ` +
            `longest gap between consumed batches ${m.gapMs} ms`,
        );
    };
    const consumers: kit.JavaConsumer[] = [];
    const startConsumer = async (name: string) =>
      consumers.push(await kit.JavaConsumer.start(k.cluster.node(HOSTS[name] ?? ''), lab.history, options(p, name)));
    const perf = { topic: TOPIC, broker: 'kafka1', rate: p.rate, size: p.recordSize };
    const producer = await kit.startPerfProducer(k.cluster.node('kafka1'), perf);
    try {
      await lab.step('start', async () => {
        for (const c of ['c1', 'c2']) await startConsumer(c);
        await settle(['c1', 'c2']);
        const r = await k.tool('kafka1', 'kafka-consumer-groups.sh', '--describe', '--group', GROUP, '--state');
        const line = r.stdout.split('\n').find((l) => l.startsWith(`${GROUP} `)) ?? '';
        const strategy = line.trim().split(/\s+/).at(-3) ?? '';
        return lab.observe('strategy', strategy, `the group's assignment strategy: ${strategy || 'none'}`);
      });
      await lab.step('join', () => change('join', ['c1', 'c2'], () => startConsumer('c3'), ['c1', 'c2', 'c3']));
      await lab.step('leave', () => change('leave', ['c1', 'c2'], async () => consumers[2]?.stop(), ['c1', 'c2']));
      const c2 = consumers[1];
      await lab.step('evict', async () => {
        const at = Date.now();
        await change('evict', ['c1'], async () => c2?.stall(), ['c1']);
        await kit.sleep(1000);
        const resumedAt = Date.now();
        await c2?.resume();
        await settle(['c1', 'c2']);
        lab.observe('stall', { at, resumedAt });
      });
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
        const ch = kit.observed<Seen>(ev).changes?.[0];
        if (!ch) return undefined;
        const c1 = kit.measureChange(kit.consumerEvents(ev.observations), ch).find((m) => m.consumer === 'c1');
        return c1 && (c1.revoked.some((x) => c1.after.includes(x)) ? 0 : 1);
      },
    },
  ],
  check(ev, p) {
    const seen = kit.observed<Seen>(ev);
    const events = kit.consumerEvents(ev.observations);
    const eviction = seen.stall ? kit.evictionOf(events, ev.observations, seen.stall, 'c2', 'c1') : undefined;
    return [...kit.rebalanceChecks(p, seen.strategy, seen.changes ?? [], events), ...kit.evictionChecks(p, eviction)];
  },
});

function options(p: { protocol: kit.RebalanceProtocol; maxPollMs: number }, name: string): kit.JavaConsumerOptions {
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
