import type { History, Op } from '../../src/engine/history.ts';
import { classify, type RedisClient } from './client.ts';
import type { StartedRedis } from './started.ts';

/** Keys of identified writes: `midlab:w:<id>`; the final read scans this prefix only. */
export const ID_PREFIX = 'midlab:w:';

/** The outcome of a recorded command: its result when it succeeded, and the op either way. */
export type Recorded<T> = { ok: true; result: T; op: Op } | { ok: false; error: unknown; op: Op };

/**
 * The operations the Redis labs record, each an invocation and a completion in the
 * history given here once. One classifier (client.ts `classify`) decides every error:
 * an error reply or a command never sent is `fail`, anything else `info`.
 */
export class RedisWorkload {
  private readonly history: History;
  private readonly redis: StartedRedis;

  constructor(history: History, redis: StartedRedis) {
    this.history = history;
    this.redis = redis;
  }

  /** SET through `client`, recorded as `f` with `{ key, value }`. */
  set(process: string, client: RedisClient, key: string, value: string, f = 'write'): Promise<Recorded<void>> {
    return this.history.record(process, f, { key, value }, this.nodeOf(client), () => client.set(key, value), classify);
  }

  /** GET through `client`, recorded as `f`; a read's value is what it returned (null: absent). */
  get(process: string, client: RedisClient, key: string, f = 'read'): Promise<Recorded<string | null>> {
    return this.history.record(process, f, undefined, this.nodeOf(client), () => client.get(key), classify);
  }

  /**
   * One identified write (`midlab:w:<id>`). With `confirm`, it is followed by WAIT on the
   * same connection: confirmed by at least one replica -> ok; WAIT returned 0 -> info
   * (the primary has it, no replica does: whether it survives a failover is unknown).
   */
  async writeId(
    process: string,
    client: RedisClient,
    id: string,
    confirm?: { replicas: number; timeoutMs: number },
  ): Promise<Op> {
    const h = this.history.invoke(process, 'write', { id }, this.nodeOf(client));
    try {
      await client.set(`${ID_PREFIX}${id}`, id);
    } catch (err) {
      return classify(err) === 'fail' ? h.fail(err) : h.info(err);
    }
    if (!confirm) return h.ok();
    try {
      const n = await client.wait(confirm.replicas, confirm.timeoutMs);
      return n >= 1
        ? h.ok({ id, replicas: n })
        : h.info(`WAIT ${confirm.replicas} ${confirm.timeoutMs} returned 0: no replica confirmed it`, {
            id,
            replicas: 0,
          });
    } catch (err) {
      return h.info(err);
    }
  }

  /** The final read: every identified write `client`'s node holds, as `read-all` `{ ids }`. */
  readIds(process: string, client: RedisClient): Promise<Recorded<{ ids: string[] }>> {
    return this.history.record(
      process,
      'read-all',
      undefined,
      this.nodeOf(client),
      async () => ({ ids: (await client.scan(`${ID_PREFIX}*`)).map((k) => k.slice(ID_PREFIX.length)).sort() }),
      classify,
    );
  }

  /** The node a client is connected to now (a Sentinel client moves with the primary). */
  private nodeOf(client: RedisClient): string | undefined {
    return this.redis.nodeAt(client.remote);
  }
}
