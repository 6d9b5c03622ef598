import { type Check, check } from '../../src/checkers/check.ts';
import { delivery, deliveryChecks, idsOf, sample } from '../../src/checkers/delivery.ts';
import { type Evidence, invokedBetween, type Op, observed, observedSeries } from '../../src/engine/history.ts';
import { defineLab, type LabContext } from '../../src/engine/lab.ts';
import { KafkaAdmin, type PartitionState } from '../../stacks/kafka/admin.ts';
import { type Acks, KafkaProducer } from '../../stacks/kafka/client.ts';
import { kafka, type StartedKafka } from '../../stacks/kafka/stack.ts';
import { readAll } from '../../stacks/kafka/workload.ts';
import {
  bothModes,
  describeTopicCommand,
  errorType,
  modeParam,
  OUTDATED,
  partText,
  sameSet,
  untilLeaderRefuses,
} from './commands.ts';

const TOPIC = 'acks';
/**
 * Four brokers; the partition's replicas in assignment order: kafka1 is the preferred
 * leader and stays the leader. In KRaft mode kafka1..3 are also the metadata quorum, so
 * the followers are one voter and the broker-only kafka4: with both stopped the quorum
 * still has a majority. (With replicas on kafka1..3, stopping two voters froze the
 * metadata whenever the second was the active controller: its own "out of the ISR"
 * record was never committed, and the ISR stayed at two for good.)
 */
const BROKERS = 4;
const REPLICAS = ['kafka1', 'kafka2', 'kafka4'];
const LEADER = 'kafka1';
/** Taken down in this order: followers only, so the leader never moves. */
const FIRST_DOWN = 'kafka4';
const SECOND_DOWN = 'kafka2';
const MIN_ISR = 2;
/** One producer per acks setting; the producer's name is its History process and its ids' prefix. */
const PRODUCERS: { name: string; acks: Acks; label: string }[] = [
  { name: 'acks0', acks: 0, label: 'acks=0' },
  { name: 'acks1', acks: 1, label: 'acks=1' },
  { name: 'acksall', acks: 'all', label: 'acks=all' },
];
/** Kafka's numeric error codes of the two refusals (the protocol's ErrorCode table). */
const ERROR_CODES: Record<string, number> = { NOT_ENOUGH_REPLICAS: 19, NOT_ENOUGH_REPLICAS_AFTER_APPEND: 20 };
const PHASES = ['all-up', 'one-down', 'two-down', 'back'] as const;
type Phase = (typeof PHASES)[number];

/** What the lab reads from the cluster, by observation name. */
interface Seen {
  mode: string;
  topicConfig: { 'min.insync.replicas': string | undefined };
  partitionBefore: PartitionState;
  isrOneDown: string[];
  isrTwoDown: string[];
  isrBack: string[];
  /** The leader's first own refusal of acks=all once the metadata showed it alone in the ISR. */
  canaryRefused: { refused: boolean; ms: number; probes: string[] };
  /** The leader's first accepted acks=all send after the followers returned. */
  canary: { accepted: boolean; refusals: number; ms: number };
}

interface PhaseMark {
  phase: Phase;
  start: number;
  end: number;
  isr: string[];
  leader: string | undefined;
}

export default defineLab({
  id: 'kafka/acks-min-isr',
  title: 'acks=0, 1, all against min.insync.replicas=2 while brokers go down',
  teaches:
    'with min.insync.replicas=2, acks=all keeps working with one follower down and is refused (NOT_ENOUGH_REPLICAS) ' +
    'with two down, while acks=1 and acks=0 carry on; nothing acknowledged with acks=all is ever lost',
  notes:
    'Notes, Kafka chapter (seed lines 712-746 and 1573-1595): "Kafka 工作机制" (line 744: 要实现强一致性 ... min.insync.replicas 参数设置为大于1 ... acks 为 all 或者-1) ' +
    'and "说一下同步投递和重复消费" (lines 1592-1595, # acks配置: acks=0 / acks=1 / acks=all). What the notes leave out: acks=all waits ' +
    'for the *current* ISR, which may shrink to the leader alone; min.insync.replicas is what turns that into a ' +
    'refusal (NOT_ENOUGH_REPLICAS) instead of a write held by one copy. acks=0 gets no answer at all, so its "ok" ' +
    'means only "handed to the socket": the lab reports what the final read holds of those sends and excludes ' +
    'them from every loss check. The notes also predate Kafka 3.0, where the ' +
    "Java producer's default became acks=all with enable.idempotence=true: every lab sets acks explicitly. " +
    OUTDATED,
  variants: bothModes(),
  params: {
    mode: modeParam,
    perPhase: { type: 'int', default: 5, min: 1, max: 100, describe: 'messages sent with each acks setting per phase' },
    isrTimeoutMs: {
      type: 'int',
      default: 60_000,
      min: 5000,
      describe: 'the bound for the ISR to shrink after a broker stops, or to grow after it is back',
    },
  },
  stack: kafka,
  topology: (p) => ({ mode: p.mode, brokers: BROKERS }),
  async mechanism(lab) {
    const k = lab.stack;
    lab.observe('mode', k.mode);
    const reasons: string[] = [];
    await lab.step(
      `Topic "${TOPIC}": one partition on ${REPLICAS.join(', ')}, min.insync.replicas=${MIN_ISR}`,
      `One partition, so there is exactly one leader to think about. Its replicas are assigned explicitly in the ` +
        `order ${REPLICAS.join(', ')}: the first is the preferred leader, so ${LEADER} leads, and the lab will only ` +
        `ever take followers down (${FIRST_DOWN}, then ${SECOND_DOWN}): the leader never moves. The topic sets ` +
        `min.insync.replicas=${MIN_ISR} (the broker default is 1): an acks=all write needs at least ${MIN_ISR} ` +
        'replicas in the ISR (the leader included) to be accepted at all.',
      async () => {
        await k.admin.createTopic(TOPIC, {
          assignment: [REPLICAS],
          config: { 'min.insync.replicas': MIN_ISR },
        });
        const part =
          (await settle(lab, k.admin, (p) => sameSet(p.isr, REPLICAS), 30_000)) ?? (await k.admin.partition(TOPIC, 0));
        const cfg = await k.admin.topicConfig(TOPIC);
        lab.observe(
          'topicConfig',
          { 'min.insync.replicas': cfg['min.insync.replicas'] },
          `min.insync.replicas=${cfg['min.insync.replicas'] ?? '?'} on ${TOPIC}`,
        );
        lab.observe('partitionBefore', part, partText(part));
        if (cfg['min.insync.replicas'] !== String(MIN_ISR))
          reasons.push(`the topic's min.insync.replicas is ${cfg['min.insync.replicas']}, not ${MIN_ISR}`);
        if (part.leader !== LEADER) reasons.push(`the leader is ${part.leader ?? 'none'}, not ${LEADER}`);
        if (!sameSet(part.replicas, REPLICAS))
          reasons.push(`the replicas are ${part.replicas.join(',')}, not ${REPLICAS.join(',')}`);
        if (!sameSet(part.isr, REPLICAS)) reasons.push(`the ISR is ${part.isr.join(',')}, not all three replicas`);
      },
      [describeTopicCommand(k, TOPIC), configsCommand(k)],
    );
    return reasons;
  },
  async run(lab) {
    const k = lab.stack;
    const p = lab.params;
    // Probes and producers bootstrap on the leader only: it is up the whole time, and a
    // client never waits on a stopped broker's address.
    const probe = new KafkaAdmin({ mode: k.mode, brokers: k.brokerEndpoints([LEADER]) });
    // `canary`: acks=all sends that only ask the leader whether it accepts acks=all again.
    const producers = await Promise.all(
      [...PRODUCERS, { name: 'canary', acks: 'all' as const }].map((x) =>
        KafkaProducer.connect(k.brokerEndpoints([LEADER]), lab.history, {
          name: x.name,
          acks: x.acks,
          // No retries: a refusal is the answer this lab wants to see, at once.
          retries: 0,
          deliveryTimeoutMs: 6000,
          requestTimeoutMs: 4000,
          ackTimeoutMs: 3000,
        }),
      ),
    );
    const marks: PhaseMark[] = [];
    const round = async (phase: Phase, part: PartitionState) => {
      const start = lab.history.now();
      const tally: Record<string, string[]> = {};
      for (let i = 0; i < p.perPhase; i++) {
        for (const [j, prod] of producers.slice(0, PRODUCERS.length).entries()) {
          const r = await prod.send(TOPIC, { partition: 0 });
          const label = PRODUCERS[j]?.label ?? prod.name;
          const outcomes = tally[label] ?? [];
          tally[label] = outcomes;
          outcomes.push(r.ok ? 'ok' : `${r.type}${r.error ? ` (${r.error.split(':')[0]})` : ''}`);
        }
      }
      const mark: PhaseMark = { phase, start, end: lab.history.now(), isr: part.isr, leader: part.leader };
      marks.push(mark);
      lab.observe('phase', mark);
      lab.say(
        Object.entries(tally)
          .map(([label, rs]) => `${label}: ${summarize(rs)}`)
          .join('; '),
      );
    };
    try {
      await lab.step(
        'All three up: send with acks=0, 1 and all',
        `${p.perPhase} messages with each setting, one after the other, every one identified. acks=0: the producer ` +
          'does not wait for any answer (the broker sends none), so "ok" only means "handed to the socket". ' +
          'acks=1: the leader appended it. acks=all (-1): every replica in the ISR has it. The producers retry ' +
          'nothing, so a refusal shows as it is.',
        async () => round('all-up', await probe.partition(TOPIC, 0)),
        [produceCommand(k, 'all')],
      );
      await lab.step(
        `Stop ${FIRST_DOWN}: one follower down`,
        `${FIRST_DOWN} shuts down cleanly (SIGTERM: a controlled shutdown), so the controller removes it from the ` +
          `ISR at once; a killed broker would only be dropped after its session timeout, and a frozen follower ` +
          `after replica.lag.time.max.ms (10 s here, 30 s in production). The ISR is then ${LEADER} and ` +
          `${SECOND_DOWN}: 2 >= min.insync.replicas, so acks=all still succeeds, now waiting for one follower.`,
        async () => {
          await lab.faults.stop(FIRST_DOWN);
          const part = await settled(lab, probe, (x) => sameSet(x.isr, [LEADER, SECOND_DOWN]), p.isrTimeoutMs);
          lab.observe('isrOneDown', part.isr, partText(part));
          await round('one-down', part);
        },
        [describeTopicCommand(k, TOPIC, LEADER)],
      );
      await lab.step(
        `Stop ${SECOND_DOWN}: two followers down`,
        `Now the ISR is ${LEADER} alone: 1 < min.insync.replicas=${MIN_ISR}. The leader refuses acks=all writes ` +
          'before appending them, with the error NOT_ENOUGH_REPLICAS (code 19): the producer is told, and can ' +
          'retry later or alert. (The leader applies the shrink a moment after the metadata shows it; canary ' +
          'writes, judged by no check, wait for its own first refusal.) (NOT_ENOUGH_REPLICAS_AFTER_APPEND, code 20, is the rarer case where the ISR ' +
          "shrank after the append: the write is in the leader's log but not acknowledged: unknown, not failed.) " +
          'acks=1 needs only the leader, so it carries on, each write held by a single copy. ' +
          (k.mode === 'kraft'
            ? `In KRaft mode kafka1..3 are also the metadata quorum; with ${SECOND_DOWN} stopped two of three ` +
              'voters remain, a majority, so the ISR change is committed. Had the lab stopped two voters, there ' +
              'would be no quorum: the ISR could not change at all, and acks=all would time out instead of being ' +
              'refused.'
            : 'In ZooKeeper mode the controller moves to a live broker if it was on a stopped one.'),
        async () => {
          await lab.faults.stop(SECOND_DOWN);
          const part = await settled(lab, probe, (x) => sameSet(x.isr, [LEADER]), p.isrTimeoutMs);
          lab.observe('isrTwoDown', part.isr, partText(part));
          // The leader applies a shrink a moment after the metadata shows it: until then an acks=all write is
          // appended and waits for a follower that is gone. Canary writes wait for the leader's own refusal.
          const canary = producers[PRODUCERS.length] as KafkaProducer;
          const c = await untilLeaderRefuses(lab, canary, LEADER, TOPIC, p.isrTimeoutMs);
          lab.observe(
            'canaryRefused',
            c,
            `${LEADER} ${c.refused ? 'refuses' : 'never refused'} acks=all itself: ${c.probes.length} canary ` +
              `write(s) in ${c.ms} ms (${c.probes.join('; ')})`,
          );
          await round('two-down', part);
        },
        { key: 'second-down', commands: [describeTopicCommand(k, TOPIC, LEADER), produceCommand(k, 'all')] },
      );
      await lab.step(
        `Start ${SECOND_DOWN} and ${FIRST_DOWN} again`,
        'The restarted followers fetch what they missed from the leader (including the acks=1 writes made while ' +
          'they were down) and rejoin the ISR once caught up. As soon as one of them is back in the ISR, acks=all ' +
          'is accepted again.',
        async () => {
          await lab.faults.start(SECOND_DOWN);
          await lab.faults.start(FIRST_DOWN);
          const part = await settled(lab, probe, (x) => x.isr.length >= MIN_ISR, p.isrTimeoutMs);
          lab.observe('isrBack', part.isr, partText(part));
          // The metadata can show the larger ISR a moment before the leader's own partition
          // state has it (seen: one refusal 10 ms after). Ask the leader itself, bounded.
          const canary = producers[PRODUCERS.length] as KafkaProducer;
          const t0 = Date.now();
          let refusals = 0;
          const accepted = await lab.until(
            `${LEADER} to accept acks=all again`,
            async () => {
              const r = await canary.send(TOPIC, { partition: 0 });
              if (!r.ok) refusals++;
              return r.ok ? { done: true, value: true } : { done: false, seen: r.error ?? r.type };
            },
            { timeoutMs: p.isrTimeoutMs, intervalMs: 100 },
          );
          const ms = Date.now() - t0;
          lab.observe(
            'canary',
            { accepted: !!accepted, refusals, ms },
            accepted
              ? `${LEADER} accepts acks=all again (${refusals} canary send(s) refused, ${ms} ms)`
              : `${LEADER} still refuses acks=all after ${ms} ms`,
          );
          await round('back', part);
        },
        [describeTopicCommand(k, TOPIC, LEADER)],
      );
    } finally {
      await Promise.all(producers.map((x) => x.disconnect()));
      await probe.close();
    }
  },
  async final(lab) {
    const k = lab.stack;
    const n = await readAll(k.bootstrap, k.admin, lab.history, TOPIC);
    lab.say(`final read: ${n} messages in ${TOPIC}`);
  },
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
        const r = phaseOps(ev, 'two-down', 'acksall');
        if (!r.length) return undefined;
        if (r.every((o) => o.type === 'ok')) return 0;
        if (r.every((o) => o.type === 'fail' && errorType(o) === 'NOT_ENOUGH_REPLICAS')) return 1;
        return r.some((o) => o.type === 'info') ? 2 : undefined;
      },
    },
  ],
  check(ev) {
    const checks: Check[] = [];
    const seen = observed<Seen>(ev);
    const marks = PHASES.map((ph) => phaseMark(ev, ph));
    const missing = PHASES.filter((_, i) => !marks[i]);
    if (missing.length) {
      return [
        {
          name: 'every phase ran',
          ok: 'unknown',
          expected: PHASES.join(', '),
          observed: `missing: ${missing.join(', ')}`,
        },
      ];
    }
    const all = (ph: Phase, prod: string) => phaseOps(ev, ph, prod);
    const okAll = (ops: Op[]) => ops.length > 0 && ops.every((o) => o.type === 'ok');
    checks.push(
      check(
        'all three up: acks=0, 1 and all succeed',
        PRODUCERS.every((x) => okAll(all('all-up', x.name))),
        'every send acknowledged',
        PRODUCERS.map((x) => `${x.label} ${tally(all('all-up', x.name))}`).join('; '),
      ),
      check(
        `one follower down (ISR ${marks[1]?.isr.join(',')}): acks=all still succeeds`,
        sameSet(marks[1]?.isr ?? [], [LEADER, SECOND_DOWN]) && okAll(all('one-down', 'acksall')),
        `ISR ${LEADER},${SECOND_DOWN}; every acks=all send acknowledged`,
        `ISR ${marks[1]?.isr.join(',')}; acks=all ${tally(all('one-down', 'acksall'))}`,
      ),
    );
    const refused = all('two-down', 'acksall');
    const types = [...new Set(refused.map(errorType).filter((t): t is string => !!t))];
    checks.push(
      check(
        `two followers down (ISR ${marks[2]?.isr.join(',')}): acks=all refused before the append (NOT_ENOUGH_REPLICAS)`,
        sameSet(marks[2]?.isr ?? [], [LEADER]) &&
          refused.length > 0 &&
          refused.every((o) => o.type === 'fail' && errorType(o) === 'NOT_ENOUGH_REPLICAS'),
        `ISR ${LEADER} alone; every acks=all send refused with NOT_ENOUGH_REPLICAS (19); an after-append refusal ` +
          '(20) or an unknown outcome is not that',
        `ISR ${marks[2]?.isr.join(',')}; acks=all ${tally(refused)}; errors ${
          types.map((t) => `${t} (${ERROR_CODES[t] ?? '?'})`).join(', ') || 'none'
        }`,
        { errors: refused.map((o) => ({ id: idsOf(o.value)[0], type: o.type, error: o.error })) },
      ),
      check(
        'two followers down: acks=1 still succeeds',
        okAll(all('two-down', 'acks1')),
        'every acks=1 send acknowledged by the leader alone',
        `acks=1 ${tally(all('two-down', 'acks1'))}; acks=0 ${tally(all('two-down', 'acks0'))} (acks=0 gets no answer to fail with)`,
      ),
      check(
        `followers back (ISR ${marks[3]?.isr.join(',')}): acks=all succeeds again`,
        (marks[3]?.isr.length ?? 0) >= MIN_ISR && okAll(all('back', 'acksall')),
        `ISR of at least ${MIN_ISR}; every acks=all send acknowledged`,
        `ISR ${marks[3]?.isr.join(',')}; acks=all ${tally(all('back', 'acksall'))}` +
          (seen.canary
            ? `; the leader accepted acks=all ${seen.canary.ms} ms after the ISR grew (${seen.canary.refusals} canary refusal(s))`
            : ''),
      ),
    );
    // The final read against each producer's sends.
    const byProducer = (name: string) => projectOps(ev.ops, name);
    checks.push(
      ...deliveryChecks(delivery(byProducer('acksall'), { receive: 'read-all' }), {
        loss: 'forbidden',
        duplicates: 'allowed',
      }).map((c) => ({ ...c, name: `acks=all: ${c.name}` })),
    );
    const ones = delivery(byProducer('acks1'), { receive: 'read-all' });
    const zeros = delivery(byProducer('acks0'), { receive: 'read-all' });
    checks.push(
      check(
        'acks=1 and acks=0: what the final read holds (reported)',
        true,
        'reported only: the leader never changed, so nothing was truncated; acks=0 "ok" means only "handed to ' +
          'the socket", so those sends are excluded from every loss check',
        `acks=1: ${ones.lost.length} of ${ones.acknowledged} acknowledged lost${
          ones.lost.length ? ` (${sample(ones.lost)})` : ''
        }; acks=0: ${zeros.received} of ${zeros.acknowledged} "sent" found`,
      ),
    );
    return checks;
  },
});

/**
 * Polls the partition until `ok` holds; returns its state, or undefined at the bound (the
 * trainee is told what was last seen, and the checks judge the ISR the round ran with).
 */
function settle(
  lab: LabContext<StartedKafka, unknown>,
  admin: KafkaAdmin,
  ok: (p: PartitionState) => boolean,
  timeoutMs: number,
): Promise<PartitionState | undefined> {
  return lab.until(
    `${TOPIC}-0 to reach the expected ISR`,
    async () => {
      const part = await admin.partition(TOPIC, 0);
      return ok(part) ? { done: true, value: part } : { done: false, seen: partText(part) };
    },
    { timeoutMs, intervalMs: 200 },
  );
}

/** As `settle`, and on time-out the partition as it is then: the round runs with what is there. */
async function settled(
  lab: LabContext<StartedKafka, unknown>,
  admin: KafkaAdmin,
  ok: (p: PartitionState) => boolean,
  timeoutMs: number,
): Promise<PartitionState> {
  const t0 = Date.now();
  const part = (await settle(lab, admin, ok, timeoutMs)) ?? (await admin.partition(TOPIC, 0));
  lab.observe('isrMs', Date.now() - t0, `ISR ${part.isr.join(',')} ${Date.now() - t0} ms after the change`);
  return part;
}

function summarize(rs: string[]): string {
  const counts = new Map<string, number>();
  for (const r of rs) counts.set(r, (counts.get(r) ?? 0) + 1);
  return [...counts].map(([r, n]) => `${n} ${r}`).join(', ');
}

function phaseMark(ev: Evidence, phase: Phase): PhaseMark | undefined {
  return observedSeries<PhaseMark>(ev, 'phase').find((o) => o.value.phase === phase)?.value;
}

/** Completions of one producer's sends invoked within a phase. */
function phaseOps(ev: Evidence, phase: Phase, producer: string): Op[] {
  const m = phaseMark(ev, phase);
  if (!m) return [];
  return invokedBetween(ev.ops, 'send', m.start, m.end).filter((o) => o.process === producer);
}

function tally(ops: Op[]): string {
  if (!ops.length) return 'none sent';
  const n = (t: string) => ops.filter((o) => o.type === t).length;
  return `${n('ok')} ok, ${n('fail')} refused, ${n('info')} unknown of ${ops.length}`;
}

/**
 * One producer's sends, and the final read cut down to that producer's ids, so the
 * delivery checker judges each acks setting on its own.
 */
function projectOps(ops: Op[], producer: string): Op[] {
  const prefix = `${producer}-`;
  return ops.flatMap((o): Op[] => {
    if (o.f === 'send') return o.process === producer ? [o] : [];
    if (o.f === 'read-all' && o.type === 'ok') return idsOf(o.value)[0]?.startsWith(prefix) ? [o] : [];
    return [];
  });
}

function configsCommand(k: StartedKafka): string {
  return k.toolCommand('kafka1', 'kafka-configs.sh', '--describe', '--entity-type', 'topics', '--entity-name', TOPIC);
}

function produceCommand(k: StartedKafka, acks: string): string {
  return `${k
    .toolCommand(LEADER, 'kafka-console-producer.sh', '--topic', TOPIC, '--producer-property', `acks=${acks}`)
    .replace(/^docker exec /, 'docker exec -it ')}`;
}
