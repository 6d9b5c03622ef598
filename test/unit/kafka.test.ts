import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { MultipleErrors, NetworkError, ResponseError, TimeoutError } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import {
  allOk,
  cannotTell,
  configMismatch,
  errorCodes,
  finalReadChecks,
  offsetRange,
  offsetsOf,
  ofProducer,
  phaseMark,
  phaseOps,
  receivedIds,
  refusedBeforeAppend,
  sendsOf,
  tally,
} from '../../scenarios/kafka/kit.ts';
import { UsageError } from '../../src/errors.ts';
import { resolveParams } from '../../src/params.ts';
import { withHostPorts } from '../../src/runtime/cluster.ts';
import { fixedSecrets } from '../../src/runtime/secrets.ts';
import { classify, errorText, kafkaErrorType, retriable } from '../../stacks/kafka/client.ts';
import { clusterId, nodeId, nodeName, serverProperties, voters } from '../../stacks/kafka/config.ts';
import { kafka } from '../../stacks/kafka/stack.ts';
import { Reader, Writer } from '../../stacks/kafka/wire.ts';
import { Story } from '../helpers/evidence.ts';

const params = (given: Record<string, string | number | boolean> = {}) => resolveParams(kafka.params, given, 'kafka');
const props = (text: string): Record<string, string> =>
  Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

describe('kafka config', () => {
  it('KRaft: combined broker+controller nodes, a static quorum, three listeners', () => {
    const p = props(serverProperties(params({ mode: 'kraft' }), 'kafka2'));
    expect(p['node.id']).toBe('2');
    expect(p['process.roles']).toBe('broker,controller');
    expect(p['controller.quorum.voters']).toBe('1@kafka1:9093,2@kafka2:9093,3@kafka3:9093');
    expect(p.listeners).toBe('INTERNAL://:9092,CONTROLLER://:9093,EXTERNAL://:9094');
    expect(p['advertised.listeners']).toBe('INTERNAL://kafka2:9092,EXTERNAL://127.0.0.1:@HOSTPORT:external@');
    expect(p['controller.listener.names']).toBe('CONTROLLER');
    expect(p['broker.session.timeout.ms']).toBe('6000');
    expect(p['zookeeper.connect']).toBeUndefined();
    expect(p['broker.id']).toBeUndefined();
  });

  it('ZooKeeper mode: broker.id, zookeeper.connect, no controller listener', () => {
    const p = props(serverProperties(params({ mode: 'zookeeper' }), 'kafka3'));
    expect(p['broker.id']).toBe('3');
    expect(p['zookeeper.connect']).toBe('zk1:2181,zk2:2181,zk3:2181');
    expect(p['zookeeper.session.timeout.ms']).toBe('6000');
    expect(p.listeners).toBe('INTERNAL://:9092,EXTERNAL://:9094');
    expect(p['process.roles']).toBeUndefined();
    expect(p['controller.quorum.voters']).toBeUndefined();
  });

  it('replication defaults follow the brokers and the parameters', () => {
    const three = props(serverProperties(params(), 'kafka1'));
    expect(three['default.replication.factor']).toBe('3');
    expect(three['offsets.topic.replication.factor']).toBe('3');
    expect(three['min.insync.replicas']).toBe('1');
    expect(three['transaction.state.log.min.isr']).toBe('2');
    const one = props(serverProperties(params({ brokers: 1 }), 'kafka1'));
    expect(one['offsets.topic.replication.factor']).toBe('1');
    expect(one['transaction.state.log.min.isr']).toBe('1');
    const tuned = props(serverProperties(params({ minInsyncReplicas: 2, leaderRebalanceSec: 0 }), 'kafka1'));
    expect(tuned['min.insync.replicas']).toBe('2');
    expect(tuned['auto.leader.rebalance.enable']).toBe('false');
  });

  it('has no inline comments (a Java .properties value would swallow them)', () => {
    for (const mode of ['kraft', 'zookeeper']) {
      const text = serverProperties(params({ mode }), 'kafka1');
      expect(text).not.toMatch(/^[^#\n]*=.*#/m);
    }
  });

  it('isolated controllers: controller1..3 with ids 101..103, brokers only brokers', () => {
    const p = params({ layout: 'isolated' });
    expect(voters(p)).toEqual([
      ['controller1', 101],
      ['controller2', 102],
      ['controller3', 103],
    ]);
    const c = props(serverProperties(p, 'controller2'));
    expect(c['process.roles']).toBe('controller');
    expect(c.listeners).toBe('CONTROLLER://:9093');
    expect(c['advertised.listeners']).toBeUndefined();
    const b = props(serverProperties(p, 'kafka1'));
    expect(b['process.roles']).toBe('broker');
    expect(b['controller.quorum.voters']).toBe('101@controller1:9093,102@controller2:9093,103@controller3:9093');
    expect(nodeId('controller3')).toBe(103);
    expect(nodeName(102)).toBe('controller2');
    expect(nodeName(2)).toBe('kafka2');
  });
});

describe('kafka stack layout', () => {
  it('KRaft: 3 nodes, a shared cluster id, EXTERNAL and CONTROLLER published', () => {
    const nodes = kafka.nodes(params());
    expect(nodes.map((n) => n.name)).toEqual(['kafka1', 'kafka2', 'kafka3']);
    const ids = new Set(nodes.map((n) => n.env?.KAFKA_CLUSTER_ID));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    expect(nodes[0]?.ports).toEqual({ external: 9094, controller: 9093 });
    expect(nodes[0]?.files?.[0]?.path).toBe('/etc/kafka/server.properties');
  });

  it('ZooKeeper mode: zk1..3 on the ZooKeeper image, then kafka1..3', () => {
    const nodes = kafka.nodes(params({ mode: 'zookeeper' }));
    expect(nodes.map((n) => n.name)).toEqual(['zk1', 'zk2', 'zk3', 'kafka1', 'kafka2', 'kafka3']);
    expect(nodes[0]?.image).toBe('midlab/zookeeper:latest');
    expect(nodes[0]?.files?.map((f) => f.path)).toEqual(['/conf/zoo.cfg', '/data/myid']);
    expect(nodes[3]?.env?.KAFKA_CLUSTER_ID).toBeUndefined();
    expect(nodes[3]?.ports).toEqual({ external: 9094 });
  });

  it('the advertised EXTERNAL listener gets the published host port', () => {
    const node = kafka.nodes(params())[1];
    if (!node) throw new Error('no node');
    const filled = withHostPorts(node, { external: 40123, controller: 40124 });
    expect(String(filled.files?.[0]?.content)).toContain('EXTERNAL://127.0.0.1:40123');
  });

  it('a cluster id is a Kafka Uuid: 22 base64url characters, fixed under fixedSecrets', async () => {
    const a = await fixedSecrets('t', async () => clusterId());
    const b = await fixedSecrets('t', async () => clusterId());
    expect(a).toBe(b);
    expect(Buffer.from(a, 'base64url')).toHaveLength(16);
    expect(clusterId()).not.toBe(clusterId());
  });
});

describe('kafka validation', () => {
  it('refuses a replication factor above the brokers: impossible topology', () => {
    expect(() => kafka.validate(params({ brokers: 2, replicationFactor: 3 }))).toThrow(UsageError);
    expect(() => kafka.validate(params({ brokers: 2, replicationFactor: 3 }))).toThrow(/impossible topology/);
  });
  it('refuses min.insync.replicas above the replication factor', () => {
    expect(() => kafka.validate(params({ replicationFactor: 2, minInsyncReplicas: 3 }))).toThrow(/impossible topology/);
  });
  it('refuses isolated controllers in ZooKeeper mode, and an unknown mode', () => {
    expect(() => kafka.validate(params({ mode: 'zookeeper', layout: 'isolated' }))).toThrow(UsageError);
    expect(() => params({ mode: 'zk' })).toThrow(/not a valid choice/);
  });
  it('refuses ZooKeeper mode on Kafka 4.4 (removed in 4.0) and says how the notes map to KRaft', () => {
    expect(() => kafka.validate(params({ version: '4.4', mode: 'zookeeper' }))).toThrow(UsageError);
    expect(() => kafka.validate(params({ version: '4.4', mode: 'zookeeper' }))).toThrow(
      /removed it[\s\S]*--bootstrap-server[\s\S]*controller quorum[\s\S]*kafka-storage.sh format/,
    );
    expect(kafka.validate(params({ version: '4.4' }))).toEqual([]);
    expect(kafka.nodes(params({ version: '4.4' })).map((n) => n.image)).toEqual(Array(3).fill('midlab/kafka:4.4'));
    expect(kafka.nodes(params()).map((n) => n.image)).toEqual(Array(3).fill('midlab/kafka:latest'));
  });
  it('a single broker works with the default replication factor; unwise set-ups warn', () => {
    expect(kafka.validate(params({ brokers: 1 }))).toEqual([]);
    expect(kafka.validate(params())).toEqual([]);
    expect(kafka.validate(params({ brokers: 2 })).join(' ')).toMatch(/quorum of 2 tolerates 0/);
    expect(kafka.validate(params({ minInsyncReplicas: 3 })).join(' ')).toMatch(/one broker down refuses/);
  });
});

describe('kafka send errors, as the client raises them', () => {
  // What Producer.send rejects with when the leader refuses: a MultipleErrors around the
  // Produce ResponseError, whose errors are ProtocolErrors named by Kafka's error code.
  const refused = (code: number) =>
    new MultipleErrors('Producing messages failed.', [
      new ResponseError(0, 9, { '/responses/0/partitions/0': [code, null] }, {}),
    ]);
  const cause = (message: string, code: string) => Object.assign(new Error(message), { code });
  it('a refusal before the append is a certain failure', () => {
    expect(classify(refused(19))).toBe('fail'); // NOT_ENOUGH_REPLICAS
    expect(classify(refused(6))).toBe('fail'); // NOT_LEADER_OR_FOLLOWER
    expect(classify(refused(5))).toBe('fail'); // LEADER_NOT_AVAILABLE
    const noConnection = new NetworkError('Connection to 127.0.0.1:1 failed.', {
      cause: cause('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED'),
    });
    expect(classify(new MultipleErrors('Producing messages failed.', [noConnection]))).toBe('fail');
  });
  it('timeouts, dropped connections and appends without enough replicas are unknown', () => {
    expect(classify(refused(20))).toBe('info'); // NOT_ENOUGH_REPLICAS_AFTER_APPEND
    expect(classify(refused(7))).toBe('info'); // REQUEST_TIMED_OUT
    expect(classify(new TimeoutError('Request timed out', { canRetry: true }))).toBe('info');
    expect(classify(new NetworkError('Connection closed'))).toBe('info');
    expect(classify(new Error('something else'))).toBe('info');
  });
  it("names Kafka's error through the wrappers, and says what is worth retrying", () => {
    expect(kafkaErrorType(refused(19))).toBe('NOT_ENOUGH_REPLICAS');
    expect(errorText(refused(19))).toMatch(/^NOT_ENOUGH_REPLICAS: /);
    expect(kafkaErrorType(new Error('plain'))).toBeUndefined();
    expect(retriable(refused(5))).toBe(true); // LEADER_NOT_AVAILABLE
    expect(retriable(refused(36))).toBe(false); // TOPIC_ALREADY_EXISTS
  });
});

describe('kafka wire encoding', () => {
  it('round-trips unsigned varints and compact strings', () => {
    const buf = new Writer().uvarint(300).compactString('__cluster_metadata').int32(-1).uvarint(0).bytes();
    const r = new Reader(buf);
    expect(r.uvarint()).toBe(300);
    expect(r.compactString()).toBe('__cluster_metadata');
    expect(r.int32()).toBe(-1);
    r.skipTags();
    expect(r.offset).toBe(buf.length);
  });
});

describe('kafka lab kit: shared evidence readers and check builders', () => {
  const sendOk = (s: Story, producer: string, seq: number) =>
    s.op(producer, 'send', 'ok', { id: `${producer}-${seq}`, producer, seq, topic: 't', partition: 0 });
  const readBack = (s: Story, id: string) => s.op('final-reader', 'read-all', 'ok', { id, partition: 0 });

  it('ofProducer keeps one producer and its part of the final read; finalReadChecks judge it', () => {
    const s = new Story();
    for (const i of [1, 2]) sendOk(s, 'a', i);
    sendOk(s, 'b', 1);
    for (const id of ['a-1', 'a-2', 'b-1']) readBack(s, id);
    const a = ofProducer(s.evidence().ops, 'a');
    expect(a.filter((o) => o.type === 'ok').map((o) => (o.value as { id: string }).id)).toEqual([
      'a-1',
      'a-2',
      'a-1',
      'a-2',
    ]);
    expect(finalReadChecks(a, 'a messages').every((c) => c.ok === true)).toBe(true);
    // One acknowledged message missing from the read: the loss check fails; with loss expected, it holds.
    const lost = ofProducer(
      readBack(sendOk(new Story(), 'a', 1).op('a', 'send', 'ok', { id: 'a-2' }), 'a-1').evidence().ops,
      'a',
    );
    expect(finalReadChecks(lost, 'a messages').find((c) => c.name === 'no acknowledged a messages lost')?.ok).toBe(
      false,
    );
    expect(
      finalReadChecks(lost, 'a messages', 'expected').find((c) => c.name === 'acknowledged a messages are lost')?.ok,
    ).toBe(true);
  });

  it('tally, errorCodes and refusedBeforeAppend tell a refusal from an append without replicas', () => {
    const s = new Story()
      .op('p', 'send', 'fail', { id: 'p-1' }, { error: 'NOT_ENOUGH_REPLICAS: fewer in-sync replicas' })
      .op('p', 'send', 'fail', { id: 'p-2' }, { error: 'NOT_ENOUGH_REPLICAS_AFTER_APPEND: appended' })
      .op('p', 'send', 'info', { id: 'p-3' }, { error: 'REQUEST_TIMED_OUT: timed out' });
    const ops = sendsOf(s.evidence().ops, 'p');
    expect(ops.map(refusedBeforeAppend)).toEqual([true, false, false]);
    expect(tally(ops)).toBe(
      '0 ok, 2 refused, 1 unknown of 3 (NOT_ENOUGH_REPLICAS, NOT_ENOUGH_REPLICAS_AFTER_APPEND, REQUEST_TIMED_OUT)',
    );
    expect(errorCodes(ops.slice(0, 2))).toBe('NOT_ENOUGH_REPLICAS (19), NOT_ENOUGH_REPLICAS_AFTER_APPEND (20)');
    expect(errorCodes([])).toBe('none');
    expect(allOk(ops)).toBe(false);
    expect(allOk([])).toBe(false);
  });

  it('phaseOps reads the sends invoked within a phase mark', () => {
    const s = new Story().at(0);
    sendOk(s, 'p', 1);
    s.at(100).observe('phase', { phase: 'one', start: 100, end: 200, isr: ['kafka1'], leader: 'kafka1' });
    sendOk(s.at(150), 'p', 2);
    sendOk(s.at(250), 'p', 3);
    const ev = s.evidence();
    expect(phaseOps(ev, 'one', 'p').map((o) => (o.value as { seq: number }).seq)).toEqual([2]);
    expect(phaseOps(ev, 'two', 'p')).toEqual([]);
    expect(phaseMark(ev, 'one')?.isr).toEqual(['kafka1']);
  });

  it('offsets received, ranges, and "cannot tell"', () => {
    const s = new Story();
    for (const o of [3, 1, 2]) s.op('c', 'receive', 'ok', { id: `p-${o}`, offset: o });
    const ops = s.evidence().ops;
    expect(offsetsOf(ops, 'c')).toEqual([1, 2, 3]);
    expect(offsetRange(offsetsOf(ops, 'c'))).toBe('1..3 (3)');
    expect(offsetRange([])).toBe('none');
    expect(receivedIds(ops).size).toBe(3);
    expect(cannotTell('x', 'y', 'z')[0]?.ok).toBe('unknown');
  });

  it('configMismatch names every key not in force', () => {
    const cfg = { 'min.insync.replicas': '2', 'unclean.leader.election.enable': 'false' };
    expect(configMismatch(cfg, { 'min.insync.replicas': 2, 'unclean.leader.election.enable': false })).toEqual([]);
    expect(configMismatch(cfg, { 'min.insync.replicas': 1, 'unclean.leader.election.enable': true })).toEqual([
      "the topic's min.insync.replicas is 2, not 1",
      "the topic's unclean.leader.election.enable is false, not true",
    ]);
  });
});

describe('importing the kafka stack', () => {
  it('changes nothing in the process (process.emitWarning untouched)', () => {
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const before = process.emitWarning; await import('./src/public/kafka.ts'); await import('./src/index.ts'); console.log(before === process.emitWarning)",
      ],
      { encoding: 'utf8', cwd: join(import.meta.dirname, '../..') },
    );
    expect(r.stdout.trim(), r.stderr).toBe('true');
  });
});
