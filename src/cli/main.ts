import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MidlabError } from '../errors.ts';
import { handleSignals } from '../runtime/cleanup.ts';
import { commands, usage } from './commands.ts';

/**
 * `midlab <command> [options]`. Typed errors print as one line with a hint and their
 * own exit code (2 usage, 3 infrastructure); anything unexpected is midlab's own bug: one
 * line, its trace in a file, exit 3 (never 1, which means a lab failed).
 */
async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  if (name === '--version') {
    process.stdout.write('midlab 0.1.0\n');
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(
      `midlab: unknown command "${name}"\nhint: commands are ${commands.map((c) => c.name).join(', ')}; see \`midlab --help\`\n`,
    );
    return 2;
  }
  const own = rest.slice(0, cmd.ownArgs ?? rest.length);
  if (own.includes('--help') || own.includes('-h')) {
    process.stdout.write(`${cmd.help}\n`);
    return 0;
  }
  return cmd.run(rest);
}

handleSignals();
// `midlab list | head`: a reader that stopped reading is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof MidlabError) {
    process.stderr.write(`midlab: ${err.message}\n`);
    if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
    process.exitCode = err.exitCode;
  } else {
    // Not a verdict: CI must not read midlab's own failure as "a lab failed" (exit 1).
    const trace = (err as Error)?.stack ?? String(err);
    const file = join(tmpdir(), `midlab-error-${Date.now()}.log`);
    const kept = await writeFile(file, `${trace}\n`).then(
      () => true,
      () => false,
    );
    process.stderr.write(
      `midlab: internal error (a bug; please report it): ${(err as Error)?.message ?? String(err)}\n` +
        (kept ? `the full trace is in ${file}\n` : `${trace}\n`),
    );
    process.exitCode = 3;
  }
}
