import type { StartedNode } from '../../src/runtime/node.ts';
import { MinioCommandError } from './client.ts';
import { S3_PORT } from './config.ts';

/** Credentials for mc, as the environment alias `local` (no config file written). */
export function mcEnv(c: { accessKey: string; secretKey: string }): string[] {
  return [`MC_HOST_local=http://${c.accessKey}:${c.secretKey}@localhost:${S3_PORT}`];
}

export interface DriveInfo {
  /** http://minio2:9000/data1 */
  endpoint: string;
  /** minio2 */
  node: string;
  path: string;
  /** ok, offline, unformatted, ... */
  state: string;
  pool: number;
  set: number;
  /** Healing in progress on this drive. */
  healing: boolean;
}

export interface ClusterInfo {
  /** Parity of the standard storage class, as the server reports it. */
  standardParity: number | undefined;
  onlineDisks: number;
  offlineDisks: number;
  drives: DriveInfo[];
  /** Each erasure set's drives (pool 0 first). */
  sets: DriveInfo[][];
  servers: { endpoint: string; state: string }[];
}

type J = Record<string, unknown>;
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/** Parses `mc admin info --json`. */
export function parseAdminInfo(text: string): ClusterInfo {
  const root = JSON.parse(text) as J;
  const info = (root.info ?? {}) as J;
  const backend = (info.backend ?? {}) as J;
  const servers = (Array.isArray(info.servers) ? info.servers : []) as J[];
  const drives: DriveInfo[] = [];
  for (const s of servers) {
    for (const d of (Array.isArray(s.drives) ? s.drives : []) as J[]) {
      const endpoint = String(d.endpoint ?? '');
      const m = /^https?:\/\/([^:/]+)(?::\d+)?(\/.*)$/.exec(endpoint);
      drives.push({
        endpoint,
        node: m?.[1] ?? String(s.endpoint ?? '').split(':')[0] ?? '',
        path: m?.[2] ?? endpoint,
        state: String(d.state ?? 'unknown'),
        pool: num(d.pool_index) ?? 0,
        set: num(d.set_index) ?? 0,
        healing: d.healing === true,
      });
    }
  }
  const keyed = new Map<string, DriveInfo[]>();
  for (const d of drives) {
    const k = `${d.pool}/${d.set}`;
    keyed.set(k, [...(keyed.get(k) ?? []), d]);
  }
  const sets = [...keyed.entries()].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })).map(([, v]) => v);
  return {
    standardParity: num(backend.standardSCParity),
    onlineDisks: num(backend.onlineDisks) ?? drives.filter((d) => d.state === 'ok').length,
    offlineDisks: num(backend.offlineDisks) ?? drives.filter((d) => d.state !== 'ok').length,
    drives,
    sets,
    servers: servers.map((s) => ({ endpoint: String(s.endpoint ?? ''), state: String(s.state ?? '') })),
  };
}

/** `mc admin info local --json` inside a running node. */
export async function mcAdminInfo(
  node: StartedNode,
  c: { accessKey: string; secretKey: string },
): Promise<ClusterInfo> {
  const r = await node.exec(['mc', 'admin', 'info', 'local', '--json'], { env: mcEnv(c) });
  if (r.exitCode !== 0) throw new MinioCommandError('mc admin info', node.name, r.stderr || r.stdout);
  return parseAdminInfo(r.stdout);
}

/** `maintenance`: /minio/health/cluster?maintenance=true, "would the cluster keep write
 * quorum without this node", answered from this node's own view of its peers. */
export type HealthKind = 'live' | 'cluster' | 'cluster/read' | 'maintenance';

/** The HTTP status of a health endpoint, from the host (0: no answer within the timeout). */
export async function health(endpoint: string, kind: HealthKind, timeoutMs = 5000): Promise<number> {
  try {
    const path = kind === 'maintenance' ? 'cluster?maintenance=true' : kind;
    const r = await fetch(`http://${endpoint}/minio/health/${path}`, { signal: AbortSignal.timeout(timeoutMs) });
    await r.arrayBuffer();
    return r.status;
  } catch {
    return 0;
  }
}
