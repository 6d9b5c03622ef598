import type { History, Recorded } from '../../src/engine/history.ts';
import { type Probe, sleep } from '../../src/runtime/poll.ts';
import { classify, ZkClient, ZkError } from './client.ts';
import type { StartedZooKeeper } from './stack.ts';

/** How long one write may take before its outcome is recorded as unknown (info). */
export const WRITE_TIMEOUT_MS = 2000;

/**
 * The operations the ZooKeeper labs record, each an invocation and a completion in the
 * history given here once. One classifier (client.ts `classify`) decides every error: a
 * lost connection or a timeout is `info` (the operation may have happened), any other
 * error `fail`.
 */
export class ZkWorkload {
  private readonly history: History;
  private readonly zk: StartedZooKeeper;

  constructor(history: History, zk: StartedZooKeeper) {
    this.history = history;
    this.zk = zk;
  }

  /** create `path` = `data` through `client`, recorded as `f` with `value`. */
  create(process: string, client: ZkClient, path: string, data: string, f = 'write', value?: unknown) {
    return this.record(process, f, value, client, () => client.create(path, data));
  }

  /** get `path` through `client`, recorded as `f`; a read's value is the data it returned. */
  get(process: string, client: ZkClient, path: string, f = 'read'): Promise<Recorded<string>> {
    return this.record(process, f, undefined, client, () => client.get(path));
  }

  /**
   * Through a fresh session on `node` (`reader-<node>`, `writer-<node>`): a recorded get of
   * `read` as `f`-read and create of `write` (`{ id }`) as `f`-write. A session that cannot
   * open within `connectTimeoutMs` fails both: nothing was sent.
   */
  async readAndWrite(node: string, read: string, write: string, f: string, id: string, connectTimeoutMs = 3000) {
    const c = await this.zk.client(node, { connectTimeoutMs }).catch((e: Error) => e);
    if (!(c instanceof ZkClient)) {
      this.history.invoke(`reader-${node}`, `read-${f}`, undefined, node).fail(c);
      this.history.invoke(`writer-${node}`, `write-${f}`, { id }, node).fail(c);
      return;
    }
    try {
      await this.get(`reader-${node}`, c, read, `read-${f}`);
      await this.create(`writer-${node}`, c, write, node, `write-${f}`, { id });
    } finally {
      c.close();
    }
  }

  /** A steady writer of one znode per write under `dir`, through every server. */
  writer(dir: string, process = 'writer'): ZkWriter {
    return new ZkWriter(this.history, this.zk.connectString(), dir, process);
  }

  /** Reads every znode under `dir` through a fresh session, as `read-all` `{ ids }`: the final read. */
  async finalRead(dir: string): Promise<string[]> {
    const client = await this.zk.client(undefined, { sessionTimeoutMs: 4000, opTimeoutMs: 5000 });
    try {
      await client.sync(dir);
      const r = await this.record('final-reader', 'read-all', undefined, client, async () => ({
        ids: await client.children(dir),
      }));
      if (!r.ok) throw r.error;
      return r.result.ids;
    } finally {
      client.close();
    }
  }

  private record<T>(process: string, f: string, value: unknown, client: ZkClient, fn: () => Promise<T>) {
    return this.history.record(process, f, value, this.zk.nodeAt(client.connectString), fn, classify);
  }
}

/**
 * A steady writer: each write creates a znode named after its id under `dir`, so a
 * final read of the children shows which acknowledged writes survived. Every write is
 * in the history (ok / fail / info). A session that expires is replaced by a new one,
 * as a real service would do.
 */
export class ZkWriter {
  private readonly history: History;
  private readonly connect: string;
  private readonly dir: string;
  private readonly process: string;
  private client: ZkClient | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private seq = 0;
  /** Ids are `<prefix><seq>`: writers sharing a folder need prefixes of their own. */
  private readonly prefix: string;
  acknowledged = 0;

  constructor(history: History, connect: string, dir: string, process = 'writer', prefix = 'w') {
    this.history = history;
    this.connect = connect;
    this.dir = dir;
    this.process = process;
    this.prefix = prefix;
  }

  async start(intervalMs = 50): Promise<void> {
    this.client = await connect(this.connect);
    await this.client.mkdirp(this.dir);
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.writeOnce();
        await sleep(intervalMs);
      }
    })();
  }

  /** A probe for `lab.until`: done once more than `n` writes have been acknowledged. */
  async acknowledgedMoreThan(n: number): Promise<Probe<number>> {
    const a = this.acknowledged;
    return a > n ? { done: true, value: a } : { done: false, seen: `${a} acknowledged` };
  }

  /** One identified write; returns whether it was acknowledged. */
  async writeOnce(): Promise<boolean> {
    const id = `${this.prefix}${String(++this.seq).padStart(5, '0')}`;
    const client = await this.ensureClient();
    if (!client) {
      this.history.invoke(this.process, 'write', { id }).fail('no session: cannot connect');
      return false;
    }
    const r = await this.history.record(
      this.process,
      'write',
      { id },
      undefined,
      () => client.create(`${this.dir}/${id}`, id),
      classify,
    );
    if (r.ok) this.acknowledged++;
    else if (r.error instanceof ZkError && r.error.code === 'SESSIONEXPIRED') this.dropClient();
    return r.ok;
  }

  private async ensureClient(): Promise<ZkClient | undefined> {
    if (this.client) return this.client;
    this.client = await connect(this.connect, 2000).catch(() => undefined);
    return this.client;
  }

  private dropClient(): void {
    this.client?.close();
    this.client = undefined;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.dropClient();
  }
}

function connect(connectString: string, connectTimeoutMs?: number): Promise<ZkClient> {
  return ZkClient.connect(connectString, { sessionTimeoutMs: 4000, opTimeoutMs: WRITE_TIMEOUT_MS, connectTimeoutMs });
}

/**
 * Reads racing writes, to see how far behind a server's answers are. Three recorded loops
 * until `stop` (or a minute): `set` of `path` to 1, 2, ... through `setterNodes`; a plain get through
 * `node` (`read`); and a sync then a get through `node` in a session of its own
 * (`read-synced`, one operation, so a sync that hangs holds only that session). A read's
 * value is the counter it returned. Sessions last 20 ticks (the most the servers grant),
 * so a short cut does not expire them.
 */
export class ReadRace {
  private readonly history: History;
  private readonly clients: { setter: ZkClient; plain: ZkClient; synced: ZkClient };
  private readonly path: string;
  private readonly node: string;
  private running = false;
  private loops: Promise<void>[] = [];
  /** Synced reads answered so far. */
  synced = 0;

  private constructor(history: History, clients: ReadRace['clients'], path: string, node: string) {
    this.history = history;
    this.clients = clients;
    this.path = path;
    this.node = node;
  }

  /** Opens the three sessions, sets `path` to 0, and starts the loops. */
  static async start(history: History, zk: StartedZooKeeper, path: string, node: string, setterNodes: string[]) {
    const opts = { sessionTimeoutMs: 20 * zk.params.tickMs, opTimeoutMs: 1000 };
    const [setter, plain, synced] = await Promise.all([
      ZkClient.connect(zk.connectString(setterNodes), opts),
      zk.client(node, opts),
      zk.client(node, opts),
    ]);
    await setter.mkdirp(path);
    await setter.set(path, '0');
    const race = new ReadRace(history, { setter, plain, synced }, path, node);
    race.run();
    return race;
  }

  private run(intervalMs = 50, maxMs = 60_000): void {
    const { setter, plain, synced } = this.clients;
    let n = 0;
    const end = Date.now() + maxMs;
    const loop = (fn: () => Promise<unknown>) =>
      (async () => {
        while (this.running && Date.now() < end) {
          await fn();
          await sleep(intervalMs);
        }
      })();
    this.running = true;
    this.loops = [
      loop(() => {
        const v = ++n;
        return this.history.record('setter', 'set', v, undefined, () => setter.set(this.path, String(v)), classify);
      }),
      loop(() => this.read('plain', 'read', () => plain.get(this.path))),
      loop(() =>
        this.read('synced', 'read-synced', async () => {
          await synced.sync(this.path);
          return synced.get(this.path);
        }),
      ),
    ];
  }

  private async read(process: string, f: string, fn: () => Promise<string>) {
    const r = await this.history.record(process, f, undefined, this.node, async () => Number(await fn()), classify);
    if (r.ok && f === 'read-synced') this.synced++;
  }

  /** A probe for `lab.until`: done once more than `n` synced reads have been answered. */
  async syncedMoreThan(n: number): Promise<Probe<number>> {
    return this.synced > n ? { done: true, value: this.synced } : { done: false, seen: `${this.synced} answered` };
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    for (const c of Object.values(this.clients)) c.close();
  }
}
