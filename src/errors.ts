/**
 * Typed errors: a stable `code`, a `hint` that says how to fix it, and the exit code
 * the CLI uses. The CLI prints these without a stack trace; anything else is a bug
 * and is printed in full.
 */
export type ExitCode = 0 | 1 | 2 | 3;

export class MidlabError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: ExitCode;
  constructor(code: string, message: string, opts: { hint?: string; exitCode?: ExitCode; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'MidlabError';
    this.code = code;
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? 3;
  }
}

/** Bad input from the user: unknown lab, option or value, impossible topology. Exit 2. */
export class UsageError extends MidlabError {
  constructor(message: string, hint?: string) {
    super('USAGE', message, { hint, exitCode: 2 });
    this.name = 'UsageError';
  }
}

export class DockerUnreachableError extends MidlabError {
  constructor(cause: unknown) {
    super('DOCKER_UNREACHABLE', `the Docker engine does not answer (${describe(cause)})`, {
      hint: 'run `npm run setup` (installs and starts the engine on Debian as root), or start Docker yourself and retry',
      cause,
    });
  }
}

export class ImageMissingError extends MidlabError {
  constructor(image: string, stack: string) {
    super('IMAGE_MISSING', `image ${image} is not built`, { hint: `run \`npx midlab images build ${stack}\`` });
  }
}

/** A wait that ran out: what was awaited, for how long, and the last thing seen. */
export class NotReadyError extends MidlabError {
  readonly lastObservation: string;
  constructor(what: string, ms: number, lastObservation: string) {
    super('NOT_READY', `${what}: not reached after ${(ms / 1000).toFixed(1)} s (last seen: ${lastObservation})`, {
      hint: 'the node logs in the run folder usually say why',
    });
    this.lastObservation = lastObservation;
  }
}

export class InterruptedError extends MidlabError {
  constructor(signal: string) {
    super('INTERRUPTED', `interrupted by ${signal}; everything started was removed`, { exitCode: 3 });
  }
}

export function describe(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
