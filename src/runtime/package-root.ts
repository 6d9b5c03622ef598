import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder holding midlab's package.json: the checkout, or the installed package. The
 * image recipes (`stacks/<name>/image/`) and compose files live there, whether the code
 * runs from its TypeScript sources or from the build in `dist/`.
 */
export const PACKAGE_ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6 && !existsSync(join(dir, 'package.json')); i++) dir = dirname(dir);
  return dir;
})();
