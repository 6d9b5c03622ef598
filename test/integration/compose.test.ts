import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../src/runtime/poll.ts';
import { fourLetter, parseSrvr } from '../../stacks/zookeeper/four-letter.ts';

const COMPOSE = '/usr/bin/docker-compose';
const file = 'compose/zookeeper.yml';
const dc = (...args: string[]) =>
  spawnSync(COMPOSE, ['-f', file, '-p', 'midlab-it-compose', ...args], { encoding: 'utf8', timeout: 120_000 });

describe.runIf(existsSync(COMPOSE))('compose files with docker-compose', () => {
  afterAll(() => {
    dc('down', '--remove-orphans');
  });

  it.each(readdirSync('compose').filter((f) => f.endsWith('.yml')))('%s is valid', (f) => {
    const r = spawnSync(COMPOSE, ['-f', `compose/${f}`, 'config', '-q'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });

  it('brings up a working ZooKeeper ensemble', async () => {
    const up = dc('up', '-d');
    expect(up.status, up.stderr).toBe(0);
    const modes = await waitUntil(
      'the composed ensemble to elect a leader',
      async () => {
        const found: string[] = [];
        for (const node of ['zk1', 'zk2', 'zk3']) {
          const port = Number(dc('port', node, '2181').stdout.trim().split(':')[1]);
          found.push(parseSrvr(await fourLetter('127.0.0.1', port, 'srvr').catch(() => '')).mode ?? 'down');
        }
        return found.filter((m) => m === 'leader').length === 1 && found.filter((m) => m === 'follower').length === 2
          ? { done: true, value: found }
          : { done: false, seen: found.join(',') };
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(modes.sort()).toEqual(['follower', 'follower', 'leader']);
  });
});
