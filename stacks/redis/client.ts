import { Redis, type RedisOptions } from 'ioredis';
import { MidlabError } from '../../src/errors.ts';
import { TimeoutError, withTimeout } from '../../src/runtime/poll.ts';

/**
 * The labs' Redis client: ioredis behind a small interface of ours, so a lab never
 * depends on its quirks. Two kinds:
 *
 * - `RedisClient.direct(endpoint)`: one node, no reconnection, no offline queue. For
 *   probes and for talking to a chosen node (a replica, the old primary).
 * - `RedisClient.sentinel(...)`: what an application uses. It asks the Sentinels
 *   where the primary is, connects there, and when the connection breaks asks again,
 *   so it follows a failover. Sentinel announces host names (redis2:6379); a host
 *   client reaches them through ports published on 127.0.0.1, hence the NAT map.
 */
export type RedisErrorCode =
  /** A write sent to a replica. */
  | 'READONLY'
  /** min-replicas-to-write not met. */
  | 'NOREPLICAS'
  | 'LOADING'
  | 'MASTERDOWN'
  /** Any other error reply (ERR, WRONGTYPE, ...). */
  | 'REPLY'
  /** The command was never sent (no connection and no queue). */
  | 'NOT_SENT'
  /** The connection closed or the client gave up retrying: the outcome is unknown. */
  | 'CONNECTION';

const HINTS: Record<RedisErrorCode, string> = {
  READONLY: 'the node is a replica: send writes to the primary (ask the Sentinels which it is)',
  NOREPLICAS: 'fewer replicas than min-replicas-to-write acknowledged lately: check their links (INFO replication)',
  LOADING: 'the node is still loading its data set: retry in a moment',
  MASTERDOWN: "the replica's link to its primary is down and replica-serve-stale-data is no",
  REPLY: 'the server refused the command: the reply says why',
  NOT_SENT: 'no connection to the node: is it up, and is its port published?',
  CONNECTION: 'the connection broke: whether the command ran is unknown (the node logs in the run folder say why)',
};

/** An error of the Redis client: a stable `code`, whether the server replied, and a hint. */
export class RedisError extends MidlabError {
  declare readonly code: RedisErrorCode;
  /** The server answered with an error: the command certainly did not take effect. */
  readonly reply: boolean;
  constructor(code: RedisErrorCode, message: string, reply: boolean) {
    super(code, message, { hint: HINTS[code], exitCode: 3 });
    this.name = 'RedisError';
    this.reply = reply;
  }
}

const REPLY_CODES: RedisErrorCode[] = ['READONLY', 'NOREPLICAS', 'LOADING', 'MASTERDOWN'];

export function toRedisError(err: unknown): unknown {
  if (err instanceof RedisError || err instanceof TimeoutError) return err;
  const e = err as Error | undefined;
  const message = e?.message ?? String(err);
  if (e?.name === 'ReplyError') {
    const first = message.split(' ')[0] ?? '';
    const code = (REPLY_CODES as string[]).includes(first) ? (first as RedisErrorCode) : 'REPLY';
    return new RedisError(code, message, true);
  }
  if (/enableOfflineQueue options is false|Stream isn't writeable/.test(message)) {
    return new RedisError('NOT_SENT', message, false);
  }
  if (e?.name === 'MaxRetriesPerRequestError' || /Connection is closed|ECONNRE|EPIPE|ETIMEDOUT/.test(message)) {
    return new RedisError('CONNECTION', message, false);
  }
  if (/Command timed out/.test(message)) return new TimeoutError(message);
  return err;
}

/**
 * Did the command certainly not happen (`fail`), or may it have (`info`)? Only an error
 * reply or a command never sent is certain; a closed connection or a timeout is not
 * (the command may have run before the answer was lost).
 */
export function classify(err: unknown): 'fail' | 'info' {
  const e = toRedisError(err);
  if (e instanceof RedisError) return e.reply || e.code === 'NOT_SENT' ? 'fail' : 'info';
  return 'info';
}

/** `{ 'redis1:6379': { host: '127.0.0.1', port: 32771 }, ... }` */
export type NatMap = Record<string, { host: string; port: number }>;

export interface DirectOptions {
  connectTimeoutMs?: number;
  /** Each command gives up after this long (then its outcome is unknown). */
  commandTimeoutMs?: number;
}

export interface SentinelClientOptions {
  /** Sentinel endpoints as `127.0.0.1:PORT`. */
  sentinels: string[];
  masterName: string;
  natMap: NatMap;
  /** A command waits (queued, retried across reconnections) at most this long. */
  commandTimeoutMs?: number;
}

function hostPort(endpoint: string): { host: string; port: number } {
  const i = endpoint.lastIndexOf(':');
  return { host: endpoint.slice(0, i), port: Number(endpoint.slice(i + 1)) };
}

export class RedisClient {
  private readonly r: Redis;
  private readonly commandTimeoutMs: number;
  /** What the client said last when it could not connect (for diagnosis). */
  lastError: string | undefined;

  private constructor(r: Redis, commandTimeoutMs: number) {
    this.r = r;
    this.commandTimeoutMs = commandTimeoutMs;
    // ioredis reports every failed reconnection as an `error` event; without a listener
    // it prints them. During a failover "All sentinels are unreachable" is expected.
    r.on('error', (err: Error) => {
      this.lastError = err.message;
    });
  }

  /** One node, `127.0.0.1:PORT`; fails at once when it does not answer. */
  static async direct(endpoint: string, opts: DirectOptions = {}): Promise<RedisClient> {
    const { host, port } = hostPort(endpoint);
    const options: RedisOptions = {
      host,
      port,
      lazyConnect: true,
      connectTimeout: opts.connectTimeoutMs ?? 2000,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      enableReadyCheck: false,
      // RESP2, as redis-cli speaks it: replies have the shapes the notes show.
      protocol: 2,
    };
    return RedisClient.open(new Redis(options), opts.commandTimeoutMs ?? 3000, `Redis at ${endpoint}`);
  }

  /** The application's client: follows the primary the Sentinels name. */
  static async sentinel(opts: SentinelClientOptions): Promise<RedisClient> {
    const r = new Redis({
      sentinels: opts.sentinels.map(hostPort),
      name: opts.masterName,
      natMap: opts.natMap,
      lazyConnect: true,
      connectTimeout: 2000,
      // Reconnect fast: the lab measures how soon the client writes again.
      retryStrategy: (times: number) => Math.min(times * 50, 250),
      sentinelRetryStrategy: (times: number) => Math.min(times * 10, 250),
      // Commands queue while the client looks for the new primary. The default 20
      // retries (~5 s at 250 ms) is only just enough for a failover; allow ~25 s.
      maxRetriesPerRequest: 100,
      protocol: 2,
    });
    return RedisClient.open(r, opts.commandTimeoutMs ?? 30_000, `the primary named by Sentinels ${opts.sentinels}`);
  }

  private static async open(r: Redis, commandTimeoutMs: number, what: string): Promise<RedisClient> {
    const client = new RedisClient(r, commandTimeoutMs);
    try {
      await withTimeout(10_000, `connecting to ${what}`, () => r.connect());
    } catch (err) {
      r.disconnect();
      throw toRedisError(err);
    }
    return client;
  }

  private op<T>(what: string, fn: () => Promise<T>, timeoutMs = this.commandTimeoutMs): Promise<T> {
    return withTimeout(timeoutMs, what, async () => {
      try {
        return await fn();
      } catch (err) {
        throw toRedisError(err);
      }
    });
  }

  /** `127.0.0.1:PORT` of the node this client is connected to now. */
  get remote(): string | undefined {
    const s = this.r.stream as { remoteAddress?: string; remotePort?: number } | undefined;
    return s?.remoteAddress && s.remotePort ? `${s.remoteAddress}:${s.remotePort}` : undefined;
  }

  async set(key: string, value: string): Promise<void> {
    const r = await this.op(`SET ${key}`, () => this.r.set(key, value));
    if (r !== 'OK') throw new RedisError('REPLY', `SET ${key} answered ${String(r)}`, true);
  }

  get(key: string): Promise<string | null> {
    return this.op(`GET ${key}`, () => this.r.get(key));
  }

  /**
   * `WAIT numreplicas timeout`: blocks until that many replicas acknowledged every write
   * this connection made, or the timeout passed; returns how many did.
   */
  wait(replicas: number, timeoutMs: number): Promise<number> {
    return this.op(
      `WAIT ${replicas} ${timeoutMs}`,
      () => this.r.wait(replicas, timeoutMs),
      timeoutMs + this.commandTimeoutMs,
    );
  }

  /** PUBLISH: replicated like a write, without touching the keyspace. Returns the receivers. */
  publish(channel: string, message: string): Promise<number> {
    return this.op(`PUBLISH ${channel}`, () => this.r.publish(channel, message));
  }

  dbsize(): Promise<number> {
    return this.op('DBSIZE', () => this.r.dbsize());
  }

  /** Every key matching `pattern`, by SCAN (never KEYS: it blocks a real server). */
  async scan(pattern: string): Promise<string[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.op(`SCAN ${cursor}`, () => this.r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000));
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    return keys;
  }

  info(section: string): Promise<string> {
    return this.op(`INFO ${section}`, () => this.r.info(section));
  }

  async configGet(name: string): Promise<string | undefined> {
    const r = (await this.op(`CONFIG GET ${name}`, () => this.r.config('GET', name))) as unknown;
    return Array.isArray(r) ? (r[1] as string | undefined) : undefined;
  }

  async configSet(name: string, value: string): Promise<void> {
    await this.op(`CONFIG SET ${name}`, () => this.r.config('SET', name, value));
  }

  /** The node's own name (replica-announce-ip): which node a client landed on, from the node itself. */
  announcedName(): Promise<string | undefined> {
    return this.configGet('replica-announce-ip');
  }

  /** A Sentinel command (`SENTINEL MASTER mymaster`, ...); the reply as the server gave it. */
  sentinelCommand(...args: string[]): Promise<unknown> {
    return this.op(`SENTINEL ${args.join(' ')}`, () => this.r.call('SENTINEL', ...args));
  }

  close(): void {
    this.r.disconnect();
  }
}

/** Opens a direct client, runs `fn`, and closes it whatever happens. */
export async function withDirect<T>(
  endpoint: string,
  fn: (c: RedisClient) => Promise<T>,
  opts: DirectOptions = {},
): Promise<T> {
  const c = await RedisClient.direct(endpoint, { connectTimeoutMs: 1500, commandTimeoutMs: 2000, ...opts });
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}
