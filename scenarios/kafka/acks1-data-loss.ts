import { type Check, check } from '../../src/checkers/check.ts';
import { delivery, deliveryChecks, idsOf, sample } from '../../src/checkers/delivery.ts';
import { completions, type Op, observed } from '../../src/engine/history.ts';
import { defineLab, type LabContext } from '../../src/engine/lab.ts';
import { KafkaAdmin, type PartitionState } from '../../stacks/kafka/admin.ts';
import { KafkaProducer, kafkaErrorType } from '../../stacks/kafka/client.ts';
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

const TOPIC = 'loss';
/** Replication factor 2: kafka1 leads, kafka2 follows; kafka3 holds no replica and is always up. */
const LEADER = 'kafka1';
const FOLLOWER = 'kafka2';
const BYSTANDER = 'kafka3';
/** The acksall variant's probe writes: they wait for the leader to enforce the shrunk ISR, and are judged by no check. */
const CANARY = 'canary';
const SUCCESS = /Successfully completed leader election/i;
const ELECT_ARGS = [
  'kafka-leader-election.sh',
  '--election-type',
  'unclean',
  '--topic',
  TOPIC,
  '--partition',
  '0',
] as const;

interface Election {
  /** What each run of kafka-leader-election.sh printed. */
  outputs: string[];
  /** Who made the follower leader: the tool, or the controller on its own (topic config). */
  electedBy: 'kafka-leader-election.sh' | 'controller';
  /** The partition was seen without a leader after the kill (a clean election had nobody to pick). */
  offlineSeen: boolean;
}

/** What the lab reads from the cluster, by observation name. */
interface Seen {
  mode: string;
  variant: string;
  partitionBefore: PartitionState;
  /** The ISR once the frozen follower was out of it (or as last seen at the bound). */
  isrAlone: string[];
  /** Milliseconds from the pause to that ISR. */
  isrAloneMs: number;
  afterKill: { leader: string | undefined; isr: string[] };
  newLeader: string | undefined;
  election: Election;
  /** Messages the final read found. */
  finalRead: number;
  /** acksall: the probe writes until the leader refused one itself. */
  leaderRefuses: { refused: boolean; ms: number; probes: string[] };
}

export default defineLab({
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
    'is frozen out of the ISR before the writes. The notes also say a new leader comes from the ISR ("Kafka的领导者选举' +
    '过程", lines 720-731: "选取副本集合（ISR）中最新的副本"): true unless an unclean election is allowed, by the topic config ' +
    'unclean.leader.election.enable or by an operator forcing it (param election). Since Kafka 3.0 the Java producer ' +
    'defaults to acks=all with idempotence, so acks=1 is a choice someone made: the lab sets acks explicitly. ' +
    'What the notes do not say: acks=1 loss does not need an unclean election. A follower still in the ISR that ' +
    'has not fetched the newest acks=1 writes yet can be elected cleanly when the leader dies; the old leader then ' +
    "truncates its log to the new leader's, and the acknowledged tail is gone just the same (the high watermark " +
    'had not passed it, so no consumer saw it either). The lab freezes the follower out of the ISR first only to ' +
    'make the window wide and certain. ' +
    OUTDATED,
  variants: bothModes([{ variant: 'acksall' }, { election: 'tool' }]),
  params: {
    mode: modeParam,
    variant: {
      type: 'enum',
      default: 'acks1',
      choices: ['acks1', 'acksall'],
      describe:
        'acks1: acks=1 with min.insync.replicas=1 (messages are lost); acksall: acks=all with ' +
        'min.insync.replicas=2 (writes are refused, nothing acknowledged is lost)',
    },
    election: {
      type: 'enum',
      default: 'config',
      choices: ['config', 'tool'],
      describe:
        'config: unclean.leader.election.enable=true on the topic (the controller elects by itself); tool: the ' +
        'config stays false, the partition goes offline, and kafka-leader-election.sh --election-type unclean forces it',
    },
    before: {
      type: 'int',
      default: 10,
      min: 1,
      max: 1000,
      describe: 'acks=all messages sent while both replicas are in sync',
    },
    messages: {
      type: 'int',
      default: 20,
      min: 1,
      max: 1000,
      describe: 'messages sent while the leader is alone in the ISR',
    },
    isrTimeoutMs: {
      type: 'int',
      default: 25_000,
      min: 5000,
      describe:
        'the bound for the frozen follower to leave the ISR: the session timeout (6 s), or replica.lag.time.max.ms ' +
        "(10 s) plus up to half of it until the leader's periodic check, with headroom (seen 5.4..16.1 s)",
    },
    electionTimeoutMs: {
      type: 'int',
      default: 90_000,
      min: 5000,
      describe: 'the bound for the follower to become leader',
    },
  },
  stack: kafka,
  topology: (p) => ({ mode: p.mode }),
  async mechanism(lab) {
    const k = lab.stack;
    const p = lab.params;
    lab.observe('mode', k.mode);
    lab.observe('variant', p.variant);
    const minIsr = p.variant === 'acks1' ? 1 : 2;
    const unclean = p.election === 'config';
    const reasons: string[] = [];
    await lab.step(
      `Topic "${TOPIC}": one partition on ${LEADER} and ${FOLLOWER}${unclean ? ', unclean leader election on' : ''}`,
      `Replication factor 2, assigned explicitly: ${LEADER} leads, ${FOLLOWER} follows, ${BYSTANDER} holds no replica ` +
        `(the lab asks it what the cluster looks like while the other two are in trouble). Why not 3 replicas? In ` +
        `KRaft mode kafka1..3 are also the metadata quorum: freezing two of them would freeze the quorum, and the ` +
        `controller could not even record the ISR change. Topic configs: ` +
        (unclean
          ? 'unclean.leader.election.enable=true (a replica outside the ISR may become leader rather than leave ' +
            'the partition offline)'
          : 'unclean.leader.election.enable=false (the default: only an ISR member may become leader, unless an ' +
            'operator forces it)') +
        ` and min.insync.replicas=${minIsr}.`,
      async () => {
        await k.admin.createTopic(TOPIC, {
          assignment: [[LEADER, FOLLOWER]],
          config: { 'unclean.leader.election.enable': unclean, 'min.insync.replicas': minIsr },
        });
        const part =
          (await lab.until(
            `${TOPIC}-0 fully in sync`,
            async () => {
              const x = await k.admin.partition(TOPIC, 0);
              return sameSet(x.isr, [LEADER, FOLLOWER]) ? { done: true, value: x } : { done: false, seen: partText(x) };
            },
            { timeoutMs: 30_000, intervalMs: 200 },
          )) ?? (await k.admin.partition(TOPIC, 0));
        const cfg = await k.admin.topicConfig(TOPIC);
        lab.observe('topicConfig', pick(cfg), configText(cfg));
        lab.observe('partitionBefore', part, partText(part));
        if (cfg['unclean.leader.election.enable'] !== String(unclean))
          reasons.push(`unclean.leader.election.enable is ${cfg['unclean.leader.election.enable']}, not ${unclean}`);
        if (cfg['min.insync.replicas'] !== String(minIsr))
          reasons.push(`min.insync.replicas is ${cfg['min.insync.replicas']}, not ${minIsr}`);
        if (part.leader !== LEADER) reasons.push(`the leader is ${part.leader ?? 'none'}, not ${LEADER}`);
        if (!sameSet(part.isr, [LEADER, FOLLOWER]))
          reasons.push(`the ISR is ${part.isr.join(',')}, not both replicas ${LEADER},${FOLLOWER}`);
      },
      [describeTopicCommand(k, TOPIC), configsCommand(k)],
    );
    return reasons;
  },
  async run(lab) {
    const k = lab.stack;
    const p = lab.params;
    const acks = p.variant === 'acks1' ? 1 : 'all';
    // Every probe goes through the bystander: a client never waits on the frozen follower.
    const probe = new KafkaAdmin({ mode: k.mode, brokers: k.brokerEndpoints([BYSTANDER]) });
    try {
      await lab.step(
        `${p.before} messages with acks=all while both replicas are in sync`,
        `A baseline: acks=all, so each of these is on ${LEADER} and ${FOLLOWER} before it is acknowledged. They ` +
          'must survive everything that follows, in both variants; and they prove the acks=all variant is not ' +
          'refusing everything from the start.',
        async () => {
          const prod = await KafkaProducer.connect(k.brokerEndpoints([LEADER]), lab.history, {
            name: 'before',
            acks: 'all',
            retries: 2,
          });
          try {
            for (let i = 0; i < p.before; i++) await prod.send(TOPIC, { partition: 0 });
          } finally {
            await prod.disconnect();
          }
          lab.say(`${prod.acknowledged} of ${p.before} acknowledged by both replicas`);
        },
      );
      await lab.step(
        `Freeze ${FOLLOWER} until it leaves the ISR`,
        `docker pause: ${FOLLOWER}'s processes stop, its sockets stay open, it simply goes silent. The leader drops ` +
          'a follower from the ISR when it has not caught up for replica.lag.time.max.ms (10 s here, 30 s in ' +
          'production); the controller also notices the silent broker after its session timeout (6 s here; ' +
          (k.mode === 'kraft'
            ? 'broker.session.timeout.ms, production 9 s'
            : 'zookeeper.session.timeout.ms, production 18 s') +
          `). Whichever comes first removes it. The lab polls until the ISR is ${LEADER} alone, for at most ` +
          `${p.isrTimeoutMs / 1000} s.`,
        async () => {
          await lab.faults.pause(FOLLOWER);
          const paused = Date.now();
          const part =
            (await lab.until(
              `${FOLLOWER} to leave the ISR of ${TOPIC}-0`,
              async () => {
                const x = await probe.partition(TOPIC, 0);
                return x.leader === LEADER && sameSet(x.isr, [LEADER])
                  ? { done: true, value: x }
                  : { done: false, seen: partText(x) };
              },
              { timeoutMs: p.isrTimeoutMs, intervalMs: 250 },
            )) ?? (await probe.partition(TOPIC, 0));
          const ms = Date.now() - paused;
          lab.observe('isrAloneMs', ms);
          lab.observe('isrAlone', part.isr, `${partText(part)} (${(ms / 1000).toFixed(1)} s after the pause)`);
        },
        [describeTopicCommand(k, TOPIC, BYSTANDER)],
      );
      await lab.step(
        `${p.messages} messages with acks=${acks === 'all' ? 'all' : '1'} to the lone leader`,
        acks === 1
          ? `acks=1: ${LEADER} appends each message and answers at once. The frozen follower has none of them, and ` +
              'cannot get them: it is not running. Every one of these is acknowledged, and held by one copy only.'
          : `acks=all with min.insync.replicas=2: the ISR is ${LEADER} alone, 1 < 2, so the leader refuses each write ` +
              'before appending it (NOT_ENOUGH_REPLICAS). The producer is told; nothing is acknowledged that only ' +
              'one copy holds. The leader applies the ISR shrink a moment after the controller publishes it (seen: ' +
              'the first write after the shrink appended, waiting for the frozen follower, its outcome unknown), ' +
              'so the lab first sends probe writes (process "canary", judged by no check) until the leader itself ' +
              'refuses one.',
        async () => {
          if (acks === 'all') await leaderRefuses(lab, p.isrTimeoutMs);
          const prod = await KafkaProducer.connect(k.brokerEndpoints([LEADER]), lab.history, {
            name: 'alone',
            acks,
            // A retry or two: a request kafkajs happens to route through the frozen broker times out (unknown),
            // the next attempt goes to the leader. A refusal is refused again, and stays a refusal.
            retries: 2,
            deliveryTimeoutMs: 6000,
          });
          const errors = new Set<string>();
          try {
            for (let i = 0; i < p.messages; i++) {
              const r = await prod.send(TOPIC, { partition: 0 });
              if (!r.ok && r.error) errors.add(r.error.split(':')[0] ?? r.error);
            }
          } finally {
            await prod.disconnect();
          }
          const end = await logEnd(probe);
          if (end !== undefined) lab.observe('leaderLogEnd', end, `${LEADER}'s log now ends at offset ${end}`);
          lab.say(
            `${prod.acknowledged} of ${p.messages} acknowledged${errors.size ? `; refused with ${[...errors].join(', ')}` : ''}`,
          );
        },
      );
      await lab.step(
        `Kill the leader ${LEADER}, then unfreeze ${FOLLOWER}`,
        `${LEADER} dies (SIGKILL) holding the only copy of every message written since ${FOLLOWER} froze. Only then ` +
          `is ${FOLLOWER} unfrozen: it has nobody to copy them from. Its log ends where it froze.`,
        async () => {
          await lab.faults.kill(LEADER);
          await lab.faults.resume(FOLLOWER);
        },
        { key: 'kill-leader' },
      );
      await lab.step(
        `Unclean election: ${FOLLOWER} becomes leader`,
        `${FOLLOWER} is not in the ISR (${LEADER} alone is). A clean election picks only from the ISR, so it ` +
          `would leave the partition offline until ${LEADER} returns. ` +
          (p.election === 'config'
            ? `With unclean.leader.election.enable=true on the topic the controller elects ${FOLLOWER} anyway, ` +
              `once it notices ${LEADER} is gone (its session timeout, 6 s here, then the new leader reaches the ` +
              `metadata ${BYSTANDER} serves: seen 4.8..8.7 s). The lab still runs the ` +
              "operator's command, kafka-leader-election.sh --election-type unclean, which then answers that a " +
              'valid leader is already elected. (KRaft honours the topic config only since 3.9, and a partition ' +
              'that is already leaderless when it is turned on waits for the next unclean.leader.election.interval.ms, ' +
              '5 minutes by default: the command acts at once.)'
            : `Here unclean.leader.election.enable is false (the default): the lab waits until the controller has ` +
              `noticed ${LEADER} is gone and left the partition without a leader, then the operator forces the ` +
              'election with kafka-leader-election.sh --election-type unclean (the ElectLeaders API), in both modes.') +
          (p.variant === 'acks1'
            ? " Either way the new leader's log is shorter than the old one's: the acknowledged tail is gone."
            : ' The new leader has every acknowledged message: each was acknowledged only once both replicas had it.'),
        async (): Promise<Election> => {
          const killedAt = Date.now();
          // The controller notices the dead leader: a new leader (config) or none (tool).
          const seen = (await lab.until(
            `the controller to notice ${LEADER} is gone`,
            async () => {
              const x = await leaderState(probe);
              return x.leader !== LEADER ? { done: true, value: x } : { done: false, seen: `leader ${x.leader}` };
            },
            { timeoutMs: p.electionTimeoutMs, intervalMs: 250 },
          )) ?? { leader: LEADER, isr: [] };
          const after = ((Date.now() - killedAt) / 1000).toFixed(1);
          lab.observe(
            'afterKill',
            seen,
            seen.leader === LEADER
              ? `${after} s after the kill the partition still names ${LEADER} its leader`
              : seen.leader
                ? `${after} s after the kill the controller has elected ${seen.leader} by itself`
                : `${after} s after the kill ${TOPIC}-0 has no leader (offline: LEADER_NOT_AVAILABLE)`,
          );
          const outputs: string[] = [];
          let lastTool = 0;
          const elect = async () => {
            lastTool = Date.now();
            const r = await k.tool(BYSTANDER, ...ELECT_ARGS);
            const text =
              `${r.stdout}\n${r.stderr}`
                .split('\n')
                .map((l) => l.trim())
                .filter((l) => /elect/i.test(l))
                .join(' ') || `exit ${r.exitCode}: ${(r.stderr || r.stdout).trim().slice(0, 200)}`;
            outputs.push(text);
            lab.say(`kafka-leader-election.sh --election-type unclean: ${text}`);
          };
          await elect();
          const leader = await lab.until(
            `${FOLLOWER} to lead ${TOPIC}-0`,
            async () => {
              const x = await leaderState(probe);
              if (x.leader === FOLLOWER) return { done: true, value: x.leader };
              // Still leaderless (the follower may not be registered again yet): the command once more.
              if (!x.leader && Date.now() - lastTool > 5000) await elect();
              return { done: false, seen: `leader ${x.leader ?? 'none'}` };
            },
            { timeoutMs: p.electionTimeoutMs, intervalMs: 250 },
          );
          const electedBy: Election['electedBy'] = outputs.some((o) => SUCCESS.test(o))
            ? 'kafka-leader-election.sh'
            : 'controller';
          const part = await probe.partition(TOPIC, 0).catch(() => undefined);
          lab.observe('newLeader', leader, `new leader: ${leader ?? 'none'}${part ? ` (${partText(part)})` : ''}`);
          const result: Election = { outputs, electedBy, offlineSeen: !seen.leader };
          lab.observe('election', result, `elected by ${electedBy}`);
          const end = await logEnd(probe);
          if (end !== undefined) lab.observe('newLeaderLogEnd', end, `${FOLLOWER}'s log ends at offset ${end}`);
          return result;
        },
        [k.toolCommand(BYSTANDER, ...ELECT_ARGS), describeTopicCommand(k, TOPIC, BYSTANDER)],
      );
      lab.say(
        `${LEADER} is started again in the heal phase: it rejoins as a follower of ${FOLLOWER} and truncates its own ` +
          "log to the new leader's: the only copy of the lost messages is deleted.",
      );
    } finally {
      await probe.close();
    }
  },
  async final(lab) {
    const k = lab.stack;
    const n = await readAll(k.bootstrap, k.admin, lab.history, TOPIC);
    lab.observe('finalRead', n, `final read: ${n} messages in ${TOPIC}`);
  },
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
        const alone = completions(ev.ops, 'send').filter((o) => o.process === 'alone');
        if (!alone.length) return undefined;
        if (alone.every((o) => o.type !== 'ok')) return 2;
        const d = delivery(project(ev.ops, 'alone'), { receive: 'read-all' });
        return d.lost.length > 0 ? 1 : 0;
      },
    },
  ],
  check(ev, p) {
    const checks: Check[] = [];
    const seen = observed<Seen>(ev);
    // Without the final read nothing can be said about what survived.
    if (seen.finalRead === undefined)
      return [
        {
          name: 'the final read ran',
          ok: 'unknown',
          expected: 'a read of the whole topic after healing',
          observed: 'no final read',
        },
      ];
    const isr = seen.isrAlone;
    const newLeader = seen.newLeader;
    const election = seen.election;
    const before = completions(ev.ops, 'send').filter((o) => o.process === 'before');
    const alone = completions(ev.ops, 'send').filter((o) => o.process === 'alone');
    const aloneOk = alone.filter((o) => o.type === 'ok');
    checks.push(
      check(
        'acks=all writes were acknowledged while both replicas were in sync',
        before.length > 0 && before.every((o) => o.type === 'ok'),
        `${p.before} of ${p.before} acknowledged`,
        `${before.filter((o) => o.type === 'ok').length} of ${before.length} acknowledged`,
      ),
      check(
        `the frozen follower left the ISR (ISR = ${LEADER} alone)`,
        sameSet(isr ?? [], [LEADER]),
        `ISR ${LEADER}`,
        `ISR ${isr?.join(',') ?? 'never observed'}${
          seen.isrAloneMs !== undefined ? ` ${(seen.isrAloneMs / 1000).toFixed(1)} s after the pause` : ''
        }`,
      ),
      check(
        `unclean election: ${FOLLOWER}, outside the ISR, became leader`,
        newLeader === FOLLOWER && sameSet(isr ?? [], [LEADER]),
        `leader ${FOLLOWER} (not in the ISR ${LEADER})`,
        `leader ${newLeader ?? 'none'}${election ? `, elected by ${election.electedBy}` : ''}`,
        { election },
      ),
    );
    if (p.election === 'tool') {
      checks.push(
        check(
          'with unclean election off, the partition went offline until kafka-leader-election.sh forced it',
          !!election?.offlineSeen && election.electedBy === 'kafka-leader-election.sh',
          'no leader after the kill; elected by kafka-leader-election.sh --election-type unclean',
          election
            ? `${election.offlineSeen ? 'offline after the kill' : 'never seen offline'}; elected by ${election.electedBy}`
            : 'no election observed',
          { outputs: election?.outputs },
        ),
      );
    }
    if (p.variant === 'acks1') {
      const lost = delivery(project(ev.ops, 'alone'), { receive: 'read-all' });
      checks.push(
        check(
          `acks=1: the lone leader acknowledged all ${p.messages} writes`,
          aloneOk.length === p.messages,
          `${p.messages} acknowledged`,
          `${aloneOk.length} of ${alone.length} acknowledged`,
        ),
        ...deliveryChecks(lost, { loss: 'expected', duplicates: 'allowed' }, 'acks=1 messages'),
        check(
          'exactly the messages written while the leader was alone are lost',
          lost.acknowledged > 0 && lost.lost.length === lost.acknowledged,
          `all ${lost.acknowledged} acknowledged acks=1 messages missing from the final read`,
          `${lost.lost.length} of ${lost.acknowledged} missing${lost.lost.length ? `: ${sample(lost.lost, 8)}` : ''}`,
          { lost: lost.lost },
        ),
        ...deliveryChecks(
          delivery(project(ev.ops, 'before'), { receive: 'read-all' }),
          { loss: 'forbidden', duplicates: 'allowed' },
          'acks=all messages from before the freeze',
        ),
      );
    } else {
      const types = [...new Set(alone.map(errorType).filter((t): t is string => !!t))];
      const before = alone.filter((o) => o.type === 'fail' && errorType(o) === 'NOT_ENOUGH_REPLICAS').length;
      const unknown = alone.filter((o) => o.type === 'info').length;
      checks.push(
        check(
          'acks=all with min.insync.replicas=2: every write to the lone leader refused before the append (NOT_ENOUGH_REPLICAS)',
          alone.length > 0 && before === alone.length,
          `${p.messages} refused with NOT_ENOUGH_REPLICAS; none acknowledged, none after the append, none unknown`,
          `${aloneOk.length} acknowledged, ${before} refused before the append, ${unknown} unknown, ` +
            `${alone.length - aloneOk.length - before - unknown} other refusals (${types.join(', ') || 'no error'})` +
            (seen.leaderRefuses
              ? `; before them, ${seen.leaderRefuses.probes.length} probe write(s) over ${seen.leaderRefuses.ms} ms: ` +
                seen.leaderRefuses.probes.join('; ')
              : ''),
        ),
        ...deliveryChecks(
          delivery(
            ev.ops.filter(
              (o) => o.f !== 'send' || o.process === 'before' || o.process === 'alone' || o.process === CANARY,
            ),
            { receive: 'read-all' },
          ),
          { loss: 'forbidden', duplicates: 'allowed' },
          'acks=all messages',
        ),
      );
    }
    return checks;
  },
});

/**
 * Sends acks=all probe writes until the leader itself refuses one with NOT_ENOUGH_REPLICAS,
 * and observes how long that took and what the probes met on the way.
 */
async function leaderRefuses(lab: LabContext<StartedKafka, unknown>, timeoutMs: number): Promise<void> {
  const canary = await KafkaProducer.connect(lab.stack.brokerEndpoints([LEADER]), lab.history, {
    name: CANARY,
    acks: 'all',
    retries: 0,
    deliveryTimeoutMs: 6000,
  });
  try {
    const c = await untilLeaderRefuses(lab, canary, LEADER, TOPIC, timeoutMs);
    lab.observe(
      'leaderRefuses',
      c,
      c.refused
        ? `${LEADER} refuses acks=all itself after ${c.probes.length} probe write(s), ${c.ms} ms (${c.probes.join('; ')})`
        : `${LEADER} never refused a probe write within ${timeoutMs} ms (${c.probes.join('; ')})`,
    );
  } finally {
    await canary.disconnect();
  }
}

/** The partition's leader as the bystander sees it; none while it is leaderless. */
async function leaderState(probe: KafkaAdmin): Promise<{ leader: string | undefined; isr: string[] }> {
  try {
    const x = await probe.partition(TOPIC, 0);
    return { leader: x.leader, isr: x.isr };
  } catch (err) {
    // kafkajs refuses a metadata answer with a partition error: LEADER_NOT_AVAILABLE = no leader.
    if (kafkaErrorType(err) === 'LEADER_NOT_AVAILABLE') return { leader: undefined, isr: [] };
    throw err;
  }
}

/**
 * The partition's log-end offset, for the story only (a request kafkajs happens to send to
 * the frozen broker waits out its timeout, so this may come back empty).
 */
async function logEnd(probe: KafkaAdmin): Promise<number | undefined> {
  for (let i = 0; i < 2; i++) {
    const ends = await probe.endOffsets(TOPIC).catch(() => undefined);
    if (ends?.[0] !== undefined) return ends[0];
  }
  return undefined;
}

/** One producer's sends and the final read cut down to its ids. */
function project(ops: Op[], producer: string): Op[] {
  return ops.filter(
    (o) =>
      (o.f === 'send' && o.process === producer) ||
      (o.f === 'read-all' && o.type === 'ok' && (idsOf(o.value)[0] ?? '').startsWith(`${producer}-`)),
  );
}

function configText(cfg: Record<string, string>): string {
  return ['unclean.leader.election.enable', 'min.insync.replicas'].map((k) => `${k}=${cfg[k] ?? '?'}`).join(', ');
}

function configsCommand(k: StartedKafka): string {
  return k.toolCommand('kafka1', 'kafka-configs.sh', '--describe', '--entity-type', 'topics', '--entity-name', TOPIC);
}

function pick(cfg: Record<string, string>): Record<string, string | undefined> {
  return {
    'unclean.leader.election.enable': cfg['unclean.leader.election.enable'],
    'min.insync.replicas': cfg['min.insync.replicas'],
  };
}
