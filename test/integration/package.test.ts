import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp.ts';

/**
 * midlab as another project's CI meets it: packed, installed from the tarball into a
 * scratch project outside the checkout, then used there from the command line, from plain
 * Node, and from a vitest test that starts a real ZooKeeper through it.
 */
const root = join(import.meta.dirname, '..', '..');
const env = { ...process.env, npm_config_nodedir: dirname(dirname(process.execPath)), npm_config_fund: 'false' };
const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 280_000 });

describe('the package', () => {
  it('installs from its tarball and works from the CLI, plain Node and vitest', { timeout: 900_000 }, () => {
    const out = tempDir('pack');
    run('npm', ['pack', '--silent', '--pack-destination', out], root);
    const tarball = readdirSync(out).find((f) => f.endsWith('.tgz')) as string;
    const app = join(out, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    const vitest = JSON.parse(readFileSync(join(root, 'node_modules/vitest/package.json'), 'utf8')).version;
    run('npm', ['install', '--no-audit', join(out, tarball), `vitest@${vitest}`], app);

    expect(run('npx', ['midlab', 'list'], app)).toMatch(/zookeeper\/quorum-loss/);
    const plain = run(
      'node',
      ['-e', "const m = await import('midlab/zookeeper'); console.log(typeof m.zookeeper.nodes, typeof m.ZkClient)"],
      app,
    );
    expect(plain.trim()).toBe('function function');

    // Two test files, each starting its own ZooKeeper, run at the same time (two workers):
    // each startStack gets a lab id of its own, so neither touches the other's cluster.
    for (const name of ['zk-a', 'zk-b'])
      writeFileSync(
        join(app, `${name}.test.js`),
        `import { expect, it } from 'vitest';
import { startStack } from 'midlab/engine';
import { zookeeper, ZkClient } from 'midlab/zookeeper';
it('starts ZooKeeper through the installed package', { timeout: 180000 }, async () => {
  await using zk = await startStack(zookeeper, { nodes: 1 });
  const c = await ZkClient.connect(zk.connectString());
  await c.create('/from-${name}', 'yes');
  expect(String(await c.get('/from-${name}'))).toBe('yes');
  expect(await c.exists('/from-${name === 'zk-a' ? 'zk-b' : 'zk-a'}')).toBe(false);
  c.close();
});
`,
      );
    expect(run('npx', ['vitest', 'run', '--maxWorkers', '2'], app)).toMatch(/2 passed/);
  });
});
