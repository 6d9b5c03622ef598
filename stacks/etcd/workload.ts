import type { History, Op } from '../../src/engine/history.ts';
import { sleep } from '../../src/runtime/poll.ts';
import { classify, type EtcdClient } from './client.ts';

/** One recorded operation through `node` (classified); for reads (f: read...) `fn`'s result is the value. */
export function recorded<T>(
  history: History,
  process: string,
  f: string,
  node: string,
  fn: () => Promise<T>,
  value?: unknown,
) {
  return history.record(process, f, value, node, fn, classify);
}

/** The revision an acknowledged write got (recorded by recordedPut). */
export const revisionOf = (o: Op): number => Number((o.value as { revision?: number } | undefined)?.revision ?? 0);

/**
 * One recorded put: `write` with `{ id, key }`, completed ok with the revision etcd gave it
 * (so a check can compare it with a snapshot's or a compaction's revision), or fail / info
 * as `classify` says.
 */
export async function recordedPut(
  history: History,
  client: EtcdClient,
  process: string,
  key: string,
  id: string,
  value = id,
): Promise<{ ok: boolean; revision?: number; error?: unknown }> {
  const h = history.invoke(process, 'write', { id, key }, client.via.name);
  try {
    const header = await client.put(key, value);
    h.ok({ id, key, revision: header.revision, term: header.raft_term });
    return { ok: true, revision: header.revision };
  } catch (error) {
    if (classify(error) === 'fail') h.fail(error);
    else h.info(error);
    return { ok: false, error };
  }
}

/**
 * A steady writer: one put every `intervalMs` under `dir`, each key named after its id,
 * so a final read of the prefix shows which acknowledged writes survived.
 */
export class EtcdWriter {
  private readonly history: History;
  private client: EtcdClient;
  private readonly dir: string;
  private readonly process: string;
  private running = false;
  private loop: Promise<void> | undefined;
  private seq = 0;
  acknowledged = 0;
  lastRevision = 0;

  constructor(history: History, client: EtcdClient, dir: string, process = 'writer') {
    this.history = history;
    this.client = client;
    this.dir = dir;
    this.process = process;
  }

  /** Writes from now on go through another client (another member). */
  use(client: EtcdClient): void {
    this.client = client;
  }

  start(intervalMs = 50): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.writeOnce();
        await sleep(intervalMs);
      }
    })();
  }

  async writeOnce(): Promise<boolean> {
    const id = `w${String(++this.seq).padStart(5, '0')}`;
    const r = await recordedPut(this.history, this.client, this.process, `${this.dir}/${id}`, id);
    if (r.ok) {
      this.acknowledged++;
      this.lastRevision = r.revision ?? this.lastRevision;
    }
    return r.ok;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

/** Every id under `dir`, read (linearizable) through `client`: the final read, recorded as read-all. */
export async function finalRead(history: History, client: EtcdClient, dir: string): Promise<string[]> {
  const r = await history.record(
    'final-reader',
    'read-all',
    undefined,
    client.via.name,
    async () => {
      const got = await client.get(`${dir}/`, { prefix: true, keysOnly: true });
      return { ids: got.kvs.map((kv) => kv.key.slice(dir.length + 1)), revision: got.header.revision };
    },
    classify,
  );
  if (!r.ok) throw r.error;
  return r.result.ids;
}
