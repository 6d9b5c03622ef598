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

  it('up prints 127.0.0.1 endpoints as JSON and down removes everything', async () => {
    const r = midlab('up', 'zookeeper', '--nodes', '3', '--json');
    expect(r.code, r.err).toBe(0);
    const out = JSON.parse(r.out) as { lab: string; endpoints: Record<string, string> };
    expect(out.lab).toBe('zookeeper');
    expect(out.endpoints.connect).toMatch(/^127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$/);
    expect(out.endpoints.zk1).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(midlab('ps').out).toMatch(/zookeeper \(zookeeper\)/);
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
    const child = await upUntilContainersExist();
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(130);
    expect(await leftovers('zookeeper')).toEqual({ containers: 0, networks: 0 });
  });

  it('after SIGKILL of up, reap removes the leftovers', async () => {
    const child = await upUntilContainersExist();
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('exit', resolve));
    expect((await leftovers('zookeeper')).containers).toBe(3);
    expect(midlab('ps').out).toMatch(/owner gone/);
    expect(midlab('reap').code).toBe(0);
    expect(await leftovers()).toEqual({ containers: 0, networks: 0 });
  });

  it('down of an unknown lab is a usage error', async () => {
    await reap('zookeeper');
    const r = midlab('down', 'nothing-here');
    expect(r.code).toBe(2);
  });
});

/** `midlab up zookeeper` in the background, once its three containers exist. */
async function upUntilContainersExist() {
  const child = midlabAsync('up', 'zookeeper', '--nodes', '3');
  await waitUntil(
    'containers to exist',
    async () => {
      const l = await leftovers('zookeeper');
      return l.containers === 3 ? { done: true, value: l } : { done: false, seen: JSON.stringify(l) };
    },
    { timeoutMs: 60_000 },
  );
  return child;
}
