import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineHostIp } from '../../src/runtime/ports.ts';
import { leftovers } from '../helpers/docker.ts';

// A remote engine (docker-in-docker on a CI runner, DOCKER_HOST=tcp://...) made here: a
// TCP port on another loopback address, 127.0.0.2, forwarded to the engine's socket.
// Everything midlab publishes must then be on 127.0.0.2, and clients must use it there.
const SOCKET = '/var/run/docker.sock';
const ZKCLI = '/usr/share/zookeeper/bin/zkCli.sh';
const KCAT = '/usr/bin/kcat';

function run(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/midlab.js', ...args], { env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

describe('engineHostIp', () => {
  it('is the engine host of a tcp DOCKER_HOST, and loopback otherwise', () => {
    expect(engineHostIp(undefined)).toBe('127.0.0.1');
    expect(engineHostIp('unix:///var/run/docker.sock')).toBe('127.0.0.1');
    expect(engineHostIp('tcp://127.0.0.2:2375')).toBe('127.0.0.2');
    expect(engineHostIp('tcp://10.1.2.3:2376')).toBe('10.1.2.3');
    expect(engineHostIp('tcp://0.0.0.0:2375')).toBe('127.0.0.1');
  });
});

describe.runIf(existsSync(SOCKET))('a remote engine through DOCKER_HOST=tcp://127.0.0.2:PORT', () => {
  let proxy: Server;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    proxy = createServer((c) => {
      const s = connect(SOCKET);
      c.pipe(s).pipe(c);
      c.on('error', () => s.destroy());
      s.on('error', () => c.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.2', resolve));
    const addr = proxy.address();
    env = { DOCKER_HOST: `tcp://127.0.0.2:${typeof addr === 'object' && addr ? addr.port : 0}` };
  });
  afterAll(async () => {
    await run(env, 'down', 'zookeeper');
    await run(env, 'down', 'kafka');
    await new Promise((resolve) => proxy.close(resolve));
  });

  it('doctor names the remote engine', async () => {
    const r = await run(env, 'doctor');
    expect(r.out).toMatch(/published on: 127\.0\.0\.2: the engine is remote/);
  });

  it('a lab passes through it', async () => {
    const r = await run(env, 'run', 'zookeeper/quorum-loss', '--out', 'runs/remote-engine');
    expect(r.code, r.out + r.err).toBe(0);
  });

  it('up prints 127.0.0.2 endpoints, and a client nobody here wrote uses them', async () => {
    const r = await run(env, 'up', 'zookeeper', '--json');
    expect(r.code, r.err).toBe(0);
    const { endpoints } = JSON.parse(r.out) as { endpoints: Record<string, string> };
    expect(endpoints.connect).toMatch(/^127\.0\.0\.2:\d+(,127\.0\.0\.2:\d+){2}$/);
    if (existsSync(ZKCLI)) {
      const cli = spawnSync(ZKCLI, ['-server', endpoints.zk1 as string, 'ls', '/'], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(cli.stdout + cli.stderr).toMatch(/\[.*zookeeper.*\]/);
    }
    expect((await run(env, 'down', 'zookeeper')).code).toBe(0);
    expect(await leftovers('zookeeper')).toEqual({ containers: 0, networks: 0 });
  });

  it.runIf(existsSync(KCAT))('up kafka advertises 127.0.0.2, and kcat produces and consumes through it', async () => {
    const r = await run(env, 'up', 'kafka', '--json');
    expect(r.code, r.err).toBe(0);
    const { endpoints } = JSON.parse(r.out) as { endpoints: Record<string, string> };
    const bootstrap = endpoints.bootstrap as string;
    expect(bootstrap).toMatch(/^127\.0\.0\.2:\d+(,127\.0\.0\.2:\d+)*$/);
    const kcat = (args: string[], input?: string) =>
      spawnSync(KCAT, args, { input, encoding: 'utf8', timeout: 60_000 });
    // The metadata names every broker by its advertised listener: 127.0.0.2, not 127.0.0.1.
    const meta = JSON.parse(kcat(['-b', bootstrap, '-L', '-J']).stdout) as { brokers: { name: string }[] };
    expect(meta.brokers.map((b) => b.name.split(':')[0])).toEqual(['127.0.0.2', '127.0.0.2', '127.0.0.2']);
    expect(kcat(['-b', bootstrap, '-P', '-t', 'remote', '-X', 'acks=all'], 'one\ntwo\n').status).toBe(0);
    expect(kcat(['-b', bootstrap, '-C', '-t', 'remote', '-e', '-q']).stdout.trim().split('\n').sort()).toEqual([
      'one',
      'two',
    ]);
    expect((await run(env, 'down', 'kafka')).code).toBe(0);
  });
});
