/**
 * The recorded S3 workload the MinIO labs run: puts of objects of a few sizes and gets
 * of every acknowledged one, each a recorded operation with its sha256.
 */
import { randomBytes } from 'node:crypto';
import { completions, type History } from '../../src/engine/history.ts';
import { withTimeout } from '../../src/runtime/poll.ts';
import type { LateAnswer, MinioClient } from './client.ts';
import type { StartedMinio } from './stack.ts';

export const BUCKET = 'midlab';

/**
 * Small objects keep a lab near a minute. MinIO inlines an object in xl.meta when its
 * *shard* is at most 128 KiB (storage class inline_block), not the object: with 4 or 8
 * data shards the 1 KiB and the 256 KiB objects are inlined, the 2 MiB one gets part files.
 */
export const SIZES: Record<string, number> = { '1k': 1024, '256k': 256 * 1024, '2m': 2 * 1024 * 1024 };

export const payload = (size: number): Buffer => randomBytes(size);

/** Every object whose put was acknowledged in `history`. */
export function ackedIds(history: History): string[] {
  const ok = completions(history.ops, 'put').filter((o) => o.type === 'ok');
  return [...new Set(ok.map((o) => (o.value as { id: string }).id))];
}

/** Puts and gets on the bucket BUCKET, recorded in one history; each call bounded by `timeoutMs` (the client's 10 s if unset). */
export class ObjectWorkload {
  readonly history: History;
  readonly stack: StartedMinio;
  readonly timeoutMs: number | undefined;
  private readonly putters: MinioClient[] = [];
  constructor(history: History, stack: StartedMinio, timeoutMs?: number) {
    this.history = history;
    this.stack = stack;
    this.timeoutMs = timeoutMs;
  }

  /** Puts one object of each size (of `sizes`) through `node`; ids `<prefix>-<size>`, processes `<process>:<size>`. */
  async putEach(node: string, process: string, prefix: string, sizes = Object.keys(SIZES)): Promise<number> {
    const c = this.stack.client(node, { timeoutMs: this.timeoutMs });
    this.putters.push(c);
    const rs = await Promise.all(
      Object.entries(SIZES)
        .filter(([name]) => sizes.includes(name))
        .map(([name, size]) =>
          c.put(this.history, `${process}:${name}`, node, BUCKET, `${prefix}-${name}`, payload(size)),
        ),
    );
    return rs.filter((r) => r.ok).length;
  }

  /** Gets every acknowledged object through `node` (processes `<process>:<id>`); how many came back. */
  async getAll(node: string, process: string): Promise<number> {
    const c = this.stack.client(node, { timeoutMs: this.timeoutMs });
    const rs = await Promise.all(this.acked().map((id) => c.get(this.history, `${process}:${id}`, node, BUCKET, id)));
    return rs.filter((r) => r.ok).length;
  }

  /**
   * What the server finally answered to each put whose client timed out, waiting up to
   * `ms` for them: a put still unanswered then is left out.
   */
  async lateAnswers(ms: number): Promise<LateAnswer[]> {
    const answers: LateAnswer[] = [];
    const all = Promise.all(this.putters.flatMap((c) => c.late).map((p) => p.then((a) => answers.push(a))));
    // A late answer never rejects: only the time-out can end this wait early.
    await withTimeout(ms, 'the late answers', () => all).catch(() => undefined);
    return [...answers];
  }

  acked(): string[] {
    return ackedIds(this.history);
  }
}
