import { createHash, randomBytes } from 'node:crypto';

/**
 * Per-lab secrets (passwords, Erlang cookies, cluster ids): random for every cluster
 * midlab starts. Compose files are generated with `fixedSecrets`, so that they stay the
 * same from one generation to the next (they are for exploring by hand on 127.0.0.1,
 * and say so).
 */
let fixed: { seed: string; n: number } | undefined;

/** `length` characters of [A-Za-z0-9]. */
export function secret(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = fixed
    ? createHash('sha256')
        .update(`${fixed.seed}:${fixed.n++}`)
        .digest()
    : randomBytes(Math.max(32, length));
  let out = '';
  for (let i = 0; out.length < length; i++) out += alphabet[(bytes[i % bytes.length] ?? 0) % alphabet.length];
  return out;
}

export async function fixedSecrets<T>(seed: string, fn: () => Promise<T>): Promise<T> {
  fixed = { seed, n: 0 };
  try {
    return await fn();
  } finally {
    fixed = undefined;
  }
}
