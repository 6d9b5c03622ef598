import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../src/runtime/poll.ts';
import { leftovers, midlab } from '../helpers/docker.ts';

const KCAT = '/usr/bin/kcat';

/** Debian's kcat (librdkafka) against the bootstrap list `midlab up kafka --json` printed. */
function kcat(args: string[], input?: string): { code: number | null; out: string; err: string } {
  const r = spawnSync(KCAT, args, { encoding: 'utf8', timeout: 60_000, input });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe.skipIf(!existsSync(KCAT))('kafka endpoints from `midlab up kafka --json`, with kcat', () => {
  afterAll(() => {
    midlab('down', 'kafka');
  });

  // Kafka 3.9 in both modes, and 4.4 (KRaft only).
  it.each([
    ['3.9', 'kraft'],
    ['3.9', 'zookeeper'],
    ['4.4', 'kraft'],
  ])('version=%s mode=%s: kcat lists 3 brokers, produces and consumes', async (version, mode) => {
    const r = midlab('up', 'kafka', '--param', `version=${version}`, '--param', `mode=${mode}`, '--json');
    expect(r.code, r.err).toBe(0);
    const { endpoints } = JSON.parse(r.out) as { endpoints: Record<string, string> };
    const bootstrap = endpoints.bootstrap as string;
    expect(bootstrap.split(',')).toHaveLength(3);
    for (const e of bootstrap.split(',')) expect(e).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(endpoints.kafka1).toBe(bootstrap.split(',')[0]);
    if (mode === 'zookeeper') expect(endpoints.zookeeper?.split(',')).toHaveLength(3);
    else expect(endpoints.zookeeper).toBeUndefined();

    // Every broker advertises 127.0.0.1:<its published port>, so each is reachable alone.
    // A broker's own metadata can trail the controller's by a moment after start (seen in
    // KRaft): poll it, bounded, rather than read it once.
    type Metadata = { brokers: { id: number; name: string }[]; controllerid: number };
    const md = await waitUntil(
      'kafka2 to list every broker',
      async () => {
        const list = kcat(['-b', endpoints.kafka2 as string, '-L', '-J']);
        if (list.code !== 0) return { done: false, seen: list.err };
        const m = JSON.parse(list.out) as Metadata;
        return m.brokers.length === 3 ? { done: true, value: m } : { done: false, seen: JSON.stringify(m.brokers) };
      },
      { timeoutMs: 20_000, intervalMs: 500 },
    );
    expect(md.brokers.map((b) => b.id).sort()).toEqual([1, 2, 3]);
    expect(md.brokers.map((b) => b.name).sort()).toEqual(bootstrap.split(',').sort());
    expect(md.controllerid).toBeGreaterThan(0);

    const lines = Array.from({ length: 12 }, (_, i) => `k${i % 4}:v${i}`);
    const put = kcat(['-b', bootstrap, '-P', '-t', 'kcat', '-K:', '-X', 'acks=all'], `${lines.join('\n')}\n`);
    expect(put.code, put.err).toBe(0);
    const got = kcat(['-b', bootstrap, '-C', '-t', 'kcat', '-e', '-q', '-f', '%p %k:%s\\n']);
    expect(got.code, got.err).toBe(0);
    const read = got.out.trim().split('\n');
    expect(read.map((l) => l.split(' ')[1]).sort()).toEqual([...lines].sort());
    // Same key, same partition.
    const partitionOf = new Map<string, string>();
    for (const l of read) {
      const [p, kv] = l.split(' ') as [string, string];
      const key = kv.split(':')[0] as string;
      expect(partitionOf.get(key) ?? p).toBe(p);
      partitionOf.set(key, p);
    }

    expect(midlab('down', 'kafka').code).toBe(0);
    expect(await leftovers('kafka')).toEqual({ containers: 0, networks: 0 });
  });
});
