import { MidlabError } from '../errors.ts';
import { handleSignals } from '../runtime/cleanup.ts';
import { commands, usage } from './commands.ts';

/**
 * `midlab <command> [options]`. Typed errors print as one line with a hint and their
 * own exit code (2 usage, 3 infrastructure); anything unexpected prints in full, exit 1.
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
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${cmd.help}\n`);
    return 0;
  }
  return cmd.run(rest);
}

handleSignals();
try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof MidlabError) {
    process.stderr.write(`midlab: ${err.message}\n`);
    if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(
      `midlab: unexpected error (a bug; please report it):\n${(err as Error)?.stack ?? String(err)}\n`,
    );
    process.exitCode = 1;
  }
}
