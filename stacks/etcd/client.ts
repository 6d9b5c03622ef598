import { MidlabError } from '../../src/errors.ts';
import type { StartedNode } from '../../src/runtime/node.ts';
import { TimeoutError, withTimeout } from '../../src/runtime/poll.ts';

/**
 * The labs' etcd client: `etcdctl -w json` run inside a member through the runtime's exec
 * (see README.md for why not a gRPC library). The interface is what the labs need and no
 * more, so a gRPC client could replace it without touching a lab.
 */
export type EtcdReason =
  | 'TIMEOUT'
  | 'NOSPACE'
  | 'COMPACTED'
  | 'NO_LEADER'
  | 'LEADER_CHANGED'
  | 'UNAVAILABLE'
  | 'CANCELED'
  | 'OTHER';

const REASONS: [RegExp, EtcdReason][] = [
  [/database space exceeded/, 'NOSPACE'],
  [/required revision has been compacted/, 'COMPACTED'],
  [/no leader/, 'NO_LEADER'],
  [/leader changed/, 'LEADER_CHANGED'],
  [/context deadline exceeded|request timed out|DeadlineExceeded/, 'TIMEOUT'],
  [/connection refused|Unavailable|no such host|is not running|No such container/, 'UNAVAILABLE'],
  [/watch is canceled/, 'CANCELED'],
];

const HINTS: Record<EtcdReason, string> = {
  TIMEOUT: 'no answer within the command timeout: is a majority of members up?',
  NOSPACE: 'the NOSPACE alarm is raised: compact, defragment, then `etcdctl alarm disarm`',
  COMPACTED: 'ask for a revision at or after the compacted one (etcdctl get --rev, watch --rev)',
  NO_LEADER: 'the member has no leader: wait for an election, or bring a majority back',
  LEADER_CHANGED: 'the leader changed while the request was in flight: retry',
  UNAVAILABLE: 'the member does not answer: is it running?',
  CANCELED: 'the server canceled the watch (the reason precedes this message)',
  OTHER: "see the member's log in the run folder",
};

/** An etcdctl command that failed: `reason` is what etcd said, in one word. */
export class EtcdError extends MidlabError {
  readonly reason: EtcdReason;
  constructor(reason: EtcdReason, message: string) {
    super(`ETCD_${reason}`, message, { hint: HINTS[reason], exitCode: 3 });
    this.name = 'EtcdError';
    this.reason = reason;
  }
}

/** etcdctl's error line ("Error: ...") or its last line; the reason found in the whole text. */
export function toEtcdError(text: string): EtcdError {
  // A canceled watch says why on a line of its own: "watch was canceled (<reason>)".
  const canceled = /watch was canceled \((.+)\)/.exec(text)?.[1];
  if (canceled) text = `${text}\nError: ${canceled}`;
  const lines = text.trim().split('\n');
  const message = (lines.findLast((l) => l.startsWith('Error:')) ?? lines.at(-1) ?? 'etcdctl failed')
    .replace(/^Error:\s*/, '')
    .trim();
  const reason = REASONS.find(([re]) => re.test(text))?.[1] ?? 'OTHER';
  return new EtcdError(reason, `${message} (${reason})`);
}

/**
 * Did the operation certainly not happen (`fail`), or may it have (`info`)? A timeout or a
 * leader change leaves a write's fate unknown: the proposal may still commit. A refusal
 * (NOSPACE, no leader, a compacted revision, a member that is down) is a certain `fail`.
 */
export function classify(err: unknown): 'fail' | 'info' {
  if (err instanceof TimeoutError) return 'info';
  if (err instanceof EtcdError) return err.reason === 'TIMEOUT' || err.reason === 'LEADER_CHANGED' ? 'info' : 'fail';
  return 'info';
}

/** etcd's 64-bit ids do not fit a JS number: they are read as decimal strings. */
export function parseJson<T>(text: string): T {
  return JSON.parse(text.replace(/([:[,]\s*)(\d{16,})(?=\s*[,}\]])/g, '$1"$2"')) as T;
}

/** A member or cluster id as etcdctl's tables print it (hex). */
export function hexId(id: string | number | undefined): string {
  return id === undefined ? '' : BigInt(id).toString(16);
}

export interface Header {
  cluster_id: string;
  member_id: string;
  revision?: number;
  raft_term: number;
}

export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
}

export interface WatchEvent extends KeyValue {
  type: 'PUT' | 'DELETE';
}

interface RawKv {
  key: string;
  value?: string;
  create_revision?: number;
  mod_revision?: number;
  version?: number;
}

const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString();
const kvOf = (k: RawKv): KeyValue => ({
  key: b64(k.key),
  value: b64(k.value),
  createRevision: k.create_revision ?? 0,
  modRevision: k.mod_revision ?? 0,
  version: k.version ?? 0,
});

export interface GetOptions {
  prefix?: boolean;
  /** `s`: serializable, answered from the member's own copy without asking the leader. */
  consistency?: 'l' | 's';
  revision?: number;
  keysOnly?: boolean;
}

/**
 * etcdctl inside `via`, talking to `endpoints` (client URLs on the lab network). Every
 * command is bounded by `--command-timeout`, and the exec itself by a little more.
 */
export class EtcdClient {
  readonly via: StartedNode;
  readonly endpoints: string[];
  readonly timeoutMs: number;

  constructor(via: StartedNode, endpoints: string[], timeoutMs = 2000) {
    this.via = via;
    this.endpoints = endpoints;
    this.timeoutMs = timeoutMs;
  }

  /** etcdctl with `args`, bounded; the endpoints go in the environment (see `env`). */
  command(args: string[]): string[] {
    return ['etcdctl', `--command-timeout=${this.timeoutMs}ms`, '--dial-timeout=1s', ...args];
  }

  /**
   * Each member presets ETCDCTL_ENDPOINTS, and etcdctl exits (fatal "conflicting environment
   * variable is shadowed by corresponding command-line flag") when --endpoints is given too:
   * the endpoints are set by overriding the variable.
   */
  private get env(): string[] {
    return [`ETCDCTL_ENDPOINTS=${this.endpoints.join(',')}`];
  }

  /** Runs etcdctl with `args`; stdout, or an EtcdError from what it printed. */
  async raw(args: string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<string> {
    const cmd = this.command(args);
    const argv = opts.stdin === undefined ? cmd : ['sh', '-c', 'printf %s "$0" | "$@"', opts.stdin, ...cmd];
    const limit = opts.timeoutMs ?? this.timeoutMs;
    const r = await withTimeout(limit + 3000, `${args.slice(0, 2).join(' ')} via ${this.via.name}`, () =>
      this.via.exec(argv, { env: this.env }),
    ).catch((err: unknown) => {
      if (err instanceof TimeoutError) throw err;
      throw toEtcdError(String((err as Error).message ?? err));
    });
    if (r.exitCode !== 0) throw toEtcdError(`${r.stderr}\n${r.stdout}`);
    return r.stdout;
  }

  async json<T>(args: string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<T> {
    return parseJson<T>(await this.raw(['-w', 'json', ...args], opts));
  }

  /** Writes a value; returns the revision etcd gave it and the header. */
  async put(key: string, value: string): Promise<Header & { revision: number }> {
    // The value goes on stdin: etcdctl reads it there, and large values exceed argv.
    const r = await this.json<{ header: Header & { revision: number } }>(['put', key], { stdin: value });
    return r.header;
  }

  async get(key: string, o: GetOptions = {}): Promise<{ header: Header; kvs: KeyValue[] }> {
    const args = ['get', key];
    if (o.prefix) args.push('--prefix');
    if (o.consistency) args.push(`--consistency=${o.consistency}`);
    if (o.revision !== undefined) args.push(`--rev=${o.revision}`);
    if (o.keysOnly) args.push('--keys-only');
    const r = await this.json<{ header: Header; kvs?: RawKv[] }>(args);
    return { header: r.header, kvs: (r.kvs ?? []).map(kvOf) };
  }

  /** Deletes a key (or every key under a prefix); returns how many were deleted. */
  async del(key: string, prefix = false): Promise<number> {
    const r = await this.json<{ deleted?: number }>(['del', key, ...(prefix ? ['--prefix'] : [])]);
    return r.deleted ?? 0;
  }

  /**
   * Compacts history before `revision`. With `physical` it returns once the member has
   * removed the old revisions from its file; without, as soon as the compaction is agreed.
   */
  /** One key's value and the revision that last changed it (both undefined: no such key). */
  async read(key: string, o: GetOptions = {}): Promise<{ value?: string; revision?: number }> {
    const kv = (await this.get(key, o)).kvs[0];
    return { value: kv?.value, revision: kv?.modRevision };
  }

  async compact(revision: number, physical = false): Promise<void> {
    await this.raw(['compact', String(revision), ...(physical ? ['--physical'] : [])]);
  }

  /** `defrag --cluster`: every member of the cluster rewrites its file, one at a time. */
  async defragCluster(): Promise<void> {
    await this.raw(['defrag', '--cluster'], { timeoutMs: 10_000 });
  }

  async alarmDisarm(): Promise<void> {
    await this.raw(['alarm', 'disarm']);
  }

  /**
   * A watch on `key` from `fromRevision` (etcdctl watch --rev), held open `forMs`: the events
   * it delivered, or an EtcdError (COMPACTED) when the server canceled it.
   */
  async watch(key: string, fromRevision: number, forMs: number, prefix = false): Promise<WatchEvent[]> {
    const args = ['-w', 'json', 'watch', key, `--rev=${fromRevision}`, ...(prefix ? ['--prefix'] : [])];
    const cmd = ['timeout', `${forMs / 1000}`, ...this.command(args)];
    const r = await withTimeout(forMs + 5000, `watch ${key} via ${this.via.name}`, () =>
      this.via.exec(cmd, { env: this.env }),
    );
    // `timeout` ends a watch that was still open with 124: that is the normal end here.
    if (r.exitCode !== 0 && r.exitCode !== 124) throw toEtcdError(`${r.stderr}\n${r.stdout}`);
    const events: WatchEvent[] = [];
    for (const line of r.stdout.split('\n').filter((l) => l.startsWith('{'))) {
      const resp = parseJson<{ Events?: { type?: number; kv: RawKv }[]; Canceled?: boolean }>(line);
      if (resp.Canceled) throw toEtcdError(r.stderr || 'watch is canceled');
      for (const e of resp.Events ?? []) events.push({ type: e.type === 1 ? 'DELETE' : 'PUT', ...kvOf(e.kv) });
    }
    return events;
  }
}
