import { describe, expect, it } from 'vitest';
import { waitUntil } from '../../src/runtime/poll.ts';
import { reap } from '../../src/runtime/reaper.ts';
import { leftovers, midlab, midlabAsync } from '../helpers/docker.ts';

describe('midlab up / down / reap', () => {
  it('doctor is ready', () => {
    const r = midlab('doctor');
    expect(r.out).toMatch(/ready\n$/);
    expect(r.code).toBe(0);
  });

  it('up prints 127.0.0.1 endpoints as JSON, keeps the cluster past reap, and down removes it', async () => {
    const r = midlab('up', 'zookeeper', '--nodes', '3', '--json');
    expect(r.code, r.err).toBe(0);
    const out = JSON.parse(r.out) as { lab: string; endpoints: Record<string, string> };
    expect(out.lab).toBe('zookeeper');
    expect(out.endpoints.connect).toMatch(/^127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$/);
    expect(out.endpoints.zk1).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(midlab('ps').out).toMatch(/zookeeper \(zookeeper\) kept by `midlab up`/);
    expect(midlab('reap').code).toBe(0);
    expect((await leftovers('zookeeper')).containers).toBe(3);
    expect(midlab('down', 'zookeeper').code).toBe(0);
    expect(await leftovers('zookeeper')).toEqual({ containers: 0, networks: 0 });
  });

  it('warns that two nodes tolerate no failure', async () => {
    const r = midlab('up', 'zookeeper', '--nodes', '2');
    expect(r.err).toMatch(/two nodes tolerate no failure/);
    expect(r.code).toBe(0);
    midlab('down', 'zookeeper');
  });

  it('Ctrl-C during up removes what was started', async () => {
    const child = await startedUntilContainersExist(['up', 'zookeeper', '--nodes', '3'], 'zookeeper');
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(130);
    expect(await leftovers('zookeeper')).toEqual({ containers: 0, networks: 0 });
  });

  it('up killed before its cluster is healthy leaves a leftover that reap removes, not a kept cluster', async () => {
    const child = await startedUntilContainersExist(['up', 'zookeeper', '--nodes', '3'], 'zookeeper');
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('exit', resolve));
    expect(midlab('ps').out).toMatch(/leftover \(owner gone\)/);
    expect(midlab('reap').code).toBe(0);
    expect(await leftovers('zookeeper')).toEqual({ containers: 0, networks: 0 });
  });

  it('a lab already running is refused, not clobbered; once its process is killed, reap removes it', async () => {
    // A lab that holds its cluster for 15 s: ensemble-basics ended (and removed its
    // cluster) before the assertions ran on a quiet machine.
    const lab = 'zookeeper/quorum-loss';
    const child = await startedUntilContainersExist(['run', lab], lab);
    const second = midlab('run', lab);
    expect(second.code).toBe(3);
    expect(second.out).toMatch(/already running/);
    expect(midlab('reap').code).toBe(0);
    expect((await leftovers(lab)).containers).toBe(3);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('exit', resolve));
    expect(midlab('ps').out).toMatch(/leftover \(owner gone\)/);
    const r = midlab('reap');
    expect(r.out).toMatch(/removed 3 container\(s\), 1 network\(s\)/);
    expect(await leftovers(lab)).toEqual({ containers: 0, networks: 0 });
  });

  it('down of an unknown lab is a usage error', async () => {
    await reap('zookeeper');
    const r = midlab('down', 'nothing-here');
    expect(r.code).toBe(2);
  });
});

/** The CLI in the background, once the lab's three containers exist. */
async function startedUntilContainersExist(args: string[], lab: string) {
  const child = midlabAsync(...args);
  await waitUntil(
    `${lab}'s containers to exist`,
    async () => {
      const l = await leftovers(lab);
      return l.containers === 3 ? { done: true, value: l } : { done: false, seen: JSON.stringify(l) };
    },
    { timeoutMs: 60_000 },
  );
  return child;
}
