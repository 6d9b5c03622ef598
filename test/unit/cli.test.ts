import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { labs } from '../../scenarios/index.ts';

/** The CLI as a user meets it: exit codes and messages, no Docker needed. */
function midlab(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/midlab.js', ...args], { encoding: 'utf8', timeout: 15_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// Each case spawns the CLI a few times (a second or more each on a busy 2-core machine).
describe('midlab CLI', { timeout: 60_000 }, () => {
  it('explains itself', () => {
    const r = midlab('--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/run\s+run a lab/);
    expect(midlab('run', '--help').out).toMatch(/--param key=value/);
  });
  it('refuses an unknown command, lab, option or parameter with exit 2 and the choices', () => {
    expect(midlab('frobnicate')).toMatchObject({ code: 2 });
    const lab = midlab('run', 'zookeeper/nope');
    expect(lab.code).toBe(2);
    expect(lab.err).toMatch(/no lab named "zookeeper\/nope"[\s\S]*zookeeper\/quorum-loss/);
    const opt = midlab('run', 'zookeeper/quorum-loss', '--bogus');
    expect(opt.code).toBe(2);
    expect(opt.err).toMatch(/valid options: .*--param/);
    const param = midlab('run', 'zookeeper/ephemeral-session', '--param', 'service=explode');
    expect(param.code).toBe(2);
    expect(param.err).toMatch(/choose from: freeze, kill/);
    // Checked for every stack before any cluster starts.
    const bench = midlab('bench', '--param', 'mode=kraft');
    expect(bench.code).toBe(2);
    expect(bench.err).toMatch(/zookeeper has no parameter "mode"/);
  });
  it('refuses an impossible topology before touching Docker', () => {
    const r = midlab('up', 'zookeeper', '--nodes', '0');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/nodes=0 is out of range/);
    const lab = midlab('run', 'kafka/cluster-basics', '--param', 'mode=zookeeper', '--param', 'layout=isolated');
    expect(lab.code).toBe(2);
    expect(lab.err).toMatch(/isolated controllers exist only in KRaft mode/);
    expect(lab.out).not.toMatch(/starting/);
    // Every Kafka lab takes the stack's version; 4.x has no ZooKeeper mode.
    for (const args of [
      ['run', 'kafka/ordering'],
      ['up', 'kafka'],
    ]) {
      const k4 = midlab(...args, '--param', 'version=4.4', '--param', 'mode=zookeeper');
      expect(k4.code, args.join(' ')).toBe(2);
      expect(k4.err).toMatch(/Kafka 4.4 has no ZooKeeper mode: Kafka 4.0 removed it/);
      expect(`${k4.out}${k4.err}`).not.toMatch(/starting/);
    }
  });
  it('refuses a parameter no chosen lab takes, whatever the number of labs, before starting anything', () => {
    for (const args of [['kafka/ordering'], ['--all'], ['zookeeper/quorum-loss', 'zookeeper/observer']]) {
      const r = midlab('run', ...args, '--param', 'nonsense=1');
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(/no chosen lab takes --param nonsense/);
      expect(r.out).not.toMatch(/starting/);
    }
    // A value is checked for every lab that declares the parameter.
    expect(midlab('run', '--all', '--param', 'mode=nonsense').code).toBe(2);
  });
  it('refuses --seed for a lab that makes no random choice', () => {
    const plain = labs.find((l) => !l.random);
    if (!plain) return;
    const r = midlab('run', plain.id, '--seed', '7');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/makes no random choice/);
  });
  it('leaves --help after a shell command to that command', () => {
    const r = midlab('shell', 'zookeeper/none', 'zk1', 'zkCli.sh', '--help');
    expect(r.out).not.toMatch(/Usage: midlab shell/);
    expect(midlab('shell', '--help').out).toMatch(/Usage: midlab shell/);
  });
  it('shows a lab sheet without touching Docker', () => {
    const r = spawnSync(process.execPath, ['bin/midlab.js', 'show', 'kafka/acks-min-isr'], {
      encoding: 'utf8',
      timeout: 15_000,
      env: { ...process.env, DOCKER_HOST: 'tcp://127.0.0.1:1' },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/min\.insync\.replicas=2/);
    expect(r.stdout).toMatch(/Notes:[\s\S]*seed lines/);
    expect(r.stdout).toMatch(/Runs in the tests with:\n {2}\{"mode":"kraft"\}\n {2}\{"mode":"zookeeper"\}/);
    expect(midlab('show', 'kafka/nope').code).toBe(2);
  });
  it('lists every lab with what it teaches', () => {
    const r = midlab('list', '--json');
    const labs = JSON.parse(r.out) as { id: string; teaches: string }[];
    expect(labs.map((l) => l.id)).toContain('zookeeper/ephemeral-session');
    expect(labs.every((l) => l.teaches.length > 20)).toBe(true);
  });
});
