import { UsageError } from '../../src/errors.ts';
import type { ParamValues } from '../../src/params.ts';
import type { StartedCluster } from '../../src/runtime/cluster.ts';
import { crashable, type NodeSpec } from '../../src/runtime/node.ts';
import { type Probe, waitUntil, withTimeout } from '../../src/runtime/poll.ts';
import { secret } from '../../src/runtime/secrets.ts';
import type { Stack, StartedStack } from '../../src/runtime/stack.ts';
import { type ClusterInfo, type HealthKind, health, mcAdminInfo, mcEnv } from './admin.ts';
import { MinioClient, MinioCommandError } from './client.ts';
import { CONSOLE_PORT, MAX_DRIVES_PER_NODE, nodeNames, S3_PORT, serverCommand, survivesOneNode } from './config.ts';
import { type DriveRef, type DrivesSeen, drivesSeen, type ErasureView, erasureView } from './drives.ts';

export const IMAGE = 'midlab/minio:latest';

export const minioParams = {
  nodes: { type: 'int', default: 4, min: 1, max: 16, describe: 'MinIO nodes (minio1..)' },
  drives: {
    type: 'int',
    default: 2,
    min: 1,
    max: MAX_DRIVES_PER_NODE,
    describe: 'drives per node (/data1.. inside each node)',
  },
  parity: {
    type: 'int',
    default: 0,
    min: 0,
    max: 8,
    describe: 'parity shards of the standard storage class, EC:N (0: the server default)',
  },
  crashable: {
    type: 'bool',
    default: false,
    describe: "run the server under a shell, so a lab can crash its process alone (the node's address stays)",
  },
} as const;
export type MinioParams = ParamValues<typeof minioParams>;

export interface Credentials {
  accessKey: string;
  secretKey: string;
}

export const minio: Stack<typeof minioParams, StartedMinio> = {
  name: 'minio',
  summary: 'Distributed MinIO minio1..N (S3 on 9000, console on 9001), drives /data1.. per node, erasure-coded',
  params: minioParams,
  validate(p) {
    const total = p.nodes * p.drives;
    if (p.parity > 0 && p.parity > Math.floor(total / 2)) {
      throw new UsageError(
        `parity ${p.parity} is more than half of ${total} drive(s): MinIO refuses EC:${p.parity} here`,
        `use --param parity=${Math.floor(total / 2)} or less (0: the server default)`,
      );
    }
    if (p.parity > 0 && total < 2) {
      throw new UsageError('one drive has no room for parity', 'use --param parity=0, or more drives');
    }
    const warnings: string[] = [];
    if (total === 1) warnings.push('one drive: no erasure coding at all, a lost drive loses everything');
    if (p.nodes === 2) warnings.push('2 nodes: losing either leaves half the drives, not enough to write');
    return warnings;
  },
  nodes(p) {
    const user = `midlab-${secret(8)}`;
    const password = secret(24);
    return nodeNames(p.nodes).map(
      (name): NodeSpec => ({
        name,
        image: IMAGE,
        cmd: p.crashable ? crashable(serverCommand(p.nodes, p.drives)) : serverCommand(p.nodes, p.drives),
        env: {
          MINIO_ROOT_USER: user,
          MINIO_ROOT_PASSWORD: password,
          ...(p.parity > 0 ? { MINIO_STORAGE_CLASS_STANDARD: `EC:${p.parity}` } : {}),
        },
        ports: { s3: S3_PORT, console: CONSOLE_PORT },
        memoryMb: 512,
      }),
    );
  },
  async connect(cluster, p) {
    const m = new StartedMinio(cluster, p);
    await m.waitHealthy(120_000);
    return m;
  },
};

/** A running distributed MinIO. */
export class StartedMinio implements StartedStack {
  readonly cluster: StartedCluster;
  readonly params: MinioParams;
  readonly credentials: Credentials;

  constructor(cluster: StartedCluster, params: MinioParams) {
    this.cluster = cluster;
    this.params = params;
    const env = cluster.nodes[0]?.spec.env ?? {};
    this.credentials = { accessKey: env.MINIO_ROOT_USER ?? '', secretKey: env.MINIO_ROOT_PASSWORD ?? '' };
  }

  get nodeNames(): string[] {
    return this.cluster.nodes.map((n) => n.name);
  }

  /** `127.0.0.1:PORT` of a node's S3 API. */
  s3Endpoint(node: string): string {
    return this.cluster.node(node).endpoint('s3');
  }

  endpoints(): Record<string, string | string[]> {
    return {
      s3: this.nodeNames.map((n) => this.s3Endpoint(n)),
      console: this.nodeNames.map((n) => this.cluster.node(n).endpoint('console')),
      ...Object.fromEntries(this.nodeNames.map((n) => [n, this.s3Endpoint(n)])),
    };
  }

  /** An S3 client of one node. */
  client(node: string, opts: { timeoutMs?: number } = {}): MinioClient {
    return new MinioClient(this.s3Endpoint(node), this.credentials, opts);
  }

  /** `mc admin info` as seen by one (running) node. */
  info(node: string): Promise<ClusterInfo> {
    return mcAdminInfo(this.cluster.node(node), this.credentials);
  }

  /** HTTP status of /minio/health/{live,cluster,cluster/read} on one node (0: no answer). */
  health(node: string, kind: HealthKind): Promise<number> {
    return health(this.s3Endpoint(node), kind);
  }

  /** The erasure layout and drive counts as `via` reports them. */
  async erasure(via: string): Promise<ErasureView> {
    return erasureView(await this.info(via));
  }

  /** Every drive's state in `via`'s `mc admin info`. */
  async drives(via: string): Promise<DrivesSeen> {
    return drivesSeen(await this.info(via));
  }

  /** What `via` counts offline now, as a sentence (bounded: with quorum lost the admin API may hang). */
  async offlineView(via: string): Promise<string> {
    try {
      const info = await withTimeout(10_000, 'mc admin info', () => this.info(via));
      return `${via} counts ${info.onlineDisks} drives online, ${info.offlineDisks} offline`;
    } catch (err) {
      return `mc admin info on ${via} gave no answer: ${(err as Error).message.slice(0, 160)}`;
    }
  }

  /** The S3 health as `node` answers it: cluster (write quorum) and cluster/read (read quorum). */
  async healthView(node: string): Promise<{ cluster: number; read: number }> {
    const [cluster, read] = await Promise.all([this.health(node, 'cluster'), this.health(node, 'cluster/read')]);
    return { cluster, read };
  }

  /** `mc` inside a node, with the alias `local` set through the environment. */
  mc(node: string, args: string[]): Promise<string> {
    return this.cluster
      .node(node)
      .exec(['mc', ...args], { env: mcEnv(this.credentials) })
      .then((r) => {
        if (r.exitCode !== 0) throw new MinioCommandError(`mc ${args.join(' ')}`, node, r.stderr || r.stdout);
        return r.stdout;
      });
  }

  /** `mc admin heal -r [--scan deep] local/<bucket>` (deep: verifies every shard's hashes): its last line or the error, never throws. */
  async heal(node: string, bucket: string, deep = false): Promise<string> {
    const args = ['admin', 'heal', '-r', ...(deep ? ['--scan', 'deep'] : []), `local/${bucket}`, '--json'];
    try {
      return (await this.mc(node, args)).trim().split('\n').at(-1)?.slice(0, 300) ?? '';
    } catch (err) {
      return `error: ${(err as Error).message.slice(0, 300)}`;
    }
  }

  /** Objects of `bucket` that have a directory (their xl.meta) on a drive. */
  async objectsOnDrive(d: DriveRef, bucket: string): Promise<string[]> {
    const list = `cd ${d.path}/${bucket} 2>/dev/null && for o in *; do [ -f "$o/xl.meta" ] && echo "$o"; done`;
    const r = await this.cluster.node(d.node).exec(['sh', '-c', list]);
    return r.stdout.split('\n').filter(Boolean).sort();
  }

  /** An object's xl.meta on a drive (undefined: not there). */
  async xlMeta(d: DriveRef, bucket: string, id: string): Promise<Buffer | undefined> {
    const r = await this.cluster.node(d.node).exec(['base64', '-w0', `${d.path}/${bucket}/${id}/xl.meta`]);
    return r.exitCode === 0 ? Buffer.from(r.stdout.trim(), 'base64') : undefined;
  }

  /** The sha256 of every object's xl.meta on a drive, by object. */
  async metaSums(d: DriveRef, bucket: string): Promise<Record<string, string>> {
    const r = await this.cluster.node(d.node).exec(['sh', '-c', `cd ${d.path}/${bucket} && sha256sum */xl.meta`]);
    const lines = r.stdout.split('\n').map((l) => l.split(/\s+/));
    return Object.fromEntries(lines.filter((l) => l[1]).map(([sum, path]) => [path?.split('/')[0], sum]));
  }

  /** The part file of an object's shard on a drive (objects whose shard is over 128 KiB), or undefined. */
  async partFile(d: DriveRef, bucket: string, id: string): Promise<string | undefined> {
    const r = await this.cluster
      .node(d.node)
      .exec(['sh', '-c', `ls ${d.path}/${bucket}/${id}/*/part.1 2>/dev/null | head -1`]);
    return r.stdout.trim() || undefined;
  }

  async fileSha256(node: string, file: string): Promise<string | undefined> {
    const r = await this.cluster.node(node).exec(['sha256sum', file]);
    return r.exitCode === 0 ? r.stdout.split(' ')[0] : undefined;
  }

  /**
   * Every drive online in `mc admin info` (asked of `via`), and every node ready on its
   * own: /minio/health/cluster 200 (its object layer is up with write quorum) and, where
   * the layout survives a node's loss, the maintenance check too (it sees enough of its
   * peers). One node's view is not enough: right after start a peer can still be
   * initialising, or hold another "offline temporarily"; objects written then were seen
   * lost once that node was killed. `via`: the node whose `mc admin info` is read, or
   * 'all' for every node's own view.
   */
  async healthProblems(via: string = this.nodeNames[0] as string): Promise<string[]> {
    const problems: string[] = [];
    const kinds: HealthKind[] = survivesOneNode(this.params.nodes, this.params.drives, this.params.parity)
      ? ['cluster', 'maintenance']
      : ['cluster'];
    const checks = this.nodeNames.flatMap((n) => kinds.map((k) => [n, k] as const));
    const statuses = await Promise.all(checks.map(([n, k]) => this.health(n, k)));
    checks.forEach(([n, k], i) => {
      if (statuses[i] !== 200) problems.push(`${n} ${k} check: ${statuses[i] || 'no answer'}`);
    });
    const expected = this.params.nodes * this.params.drives;
    const views = via === 'all' ? this.nodeNames : [via];
    const infos = await Promise.all(views.map((n) => this.info(n)));
    infos.forEach((info, i) => {
      const who = views.length > 1 ? `${views[i]} sees ` : '';
      const bad = info.drives.filter((d) => d.state !== 'ok');
      if (info.drives.length !== expected) problems.push(`${who}${info.drives.length} of ${expected} drives listed`);
      if (bad.length) problems.push(`${who}drives not ok: ${bad.map((d) => `${d.endpoint}=${d.state}`).join(', ')}`);
      if (info.onlineDisks !== expected)
        problems.push(`${who}${info.onlineDisks} drives online, ${info.offlineDisks} offline`);
    });
    return problems;
  }

  /**
   * Healthy as every node sees it (each one's `mc admin info` lists every drive online),
   * twice in a row a second apart. A young cluster's nodes are still reconnecting to each
   * other after the first healthy answer; an object written then reached 9 of 12 drives,
   * and with a node lost a moment later it answered NoSuchKey (see minio/notes-topology).
   */
  async waitHealthy(timeoutMs = 90_000): Promise<void> {
    let healthySince: number | undefined;
    await waitUntil(
      `MinIO with all ${this.params.nodes * this.params.drives} drives online in every node's view, for 1 s`,
      async (): Promise<Probe<undefined>> => {
        const problems = await this.healthProblems('all');
        if (problems.length) {
          healthySince = undefined;
          return { done: false, seen: problems.join('; ') };
        }
        healthySince ??= Date.now();
        return Date.now() - healthySince >= 1000
          ? { done: true, value: undefined }
          : { done: false, seen: 'healthy in every view; holding 1 s' };
      },
      { timeoutMs, intervalMs: 500 },
    );
  }

  stop(): Promise<void> {
    return this.cluster.stop();
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
