import type { History, Op, Recorded } from '../../src/engine/history.ts';
import { sleep } from '../../src/runtime/poll.ts';
import { classify, type RedisClient, withDirect } from './client.ts';
import type { StartedRedis } from './started.ts';

/** Keys of identified writes: `midlab:w:<id>`; the final read scans this prefix only. */
export const ID_PREFIX = 'midlab:w:';

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
   * GET `key` through `client` every `everyMs`, each read recorded, until it returns
   * `value` or `boundMs` have passed; returns the ms it took (null: not within the bound)
   * and the reads made.
   */
  async readUntil(
    process: string,
    client: RedisClient,
    key: string,
    value: string,
    boundMs: number,
    everyMs = 20,
  ): Promise<{ ms: number | null; tries: number }> {
    const t0 = Date.now();
    for (let tries = 1; ; tries++) {
      const rd = await this.get(process, client, key);
      if (rd.ok && rd.result === value) return { ms: Date.now() - t0, tries };
      if (Date.now() - t0 > boundMs) return { ms: null, tries };
      await sleep(everyMs);
    }
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

  /**
   * Identified writes `<prefix>-0001`.. (`width` digits), each through `writeId`; returns
   * how many ended ok, fail and info.
   */
  writeIds(
    process: string,
    client: RedisClient,
    prefix: string,
    count: number,
    width: number,
    confirm?: { replicas: number; timeoutMs: number },
  ): Promise<{ ok: number; fail: number; info: number }> {
    return this.writes(process, client, prefix, width, (i) => i <= count, 0, confirm);
  }

  /**
   * A steady client: identified writes `<prefix>-0001`.. one every `everyMs` while `go()`
   * (at most 9999 of them); returns how many ended ok, fail and info.
   */
  writeWhile(
    process: string,
    client: RedisClient,
    prefix: string,
    go: () => boolean,
    everyMs: number,
  ): Promise<{ ok: number; fail: number; info: number }> {
    return this.writes(process, client, prefix, 4, (i) => i <= 9999 && go(), everyMs);
  }

  private async writes(
    process: string,
    client: RedisClient,
    prefix: string,
    width: number,
    go: (i: number) => boolean,
    everyMs: number,
    confirm?: { replicas: number; timeoutMs: number },
  ): Promise<{ ok: number; fail: number; info: number }> {
    const types = { ok: 0, fail: 0, info: 0 };
    for (let i = 1; go(i); i++) {
      const op = await this.writeId(process, client, `${prefix}-${String(i).padStart(width, '0')}`, confirm);
      types[op.type as keyof typeof types] += 1;
      if (everyMs) await sleep(everyMs);
    }
    return types;
  }

  /**
   * The proof that replication is on: a recorded `probe-write` of `key` on `primary`,
   * `WAIT` for every replica, and a recorded `probe-read` on each. Returns how many
   * replicas WAIT counted and what did not hold.
   */
  async probe(primary: string, replicas: string[], key: string): Promise<{ acked: number; problems: string[] }> {
    const problems: string[] = [];
    const acked = await withDirect(this.redis.endpoint(primary), async (c) => {
      const probe = await this.set('probe', c, key, 'probe', 'probe-write');
      if (!probe.ok) problems.push(`the probe write failed: ${probe.op.error}`);
      return c.wait(replicas.length, 2000);
    });
    if (acked !== replicas.length) problems.push(`only ${acked} of ${replicas.length} replicas acknowledged a write`);
    for (const n of replicas) {
      const got = await withDirect(this.redis.endpoint(n), (c) => this.get('probe', c, key, 'probe-read'));
      if (!got.ok || got.result !== 'probe') problems.push(`${n} does not have the probe write`);
    }
    return { acked, problems };
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
