import { Network, type StartedNetwork, type StartedTestContainer } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { delivery, deliveryChecks } from '../../src/checkers/delivery.ts';
import { History } from '../../src/engine/history.ts';
import { Nemesis } from '../../src/faults/nemesis.ts';
import { adoptContainers, LoopbackContainer } from '../../src/public/testcontainers.ts';
import { docker } from '../../src/runtime/docker.ts';
import { waitUntil } from '../../src/runtime/poll.ts';
import { classify, ZkClient } from '../../stacks/zookeeper/client.ts';
import { fourLetter, parseSrvr } from '../../stacks/zookeeper/four-letter.ts';
import { zooCfg } from '../../stacks/zookeeper/stack.ts';
import { ZkWriter } from '../../stacks/zookeeper/workload.ts';

// A user's own test: a ZooKeeper ensemble started with testcontainers from midlab's image,
// its leader killed by midlab's nemesis, and midlab's checkers deciding that no
// acknowledged write was lost. No registry here: testcontainers' reaper (an image pulled
// from a registry) is off, and the test removes what it started.
const NAMES = ['zk1', 'zk2', 'zk3'];
const LABEL = 'dev.midlab.test.testcontainers';
const params = { nodes: 3, observers: 0, tickMs: 500, syncLimit: 4 };

describe('testcontainers interop', () => {
  let network: StartedNetwork;
  const started: Record<string, StartedTestContainer> = {};
  beforeAll(async () => {
    process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
    // Where testcontainers looks for the published ports ("localhost" may be ::1 first).
    process.env.TESTCONTAINERS_HOST_OVERRIDE = '127.0.0.1';
    network = await new Network().start();
    await Promise.all(
      NAMES.map(async (name, i) => {
        started[name] = await new LoopbackContainer('midlab/zookeeper:latest')
          .withNetwork(network)
          .withNetworkAliases(name)
          .withHostname(name)
          .withExposedPorts(2181)
          .withLabels({ [LABEL]: 'zookeeper' })
          .withCopyContentToContainer([
            { content: zooCfg(params, i + 1), target: '/conf/zoo.cfg' },
            { content: `${i + 1}\n`, target: '/data/myid' },
          ])
          .start();
      }),
    );
  });
  afterAll(async () => {
    // Also what a failed start left half made (testcontainers returns no handle for it).
    const leftovers = await docker().listContainers({ all: true, filters: JSON.stringify({ label: [LABEL] }) });
    await Promise.all(
      leftovers.map((c) =>
        docker()
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
    );
    await network?.stop().catch(() => undefined);
  });

  it('publishes on 127.0.0.1 only, and midlab kills the leader without losing an acknowledged write', async () => {
    const cluster = await adoptContainers('tc-zookeeper', started);
    for (const n of cluster.nodes) expect(n.endpoint('2181')).toMatch(/^127\.0\.0\.1:\d+$/);
    const inspected = await Promise.all(cluster.nodes.map((n) => n.container.inspect()));
    const hostIps = inspected.flatMap((i) =>
      Object.values(i.NetworkSettings.Ports ?? {}).flatMap((b) => (b ?? []).map((x) => x.HostIp)),
    );
    expect(new Set(hostIps)).toEqual(new Set(['127.0.0.1']));
    const mode = async (n: string) =>
      parseSrvr(await fourLetter('127.0.0.1', cluster.node(n).hostPort('2181'), 'srvr').catch(() => '')).mode;
    const leader = await waitUntil(
      'a leader',
      async () => {
        for (const n of NAMES) if ((await mode(n)) === 'leader') return { done: true, value: n };
        return { done: false, seen: 'no leader' };
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const history = new History();
    const nemesis = new Nemesis(cluster, history);
    const connect = cluster.nodes.map((n) => n.endpoint('2181')).join(',');
    const writer = new ZkWriter(history, connect, '/tc');
    await writer.start();
    await waitUntil(
      'writes',
      async () => ({ done: writer.acknowledged >= 10, value: 0, seen: `${writer.acknowledged}` }),
      {
        timeoutMs: 30_000,
      },
    );
    await nemesis.kill(leader);
    const survivors = NAMES.filter((n) => n !== leader);
    await waitUntil(
      'a new leader',
      async () => {
        for (const n of survivors) if ((await mode(n)) === 'leader') return { done: true, value: n };
        return { done: false, seen: 'no leader yet' };
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const acked = writer.acknowledged;
    await waitUntil(
      'writes after the election',
      async () => ({ done: writer.acknowledged > acked + 5, value: 0, seen: '' }),
      {
        timeoutMs: 30_000,
      },
    );
    await writer.stop();
    // The final read, recorded like any operation: which acknowledged writes are there.
    const reader = await ZkClient.connect(survivors.map((n) => cluster.node(n).endpoint('2181')).join(','));
    await reader.sync('/tc');
    await history.record(
      'final-reader',
      'read-all',
      undefined,
      undefined,
      async () => ({ ids: await reader.children('/tc') }),
      classify,
    );
    reader.close();
    expect(history.faults.map((f) => `${f.kind} ${f.targets.join(',')}`)).toEqual([`kill ${leader}`]);
    const checks = deliveryChecks(delivery(history.ops, { send: 'write', receive: 'read-all' }), {
      loss: 'forbidden',
      duplicates: 'allowed',
    });
    expect(checks.map((c) => [c.name, c.ok])).toContainEqual(['no acknowledged messages lost', true]);
    await cluster.stop();
  });
});
