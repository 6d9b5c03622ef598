/**
 * Parsers for what Redis and Sentinel answer: `INFO` text and Sentinel's field lists.
 * Pure, so they are unit-tested without a server.
 */

/** `INFO` text: `key:value` lines under `# Section` headers. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** `ip=redis2,port=6379,state=online` (the value of INFO's slaveN lines). */
export function parseFields(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of value.split(',')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

export interface ReplicaLine {
  /** What the replica announced (replica-announce-ip): its host name here. */
  ip: string;
  port: number;
  /** online, wait_bgsave, send_bulk, ... */
  state: string;
  offset: number;
  /** Seconds since the replica's last REPLCONF ACK. */
  lag: number;
}

/** A node's `INFO replication`, in the terms the labs use. */
export interface Replication {
  role: 'master' | 'slave' | string;
  /** On a replica: the primary it follows, as it was named to it (redis1, not an IP). */
  masterHost?: string;
  masterPort?: number;
  /** On a replica: `up` or `down`. Stays `up` through a silent cut until repl-timeout (60 s). */
  masterLinkStatus?: string;
  /** Bytes of replication stream produced (primary) or processed (replica). */
  masterReplOffset: number;
  /** On a replica: the offset it has processed. */
  slaveReplOffset?: number;
  connectedSlaves: number;
  /** On a primary: one entry per connected replica. */
  replicas: ReplicaLine[];
  raw: Record<string, string>;
}

export function parseReplication(text: string): Replication {
  const raw = parseInfo(text);
  const replicas: ReplicaLine[] = Object.keys(raw)
    .filter((k) => /^slave\d+$/.test(k))
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))
    .map((k) => {
      const f = parseFields(raw[k] ?? '');
      return {
        ip: f.ip ?? '',
        port: Number(f.port),
        state: f.state ?? '',
        offset: Number(f.offset ?? 0),
        lag: Number(f.lag ?? 0),
      };
    });
  const num = (k: string) => (raw[k] === undefined ? undefined : Number(raw[k]));
  return {
    role: raw.role ?? '',
    masterHost: raw.master_host,
    masterPort: num('master_port'),
    masterLinkStatus: raw.master_link_status,
    masterReplOffset: num('master_repl_offset') ?? 0,
    slaveReplOffset: num('slave_repl_offset'),
    connectedSlaves: num('connected_slaves') ?? 0,
    replicas,
    raw,
  };
}

/**
 * Sentinel answers with flat `[field, value, ...]` arrays (RESP2, or RESP3 with the
 * client's legacy mapping); a RESP3 map arrives as an object. Either way: a record.
 */
export function fieldsOf(reply: unknown): Record<string, string> {
  if (Array.isArray(reply)) {
    const out: Record<string, string> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
    return out;
  }
  if (reply && typeof reply === 'object') {
    return Object.fromEntries(Object.entries(reply).map(([k, v]) => [k, String(v)]));
  }
  throw new Error(`unexpected Sentinel reply: ${JSON.stringify(reply)}`);
}

/** `SENTINEL MASTER <name>`. */
export interface SentinelMaster {
  name: string;
  /** The primary as Sentinel names it: a host name with announce-hostnames. */
  ip: string;
  port: number;
  /** `master` when all is well; `master,s_down`, `master,o_down`, `master,failover_in_progress`... */
  flags: string;
  numSlaves: number;
  numOtherSentinels: number;
  quorum: number;
  configEpoch: number;
  raw: Record<string, string>;
}

export function parseSentinelMaster(reply: unknown): SentinelMaster {
  const f = fieldsOf(reply);
  return {
    name: f.name ?? '',
    ip: f.ip ?? '',
    port: Number(f.port),
    flags: f.flags ?? '',
    numSlaves: Number(f['num-slaves'] ?? 0),
    numOtherSentinels: Number(f['num-other-sentinels'] ?? 0),
    quorum: Number(f.quorum ?? 0),
    configEpoch: Number(f['config-epoch'] ?? 0),
    raw: f,
  };
}

/** An entry of `SENTINEL REPLICAS` or `SENTINEL SENTINELS`. */
export interface SentinelPeer {
  name: string;
  ip: string;
  port: number;
  /** `slave` / `sentinel` when all is well; with `,s_down`, `,disconnected`... when not. */
  flags: string;
  /** Replicas only: `ok` or `err`, from the replica's own INFO (master_link_status). */
  masterLinkStatus?: string;
  /** Replicas only: the primary the replica says it follows. */
  masterHost?: string;
  raw: Record<string, string>;
}

export function parseSentinelPeers(reply: unknown): SentinelPeer[] {
  if (!Array.isArray(reply)) throw new Error(`unexpected Sentinel reply: ${JSON.stringify(reply)}`);
  return reply.map((entry) => {
    const f = fieldsOf(entry);
    return {
      name: f.name ?? '',
      ip: f.ip ?? '',
      port: Number(f.port),
      flags: f.flags ?? '',
      masterLinkStatus: f['master-link-status'],
      masterHost: f['master-host'],
      raw: f,
    };
  });
}

/** `SENTINEL GET-MASTER-ADDR-BY-NAME`: `[host, port]`, or null when the name is unknown. */
export function parseMasterAddr(reply: unknown): { host: string; port: number } | undefined {
  if (!Array.isArray(reply) || reply.length < 2) return undefined;
  return { host: String(reply[0]), port: Number(reply[1]) };
}
