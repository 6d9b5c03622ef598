import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { leftovers, midlab } from '../helpers/docker.ts';

/**
 * Debian's amqp-tools (amqp-publish, amqp-consume: the C client rabbitmq-c) against the
 * endpoints `midlab up rabbitmq --json` prints: what a trainee's own tools would use.
 */
const TOOLS = '/usr/bin/amqp-publish';

function tool(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe.skipIf(!existsSync(TOOLS))('amqp-tools against `midlab up rabbitmq`', () => {
  afterAll(() => {
    midlab('down', 'rabbitmq');
  });

  it('publishes through one node and consumes every message through another', async () => {
    const r = midlab('up', 'rabbitmq', '--json');
    expect(r.code, r.err).toBe(0);
    const { endpoints } = JSON.parse(r.out) as { endpoints: Record<string, string | string[]> };
    const { user, password } = endpoints as { user: string; password: string };
    const amqp = endpoints.amqp as string[];
    expect(amqp).toHaveLength(3);
    for (const e of [...amqp, ...(endpoints.management as string[])]) expect(e).toMatch(/^127\.0\.0\.1:\d+$/);
    const url = (endpoint: string) => `amqp://${user}:${password}@${endpoint}`;

    const declared = tool('/usr/bin/amqp-declare-queue', ['-u', url(amqp[1] as string), '-d', '-q', 'tools.q']);
    expect(declared.code, declared.err).toBe(0);
    const sent = ['one', 'two', 'three', 'four', 'five'];
    for (const body of sent) {
      const p = tool(TOOLS, ['-u', url(amqp[0] as string), '-r', 'tools.q', '-p', '-b', body]);
      expect(p.code, p.err).toBe(0);
    }
    // amqp-consume runs the command once per message, the body on its stdin.
    const c = tool('/usr/bin/amqp-consume', [
      '-u',
      url(amqp[2] as string),
      '-q',
      'tools.q',
      '-c',
      String(sent.length),
      '--',
      'sh',
      '-c',
      'cat; echo',
    ]);
    expect(c.code, c.err).toBe(0);
    expect(c.out.trim().split('\n')).toEqual(sent);

    const wrong = tool(TOOLS, ['-u', `amqp://${user}:wrong@${amqp[0]}`, '-r', 'tools.q', '-b', 'x']);
    expect(wrong.code).not.toBe(0);

    expect(midlab('down', 'rabbitmq').code).toBe(0);
    expect(await leftovers('rabbitmq')).toEqual({ containers: 0, networks: 0 });
  });
});
