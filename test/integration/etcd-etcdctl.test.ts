import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { leftovers, midlab } from '../helpers/docker.ts';

const ETCDCTL = '/usr/bin/etcdctl';

/** Debian's etcdctl (etcd-client) against endpoints `midlab up --json` printed. */
function ctl(endpoints: string, ...args: string[]): { code: number | null; out: string } {
  const r = spawnSync(ETCDCTL, [`--endpoints=${endpoints}`, ...args], {
    encoding: 'utf8',
    timeout: 10_000,
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

describe.skipIf(!existsSync(ETCDCTL))('etcd endpoints from `midlab up etcd --json`, with etcdctl', () => {
  afterAll(() => {
    midlab('down', 'etcd');
  });

  it('writes through all endpoints, reads through each, and down removes everything', async () => {
    const r = midlab('up', 'etcd', '--json');
    expect(r.code, r.err).toBe(0);
    const { endpoints } = JSON.parse(r.out) as { endpoints: Record<string, string> };
    const each = ['etcd1', 'etcd2', 'etcd3'].map((n) => endpoints[n] as string);
    for (const e of each) expect(e).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(endpoints.endpoints).toBe(each.join(','));

    expect(ctl(endpoints.endpoints as string, 'put', '/midlab/ctl', 'hello')).toEqual({ code: 0, out: 'OK' });
    // Linearizable reads (the default): every member answers with the acknowledged value.
    for (const e of each) expect(ctl(e, 'get', '/midlab/ctl', '--print-value-only')).toEqual({ code: 0, out: 'hello' });
    const members = ctl(each[0] as string, 'member', 'list');
    expect(members.code).toBe(0);
    for (const n of ['etcd1', 'etcd2', 'etcd3']) expect(members.out).toContain(`started, ${n}, http://${n}:2380`);

    expect(midlab('down', 'etcd').code).toBe(0);
    expect(await leftovers('etcd')).toEqual({ containers: 0, networks: 0 });
  });
});
