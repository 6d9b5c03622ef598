import type { History } from '../../src/engine/history.ts';
import { sleep } from '../../src/runtime/poll.ts';
import { classify, ZkClient, ZkError } from './client.ts';

/** How long one write may take before its outcome is recorded as unknown (info). */
export const WRITE_TIMEOUT_MS = 2000;

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
  acknowledged = 0;

  constructor(history: History, connect: string, dir: string, process = 'writer') {
    this.history = history;
    this.connect = connect;
    this.dir = dir;
    this.process = process;
  }

  async start(intervalMs = 50): Promise<void> {
    this.client = await ZkClient.connect(this.connect, { sessionTimeoutMs: 4000, opTimeoutMs: WRITE_TIMEOUT_MS });
    await this.client.mkdirp(this.dir);
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.writeOnce();
        await sleep(intervalMs);
      }
    })();
  }

  /** One identified write; returns whether it was acknowledged. */
  async writeOnce(): Promise<boolean> {
    const id = `w${String(++this.seq).padStart(5, '0')}`;
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
    try {
      this.client = await ZkClient.connect(this.connect, {
        sessionTimeoutMs: 4000,
        opTimeoutMs: WRITE_TIMEOUT_MS,
        connectTimeoutMs: 2000,
      });
    } catch {
      return undefined;
    }
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

/** Reads every znode under `dir` through a fresh session: the final read. */
export async function finalRead(history: History, connect: string, dir: string): Promise<string[]> {
  const client = await ZkClient.connect(connect, { sessionTimeoutMs: 4000, opTimeoutMs: 5000 });
  try {
    await client.sync(dir);
    const r = await history.record(
      'final-reader',
      'read-all',
      undefined,
      undefined,
      async () => {
        const ids = await client.children(dir);
        return { ids };
      },
      classify,
    );
    if (!r.ok) throw r.error;
    return r.result.ids;
  } finally {
    client.close();
  }
}
