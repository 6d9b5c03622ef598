import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

/** A temporary folder for the current test: removed when it passes, kept (and named) when it fails. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `midlab-${prefix}-`));
  onTestFinished(({ task }) => {
    if (task.result?.state === 'fail') process.stderr.write(`evidence kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}
