import { describe, expect, it } from 'vitest';
import { longestGap } from '../../scenarios/kafka/evidence.ts';
import migration from '../../scenarios/kafka/zk-to-kraft-migration.ts';
import type { Evidence } from '../../src/engine/history.ts';
import { resolveParams } from '../../src/params.ts';
import { kafkaParams, validateKafka } from '../../stacks/kafka/config.ts';
import { migrationConfig } from '../../stacks/kafka/migration.ts';
import { expectCheck, expectVerdict, Story } from '../helpers/evidence.ts';

const TOPIC = 'orders';
const BROKERS = ['kafka1', 'kafka2', 'kafka3'];
const OVERRIDES = { 'retention.ms': '3600000', 'min.insync.replicas': '2', 'max.message.bytes': '500000' };
const params = { maxWriteGapMs: 6000, maxReadGapMs: 8000 };
const parts = (shift = 0) =>
  [0, 1, 2].map((p) => {
    const replicas = [0, 1, 2].map((i) => BROKERS[(p + i + shift) % 3] as string);
    return { topic: TOPIC, partition: p, leader: replicas[0], replicas, isr: replicas, offline: [] };
  });

interface Plan {
  /** The phase the run ended before (no observation from it on). */
  stopBefore?: string;
  /** The state a phase reached instead of the documented one. */
  states?: Record<string, string>;
  /** Producer silent from 30 s for this long (ms). */
  writeGap?: number;
  /** Consumer silent from 30 s for this long (ms). */
  readGap?: number;
  /** Partition replicas after the migration rotated (the metadata not carried over). */
  moved?: boolean;
  configAfter?: Record<string, string>;
  /** Creating the topic after ZooKeeper's stop failed. */
  createAfter?: string;
  /** The topic no longer listed after the migration. */
  topicGone?: boolean;
  /** An acknowledged write the final read misses. */
  lose?: number;
}

/** A run as recorded: 60 s of rolls with a write and a read every 500 ms, the phases' states, the final read. */
function story(o: Plan = {}): Evidence {
  const s = new Story().at(1000).observe('mode', 'zookeeper').observe('partsBefore', parts());
  s.observe('topicsBefore', [TOPIC, '__consumer_offsets']);
  s.observe('clusterId', 'aaaaaaaaaaaaaaaaaaaaaa').observe('rollsFrom', 1000);
  s.observe('migration', { phase: 'zookeeper', state: 'NONE' });
  const states: Record<string, string> = {
    controllers: 'PRE_MIGRATION',
    'brokers-migrating': 'MIGRATION',
    'brokers-kraft': 'MIGRATION',
    finalise: 'POST_MIGRATION',
    ...o.states,
  };
  const sent: { id: string; seq: number }[] = [];
  for (let t = 1000, seq = 1; t < 61_000; t += 500, seq++) {
    const phase = Object.keys(states)[Math.floor((t - 1000) / 15_000)] as string;
    if (phase === o.stopBefore) return s.evidence();
    if ((t - 1000) % 15_000 === 14_500) {
      const znode = { kraft_controller_id: phase === 'controllers' ? -1 : 103 };
      s.at(t).observe('migration', { phase, state: states[phase], znode });
    }
    const silent = (gap?: number) => gap !== undefined && t >= 30_000 && t < 30_000 + gap;
    if (!silent(o.writeGap)) {
      const m = { id: `producer-${seq}`, producer: 'producer', seq, topic: TOPIC, partition: seq % 3 };
      s.at(t).op('producer', 'send', 'ok', { ...m, acks: 'all' });
      sent.push(m);
    }
    if (!silent(o.readGap)) s.at(t + 100).op('consumer', 'receive', 'ok', { id: `producer-${seq - 1}` });
  }
  s.at(61_000)
    .observe('zkStopped', ['zk1', 'zk2', 'zk3'])
    .observe('createdAfter', o.createAfter ?? true);
  for (let i = 1; i <= 20; i++) {
    const m = { id: `after-${i}`, producer: 'after', seq: i, topic: 'after-zookeeper', partition: i % 3 };
    s.op('after', 'send', 'ok', { ...m, acks: 'all' }).op('after-reader', 'read-after', 'ok', m);
  }
  s.at(63_000)
    .observe('rollsTo', 63_000)
    .observe('partsAfter', parts(o.moved ? 1 : 0));
  s.observe('configAfter', { ...OVERRIDES, 'cleanup.policy': 'delete', ...o.configAfter });
  s.observe('topicsAfter', [...(o.topicGone ? [] : [TOPIC]), '__consumer_offsets', 'after-zookeeper']);
  for (const m of sent) if (m.seq !== o.lose) s.op('final-reader', 'read-all', 'ok', { ...m, key: `${TOPIC}-0` });
  return s.evidence();
}

describe('kafka/zk-to-kraft-migration', () => {
  it('passes when the migration goes through its states, serving throughout, and ZooKeeper is not needed after', () => {
    expectVerdict(migration, story(), 'pass', params);
  });

  it('fails when a phase does not reach its documented migration state', () => {
    const stuck = expectVerdict(migration, story({ states: { finalise: 'MIGRATION' } }), 'fail', params);
    expectCheck(stuck, 'the migration went through its states', false);
  });

  it('fails when the topic metadata did not carry over', () => {
    const moved = expectVerdict(migration, story({ moved: true }), 'fail', params);
    expectCheck(moved, 'the topic metadata carried over', false);
    const lost = expectVerdict(migration, story({ configAfter: { 'retention.ms': '604800000' } }), 'fail', params);
    expectCheck(lost, 'the topic metadata carried over', false);
    const gone = expectVerdict(migration, story({ topicGone: true }), 'fail', params);
    expectCheck(gone, 'the topic metadata carried over', false);
  });

  it('fails when writes or reads stop for longer than the bounds', () => {
    const writes = expectVerdict(migration, story({ writeGap: 7000 }), 'fail', params);
    expectCheck(writes, 'acknowledged writes throughout, no gap over 6000 ms', false);
    const reads = expectVerdict(migration, story({ readGap: 9000 }), 'fail', params);
    expectCheck(reads, 'reads throughout, no gap over 8000 ms', false);
  });

  it('fails when the cluster still needs ZooKeeper', () => {
    const checks = expectVerdict(migration, story({ createAfter: 'Error: timed out' }), 'fail', params);
    expectCheck(checks, 'ZooKeeper no longer needed', false);
  });

  it('fails when an acknowledged write is lost', () => {
    const checks = expectVerdict(migration, story({ lose: 40 }), 'fail', params);
    expectCheck(checks, 'no acknowledged acks=all messages lost', false);
  });

  it('cannot decide when the run ended before the controllers started', () => {
    expectVerdict(migration, story({ stopBefore: 'controllers' }), 'unknown', params);
  });

  it('longestGap measures the window, its ends included', () => {
    expect(longestGap([{ time: 7 }, { time: 5 }, { time: 12 }], 0, 10)).toBe(5);
    expect(longestGap([], 0, 10)).toBe(10);
    expect(longestGap([{ time: 5 }], undefined, 10)).toBeUndefined();
  });
});

describe('kafka stack: migration param', () => {
  const base = resolveParams(kafkaParams, { mode: 'zookeeper', migration: true }, 'kafka');
  it('refuses a migration on Kafka 4.x and from a KRaft cluster (usage errors, exit 2)', () => {
    expect(() => validateKafka({ ...base, version: '4.4' })).toThrow(/cannot migrate from ZooKeeper/);
    expect(() => validateKafka({ ...base, mode: 'kraft' })).toThrow(/starts from a ZooKeeper-mode cluster/);
    expect(validateKafka(base)).toEqual([]);
  });
  it('renders each phase: migration flags on, then a KRaft config without ZooKeeper', () => {
    const broker = migrationConfig(base, 'kafka2', 'migrating');
    expect(broker).toMatch(/^broker\.id=2$/m);
    expect(broker).toMatch(/^zookeeper\.metadata\.migration\.enable=true$/m);
    expect(broker).toMatch(
      /^controller\.quorum\.voters=101@controller1:9093,102@controller2:9093,103@controller3:9093$/m,
    );
    const kraft = migrationConfig(base, 'kafka2', 'kraft');
    expect(kraft).toMatch(/^node\.id=2$/m);
    expect(kraft).toMatch(/^process\.roles=broker$/m);
    expect(kraft).not.toMatch(/zookeeper/);
    expect(migrationConfig(base, 'controller1', 'migrating')).toMatch(
      /^zookeeper\.connect=zk1:2181,zk2:2181,zk3:2181$/m,
    );
    expect(migrationConfig(base, 'controller1', 'kraft')).not.toMatch(/zookeeper\.(connect|metadata)/);
  });
});
