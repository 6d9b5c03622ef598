import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { docker } from '../../src/runtime/docker.ts';
import { LABEL_LAB, LABEL_NODE } from '../../src/runtime/labels.ts';
import { waitUntil } from '../../src/runtime/poll.ts';
import { leftovers, midlab, midlabAsync } from '../helpers/docker.ts';

// A run interrupted in the middle of a network cut: the cut lives in the nodes' own
// network namespaces (an iptables chain MIDLAB in each), so removing the containers
// removes it; nothing may stay behind, on Docker or in this machine's iptables.
const LAB = 'zookeeper/partitioned-leader';
const filters = JSON.stringify({ label: [`${LABEL_LAB}=${LAB}`] });

describe('a run interrupted in the middle of a cut', () => {
  it('Ctrl-C removes its containers, network and volumes, and adds no iptables rule here', async () => {
    const before = hostRules();
    const { child, cut } = await startedUntilCut();
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(130);
    await expectNothingLeft(before, cut.ips);
  });

  it('SIGKILL then `midlab reap` removes everything, and adds no iptables rule here', async () => {
    const before = hostRules();
    const { child, cut } = await startedUntilCut();
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('exit', resolve));
    expect((await leftovers(LAB)).containers).toBe(3);
    const r = midlab('reap');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/removed 3 container\(s\), 1 network\(s\)/);
    await expectNothingLeft(before, cut.ips);
  });
});

/**
 * The lab in the background, once its first cut is in place: the fault line is printed
 * and the cut-off node's MIDLAB chain holds DROP rules. Returns the nodes' addresses.
 */
async function startedUntilCut() {
  const child = midlabAsync('run', LAB);
  let out = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const node = await waitUntil(
    'the cut to be narrated',
    async () => {
      const m = /(zk\d) cut off from/.exec(out);
      return m ? { done: true, value: m[1] as string } : { done: false, seen: out.split('\n').at(-2) ?? '' };
    },
    { timeoutMs: 120_000, intervalMs: 50 },
  );
  const containers = await docker().listContainers({ all: true, filters });
  const ips = containers.flatMap((c) => Object.values(c.NetworkSettings.Networks).map((n) => n.IPAddress));
  const cutOff = containers.find((c) => c.Labels[LABEL_NODE] === node)?.Id ?? `no container of ${node}`;
  const text = spawnSync('docker', ['exec', cutOff, 'iptables', '-S', 'MIDLAB'], { encoding: 'utf8' }).stdout;
  expect(text).toMatch(/-A MIDLAB -s \S+ -j DROP/);
  return { child, cut: { node, ips } };
}

/** No container, network or volume of the lab, and no rule in this machine's iptables that the cut could have added. */
async function expectNothingLeft(before: string[] | undefined, ips: string[]) {
  expect(await leftovers(LAB)).toEqual({ containers: 0, networks: 0 });
  expect((await docker().listVolumes({ filters })).Volumes ?? []).toEqual([]);
  const after = hostRules();
  if (!before || !after) return; // iptables not readable here (a remote engine, no root)
  const added = after.filter((l) => !before.includes(l));
  expect(after.filter((l) => l.includes('MIDLAB'))).toEqual([]);
  expect(added.filter((l) => ips.some((ip) => l.includes(`${ip}/`)))).toEqual([]);
}

/** This machine's iptables rules (filter table), or undefined when they cannot be read. */
function hostRules(): string[] | undefined {
  const r = spawnSync('iptables', ['-S'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n') : undefined;
}
