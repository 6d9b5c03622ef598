import { createHash } from 'node:crypto';

/**
 * Rendering of redis.conf and sentinel.conf. Pure functions, unit-tested. Comments go on
 * their own lines; Sentinel rewrites its file on every state change (and a data node's
 * file is rewritten when Sentinel reconfigures it), so both files must stay writable.
 */
export const REDIS_PORT = 6379;
export const SENTINEL_PORT = 26379;
export const MASTER_NAME = 'mymaster';
export const CONF_DIR = '/etc/midlab/redis';
export const DATA_DIR = '/var/lib/redis';
/** failover-timeout in the labs (production default 180000 ms). */
export const FAILOVER_TIMEOUT_MS = 10_000;

export interface Layout {
  /** Data nodes: redis1 (the first primary), then the replicas. */
  data: string[];
  sentinels: string[];
  downAfterMs: number;
  quorum: number;
  /** min-replicas-to-write on every data node (0: off, the default). */
  minReplicasToWrite: number;
  /** min-replicas-max-lag, seconds. */
  minReplicasMaxLag: number;
  /** off: no RDB snapshots, no AOF; aof: an append-only file, fsynced every second. */
  persistence: 'off' | 'aof';
}

export function dataNodeNames(replicas: number): string[] {
  return Array.from({ length: replicas + 1 }, (_, i) => `redis${i + 1}`);
}

export function sentinelNames(sentinels: number): string[] {
  return Array.from({ length: sentinels }, (_, i) => `sentinel${i + 1}`);
}

/** A majority of the Sentinels: what a failover needs to be authorised. */
export function majority(sentinels: number): number {
  return Math.floor(sentinels / 2) + 1;
}

/**
 * A Sentinel's run id, fixed per name so every Sentinel's file can name every other one
 * in advance (`known-sentinel`). 40 hex digits, as Sentinel requires.
 */
export function sentinelId(name: string): string {
  return createHash('sha1').update(`midlab-${name}`).digest('hex');
}

export function redisConf(layout: Layout, self: string): string {
  const primary = layout.data[0] as string;
  const lines = [
    '# Rendered by midlab.',
    `port ${REDIS_PORT}`,
    '# Every interface inside the container (IPv6 if present). Outside, the lab publishes',
    '# the port on 127.0.0.1 only, so there is no password.',
    'bind * -::*',
    'protected-mode no',
    'daemonize no',
    'logfile ""',
    `dir ${DATA_DIR}`,
    '# No RDB snapshots. Without AOF a restarted node is empty until it resyncs from its primary.',
    'save ""',
    ...(layout.persistence === 'aof'
      ? [
          '# Every write appended to a file before it is acknowledged (written to the kernel),',
          '# fsynced once a second: a process crash loses nothing acknowledged.',
          'appendonly yes',
          'appendfsync everysec',
        ]
      : ['appendonly no']),
    '# Full syncs stream the RDB over the socket at once (the default delay of 5 s',
    '# waits for more replicas to arrive, and triples the time a replica takes to link).',
    'repl-diskless-sync yes',
    'repl-diskless-sync-delay 0',
    '# The name this node gives its primary, so INFO, Sentinel and clients see redisN, not',
    '# a container IP that changes across restarts.',
    `replica-announce-ip ${self}`,
  ];
  if (layout.minReplicasToWrite > 0) {
    lines.push(
      '# Refuse writes (NOREPLICAS) unless enough replicas acknowledged the stream within the lag.',
      `min-replicas-to-write ${layout.minReplicasToWrite}`,
      `min-replicas-max-lag ${layout.minReplicasMaxLag}`,
    );
  }
  if (self !== primary) lines.push(`replicaof ${primary} ${REDIS_PORT}`);
  return `${lines.join('\n')}\n`;
}

/** What CONFIG GET answers on a data node for the settings the labs depend on. */
export function settingsOf(layout: Layout): Record<string, string> {
  const lag: Record<string, string> = layout.minReplicasToWrite
    ? { 'min-replicas-max-lag': String(layout.minReplicasMaxLag) }
    : {};
  return {
    'min-replicas-to-write': String(layout.minReplicasToWrite),
    ...lag,
    save: '',
    appendonly: layout.persistence === 'aof' ? 'yes' : 'no',
  };
}

/**
 * sentinel.conf. `resolve-hostnames` must precede `monitor` (the primary is named by
 * host name), and the replicas and the other Sentinels are pre-seeded: otherwise a
 * Sentinel learns replicas from the primary's INFO (every 10 s) and the others from
 * hello messages (every 2 s), which makes readiness take ~12 s instead of ~3 s.
 */
export function sentinelConf(layout: Layout, self: string): string {
  const primary = layout.data[0] as string;
  const lines = [
    '# Rendered by midlab. Sentinel rewrites this file as it learns and fails over.',
    `port ${SENTINEL_PORT}`,
    'bind * -::*',
    'protected-mode no',
    'daemonize no',
    'logfile ""',
    `dir ${DATA_DIR}`,
    '# Name instances by host name (redis1, sentinel2), never by container IP.',
    'sentinel resolve-hostnames yes',
    'sentinel announce-hostnames yes',
    `sentinel announce-ip ${self}`,
    `sentinel monitor ${MASTER_NAME} ${primary} ${REDIS_PORT} ${layout.quorum}`,
    `# Lab timing. Production defaults: down-after 30000 ms, failover-timeout 180000 ms.`,
    `sentinel down-after-milliseconds ${MASTER_NAME} ${layout.downAfterMs}`,
    `sentinel failover-timeout ${MASTER_NAME} ${FAILOVER_TIMEOUT_MS}`,
    `sentinel parallel-syncs ${MASTER_NAME} 1`,
    '# Pre-seeded topology: what Sentinel would otherwise discover over ~10 s.',
    ...layout.data.slice(1).map((r) => `sentinel known-replica ${MASTER_NAME} ${r} ${REDIS_PORT}`),
    `sentinel myid ${sentinelId(self)}`,
    ...layout.sentinels
      .filter((s) => s !== self)
      .map((s) => `sentinel known-sentinel ${MASTER_NAME} ${s} ${SENTINEL_PORT} ${sentinelId(s)}`),
  ];
  return `${lines.join('\n')}\n`;
}
