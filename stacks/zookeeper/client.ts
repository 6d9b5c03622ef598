import ZooKeeper from 'zookeeper';
import { MidlabError } from '../../src/errors.ts';
import { TimeoutError, withTimeout } from '../../src/runtime/poll.ts';

/**
 * The labs' ZooKeeper client: the `zookeeper` package (ZooKeeper's own C client) behind
 * a small interface, so a lab never depends on its quirks.
 */
export type ZkCode = 'NONODE' | 'NODEEXISTS' | 'CONNECTIONLOSS' | 'OPERATIONTIMEOUT' | 'SESSIONEXPIRED' | 'OTHER';

const CODES: Record<number, ZkCode> = {
  [-101]: 'NONODE',
  [-110]: 'NODEEXISTS',
  [-4]: 'CONNECTIONLOSS',
  [-7]: 'OPERATIONTIMEOUT',
  [-112]: 'SESSIONEXPIRED',
};

const HINTS: Record<ZkCode, string> = {
  NONODE: 'the znode does not exist: create it first, or check the path',
  NODEEXISTS: 'the znode already exists: choose another path, or set it',
  CONNECTIONLOSS:
    'no server answered in time: whether the operation happened is unknown (`srvr` on each node says which serve)',
  OPERATIONTIMEOUT: 'no answer in time: whether the operation happened is unknown',
  SESSIONEXPIRED: 'the servers expired the session: its ephemeral znodes are gone; open a new session',
  OTHER: 'the node logs in the run folder usually say why',
};

/** An error ZooKeeper answered, by its name; `rc` is the C client's numeric code when it gave one. */
export class ZkError extends MidlabError {
  declare readonly code: ZkCode;
  readonly rc: number | undefined;
  constructor(code: ZkCode, message: string, rc?: number) {
    super(code, message, { hint: HINTS[code], exitCode: 3 });
    this.name = 'ZkError';
    this.rc = rc;
  }
}

function toZkError(err: unknown): unknown {
  if (err instanceof ZkError || err instanceof TimeoutError) return err;
  const message = (err as Error)?.message ?? '';
  // Promise rejections read "-101 no node"; calls refused up front name the constant.
  const byNumber = /^(-\d+)\s*(.*)$/.exec(message);
  const byName = /\bZ(NONODE|NODEEXISTS|CONNECTIONLOSS|OPERATIONTIMEOUT|SESSIONEXPIRED)\b/.exec(message);
  const code = byNumber ? (CODES[Number(byNumber[1])] ?? 'OTHER') : ((byName?.[1] as ZkCode | undefined) ?? undefined);
  if (!code) return err;
  const text = code === 'NONODE' ? 'no node' : (byNumber?.[2] ?? '').trim() || code.toLowerCase();
  return new ZkError(code, `${text} (${code})`, byNumber ? Number(byNumber[1]) : undefined);
}

/**
 * Did the operation certainly not happen (`fail`), or may it have (`info`)? A lost
 * connection or a timeout leaves a write's fate unknown.
 */
export function classify(err: unknown): 'fail' | 'info' {
  if (err instanceof TimeoutError) return 'info';
  if (err instanceof ZkError) return err.code === 'CONNECTIONLOSS' || err.code === 'OPERATIONTIMEOUT' ? 'info' : 'fail';
  return 'info';
}

export interface ZkClientOptions {
  sessionTimeoutMs?: number;
  /** Each operation gives up after this long (then its outcome is unknown). */
  opTimeoutMs?: number;
  connectTimeoutMs?: number;
}

type Native = InstanceType<typeof ZooKeeper>;

export class ZkClient {
  private readonly zk: Native;
  private readonly opTimeoutMs: number;
  readonly connectString: string;
  private connectedListeners: (() => void)[] = [];

  private constructor(zk: Native, connectString: string, opTimeoutMs: number) {
    this.zk = zk;
    this.connectString = connectString;
    this.opTimeoutMs = opTimeoutMs;
    zk.on('connect', () => {
      for (const l of this.connectedListeners) l();
    });
  }

  static async connect(connectString: string, opts: ZkClientOptions = {}): Promise<ZkClient> {
    const zk = new ZooKeeper({
      connect: connectString,
      timeout: opts.sessionTimeoutMs ?? 4000,
      // The C client logs every reconnection attempt; labs narrate those themselves.
      debug_level: 0,
      host_order_deterministic: false,
    });
    const client = new ZkClient(zk, connectString, opts.opTimeoutMs ?? 3000);
    try {
      await withTimeout(opts.connectTimeoutMs ?? 10_000, `connecting to ZooKeeper at ${connectString}`, () => {
        return new Promise<void>((resolve) => {
          zk.once('connect', () => resolve());
          zk.init({});
        });
      });
    } catch (err) {
      zk.close();
      throw err;
    }
    return client;
  }

  /** Called on every (re)connection: the client moving to another server. */
  onConnected(fn: () => void): void {
    this.connectedListeners.push(fn);
  }

  /** The session id, as ZooKeeper's `cons` prints it (0x...). */
  get sessionId(): string {
    const id = (this.zk as unknown as { client_id: string | number }).client_id;
    return typeof id === 'number' ? `0x${id.toString(16)}` : `0x${String(id).replace(/^0x/, '')}`;
  }

  /** The timeout the servers granted (within 2..20 ticks). */
  get sessionTimeoutMs(): number {
    return (this.zk as unknown as { timeout: number }).timeout;
  }

  private op<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withTimeout(this.opTimeoutMs, what, async () => {
      try {
        return await fn();
      } catch (err) {
        throw toZkError(err);
      }
    });
  }

  create(path: string, data: string, opts: { ephemeral?: boolean } = {}): Promise<string> {
    const flags = opts.ephemeral ? ZooKeeper.constants.ZOO_EPHEMERAL : 0;
    return this.op(`create ${path}`, () => this.zk.create(path, data, flags) as Promise<string>);
  }

  async set(path: string, data: string): Promise<void> {
    await this.op(`set ${path}`, () => this.zk.set(path, data, -1) as Promise<unknown>);
  }

  /** The data of a znode; a missing znode is a ZkError with code NONODE. */
  async get(path: string): Promise<string> {
    const [, data] = (await this.op(`get ${path}`, () => this.zk.get(path, false) as Promise<unknown>)) as [
      unknown,
      Buffer | string,
    ];
    return data.toString();
  }

  async exists(path: string): Promise<boolean> {
    try {
      await this.op(`exists ${path}`, () => this.zk.exists(path, false) as Promise<unknown>);
      return true;
    } catch (err) {
      if (err instanceof ZkError && err.code === 'NONODE') return false;
      throw err;
    }
  }

  async children(path: string): Promise<string[]> {
    return (await this.op(`children ${path}`, () => this.zk.get_children(path, false) as Promise<unknown>)) as string[];
  }

  /** Brings this client's server up to date with the leader, so the next read is fresh. */
  async sync(path: string): Promise<void> {
    await this.op(`sync ${path}`, () => this.zk.sync(path) as Promise<unknown>);
  }

  /**
   * Sets a watch now on an existing znode; `deleted` resolves with the time (Date.now())
   * the deletion event arrived, stamped then rather than when someone next looks.
   */
  async watchDeleted(path: string): Promise<{ deleted: Promise<number> }> {
    let fired!: (at: number) => void;
    const deleted = new Promise<number>((resolve) => (fired = resolve));
    await this.op(
      `watch ${path}`,
      () =>
        this.zk.w_exists(path, (type: number) => {
          if (type === ZooKeeper.constants.ZOO_DELETED_EVENT) fired(Date.now());
        }) as Promise<unknown>,
    );
    return { deleted };
  }

  async mkdirp(path: string): Promise<void> {
    let cur = '';
    for (const part of path.split('/').filter(Boolean)) {
      cur += `/${part}`;
      try {
        await this.create(cur, '');
      } catch (err) {
        if (!(err instanceof ZkError && err.code === 'NODEEXISTS')) throw err;
      }
    }
  }

  close(): void {
    this.zk.close();
  }
}
