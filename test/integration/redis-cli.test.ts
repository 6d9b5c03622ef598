import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { leftovers, midlab } from '../helpers/docker.ts';

const REDIS_CLI = '/usr/bin/redis-cli';

/** Debian's redis-cli (redis-tools) against an endpoint `midlab up --json` printed. */
function cli(endpoint: string, ...args: string[]): { code: number | null; out: string } {
  const [host, port] = endpoint.split(':') as [string, string];
  const r = spawnSync(REDIS_CLI, ['-h', host, '-p', port, ...args], { encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

describe.skipIf(!existsSync(REDIS_CLI))('redis endpoints from `midlab up redis --json`, with redis-cli', () => {
  afterAll(() => {
    midlab('down', 'redis');
  });

  it('reads and writes through the printed endpoints, and down removes everything', async () => {
    const r = midlab('up', 'redis', '--json');
    expect(r.code, r.err).toBe(0);
    const { endpoints } = JSON.parse(r.out) as { endpoints: Record<string, string | string[]> };
    const primary = endpoints.primary as string;
    const replicas = endpoints.replicas as string[];
    const sentinels = endpoints.sentinels as string[];
    for (const e of [primary, ...replicas, ...sentinels]) expect(e).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(replicas).toHaveLength(2);
    expect(sentinels).toHaveLength(3);
    expect(endpoints.redis1).toBe(primary);

    expect(cli(primary, 'SET', 'midlab:cli', 'hello')).toEqual({ code: 0, out: 'OK' });
    for (const replica of replicas) {
      // Replication is asynchronous: WAIT on the primary first would need the same
      // connection, so poll the replica briefly instead.
      let got = '';
      for (let i = 0; i < 50 && got !== 'hello'; i++) {
        got = cli(replica, 'GET', 'midlab:cli').out;
        if (got !== 'hello') await new Promise((res) => setTimeout(res, 100));
      }
      expect(got).toBe('hello');
      expect(cli(replica, 'SET', 'midlab:cli', 'nope').out).toBe(
        "READONLY You can't write against a read only replica.",
      );
    }
    for (const sentinel of sentinels) {
      expect(cli(sentinel, 'SENTINEL', 'get-master-addr-by-name', 'mymaster').out.split('\n')).toEqual([
        'redis1',
        '6379',
      ]);
    }

    expect(midlab('down', 'redis').code).toBe(0);
    expect(await leftovers('redis')).toEqual({ containers: 0, networks: 0 });
  });
});
