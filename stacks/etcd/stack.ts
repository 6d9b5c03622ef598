import { UsageError } from '../../src/errors.ts';
import type { ParamValues } from '../../src/params.ts';
import type { StartedCluster } from '../../src/runtime/cluster.ts';
import { crashable, type NodeSpec } from '../../src/runtime/node.ts';
import { waitUntil } from '../../src/runtime/poll.ts';
import { secret } from '../../src/runtime/secrets.ts';
import type { Stack, StartedStack } from '../../src/runtime/stack.ts';
import { EtcdClient, type Header, hexId } from './client.ts';

export const IMAGE = 'midlab/etcd:latest';
export const CLIENT_PORT = 2379;
const PEER_PORT = 2380;
export const DATA_DIR = '/var/lib/etcd';

export const etcdParams = {
  members: { type: 'int', default: 3, min: 1, max: 7, describe: 'voting members (etcd1..etcdN)' },
  heartbeatMs: {
    type: 'int',
    default: 100,
    min: 10,
    max: 5000,
    describe: '--heartbeat-interval in ms (etcd default 100; ~ the round trip between members)',
  },
  electionMs: {
    type: 'int',
    default: 1000,
    min: 100,
    max: 50_000,
    describe: '--election-timeout in ms (etcd default 1000; at least 10 heartbeats across data centres)',
  },
  quotaBytes: {
    type: 'int',
    default: 0,
    min: 0,
    max: 8 * 1024 ** 3,
    describe: '--quota-backend-bytes (0: the default, 2 GiB)',
  },
} as const;
export type EtcdParams = ParamValues<typeof etcdParams>;

export const memberNames = (n: number): string[] => Array.from({ length: n }, (_, i) => `etcd${i + 1}`);
export const clientUrl = (name: string): string => `http://${name}:${CLIENT_PORT}`;
const peerUrl = (name: string): string => `http://${name}:${PEER_PORT}`;
/** `--initial-cluster` as the notes write it: name=peer-url, for every member. */
export const initialCluster = (names: string[]): string => names.map((n) => `${n}=${peerUrl(n)}`).join(',');

/**
 * The server's command line: the notes' etcd.service flags (lines 6612-6633) without TLS.
 * It listens on [::], every address of the member (IPv4 too, even with IPv6 off).
 */
export function etcdCommand(p: EtcdParams, name: string, token: string): string[] {
  const names = memberNames(p.members);
  return [
    'etcd',
    `--name=${name}`,
    `--data-dir=${DATA_DIR}`,
    `--listen-client-urls=http://[::]:${CLIENT_PORT}`,
    `--advertise-client-urls=${clientUrl(name)}`,
    `--listen-peer-urls=http://[::]:${PEER_PORT}`,
    `--initial-advertise-peer-urls=${peerUrl(name)}`,
    `--initial-cluster=${initialCluster(names)}`,
    `--initial-cluster-token=${token}`,
    '--initial-cluster-state=new',
    `--heartbeat-interval=${p.heartbeatMs}`,
    `--election-timeout=${p.electionMs}`,
    ...(p.quotaBytes > 0 ? [`--quota-backend-bytes=${p.quotaBytes}`] : []),
  ];
}

/**
 * The notes' cluster restore (lines 6952-6956) for one member of `members`, into its data
 * directory: its name, the whole --initial-cluster, a token and its peer URL. etcd 3.6 has
 * it in etcdutl (`etcdctl snapshot restore`, as the notes type it, was removed).
 */
export function restoreCommand(members: number, node: string, snapshot: string, token: string): string[] {
  return [
    'etcdutl',
    'snapshot',
    'restore',
    snapshot,
    `--name=${node}`,
    `--initial-cluster=${initialCluster(memberNames(members))}`,
    `--initial-cluster-token=${token}`,
    `--initial-advertise-peer-urls=${peerUrl(node)}`,
    `--data-dir=${DATA_DIR}`,
  ];
}

export const etcd: Stack<typeof etcdParams, StartedEtcd> = {
  name: 'etcd',
  summary: 'etcd cluster etcd1..N (client port 2379 published per member, peers on 2380), etcdctl in every member',
  params: etcdParams,
  validate(p) {
    if (p.electionMs < 5 * p.heartbeatMs)
      throw new UsageError(
        `election timeout ${p.electionMs} ms is under 5 heartbeats of ${p.heartbeatMs} ms`,
        'etcd refuses it; keep electionMs >= 5 x heartbeatMs (10x is the advice)',
      );
    return p.members % 2 === 0
      ? [
          `${p.members} members need ${p.members / 2 + 1} for a quorum: no more failures tolerated than with ${p.members - 1}`,
        ]
      : [];
  },
  nodes(p) {
    // A token per cluster: members of two labs never take each other for peers.
    const token = `midlab-${secret(10)}`;
    const names = memberNames(p.members);
    return names.map(
      (name): NodeSpec => ({
        name,
        image: IMAGE,
        // Crashable: a lab can stop the server alone and rewrite its data directory in place.
        cmd: crashable(etcdCommand(p, name, token)),
        env: { ETCDCTL_ENDPOINTS: names.map(clientUrl).join(',') },
        ports: { client: CLIENT_PORT },
        memoryMb: 512,
      }),
    );
  },
  async connect(cluster, p) {
    const e = new StartedEtcd(cluster, p);
    await e.waitHealthy();
    return e;
  },
};

/** One member's `etcdctl endpoint status`, ids in hex as etcdctl's tables print them. */
export interface EndpointStatus {
  node: string;
  memberId: string;
  clusterId: string;
  leader: string;
  raftTerm: number;
  raftIndex: number;
  raftAppliedIndex: number;
  revision: number;
  dbSize: number;
  dbSizeInUse: number;
  /** Alarms the member reports ("memberID:... alarm:NOSPACE"). */
  errors: string[];
}

export interface Member {
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
}

interface RawStatus {
  Status: {
    header: Header;
    leader: string;
    raftTerm: number;
    raftIndex: number;
    raftAppliedIndex: number;
    dbSize: number;
    dbSizeInUse: number;
    errors?: string[];
  };
}

/** A running cluster. Members: etcd1..etcdN. */
export class StartedEtcd implements StartedStack {
  readonly cluster: StartedCluster;
  readonly params: EtcdParams;
  /** The --initial-cluster-token the members were started with. */
  readonly token: string;

  constructor(cluster: StartedCluster, params: EtcdParams) {
    this.cluster = cluster;
    this.params = params;
    const cmd = cluster.nodes[0]?.spec.cmd ?? [];
    this.token = cmd.find((a) => a.startsWith('--initial-cluster-token='))?.split('=')[1] ?? '';
  }

  get names(): string[] {
    return memberNames(this.params.members);
  }

  endpoint(node: string): string {
    return this.cluster.node(node).endpoint('client');
  }

  /** Host endpoints, as `etcdctl --endpoints=` takes them. */
  endpoints(): Record<string, string | string[]> {
    return {
      endpoints: this.names.map((n) => this.endpoint(n)).join(','),
      ...Object.fromEntries(this.names.map((n) => [n, this.endpoint(n)])),
    };
  }

  /** etcdctl inside `via`, talking to `to` (default: `via` itself). */
  client(via: string, to: string[] = [via], timeoutMs = 2000): EtcdClient {
    return new EtcdClient(this.cluster.node(via), to.map(clientUrl), timeoutMs);
  }

  /** One member's endpoint status, asked of that member; undefined when it does not answer. */
  async status(node: string): Promise<EndpointStatus | undefined> {
    try {
      const [r] = await this.client(node, [node], 1500).json<RawStatus[]>(['endpoint', 'status']);
      if (!r) return undefined;
      const s = r.Status;
      return {
        node,
        memberId: hexId(s.header.member_id),
        clusterId: hexId(s.header.cluster_id),
        leader: hexId(s.leader),
        raftTerm: s.raftTerm,
        raftIndex: s.raftIndex,
        raftAppliedIndex: s.raftAppliedIndex,
        revision: s.header.revision ?? 0,
        dbSize: s.dbSize,
        dbSizeInUse: s.dbSizeInUse,
        errors: s.errors ?? [],
      };
    } catch {
      return undefined;
    }
  }

  async statuses(nodes: string[] = this.names): Promise<Record<string, EndpointStatus | undefined>> {
    return Object.fromEntries(await Promise.all(nodes.map(async (n) => [n, await this.status(n)] as const)));
  }

  /** The member that says it is the leader (its own id is the leader id it reports). */
  async leader(nodes: string[] = this.names): Promise<string | undefined> {
    const all = await this.statuses(nodes);
    return Object.values(all).find((s) => s && s.memberId === s.leader)?.node;
  }

  /** `etcdctl endpoint health` of one member: it commits a proposal through that member. */
  async healthy(node: string): Promise<boolean> {
    return this.client(node)
      .json<{ health: boolean }[]>(['endpoint', 'health'])
      .then((r) => r.every((h) => h.health))
      .catch(() => false);
  }

  /** When `node` logged "became leader at term N" (epoch ms), read from its log. */
  async becameLeaderAt(node: string, term: number): Promise<number | undefined> {
    return electedAt(await this.cluster.node(node).logs(), term);
  }

  /** `etcdctl member list`, asked of `via`. */
  async members(via: string): Promise<Member[]> {
    const r = await this.client(via).json<{ members: (Member & { ID: string })[] }>(['member', 'list']);
    return r.members.map((m) => ({
      id: hexId(m.ID),
      name: m.name,
      peerURLs: m.peerURLs ?? [],
      clientURLs: m.clientURLs ?? [],
    }));
  }

  /** `etcdctl alarm list`, asked of `via`: "NOSPACE", "CORRUPT" per member id (hex). */
  async alarms(via: string): Promise<{ member: string; alarm: string }[]> {
    const r = await this.client(via).json<{ alarms?: { memberID: string; alarm: number }[] }>(['alarm', 'list']);
    const names: Record<number, string> = { 1: 'NOSPACE', 2: 'CORRUPT' };
    return (r.alarms ?? []).map((a) => ({ member: hexId(a.memberID), alarm: names[a.alarm] ?? String(a.alarm) }));
  }

  /**
   * Healthy: every member answers, all name the same leader (one of them) in the same raft
   * term, and each has applied everything the leader had committed when asked.
   */
  async waitHealthy(timeoutMs = 60_000, nodes: string[] = this.names): Promise<void> {
    await waitUntil(
      `etcd members ${nodes.join(',')} with one leader and caught up`,
      async () => {
        const all = await this.statuses(nodes);
        const seen = nodes
          .map((n) => {
            const s = all[n];
            return s ? `${n}: leader ${s.leader} term ${s.raftTerm} applied ${s.raftAppliedIndex}` : `${n}: down`;
          })
          .join('; ');
        return healthProblem(Object.values(all)) ? { done: false, seen } : { done: true, value: undefined };
      },
      { timeoutMs, intervalMs: 200 },
    );
  }

  /** Waits until one of `nodes` is leader and returns it. */
  async waitForLeader(nodes: string[], timeoutMs = 30_000): Promise<string> {
    return waitUntil(
      `a leader among ${nodes.join(',')}`,
      async () => {
        const l = await this.leader(nodes);
        return l ? { done: true, value: l } : { done: false, seen: 'no member says it leads' };
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  /** Copies a file (a snapshot) from one member to others, through exec: members share no disk. */
  async copyFile(path: string, from: string, to: string[]): Promise<void> {
    const b64 = await this.cluster.node(from).run(['base64', '-w0', path]);
    const content = Buffer.from(b64.trim(), 'base64');
    await Promise.all(to.map((n) => this.cluster.node(n).writeFiles([{ path, content }])));
  }

  stop(): Promise<void> {
    return this.cluster.stop();
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** The time (epoch ms) a member's log says it "became leader at term N" (raft's own line). */
export function electedAt(log: string, term: number): number | undefined {
  const line = log.split('\n').findLast((l) => l.includes(`became leader at term ${term}"`));
  const ts = line ? /"ts":"([^"]+)"/.exec(line)?.[1] : undefined;
  return ts ? Date.parse(ts) : undefined;
}

/** Why these statuses are not a healthy cluster, or undefined when they are. */
export function healthProblem(statuses: (EndpointStatus | undefined)[]): string | undefined {
  if (statuses.some((s) => s === undefined)) return 'a member does not answer';
  const all = statuses as EndpointStatus[];
  const leaders = new Set(all.map((s) => s.leader));
  const terms = new Set(all.map((s) => s.raftTerm));
  const leader = all.find((s) => s.memberId === s.leader);
  if (leaders.size !== 1 || !leader || leader.leader === '0') return `leaders named: ${[...leaders].join(',')}`;
  if (terms.size !== 1) return `terms differ: ${[...terms].join(',')}`;
  const behind = all.filter((s) => s.raftAppliedIndex < leader.raftIndex);
  return behind.length ? `behind the leader's index: ${behind.map((s) => s.node).join(',')}` : undefined;
}
