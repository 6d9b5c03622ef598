import { describe, expect, it } from 'vitest';
import acksMinIsr from '../../scenarios/kafka/acks-min-isr.ts';
import acks1DataLoss from '../../scenarios/kafka/acks1-data-loss.ts';
import duplicateConsumption from '../../scenarios/kafka/duplicate-consumption.ts';
import lagDetection from '../../scenarios/kafka/lag-detection.ts';
import type { Check } from '../../src/checkers/check.ts';
import type { AnyLab } from '../../src/engine/lab.ts';
import { checksOf, expectVerdict, Story } from '../helpers/evidence.ts';

type Params = Record<string, string | number | boolean>;

/** The check whose name starts with `prefix` (names carry observed figures such as the ISR). */
function expectStarting(checks: Check[], prefix: string, ok: Check['ok']): void {
  const c = checks.find((x) => x.name.startsWith(prefix));
  expect(c, `no check starting "${prefix}" among: ${checks.map((x) => x.name).join('; ')}`).toBeDefined();
  expect(c?.ok, `${c?.name}: ${c?.observed} (expected ${c?.expected})`).toBe(ok);
}

/** Only `name` is false (or unknown): the fixture breaks exactly the check it aims at. */
function onlyFalse(lab: AnyLab, story: Story, prefix: string, params: Params = {}, ok: Check['ok'] = false): void {
  const checks = checksOf(lab, story.evidence(), params);
  expectStarting(checks, prefix, ok);
  const others = checks.filter((c) => !c.name.startsWith(prefix) && c.ok !== true);
  expect(others.map((c) => `${c.name}: ${c.observed}`)).toEqual([]);
}

const sendValue = (producer: string, seq: number, acks: string | number, more: object = {}) => ({
  id: `${producer}-${seq}`,
  producer,
  seq,
  topic: 'acks',
  acks,
  partition: 0,
  ...more,
});

// ---------------------------------------------------------------------------------------

interface AcksMinIsrPlan {
  /** What the acks=all sends meet with two followers down. */
  twoDown?: 'refused' | 'after-append' | 'unknown' | 'ok';
  isrOneDown?: string[];
  isrTwoDown?: string[];
  /** acks=all refused after the followers are back. */
  backRefused?: boolean;
  /** An acknowledged acks=all message missing from the final read. */
  loseAcksAll?: boolean;
  /** An acks=1 refusal with the ISR at the leader alone. */
  acks1Refused?: boolean;
  skipPhase?: string;
}

/** A run as recorded: four phases of five sends per producer, then the final read. */
function acksMinIsrStory(plan: AcksMinIsrPlan = {}): Story {
  const s = new Story().observe('mode', 'kraft');
  const seqs: Record<string, number> = { acks0: 0, acks1: 0, acksall: 0 };
  const kept: string[] = [];
  const isrs: Record<string, string[]> = {
    'all-up': ['kafka1', 'kafka2', 'kafka4'],
    'one-down': plan.isrOneDown ?? ['kafka1', 'kafka2'],
    'two-down': plan.isrTwoDown ?? ['kafka1'],
    back: ['kafka1', 'kafka2'],
  };
  let t = 1000;
  for (const phase of ['all-up', 'one-down', 'two-down', 'back']) {
    if (phase === 'one-down') s.at(t).fault('stop', ['kafka4']);
    if (phase === 'two-down') s.at(t + 1).fault('stop', ['kafka2']);
    t += 5000;
    if (phase === plan.skipPhase) continue;
    const start = t;
    s.at(t);
    for (let i = 0; i < 5; i++) {
      for (const [name, acks] of [
        ['acks0', 0],
        ['acks1', 1],
        ['acksall', 'all'],
      ] as const) {
        const seq = (seqs[name] ?? 0) + 1;
        seqs[name] = seq;
        const v = sendValue(name, seq, acks, { offset: seq });
        const id = v.id;
        if (name === 'acksall' && phase === 'two-down') {
          const how = plan.twoDown ?? 'refused';
          if (how === 'refused')
            s.op(name, 'send', 'fail', v, {
              error: 'NOT_ENOUGH_REPLICAS: Messages are rejected since there are fewer in-sync replicas than required',
            });
          else if (how === 'after-append')
            s.op(name, 'send', 'fail', v, {
              error: 'NOT_ENOUGH_REPLICAS_AFTER_APPEND: written to the log but not enough replicas',
            });
          else if (how === 'unknown') s.op(name, 'send', 'info', v, { error: 'REQUEST_TIMED_OUT: timed out' });
          else {
            s.op(name, 'send', 'ok', v);
            kept.push(id);
          }
        } else if (name === 'acksall' && phase === 'back' && plan.backRefused && i === 0) {
          s.op(name, 'send', 'fail', v, { error: 'NOT_ENOUGH_REPLICAS: fewer in-sync replicas than required' });
        } else if (name === 'acks1' && phase === 'two-down' && plan.acks1Refused && i === 0) {
          s.op(name, 'send', 'fail', v, { error: 'NOT_LEADER_OR_FOLLOWER: not the leader' });
        } else {
          s.op(name, 'send', 'ok', v);
          kept.push(id);
        }
      }
    }
    s.observe('phase', { phase, start, end: t + 30, isr: isrs[phase], leader: 'kafka1' });
    t += 100;
  }
  s.at(t + 5000).observe('canary', { accepted: true, refusals: 0, ms: 12 });
  const lost = plan.loseAcksAll ? 'acksall-2' : undefined;
  s.at(t + 20_000);
  for (const id of kept) if (id !== lost) s.op('final-reader', 'read-all', 'ok', { id, partition: 0 });
  return s;
}

describe('kafka/acks-min-isr', () => {
  const lab = acksMinIsr;
  it('passes on a run as recorded: refused with NOT_ENOUGH_REPLICAS at ISR = leader alone', () => {
    expectVerdict(lab, acksMinIsrStory().evidence(), 'pass');
  });
  it('fails when acks=all is refused only after the append (NOT_ENOUGH_REPLICAS_AFTER_APPEND)', () => {
    onlyFalse(lab, acksMinIsrStory({ twoDown: 'after-append' }), 'two followers down (ISR');
  });
  it('fails when the acks=all outcome with two followers down is unknown (a time-out is not a refusal)', () => {
    onlyFalse(lab, acksMinIsrStory({ twoDown: 'unknown' }), 'two followers down (ISR');
  });
  it('fails when acks=all is accepted with the leader alone in the ISR', () => {
    onlyFalse(lab, acksMinIsrStory({ twoDown: 'ok' }), 'two followers down (ISR');
  });
  it('fails when the ISR did not shrink to the leader alone', () => {
    onlyFalse(lab, acksMinIsrStory({ isrTwoDown: ['kafka1', 'kafka2'] }), 'two followers down (ISR');
  });
  it('fails when the ISR with one follower down is not the leader and the other follower', () => {
    onlyFalse(lab, acksMinIsrStory({ isrOneDown: ['kafka1', 'kafka2', 'kafka4'] }), 'one follower down');
  });
  it('fails when acks=1 is refused with the leader alone', () => {
    onlyFalse(lab, acksMinIsrStory({ acks1Refused: true }), 'two followers down: acks=1 still succeeds');
  });
  it('fails when acks=all is still refused once the followers are back', () => {
    onlyFalse(lab, acksMinIsrStory({ backRefused: true }), 'followers back');
  });
  it('fails when an acknowledged acks=all message is missing from the final read', () => {
    onlyFalse(lab, acksMinIsrStory({ loseAcksAll: true }), 'acks=all: no acknowledged messages lost');
  });
  it('fails when every send fails with all three up', () => {
    const ev = acksMinIsrStory().evidence();
    const firstEnd = ev.observations.find((o) => o.name === 'phase')?.value as { end: number };
    ev.ops = ev.ops.map((o) =>
      o.f === 'send' && o.process === 'acks1' && o.type === 'ok' && o.time <= firstEnd.end
        ? { ...o, type: 'fail', error: 'NOT_LEADER_OR_FOLLOWER: x' }
        : o,
    );
    expectStarting(checksOf(lab, ev), 'all three up', false);
  });
  it('is unknown when a phase never ran', () => {
    expectVerdict(lab, acksMinIsrStory({ skipPhase: 'two-down' }).evidence(), 'unknown');
  });
});

// ---------------------------------------------------------------------------------------

interface LossPlan {
  variant?: 'acks1' | 'acksall';
  election?: 'config' | 'tool';
  isrAlone?: string[];
  newLeader?: string;
  /** acks=1 messages that survive (none should). */
  survivors?: number;
  /** acks=all messages written before the freeze that are missing. */
  loseBefore?: number;
  /** How the acks=all writes to the lone leader end. */
  aloneOutcome?: 'refused' | 'after-append' | 'unknown' | 'ok';
  offlineSeen?: boolean;
  electedBy?: 'kafka-leader-election.sh' | 'controller';
  noFinalRead?: boolean;
  /** acks=1 sends refused although the leader was up. */
  aloneRefused?: number;
}

/** A run as recorded: 10 acks=all writes in sync, 20 to the lone leader, kill, election, final read. */
function lossStory(plan: LossPlan = {}): Story {
  const variant = plan.variant ?? 'acks1';
  const s = new Story().observe('mode', 'kraft').observe('variant', variant);
  s.observe('partitionBefore', {
    topic: 'loss',
    partition: 0,
    leader: 'kafka1',
    replicas: ['kafka1', 'kafka2'],
    isr: ['kafka1', 'kafka2'],
    offline: [],
  });
  s.at(2000);
  const kept: string[] = [];
  for (let i = 1; i <= 10; i++) {
    s.op('before', 'send', 'ok', {
      id: `before-${i}`,
      producer: 'before',
      seq: i,
      topic: 'loss',
      acks: 'all',
      offset: i - 1,
    });
    if (i > (plan.loseBefore ?? 0)) kept.push(`before-${i}`);
  }
  s.at(3000).fault('pause', ['kafka2'], 20_000);
  s.at(14_000)
    .observe('isrAloneMs', 11_000)
    .observe('isrAlone', plan.isrAlone ?? ['kafka1']);
  for (let i = 1; i <= 20; i++) {
    const v = { id: `alone-${i}`, producer: 'alone', seq: i, topic: 'loss', acks: variant === 'acks1' ? 1 : 'all' };
    if (variant === 'acks1') {
      if (i <= (plan.aloneRefused ?? 0)) s.op('alone', 'send', 'fail', v, { error: 'NOT_LEADER_OR_FOLLOWER: x' });
      else {
        s.op('alone', 'send', 'ok', { ...v, offset: 9 + i });
        if (i <= (plan.survivors ?? 0)) kept.push(v.id);
      }
    } else {
      const how = plan.aloneOutcome ?? 'refused';
      if (how === 'refused') s.op('alone', 'send', 'fail', v, { error: 'NOT_ENOUGH_REPLICAS: fewer in-sync replicas' });
      else if (how === 'after-append')
        s.op('alone', 'send', 'fail', v, { error: 'NOT_ENOUGH_REPLICAS_AFTER_APPEND: appended, not replicated' });
      else if (how === 'unknown') s.op('alone', 'send', 'info', v, { error: 'REQUEST_TIMED_OUT: timed out' });
      else {
        s.op('alone', 'send', 'ok', { ...v, offset: 9 + i });
        kept.push(v.id);
      }
    }
  }
  s.at(16_000).fault('kill', ['kafka1']);
  const tool = plan.election === 'tool';
  s.at(23_000).observe('afterKill', { leader: tool ? undefined : 'kafka2', isr: tool ? [] : ['kafka2'] });
  s.at(26_000).observe('newLeader', plan.newLeader ?? 'kafka2');
  s.observe('election', {
    outputs: [
      tool
        ? 'Successfully completed leader election (UNCLEAN) for partitions loss-0'
        : 'Valid replica already elected for partitions loss-0',
    ],
    electedBy: plan.electedBy ?? (tool ? 'kafka-leader-election.sh' : 'controller'),
    offlineSeen: plan.offlineSeen ?? tool,
  });
  if (!plan.noFinalRead) {
    s.at(40_000);
    for (const id of kept) s.op('final-reader', 'read-all', 'ok', { id, partition: 0 });
    s.observe('finalRead', kept.length);
  }
  return s;
}

describe('kafka/acks1-data-loss', () => {
  const lab = acks1DataLoss;
  const acksall = { variant: 'acksall' };
  const tool = { election: 'tool' };
  it('passes: every acks=1 write to the lone leader is lost, the acks=all baseline survives', () => {
    expectVerdict(lab, lossStory().evidence(), 'pass');
  });
  it('passes the acksall variant: every write refused with NOT_ENOUGH_REPLICAS, nothing lost', () => {
    expectVerdict(lab, lossStory({ variant: 'acksall' }).evidence(), 'pass', acksall);
  });
  it('passes the tool election: offline, then forced by kafka-leader-election.sh', () => {
    expectVerdict(lab, lossStory({ election: 'tool' }).evidence(), 'pass', tool);
  });
  it('fails when some acks=1 writes survive (not exactly the lone leader’s writes lost)', () => {
    onlyFalse(lab, lossStory({ survivors: 3 }), 'exactly the messages written while the leader was alone are lost');
  });
  it('fails when nothing is lost', () => {
    const checks = checksOf(lab, lossStory({ survivors: 20 }).evidence());
    expectStarting(checks, 'acknowledged acks=1 messages are lost', false);
    expectStarting(checks, 'exactly the messages written', false);
  });
  it('fails when an acks=all message from before the freeze is lost', () => {
    onlyFalse(lab, lossStory({ loseBefore: 2 }), 'no acknowledged acks=all messages from before the freeze lost');
  });
  it('fails when the follower never left the ISR (the lab ran on anyway)', () => {
    const checks = checksOf(lab, lossStory({ isrAlone: ['kafka1', 'kafka2'] }).evidence());
    expectStarting(checks, 'the frozen follower left the ISR', false);
    expectStarting(checks, 'unclean election', false);
  });
  it('fails when the follower never became leader', () => {
    onlyFalse(lab, lossStory({ newLeader: 'kafka3' }), 'unclean election');
  });
  it('fails when the lone leader refused acks=1 writes', () => {
    onlyFalse(lab, lossStory({ aloneRefused: 2 }), 'acks=1: the lone leader acknowledged all');
  });
  it('fails the acksall variant on a refusal after the append', () => {
    onlyFalse(
      lab,
      lossStory({ variant: 'acksall', aloneOutcome: 'after-append' }),
      'acks=all with min.insync.replicas=2',
      acksall,
    );
  });
  it('fails the acksall variant on unknown outcomes', () => {
    onlyFalse(
      lab,
      lossStory({ variant: 'acksall', aloneOutcome: 'unknown' }),
      'acks=all with min.insync.replicas=2',
      acksall,
    );
  });
  it('fails the acksall variant when the lone leader acknowledges (and then loses) acks=all writes', () => {
    const ev = lossStory({ variant: 'acksall', aloneOutcome: 'ok' }).evidence();
    ev.ops = ev.ops.filter((o) => !(o.f === 'read-all' && String((o.value as { id: string }).id).startsWith('alone-')));
    const checks = checksOf(lab, ev, acksall);
    expectStarting(checks, 'acks=all with min.insync.replicas=2', false);
    expectStarting(checks, 'no acknowledged acks=all messages lost', false);
  });
  it('fails the tool election when the controller elected by itself (never offline)', () => {
    onlyFalse(
      lab,
      lossStory({ election: 'tool', offlineSeen: false, electedBy: 'controller' }),
      'with unclean election off',
      tool,
    );
  });
  it('is unknown without a final read', () => {
    expectVerdict(lab, lossStory({ noFinalRead: true }).evidence(), 'unknown');
  });
});

// ---------------------------------------------------------------------------------------

interface LagPlan {
  /** Lag samples during the stall. */
  stall?: number[];
  /** Lag samples after the group returned, while the producer still runs. */
  resumed?: number[];
  /** Milliseconds from the producer's stop to the sample of 0 (undefined: never 0). */
  drainAfterMs?: number | undefined;
  steady?: number;
  alert?: boolean;
  commits?: boolean;
  producedInStall?: boolean;
}

const lagSample = (total: number, seconds = total / 15) => ({
  total,
  partitions: {
    '0': Math.ceil(total / 3),
    '1': Math.floor(total / 3),
    '2': total - Math.ceil(total / 3) - Math.floor(total / 3),
  },
  seconds,
});

/** A run as recorded: warm-up, a stall of ~9 s (15 messages/s), the group back, the producer stopped, drained. */
function lagStory(plan: LagPlan = {}): Story {
  const s = new Story()
    .observe('mode', 'kraft')
    .observe('threshold', 100)
    .observe('committedBefore', { 0: -1, 1: -1, 2: -1 });
  let seq = 0;
  const send = (t: number) => {
    seq++;
    s.at(t).op('producer', 'send', 'ok', {
      id: `producer-${seq}`,
      producer: 'producer',
      seq,
      topic: 'orders',
      partition: seq % 3,
      offset: seq,
    });
    s.op('consumer', 'receive', 'ok', { id: `producer-${seq}`, topic: 'orders', partition: seq % 3, offset: seq });
  };
  // Warm-up: lag small, commits every second.
  for (let t = 1000; t <= 6000; t += 1000) {
    send(t);
    if (plan.commits !== false)
      s.at(t + 10).op('consumer', 'commit', 'ok', { group: 'billing', offsets: { 'orders-0': seq } });
    s.at(t + 20).observe('lag', lagSample(plan.steady ?? 3, 0.2));
  }
  s.at(6500).observe('steadyLag', plan.steady ?? 3);
  const start = 7000;
  const stall = plan.stall ?? [14, 29, 44, 59, 74, 89, 104, 118, 133];
  stall.forEach((n, i) => {
    const t = start + 1000 * (i + 1);
    if (plan.producedInStall !== false)
      s.at(t - 500).op('producer', 'send', 'ok', {
        id: `stall-${i}`,
        producer: 'producer',
        seq: 1000 + i,
        topic: 'orders',
        partition: 0,
        offset: 1000 + i,
      });
    s.at(t).observe('lag', lagSample(n));
    if (plan.alert !== false && n >= 100 && stall.findIndex((x) => x >= 100) === i)
      s.at(t + 1).observe('alert', { ...lagSample(n), threshold: 100 });
  });
  const end = start + 1000 * stall.length + 200;
  s.at(end).observe('stall', { start, end });
  s.at(end + 300).observe('resumedAt', end + 300);
  // The stall's messages are consumed after the group returns.
  for (let i = 0; i < stall.length; i++)
    s.op('consumer', 'receive', 'ok', { id: `stall-${i}`, topic: 'orders', partition: 0, offset: 1000 + i });
  const resumed = plan.resumed ?? [40, 5];
  let t = end + 1000;
  for (const n of resumed) {
    s.at(t).observe('lag', lagSample(n));
    if (n < 100 && !s.evidence().observations.some((o) => o.name === 'alertCleared') && plan.alert !== false)
      s.observe('alertCleared', lagSample(n));
    t += 1000;
  }
  const stoppedAt = t + 2000;
  s.at(stoppedAt).observe('producerStoppedAt', stoppedAt);
  s.at(stoppedAt + 900).observe('lag', lagSample(3, 0.5));
  if (plan.drainAfterMs !== undefined || !('drainAfterMs' in plan)) {
    const ms = plan.drainAfterMs ?? 1800;
    s.at(stoppedAt + ms)
      .observe('lag', lagSample(0, 0))
      .observe('drainMs', ms);
  }
  return s;
}

describe('kafka/lag-detection', () => {
  const lab = lagDetection;
  it('passes on a run as recorded', () => {
    expectVerdict(lab, lagStory().evidence(), 'pass');
  });
  it('fails when the lag does not grow while the group is away', () => {
    expectStarting(
      checksOf(lab, lagStory({ stall: [110, 110, 110, 110] }).evidence()),
      'lag grows over successive samples',
      false,
    );
  });
  it('fails when the lag never crosses the threshold', () => {
    const checks = checksOf(lab, lagStory({ stall: [10, 20, 30, 40, 50] }).evidence());
    expectStarting(checks, 'lag crosses the alert threshold', false);
  });
  it('fails when the lag crossed the threshold but no alert was raised', () => {
    const checks = checksOf(lab, lagStory({ alert: false }).evidence());
    expectStarting(checks, 'lag crosses the alert threshold', false);
  });
  it('fails when the backlog stays above the threshold until the producer stops', () => {
    onlyFalse(lab, lagStory({ resumed: [130, 120] }), 'the backlog shrinks below the threshold');
  });
  it('fails when the lag drains later than the bound it prints', () => {
    onlyFalse(lab, lagStory({ drainAfterMs: 3200 }), 'after the producer stops the lag drains to 0 within 3000 ms');
  });
  it('fails when the lag never drains', () => {
    onlyFalse(lab, lagStory({ drainAfterMs: undefined }), 'after the producer stops the lag drains to 0');
  });
  it('fails when the group could not keep up before the stall', () => {
    // The warm-up samples above the threshold also move the alert there: two checks go false.
    expectStarting(checksOf(lab, lagStory({ steady: 150 }).evidence()), 'while the group keeps up', false);
  });
  it('passes when the committed position was already old when the group left', () => {
    const ev = lagStory().evidence();
    for (const o of ev.observations)
      if ((o.name === 'lag' || o.name === 'alert') && o.time > 7000) (o.value as { seconds: number }).seconds += 1.5;
    expectVerdict(lab, ev, 'pass');
  });
  it('fails when the lag in seconds does not grow with the time the group has been away', () => {
    const ev = lagStory().evidence();
    for (const o of ev.observations) if (o.name === 'alert') (o.value as { seconds: number }).seconds = 2.5;
    expectStarting(checksOf(lab, ev), 'lag in time:', false);
  });
  it('is unknown when the group never committed', () => {
    expectVerdict(lab, lagStory({ commits: false }).evidence(), 'unknown');
  });
  it('is unknown when nothing was produced while the group was away', () => {
    expectVerdict(lab, lagStory({ producedInStall: false }).evidence(), 'unknown');
  });
});

// ---------------------------------------------------------------------------------------

interface DupPlan {
  variant?: 'auto' | 'manual' | 'idempotent';
  /** Where the restarted consumer starts (default: the committed offset). */
  restartFrom?: number;
  /** The committed offset at the crash. */
  committed?: number;
  lastOffset?: number;
  /** Messages never received by anyone. */
  lose?: number;
  noCommitBeforeCrash?: boolean;
  /** Idempotent: records the sink holds for each payment at the final read. */
  storedPerKey?: number;
  /** Idempotent: deliveries that wrote nothing to the sink. */
  unwritten?: number;
  noCrash?: boolean;
}

const MESSAGES = 100;

/** A run as recorded: 100 payments, a crash between commits, the restart re-reading from the commit. */
function dupStory(plan: DupPlan = {}): Story {
  const variant = plan.variant ?? 'auto';
  const s = new Story().observe('mode', 'kraft').observe('variant', variant).observe('committedBefore', { 0: -1 });
  for (let i = 1; i <= MESSAGES; i++)
    s.at(1000 + i).op('producer', 'send', 'ok', {
      id: `producer-${i}`,
      producer: 'producer',
      seq: i,
      topic: 'payments',
      offset: i - 1,
    });
  if (plan.noCrash) return s;
  const committed = plan.committed ?? (variant === 'manual' ? 30 : 40);
  const lastOffset = plan.lastOffset ?? (variant === 'manual' ? 34 : 59);
  const deliver = (process: string, offset: number) => {
    s.op(process, 'receive', 'ok', {
      id: `producer-${offset + 1}`,
      producer: 'producer',
      seq: offset + 1,
      topic: 'payments',
      partition: 0,
      offset,
      msgKey: undefined,
      key: 'payments-0',
      group: 'ledger',
    });
    if (variant === 'idempotent' && !(process === 'consumer-restarted' && offset < (plan.unwritten ?? 0) + committed))
      s.op('sink', 'send', 'ok', {
        id: `sink-${offset}`,
        producer: 'sink',
        seq: offset,
        topic: 'ledger-rows',
        acks: 'all',
        key: `producer-${offset + 1}`,
        partition: 0,
      });
  };
  s.at(5000);
  for (let o = 0; o <= lastOffset; o++) {
    deliver('consumer', o);
    if (!plan.noCommitBeforeCrash && o + 1 === committed)
      s.op('consumer', 'commit', 'ok', { group: 'ledger', offsets: { 'payments-0': committed } });
  }
  const crashAt = 20_000;
  s.at(crashAt).fault('kill', ['consumer'], 500);
  s.observe('crashAfter', variant === 'manual' ? 5 : 20);
  s.observe('crash', { processed: lastOffset + 1, lastOffset, committed, time: crashAt });
  s.at(21_000);
  const lose = plan.lose ?? 0;
  for (let o = plan.restartFrom ?? committed; o < MESSAGES - lose; o++) deliver('consumer-restarted', o);
  s.observe('caughtUp', lose === 0).observe('redelivered', lastOffset + 1 - committed);
  if (variant === 'idempotent') {
    s.at(40_000).op('sink', 'send', 'ok', {
      id: 'sink-marker',
      producer: 'sink',
      seq: 999,
      topic: 'ledger-rows',
      acks: 'all',
      key: 'end-of-run',
      partition: 0,
    });
    s.observe('sinkPolicy', 'compact').observe('compactedMs', 16_000);
    for (let i = 1; i <= MESSAGES; i++)
      for (let n = 0; n < (plan.storedPerKey ?? 1); n++)
        s.at(60_000).op('sink-reader', 'read-sink', 'ok', {
          id: `sink-${i}`,
          topic: 'ledger-rows',
          partition: 0,
          offset: i,
          msgKey: `producer-${i}`,
        });
    s.op('sink-reader', 'read-sink', 'ok', {
      id: 'sink-marker',
      topic: 'ledger-rows',
      partition: 0,
      offset: 500,
      msgKey: 'end-of-run',
    });
  }
  return s;
}

describe('kafka/duplicate-consumption', () => {
  const lab = duplicateConsumption;
  const manual = { variant: 'manual' };
  const idem = { variant: 'idempotent' };
  it('passes: auto-commit re-reads exactly what was processed since the last commit', () => {
    expectVerdict(lab, dupStory().evidence(), 'pass');
  });
  it('passes the manual variant: duplicates bounded by one batch', () => {
    expectVerdict(lab, dupStory({ variant: 'manual' }).evidence(), 'pass', manual);
  });
  it('passes the idempotent variant: deliveries duplicated, the compacted sink holds each payment once', () => {
    expectVerdict(lab, dupStory({ variant: 'idempotent' }).evidence(), 'pass', idem);
  });
  it('fails when the restarted consumer does not start at the committed offset', () => {
    const checks = checksOf(lab, dupStory({ restartFrom: 45 }).evidence());
    expectStarting(checks, 'the restarted consumer re-reads exactly from the committed offset', false);
    expectStarting(checks, 'duplicates = what was processed since the last commit', false);
  });
  it('fails when nothing was committed before the crash', () => {
    const ev = dupStory({ noCommitBeforeCrash: true }).evidence();
    expectStarting(checksOf(lab, ev), 'the consumer committed before it crashed', false);
  });
  it('fails when the crash left nothing uncommitted (no duplicates)', () => {
    const checks = checksOf(lab, dupStory({ committed: 60, lastOffset: 59 }).evidence());
    expectStarting(checks, 'the consumer committed before it crashed', false);
    expectStarting(checks, 'messages are duplicated', false);
  });
  it('fails when a payment is never processed', () => {
    onlyFalse(lab, dupStory({ lose: 2 }), 'no acknowledged messages lost');
  });
  it('fails the manual variant when more than a batch is read again', () => {
    onlyFalse(
      lab,
      dupStory({ variant: 'manual', committed: 20, lastOffset: 34 }),
      'duplicates bounded by one batch',
      manual,
    );
  });
  it('fails the idempotent variant when the sink holds a payment twice (not compacted)', () => {
    onlyFalse(lab, dupStory({ variant: 'idempotent', storedPerKey: 2 }), 'the sink, read back after the cleaner', idem);
  });
  it('fails the idempotent variant when redeliveries skipped the sink (the store proves nothing)', () => {
    onlyFalse(lab, dupStory({ variant: 'idempotent', unwritten: 5 }), 'every delivery, the duplicates included', idem);
  });
  it('is unknown when the consumer never crashed between two commits', () => {
    expectVerdict(lab, dupStory({ noCrash: true }).evidence(), 'unknown');
  });
});
