import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { History } from '../../src/engine/history.ts';
import { HOST, Nemesis } from '../../src/faults/nemesis.ts';
import { waitUntil } from '../../src/runtime/poll.ts';
import { startStack } from '../../src/runtime/stack.ts';
import { type StartedZooKeeper, zookeeper } from '../../stacks/zookeeper/stack.ts';
import { leftovers } from '../helpers/docker.ts';

const LAB = 'it-runtime';

describe('runtime on a real ZooKeeper ensemble', () => {
  let zk: StartedZooKeeper;
  beforeAll(async () => {
    zk = await startStack(zookeeper, { nodes: 3 }, { lab: LAB });
  });
  afterAll(async () => {
    await zk?.stop();
    expect(await leftovers(LAB)).toEqual({ containers: 0, networks: 0 });
  });

  it('labels every container and publishes on 127.0.0.1 only', async () => {
    for (const node of zk.cluster.nodes) {
      const info = await node.container.inspect();
      expect(info.Config.Labels).toMatchObject({
        'dev.midlab.lab': LAB,
        'dev.midlab.stack': 'zookeeper',
        'dev.midlab.node': node.name,
      });
      const bindings = Object.values(info.HostConfig.PortBindings ?? {}).flat() as { HostIp: string }[];
      expect(bindings.length).toBeGreaterThan(0);
      for (const b of bindings) expect(b.HostIp).toBe('127.0.0.1');
      // Ports the image only EXPOSEs (peer ports) are listed with null: not published at all.
      const published = Object.values(info.NetworkSettings.Ports ?? {})
        .flat()
        .filter(Boolean) as { HostIp: string }[];
      for (const p of published) expect(p.HostIp).toBe('127.0.0.1');
    }
  });

  it('has exactly one leader', async () => {
    const modes = Object.values(await zk.modes());
    expect(modes.filter((m) => m === 'leader')).toHaveLength(1);
  });

  it('cuts a node off from its peers and heals it exactly', async () => {
    const zk1 = zk.cluster.node('zk1');
    const peers = await Promise.all(['zk2', 'zk3'].map((n) => zk.cluster.node(n).ip()));
    await zk1.cutOff(peers);
    const rules = await zk1.run(['iptables', '-S', 'MIDLAB']);
    expect(rules.match(/-j DROP/g)).toHaveLength(4);
    // Cut off from both peers, zk1 has no quorum; the other two still do.
    await waitUntil(
      'zk1 isolated',
      async () => {
        const m = await zk.modes();
        return m.zk1 !== 'leader' && m.zk1 !== 'follower' && (m.zk2 === 'leader' || m.zk3 === 'leader')
          ? { done: true, value: m }
          : { done: false, seen: JSON.stringify(m) };
      },
      { timeoutMs: 30_000 },
    );
    await zk1.heal();
    expect((await zk1.run(['iptables', '-S', 'MIDLAB'])).trim()).toBe('-N MIDLAB');
    await zk.waitHealthy(30_000);
  });

  it("cuts a node off from this machine's clients (the HOST peer) and heals it", async () => {
    const faults = new Nemesis(zk.cluster, new History());
    await faults.partition('zk3', [HOST]);
    // srvr goes through the published port: from here zk3 is gone, the others answer.
    const cut = await zk.modes();
    expect(cut.zk3).toBe('down');
    expect([cut.zk1, cut.zk2]).not.toContain('down');
    await faults.heal('zk3');
    await zk.waitHealthy(30_000);
  });

  it('heals one link of a cut and keeps the rest (healFrom), recording each stage', async () => {
    const history = new History();
    const faults = new Nemesis(zk.cluster, history);
    await faults.partition('zk3', ['zk1', 'zk2']);
    await faults.healFrom('zk3', ['zk1']);
    const rules = await zk.cluster.node('zk3').run(['iptables', '-S', 'MIDLAB']);
    const [ip1, ip2] = await Promise.all([zk.cluster.node('zk1').ip(), zk.cluster.node('zk2').ip()]);
    expect(rules).not.toContain(`${ip1}/32`);
    expect(rules).toContain(`-s ${ip2}/32`);
    expect(history.faults.map((f) => [f.peers, f.end === undefined])).toEqual([
      [['zk1', 'zk2'], false],
      [['zk2'], true],
    ]);
    await faults.heal('zk3');
    expect(history.faults.every((f) => f.end !== undefined)).toBe(true);
    await zk.waitHealthy(30_000);
  });

  it('pauses and resumes, kills and starts, stops and starts', async () => {
    const zk2 = zk.cluster.node('zk2');
    await zk2.pause();
    expect(await zk2.state()).toBe('paused');
    await zk2.resume();
    expect(await zk2.state()).toBe('running');
    await zk2.kill();
    expect(await zk2.state()).toBe('exited');
    await zk2.start();
    await zk2.stop(2);
    expect(await zk2.state()).toBe('exited');
    await zk2.start();
    await zk.waitHealthy(30_000);
    // The published port survives the restarts: host clients reconnect where they were.
    const port = zk2.hostPort('client');
    const info = await zk2.container.inspect();
    expect(info.NetworkSettings.Ports['2181/tcp']?.[0]?.HostPort).toBe(String(port));
  });

  const zkCli = '/usr/share/zookeeper/bin/zkCli.sh';
  it.runIf(existsSync(zkCli))("serves ZooKeeper's own zkCli.sh from the host", () => {
    const r = spawnSync(zkCli, ['-server', zk.endpoint('zk1'), 'ls', '/'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stdout + r.stderr).toMatch(/\[zookeeper\]/);
  });
});

describe('two starts of one lab at the same moment', () => {
  it('one wins, the other is refused as busy and removes nothing of the winner', async () => {
    const lab = 'it-race';
    const starts = await Promise.allSettled([
      startStack(zookeeper, { nodes: 3 }, { lab }),
      startStack(zookeeper, { nodes: 3 }, { lab }),
    ]);
    const won = starts.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const lost = starts.flatMap((s) => (s.status === 'rejected' ? [s.reason as { code?: string }] : []));
    try {
      expect(won).toHaveLength(1);
      expect(lost.map((e) => e.code)).toEqual(['LAB_BUSY']);
      expect(await leftovers(lab)).toEqual({ containers: 3, networks: 1 });
      await won[0]?.waitHealthy(30_000);
    } finally {
      await Promise.all(won.map((z) => z.stop()));
    }
    expect(await leftovers(lab)).toEqual({ containers: 0, networks: 0 });
  });
});
