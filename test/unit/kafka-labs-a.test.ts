import { describe, expect, it } from 'vitest';
import clusterBasics from '../../scenarios/kafka/cluster-basics.ts';
import { notInSync, partText, sameSet } from '../../scenarios/kafka/commands.ts';
import consumerGroups from '../../scenarios/kafka/consumer-groups.ts';
import controllerFailover from '../../scenarios/kafka/controller-failover.ts';
import leaderFailover from '../../scenarios/kafka/leader-failover.ts';
import ordering from '../../scenarios/kafka/ordering.ts';
import type { Evidence } from '../../src/engine/history.ts';
import type { PartitionState } from '../../stacks/kafka/admin.ts';
import { expectCheck, expectVerdict, Story } from '../helpers/evidence.ts';

/*
 * Fixtures shaped like real runs' history.jsonl and observations.json: a send's value is
 * {id, producer, seq, topic, partition?, offset?}, a receive's adds {partition, key: "<topic>-<p>"}.
 */

const BROKERS = ['kafka1', 'kafka2', 'kafka3'];

function part(
  topic: string,
  partition: number,
  replicas: string[],
  isr = replicas,
  leader = replicas[0],
): PartitionState {
  return { topic, partition, leader, replicas, isr, offline: [] };
}

/** Three partitions, rotated so each broker leads one, every ISR full. */
function rotated(topic: string): PartitionState[] {
  return [0, 1, 2].map((p) =>
    part(
      topic,
      p,
      [0, 1, 2].map((i) => BROKERS[(p + i) % 3] as string),
    ),
  );
}

interface Msg {
  id: string;
  producer: string;
  seq: number;
  topic: string;
  partition: number;
  msgKey?: string;
}

function msg(producer: string, seq: number, topic: string, partition: number, msgKey?: string): Msg {
  return { id: `${producer}-${seq}`, producer, seq, topic, partition, ...(msgKey ? { msgKey } : {}) };
}

function send(s: Story, m: Msg, type: 'ok' | 'fail' | 'info' = 'ok'): Story {
  return s.op(m.producer, 'send', type, { ...m, acks: 'all' });
}

function receive(s: Story, process: string, f: string, m: Msg): Story {
  return s.op(process, f, 'ok', { ...m, key: `${m.topic}-${m.partition}` });
}

/** The evidence with one more receive (of `f`): of a message never sent, or again of `again`. */
function plus(ev: Evidence, f: string, again?: Msg): Evidence {
  const t = (ev.ops.at(-1)?.time ?? 0) + 1;
  const value = again ?? msg('stranger', 1, 'elsewhere', 0);
  const op = { process: 'reader', f, value, time: t };
  return {
    ...ev,
    ops: [
      ...ev.ops,
      { ...op, index: ev.ops.length, type: 'invoke' as const },
      { ...op, index: ev.ops.length + 1, type: 'ok' as const },
    ],
  };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

describe('kafka commands shared by the labs', () => {
  it('sameSet ignores order and notInSync names what is missing', () => {
    expect(sameSet(['a', 'b'], ['b', 'a'])).toBe(true);
    expect(sameSet(['a'], ['a', 'b'])).toBe(false);
    expect(notInSync(rotated('t'), 3, 3)).toEqual([]);
    const short = part('t', 0, BROKERS, ['kafka1', 'kafka2']);
    expect(notInSync([short], 1, 3)).toEqual([partText(short)]);
    expect(notInSync([part('t', 0, BROKERS)], 3, 3)).toEqual(['3 partitions expected, 1 found']);
    expect(notInSync([{ ...part('t', 0, BROKERS), leader: undefined }], 1, 3)).toHaveLength(1);
  });
});

describe('kafka/cluster-basics', () => {
  const TOPIC = 'basics';
  interface Opts {
    mode?: 'kraft' | 'zookeeper';
    registered?: string[];
    voters?: number[];
    partitions?: PartitionState[];
    flag?: { exitCode: number; line: string };
    defaults?: Record<string, string>;
    deleted?: boolean;
    received?: number[];
    extra?: number[];
  }
  function story(o: Opts = {}): Evidence {
    const mode = o.mode ?? 'kraft';
    const s = new Story()
      .at(14_000)
      .observe('mode', mode)
      .observe('liveBefore', BROKERS)
      .observe('registered', o.registered ?? BROKERS)
      .observe('controller', 'kafka1');
    const voters = o.voters ?? [1, 2, 3];
    if (mode === 'kraft') s.observe('quorum', { leader: voters[0], epoch: 1, voters });
    else s.observe('controllerZnode', '{"version":2,"brokerid":1,"timestamp":"1"}');
    s.observe('partitions', o.partitions ?? rotated(TOPIC));
    s.observe('zookeeperFlag', o.flag ?? { exitCode: 1, line: 'zookeeper is not a recognized option' });
    s.observe('brokerDefaults', o.defaults ?? { 'delete.topic.enable': 'true', 'log.retention.bytes': '-1' });
    s.observe('scratchDeleted', o.deleted ?? true);
    for (const i of range(30)) send(s, msg('producer', i, TOPIC, i % 3));
    for (const i of o.received ?? range(30)) receive(s, 'consumer', 'receive', msg('producer', i, TOPIC, i % 3));
    for (const i of o.extra ?? []) receive(s, 'consumer', 'receive', msg('stranger', i, TOPIC, 0));
    return s.evidence();
  }

  it('passes on a healthy cluster in either mode and layout', () => {
    expectVerdict(clusterBasics, story(), 'pass', { mode: 'kraft' });
    expectVerdict(clusterBasics, story({ mode: 'zookeeper' }), 'pass', { mode: 'zookeeper' });
    expectVerdict(clusterBasics, story({ voters: [101, 102, 103] }), 'pass', { mode: 'kraft', layout: 'isolated' });
  });

  it('fails when a broker is missing or the quorum is not what the layout says', () => {
    const zk = expectVerdict(clusterBasics, story({ mode: 'zookeeper', registered: ['kafka1', 'kafka2'] }), 'fail', {
      mode: 'zookeeper',
    });
    expectCheck(zk, '3 brokers in /brokers/ids and a /controller', false);
    const name = 'a metadata quorum of 3 voters with a leader, 3 brokers registered';
    expectCheck(expectVerdict(clusterBasics, story({ voters: [1, 2] }), 'fail', { mode: 'kraft' }), name, false);
    // Combined voters in an isolated run: the controllers are not apart from the brokers.
    const iso = expectVerdict(clusterBasics, story(), 'fail', { mode: 'kraft', layout: 'isolated' });
    expectCheck(iso, name, false);
  });

  it('fails when a replica is out of sync', () => {
    const parts = rotated(TOPIC);
    parts[1] = { ...(parts[1] as PartitionState), isr: ['kafka2', 'kafka3'] };
    const checks = expectVerdict(clusterBasics, story({ partitions: parts }), 'fail', { mode: 'kraft' });
    expectCheck(checks, 'every partition has ISR = replicas (3 of 3)', false);
  });

  it('fails when leadership is not spread over the preferred replicas', () => {
    const parts = rotated(TOPIC).map((x) => ({ ...x, leader: 'kafka1' }));
    const checks = expectVerdict(clusterBasics, story({ partitions: parts }), 'fail', { mode: 'kraft' });
    expectCheck(checks, 'each broker leads one partition', false);
  });

  it('accepts only the tool saying the --zookeeper option is unknown', () => {
    const name = 'kafka-topics.sh --zookeeper is refused (removed in Kafka 3.0)';
    const other = { exitCode: 1, line: 'Error: could not connect to zk1:2181' };
    expectCheck(expectVerdict(clusterBasics, story({ flag: other }), 'fail', { mode: 'kraft' }), name, false);
    const zero = { exitCode: 0, line: 'zookeeper is not a recognized option' };
    expectCheck(expectVerdict(clusterBasics, story({ flag: zero }), 'fail', { mode: 'kraft' }), name, false);
  });

  it("fails when a broker runs with the notes' defaults, or a topic does not delete", () => {
    const name = 'delete.topic.enable defaults to true, log.retention.bytes to -1, and a topic deletes as is';
    const notes = { 'delete.topic.enable': 'false', 'log.retention.bytes': '1073741824' };
    expectCheck(expectVerdict(clusterBasics, story({ defaults: notes }), 'fail', { mode: 'kraft' }), name, false);
    expectCheck(expectVerdict(clusterBasics, story({ defaults: {} }), 'fail', { mode: 'kraft' }), name, false);
    expectCheck(expectVerdict(clusterBasics, story({ deleted: false }), 'fail', { mode: 'kraft' }), name, false);
  });

  it('fails on a lost, duplicated or unexpected message', () => {
    const lost = expectVerdict(clusterBasics, story({ received: range(29) }), 'fail', { mode: 'kraft' });
    expectCheck(lost, 'no acknowledged messages lost', false);
    const dup = expectVerdict(clusterBasics, story({ received: [...range(30), 7] }), 'fail', { mode: 'kraft' });
    expectCheck(dup, 'no messages duplicated', false);
    const odd = expectVerdict(clusterBasics, story({ extra: [1] }), 'fail', { mode: 'kraft' });
    expectCheck(odd, 'no unexpected messages', false);
  });
});

describe('kafka/consumer-groups', () => {
  const TOPIC = 'groups';
  /** Group "two": two-a owns partitions 0 and 1, two-b partition 2; messages go to partition seq % 3. */
  const owner = (p: number) => (p === 2 ? 'two-b' : 'two-a');
  const fourOwner = (p: number) => ['four-a', 'four-b', 'four-c'][p] as string;
  interface Opts {
    twoAssignment?: Record<string, number[]>;
    /** Who receives a p1 message before the leave (default: its partition's owner). */
    twoReceiver?: (m: Msg) => string;
    extraTwo?: number[];
    other?: number;
    consoleCounts?: number[];
    fourAssignment?: Record<string, number[]>;
    afterLeave?: number[];
    p2Received?: number;
  }
  function story(o: Opts = {}): Evidence {
    const p1 = range(90).map((i) => msg('p1', i, TOPIC, i % 3));
    const p3 = range(30).map((i) => msg('p3', i, TOPIC, i % 3));
    const p2 = range(60).map((i) => msg('p2', i, TOPIC, i % 3));
    const twoAssignment = o.twoAssignment ?? { 'two-a': [0, 1], 'two-b': [2] };
    const s = new Story().at(15_000).observe('mode', 'kraft').observe('partitions', rotated(TOPIC));
    s.observe('twoAssignment', twoAssignment);
    for (const m of p1) send(s, m);
    for (const m of p1) receive(s, o.twoReceiver?.(m) ?? owner(m.partition), 'receive:two', m);
    for (const i of o.extraTwo ?? []) receive(s, 'two-a', 'receive:two', p1[i - 1] as Msg);
    const counts = { 'two-a': p1.filter((m) => m.partition !== 2).length, 'two-b': 30 };
    s.observe('twoSplit', { assignment: twoAssignment, counts });
    const other = o.other ?? 90;
    for (const m of p1.slice(0, other)) receive(s, 'other', 'receive:other', m);
    s.observe('otherCount', other).observe('consoleCounts', o.consoleCounts ?? [90, 90]);
    const fourAssignment = o.fourAssignment ?? { 'four-a': [0], 'four-b': [1], 'four-c': [2], 'four-d': [] };
    s.observe('fourStableAt', s.evidence().ops.length);
    for (const m of p3) send(s, m);
    for (const m of p3) receive(s, fourOwner(m.partition), 'receive:four', m);
    for (const m of p3) receive(s, owner(m.partition), 'receive:two', m);
    for (const m of p1) receive(s, fourOwner(m.partition), 'receive:four', m);
    const fourCounts = Object.fromEntries(
      Object.entries(fourAssignment).map(([c, ps]) => [c, p3.filter((m) => ps.includes(m.partition)).length]),
    );
    s.observe('fourSplit', { assignment: fourAssignment, counts: fourCounts });
    s.at(60_000).observe('leaveAt', 60_000);
    s.at(60_200)
      .observe('rebalanceMs', 180)
      .observe('afterLeave', o.afterLeave ?? [0, 1, 2]);
    for (const m of p2) send(s, m);
    for (const m of p2.slice(0, o.p2Received ?? 60)) receive(s, 'two-a', 'receive:two', m);
    return s.evidence();
  }

  it('passes when partitions, not messages, are shared out', () => {
    expectVerdict(consumerGroups, story(), 'pass', { mode: 'kraft' });
    const [q] = consumerGroups.predictions ?? [];
    expect(q?.answer(story())).toBe(1);
  });

  it('fails when group "two" gets a message twice', () => {
    const checks = expectVerdict(consumerGroups, story({ extraTwo: [4] }), 'fail', { mode: 'kraft' });
    expectCheck(checks, 'group "two" gets every message exactly once', false);
  });

  it('fails when a consumer receives from a partition it does not own, or the split is even', () => {
    const name = 'the split follows partitions, not 50/50';
    const stray = story({ twoReceiver: (m) => (m.seq === 3 ? 'two-b' : owner(m.partition)) });
    expectCheck(expectVerdict(consumerGroups, stray, 'fail', { mode: 'kraft' }), name, false);
    const even = story({ twoAssignment: { 'two-a': [0, 1, 2], 'two-b': [] } });
    expectCheck(expectVerdict(consumerGroups, even, 'fail', { mode: 'kraft' }), name, false);
  });

  it('fails when another group does not get everything', () => {
    const checks = expectVerdict(consumerGroups, story({ other: 45 }), 'fail', { mode: 'kraft' });
    expectCheck(checks, 'another group gets every message again', false);
  });

  it('fails when consumers without a group share the messages', () => {
    const checks = expectVerdict(consumerGroups, story({ consoleCounts: [45, 45] }), 'fail', { mode: 'kraft' });
    expectCheck(checks, 'consumers without --group each get everything', false);
  });

  it('fails when no member of group "four" idles', () => {
    const busy = story({ fourAssignment: { 'four-a': [0], 'four-b': [1], 'four-c': [2], 'four-d': [2] } });
    const checks = expectVerdict(consumerGroups, busy, 'fail', { mode: 'kraft' });
    expectCheck(checks, 'a consumer beyond the partition count is idle', false);
  });

  it('fails when the remaining consumer does not take every partition', () => {
    const checks = expectVerdict(consumerGroups, story({ afterLeave: [0, 1] }), 'fail', { mode: 'kraft' });
    expectCheck(checks, 'a consumer leaving triggers a rebalance', false);
  });

  it('fails when messages sent after the leave are lost', () => {
    const checks = expectVerdict(consumerGroups, story({ p2Received: 50 }), 'fail', { mode: 'kraft' });
    expectCheck(checks, 'group "two": no acknowledged messages lost', false);
  });

  it('fails when group "two" receives a message nobody sent', () => {
    const checks = expectVerdict(consumerGroups, plus(story(), 'receive:two'), 'fail', { mode: 'kraft' });
    expectCheck(checks, 'group "two": no unexpected messages', false);
  });
});

describe('kafka/ordering', () => {
  const ONE = 'ordered-1';
  const THREE = 'ordered-3';
  interface Opts {
    order1?: number[];
    /** Rearranges the messages read from ordered-3 (default: partition by partition). */
    read3?: (ms: Msg[]) => Msg[];
    keyless?: Record<string, number>;
  }
  function story(o: Opts = {}): Evidence {
    const one = range(60).map((i) => msg('one', i, ONE, 0));
    const three = range(60).map((i) => msg('three', i, THREE, (i - 1) % 3));
    const keyed = range(30).map((i) => msg('keyed', i, THREE, i % 3, `acct-${i % 3}`));
    const s = new Story().at(15_000).observe('mode', 'kraft');
    s.observe('topics', [part(ONE, 0, BROKERS), ...rotated(THREE), ...rotated('keyless-3')]);
    for (const m of [...one, ...three, ...keyed]) send(s, m);
    s.observe('keylessCounts', o.keyless ?? { 0: 0, 1: 30, 2: 0 });
    const order1 = o.order1 ?? range(60);
    for (const seq of order1) receive(s, 'reader-1', 'receive:1p', one[seq - 1] as Msg);
    const byPartition = [0, 1, 2].flatMap((p) => [...three, ...keyed].filter((m) => m.partition === p));
    for (const m of o.read3 ? o.read3(byPartition) : byPartition) receive(s, 'reader-3', 'receive:3p', m);
    s.observe('order1', order1);
    return s.evidence();
  }

  it('passes when each partition is in order and the partitions interleave', () => {
    expectVerdict(ordering, story(), 'pass', { mode: 'kraft' });
    const [q] = ordering.predictions ?? [];
    expect(q?.answer(story())).toBe(1);
  });

  it('fails when the 1-partition topic is read out of order', () => {
    const swapped = [2, 1, ...range(60).slice(2)];
    const checks = expectVerdict(ordering, story({ order1: swapped }), 'fail', { mode: 'kraft' });
    expectCheck(checks, `${ONE}: every message in the order written`, false);
  });

  it('fails on an inversion within a partition', () => {
    const checks = expectVerdict(
      ordering,
      story({ read3: (ms) => [ms[1] as Msg, ms[0] as Msg, ...ms.slice(2)] }),
      'fail',
      {
        mode: 'kraft',
      },
    );
    expectCheck(checks, `${THREE}: strict order within each partition`, false);
  });

  it('fails when a key is read out of order', () => {
    const reversedKeyed = (ms: Msg[]) => [
      ...ms.filter((m) => m.producer !== 'keyed'),
      ...ms.filter((m) => m.producer === 'keyed').reverse(),
    ];
    const checks = expectVerdict(ordering, story({ read3: reversedKeyed }), 'fail', { mode: 'kraft' });
    expectCheck(checks, 'one key keeps its order', false);
  });

  it('fails when keyless records are spread round robin', () => {
    const checks = expectVerdict(ordering, story({ keyless: { 0: 10, 1: 10, 2: 10 } }), 'fail', { mode: 'kraft' });
    expectCheck(checks, 'keyless records from the Java producer stick to one partition', false);
  });

  it('fails when a message is lost, duplicated or unexpected, in either topic', () => {
    const lost1 = expectVerdict(ordering, story({ order1: range(59) }), 'fail', { mode: 'kraft' });
    expectCheck(lost1, `${ONE}: no acknowledged messages lost`, false);
    const lost3 = expectVerdict(ordering, story({ read3: (ms) => ms.slice(1) }), 'fail', { mode: 'kraft' });
    expectCheck(lost3, `${THREE}: no acknowledged messages lost`, false);
    const dup1 = plus(story(), 'receive:1p', msg('one', 5, ONE, 0));
    expectCheck(expectVerdict(ordering, dup1, 'fail', { mode: 'kraft' }), `${ONE}: no messages duplicated`, false);
    const dup3 = plus(story(), 'receive:3p', msg('three', 60, THREE, 2));
    expectCheck(expectVerdict(ordering, dup3, 'fail', { mode: 'kraft' }), `${THREE}: no messages duplicated`, false);
    const odd1 = expectVerdict(ordering, plus(story(), 'receive:1p'), 'fail', { mode: 'kraft' });
    expectCheck(odd1, `${ONE}: no unexpected messages`, false);
    const odd3 = expectVerdict(ordering, plus(story(), 'receive:3p'), 'fail', { mode: 'kraft' });
    expectCheck(odd3, `${THREE}: no unexpected messages`, false);
  });

  it('cannot decide "no order across partitions" when everything happened to arrive in write order', () => {
    const bySeq = (ms: Msg[]) => [
      ...ms.filter((m) => m.producer === 'three').sort((a, b) => a.seq - b.seq),
      ...ms.filter((m) => m.producer === 'keyed'),
    ];
    const checks = expectVerdict(ordering, story({ read3: bySeq }), 'unknown', { mode: 'kraft' });
    expectCheck(checks, `${THREE}: no order across partitions`, 'unknown');
  });
});

describe('kafka/leader-failover', () => {
  const TOPIC = 'failover';
  const ASSIGNMENT = [
    ['kafka1', 'kafka3', 'kafka2'],
    ['kafka2', 'kafka3', 'kafka1'],
    ['kafka3', 'kafka2', 'kafka1'],
  ];
  const full = () => ASSIGNMENT.map((r, p) => part(TOPIC, p, r));
  const choice = { partition: 0, victim: 'kafka1', replicas: ASSIGNMENT[0], expected: 'kafka3', smallest: 'kafka2' };
  const params = { mode: 'kraft', maxElectionMs: 9000 };
  interface Opts {
    chosen?: boolean;
    newLeader?: string;
    electionMs?: number;
    urp?: string[];
    after?: PartitionState[];
    preferred?: string;
    writesAfter?: boolean;
    lose?: number;
  }
  function story(o: Opts = {}): Evidence {
    const s = new Story().at(15_000).observe('mode', 'kraft').observe('isrBefore', full());
    const sent: Msg[] = [];
    const write = (i: number) => {
      const m = msg('producer', i, TOPIC, i % 3);
      sent.push(m);
      send(s, m);
    };
    for (const i of range(90)) write(i);
    if (o.chosen === false) return s.evidence();
    s.observe('controller', 'kafka2').observe('choice', choice);
    s.at(20_000).fault('kill', ['kafka1'], 30_000);
    if (o.newLeader !== undefined || o.electionMs === undefined || o.electionMs < 40_000) {
      s.at(25_400)
        .observe('newLeader', o.newLeader ?? 'kafka3')
        .observe('electionMs', o.electionMs ?? 5400)
        .observe('servingFrom', 25_400);
    }
    s.observe('urpWhileDown', o.urp ?? ['failover-0', 'failover-1', 'failover-2']);
    s.at(26_000);
    for (const i of range(30).map((x) => x + 90)) {
      if (o.writesAfter === false && i % 3 === 0) continue;
      write(i);
    }
    s.at(55_000)
      .observe('isrRecoveryMs', 3700)
      .observe('isrAfterRestart', o.after ?? full());
    s.observe('leaderAfterPreferred', o.preferred ?? 'kafka1');
    for (const m of sent)
      if (m.seq !== o.lose) s.op('final-reader', 'read-all', 'ok', { ...m, key: `${TOPIC}-${m.partition}` });
    return s.evidence();
  }

  it('passes when the first live ISR member in assignment order takes over in time', () => {
    expectVerdict(leaderFailover, story(), 'pass', params);
    const [q] = leaderFailover.predictions ?? [];
    expect(q?.answer(story())).toBe(0);
    expect(q?.answer(story({ newLeader: 'kafka2' }))).toBe(1);
  });

  it('fails when the election is slower than the bound, or never comes', () => {
    const slow = expectVerdict(leaderFailover, story({ electionMs: 9500 }), 'fail', params);
    expectCheck(slow, 'a new leader within 9000 ms', false);
    const never = expectVerdict(leaderFailover, story({ electionMs: 40_000 }), 'fail', params);
    expectCheck(never, 'a new leader within 9000 ms', false);
  });

  it("fails when the notes' smallest-id rule picks the leader", () => {
    const checks = expectVerdict(leaderFailover, story({ newLeader: 'kafka2' }), 'fail', params);
    expectCheck(checks, 'the new leader is the first live ISR member in assignment order', false);
  });

  it('fails when no partition is under-replicated while the broker is down', () => {
    const checks = expectVerdict(leaderFailover, story({ urp: [] }), 'fail', params);
    expectCheck(checks, 'partitions are under-replicated while the broker is down', false);
  });

  it('fails when an ISR is still short after the restart', () => {
    const after = full();
    after[2] = { ...(after[2] as PartitionState), isr: ['kafka3', 'kafka2'] };
    const checks = expectVerdict(leaderFailover, story({ after }), 'fail', params);
    expectCheck(checks, 'after the restart every ISR is full again', false);
  });

  it('fails when the preferred election does not give leadership back', () => {
    const checks = expectVerdict(leaderFailover, story({ preferred: 'kafka3' }), 'fail', params);
    expectCheck(checks, 'the preferred-leader election gives leadership back', false);
  });

  it('fails when no write to the partition is acknowledged after the election', () => {
    const checks = expectVerdict(leaderFailover, story({ writesAfter: false }), 'fail', params);
    expectCheck(checks, 'writes to the partition are acknowledged again after the election', false);
  });

  it('fails when an acknowledged write is lost, or a read returns one never sent', () => {
    const checks = expectVerdict(leaderFailover, story({ lose: 42 }), 'fail', params);
    expectCheck(checks, 'no acknowledged messages lost', false);
    const odd = expectVerdict(leaderFailover, plus(story(), 'read-all'), 'fail', params);
    expectCheck(odd, 'no unexpected messages', false);
  });

  it('cannot decide when the run ended before the leader was killed', () => {
    expectVerdict(leaderFailover, story({ chosen: false }), 'unknown', params);
  });
});

describe('kafka/controller-failover', () => {
  const TOPIC = 'after-failover';
  const params = { mode: 'kraft', maxFailoverMs: 6000 };
  interface Opts {
    killed?: boolean;
    after?: string;
    failoverMs?: number;
    epochAfter?: number;
    create?: 'ok' | 'fail';
    lose?: number;
  }
  function story(o: Opts = {}): Evidence {
    const s = new Story().at(14_000).observe('mode', 'kraft');
    if (o.killed === false) return s.evidence();
    s.observe('controllerBefore', 'kafka1').observe('epochBefore', 1);
    s.at(15_000).fault('kill', ['kafka1'], 20_000);
    s.at(19_100)
      .observe('controllerAfter', o.after ?? 'kafka2')
      .observe('epochAfter', o.epochAfter ?? 3)
      .observe('failoverMs', o.failoverMs ?? 4080);
    if (o.create === 'fail') {
      s.op('admin', 'create-topic', 'fail', { topic: TOPIC }, { error: 'NOT_CONTROLLER: ...' });
      return s.evidence();
    }
    s.op('admin', 'create-topic', 'ok', { topic: TOPIC, partitions: 3, replicationFactor: 2 });
    const sent = range(20).map((i) => msg('producer', i, TOPIC, i % 3));
    for (const m of sent) send(s, m);
    s.at(40_000).observe('controllerAfterRestart', 'kafka2');
    for (const m of sent)
      if (m.seq !== o.lose) s.op('final-reader', 'read-all', 'ok', { ...m, key: `${TOPIC}-${m.partition}` });
    return s.evidence();
  }

  it('passes when another node takes over in time with a higher epoch', () => {
    expectVerdict(controllerFailover, story(), 'pass', params);
    const [q] = controllerFailover.predictions ?? [];
    expect(q?.answer(story())).toBe(1);
  });

  it('fails when the failover is slower than the bound, or names the dead node', () => {
    const slow = expectVerdict(controllerFailover, story({ failoverMs: 6500 }), 'fail', params);
    expectCheck(slow, 'a new controller within 6000 ms', false);
    const same = expectVerdict(controllerFailover, story({ after: 'kafka1' }), 'fail', params);
    expectCheck(same, 'a new controller within 6000 ms', false);
  });

  it('fails when the epoch does not go up', () => {
    const checks = expectVerdict(controllerFailover, story({ epochAfter: 1 }), 'fail', params);
    expectCheck(checks, 'the controller epoch went up', false);
  });

  it('fails when the new controller cannot create a topic', () => {
    const checks = expectVerdict(controllerFailover, story({ create: 'fail' }), 'fail', params);
    expectCheck(checks, 'creating a topic works after the failover', false);
  });

  it('fails when an acknowledged message is lost, or a read returns one never sent', () => {
    const checks = expectVerdict(controllerFailover, story({ lose: 7 }), 'fail', params);
    expectCheck(checks, 'no acknowledged messages lost', false);
    const odd = expectVerdict(controllerFailover, plus(story(), 'read-all'), 'fail', params);
    expectCheck(odd, 'no unexpected messages', false);
  });

  it('cannot decide when the run ended before the controller was killed', () => {
    expectVerdict(controllerFailover, story({ killed: false }), 'unknown', params);
  });
});
