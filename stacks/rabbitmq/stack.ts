import { MidlabError, UsageError } from '../../src/errors.ts';
import type { ParamValues } from '../../src/params.ts';
import type { StartedCluster } from '../../src/runtime/cluster.ts';
import type { ExecResult, NodeSpec } from '../../src/runtime/node.ts';
import { type Probe, waitUntil } from '../../src/runtime/poll.ts';
import { HOST_IP } from '../../src/runtime/ports.ts';
import type { Stack, StartedStack } from '../../src/runtime/stack.ts';
import { Admin, type NodeInfo, type QueueInfo } from './admin.ts';
import {
  type AutohealLog,
  autohealLog,
  CliError,
  type ClusterStatus,
  loggedAt,
  parseClusterStatus,
  parsePartitionSettings,
  parseQuorumStatus,
  type RaftMember,
  raftSettled,
  stripLogPrefix,
} from './cli.ts';
import { AmqpClient, type AmqpClientOptions } from './client.ts';
import {
  AMQP_PORT,
  CONF_PATH,
  COOKIE_PATH,
  HTTP_PORT,
  hostOf,
  INTRUDER,
  memberNames,
  NODE_MEMORY_MB,
  nodeName,
  PARTITION_HANDLING,
  passwordOf,
  type RabbitLayout,
  rabbitmqConf,
  secret,
  USER,
} from './config.ts';

/**
 * RabbitMQ 3.10 (Debian's package; image/ has the recipe): a cluster rabbit1..rabbitN
 * formed by classic-config peer discovery, management plugin on every node. 3.10 still
 * has classic queue mirroring (removed in 4.0) next to quorum queues.
 *
 * Each cluster gets its own Erlang cookie and administrator password (crypto-random),
 * printed by `endpoints()`. Readiness is read from every member's HTTP API: its
 * listener only opens once the node has joined the cluster.
 */
export const IMAGE = 'midlab/rabbitmq:latest';
export { AMQP_PORT, HTTP_PORT, INTRUDER, USER };

export const rabbitmqParams = {
  nodes: { type: 'int', default: 3, min: 1, max: 7, describe: 'cluster members (rabbit1..rabbitN)' },
  netTicktime: {
    type: 'int',
    default: 10,
    min: 2,
    max: 120,
    describe: 'net_ticktime in s: a silent peer is declared down after 1-1.25x this (production: 60)',
  },
  partitionHandling: {
    type: 'enum',
    default: 'ignore',
    choices: PARTITION_HANDLING,
    describe: 'cluster_partition_handling: ignore (the default), pause_minority or autoheal',
  },
  intruder: {
    type: 'bool',
    default: false,
    describe: 'also start rabbit@intruder: a standalone node with another Erlang cookie (not a member)',
  },
} as const;
export type RabbitMQParams = ParamValues<typeof rabbitmqParams>;

export const rabbitmq: Stack<typeof rabbitmqParams, StartedRabbitMQ> = {
  name: 'rabbitmq',
  summary: 'RabbitMQ 3.10 cluster rabbit1..rabbitN: AMQP 5672 and management HTTP 15672 published per node',
  params: rabbitmqParams,
  validate(p) {
    if (p.nodes < 1) throw new UsageError('a RabbitMQ cluster needs at least one node', 'use --nodes 3');
    const warnings: string[] = [];
    if (p.nodes === 2) {
      warnings.push(
        'with two nodes a quorum queue needs both members for a majority, so it tolerates no failure; use 3',
      );
    } else if (p.nodes > 3 && p.nodes % 2 === 0) {
      warnings.push(
        `quorum queues over ${p.nodes} members tolerate ${Math.floor((p.nodes - 1) / 2)} failure(s), no more than ` +
          `${p.nodes - 1} would; use an odd number`,
      );
    }
    return warnings;
  },
  nodes(p) {
    const members = memberNames(p.nodes);
    const layout: RabbitLayout = {
      members,
      clusterName: `midlab-${secret(6).toLowerCase()}`,
      password: secret(20),
      netTicktime: p.netTicktime,
      partitionHandling: p.partitionHandling,
    };
    const cookie = secret(32);
    const spec = (name: string, files: NodeSpec['files']): NodeSpec => ({
      name,
      image: IMAGE,
      ports: { amqp: AMQP_PORT, http: HTTP_PORT },
      files,
      memoryMb: NODE_MEMORY_MB,
    });
    const conf = rabbitmqConf(layout);
    const nodes = members.map((m) =>
      spec(m, [
        { path: COOKIE_PATH, content: `${cookie}\n` },
        { path: CONF_PATH, content: conf },
      ]),
    );
    if (p.intruder) {
      nodes.push(
        spec(INTRUDER, [
          // Another cookie: the Erlang distribution handshake with the members fails.
          { path: COOKIE_PATH, content: `${secret(32)}\n` },
          { path: CONF_PATH, content: rabbitmqConf({ ...layout, clusterName: 'intruder' }, { standalone: true }) },
        ]),
      );
    }
    return nodes;
  },
  async connect(cluster, p) {
    const r = new StartedRabbitMQ(cluster, p);
    const t0 = Date.now();
    await r.waitHealthy(180_000);
    r.formationMs = Date.now() - t0;
    return r;
  },
};

/** What one member's API said about the cluster, or why it could not say. */
export interface MemberView {
  node: string;
  nodes?: NodeInfo[];
  error?: string;
}

export class StartedRabbitMQ implements StartedStack {
  readonly cluster: StartedCluster;
  readonly params: RabbitMQParams;
  readonly members: string[];
  readonly credentials: { user: string; password: string };
  /** Time from the containers' start to a healthy cluster (set once started). */
  formationMs = 0;

  constructor(cluster: StartedCluster, params: RabbitMQParams) {
    this.cluster = cluster;
    this.params = params;
    this.members = memberNames(params.nodes);
    const conf = cluster.node(this.members[0] as string).spec.files?.find((f) => f.path === CONF_PATH)?.content;
    const password = passwordOf(String(conf ?? ''));
    if (!password) {
      throw new MidlabError('RABBITMQ_CONFIG', `no default_pass in ${CONF_PATH} of ${this.members[0]}`, {
        hint: 'the node specs come from the stack: start the cluster through midlab',
      });
    }
    this.credentials = { user: USER, password };
  }

  /** The Erlang cookie a node was given (members share one; the intruder has its own). */
  cookieOf(node: string): string {
    const file = this.cluster.node(node).spec.files?.find((f) => f.path === COOKIE_PATH);
    return String(file?.content ?? '').trim();
  }

  get intruder(): string | undefined {
    return this.params.intruder ? INTRUDER : undefined;
  }

  /** rabbit@rabbit1 for rabbit1. */
  nodeName(node: string): string {
    return nodeName(node);
  }

  /** rabbit1 for rabbit@rabbit1. */
  hostOf(erlangNode: string | undefined): string | undefined {
    return hostOf(erlangNode);
  }

  containerName(node: string): string {
    return this.cluster.node(node).containerName;
  }

  amqpEndpoint(node: string): string {
    return this.cluster.node(node).endpoint('amqp');
  }

  managementEndpoint(node: string): string {
    return this.cluster.node(node).endpoint('http');
  }

  amqpUrl(node: string): string {
    const { user, password } = this.credentials;
    return `amqp://${user}:${password}@${HOST_IP}:${this.cluster.node(node).hostPort('amqp')}`;
  }

  managementUrl(node: string): string {
    return `http://${this.managementEndpoint(node)}`;
  }

  admin(node: string, timeoutMs = 3000): Admin {
    return new Admin(this.managementUrl(node), this.credentials.user, this.credentials.password, timeoutMs);
  }

  /** An AMQP client connected to one node. */
  client(node: string, opts: Omit<AmqpClientOptions, 'node'> = {}): Promise<AmqpClient> {
    return AmqpClient.connect(this.amqpUrl(node), { ...opts, node });
  }

  /** Runs `fn` with a client of `node`, closed afterwards whatever happens. */
  async using<T>(node: string, fn: (c: AmqpClient) => Promise<T>, opts?: Omit<AmqpClientOptions, 'node'>): Promise<T> {
    const c = await this.client(node, opts);
    try {
      return await fn(c);
    } finally {
      await c.close();
    }
  }

  /** Sets a policy for queues through `node` and returns its definition as the broker reads it back. */
  async applyPolicy(node: string, name: string, pattern: string, definition: Record<string, unknown>) {
    const admin = this.admin(node);
    await admin.setPolicy(name, { pattern, definition, priority: 0, applyTo: 'queues' });
    return (await admin.policies()).find((p) => p.name === name)?.definition;
  }

  /** `rabbitmqctl cluster_status` as `node` reports it (about 0.9 s of CPU). */
  async clusterStatus(node: string): Promise<ClusterStatus> {
    return parseClusterStatus((await this.rabbitmqctl(node, ['cluster_status', '--formatter', 'json'])).stdout);
  }

  endpoints(): Record<string, string | string[]> {
    const all = [...this.members, ...(this.intruder ? [this.intruder] : [])];
    return {
      user: this.credentials.user,
      password: this.credentials.password,
      amqp: this.members.map((n) => this.amqpEndpoint(n)),
      management: this.members.map((n) => this.managementEndpoint(n)),
      ...Object.fromEntries(all.flatMap((n) => [[n, this.amqpEndpoint(n)] as const])),
      ...Object.fromEntries(all.map((n) => [`${n}-management`, this.managementEndpoint(n)])),
    };
  }

  /** The cluster_partition_handling and net_ticktime `node` runs with (rabbitmqctl eval, ~0.9 s of CPU). */
  async partitionSettings(node: string): Promise<{ handling: string; netTicktime: number }> {
    const expr = '{application:get_env(rabbit, cluster_partition_handling), net_kernel:get_net_ticktime()}.';
    return parsePartitionSettings((await this.rabbitmqctl(node, ['eval', expr])).stdout);
  }

  /** Why a member does not run `handling` with `netTicktime` (none: every one does). */
  async partitionSettingsProblems(handling: string, netTicktime: number): Promise<string[]> {
    const all = await Promise.all(this.members.map(async (n) => [n, await this.partitionSettings(n)] as const));
    return all
      .filter(([, s]) => s.handling !== handling || s.netTicktime !== netTicktime)
      .map(([n, s]) => `${n} runs ${s.handling} with net_ticktime ${s.netTicktime}, not ${handling}/${netTicktime}`);
  }

  /** A probe: done once each of `nodes` has recorded a partition (its API's /api/nodes). */
  async partitionProbe(nodes: string[]): Promise<Probe<true>> {
    const views = await this.views(nodes);
    const split = views.every((v) => v.nodes?.some((n) => n.partitions.length));
    return split ? { done: true, value: true } : { done: false, seen: JSON.stringify(views) };
  }

  /** The partitions `rabbitmqctl cluster_status` lists on each of `nodes`, by the node that recorded them. */
  async partitions(nodes: string[]): Promise<Record<string, ClusterStatus['partitions']>> {
    return Object.fromEntries(await Promise.all(nodes.map(async (n) => [n, (await this.clusterStatus(n)).partitions])));
  }

  /** Whether `node` has logged `peer` up (an Erlang distribution link) since `since` (ms since the epoch). */
  async metSince(node: string, peer: string, since: number): Promise<boolean> {
    const up = await this.logLines(node, new RegExp(`node ${nodeName(peer)} up`));
    return up.some((l) => (l.at ?? 0) >= since);
  }

  /** A node's log lines that match `said`: what was said (no prefixes) and when (ms since the epoch). */
  async logLines(node: string, said: RegExp): Promise<{ line: string; at: number | undefined }[]> {
    return (await this.cluster.node(node).logs())
      .split('\n')
      .filter((l) => said.test(l))
      .map((l) => ({ line: stripLogPrefix(l), at: loggedAt(l) }));
  }

  /** How many client connections each of `nodes` holds (rabbit_networking:local_connections, what autoheal counts). */
  async localConnections(nodes: string[]): Promise<Record<string, number | undefined>> {
    const count = async (n: string) => {
      const out = await this.rabbitmqctl(n, ['eval', 'length(rabbit_networking:local_connections()).']);
      return [n, out.exitCode === 0 ? Number(out.stdout.trim()) : undefined] as const;
    };
    return Object.fromEntries(await Promise.all(nodes.map(count)));
  }

  /** What each member's log says autoheal did (decisions are logged by the leader only). */
  async autohealLogs(): Promise<Record<string, AutohealLog>> {
    const read = async (n: string) => [n, autohealLog(await this.cluster.node(n).logs())] as const;
    return Object.fromEntries(await Promise.all(this.members.map(read)));
  }

  /** `docker exec <node> rabbitmqctl ...` (about 0.9 s of CPU each: not for polling). */
  rabbitmqctl(node: string, args: string[]): Promise<ExecResult> {
    return this.cluster.node(node).exec(['rabbitmqctl', ...args]);
  }

  /**
   * Each node's own view of the cluster (/api/nodes), or its error. A node counts as
   * answering only once its AMQP listener is up too: at boot it opens after the HTTP one.
   */
  async views(nodes: string[] = this.members): Promise<MemberView[]> {
    return Promise.all(
      nodes.map(async (node) => {
        try {
          const admin = this.admin(node, 2000);
          const seen = await admin.nodes();
          if (!(await admin.listening(AMQP_PORT))) return { node, error: 'AMQP listener not up yet' };
          return { node, nodes: seen };
        } catch (err) {
          return { node, error: (err as Error).message };
        }
      }),
    );
  }

  /**
   * Healthy: every one of `nodes` answers its API, and each sees every member of the
   * cluster running with no partition. Extra nodes in a view (one that joined later)
   * are allowed; missing or stopped members are not.
   */
  async health(nodes: string[] = this.members): Promise<{ healthy: boolean; seen: string }> {
    const views = await this.views(nodes);
    const wanted = this.members.map((m) => nodeName(m));
    const problems: string[] = [];
    for (const v of views) {
      if (!v.nodes) {
        problems.push(`${v.node}: ${v.error}`);
        continue;
      }
      const running = v.nodes.filter((n) => n.running).map((n) => n.name);
      const missing = wanted.filter((w) => !running.includes(w));
      const split = v.nodes.filter((n) => n.partitions.length);
      if (missing.length) problems.push(`${v.node} sees ${missing.join(',')} not running`);
      if (split.length) problems.push(`${v.node} sees partitions: ${split.map((n) => n.partitions).join(',')}`);
    }
    return { healthy: problems.length === 0, seen: problems.join('; ') || 'healthy' };
  }

  async waitHealthy(timeoutMs = 120_000, nodes: string[] = this.members): Promise<void> {
    await waitUntil(
      `RabbitMQ cluster ${nodes.join(',')} running with every member`,
      async (): Promise<Probe<undefined>> => {
        const h = await this.health(nodes);
        return h.healthy ? { done: true, value: undefined } : { done: false, seen: h.seen };
      },
      { timeoutMs, intervalMs: 250 },
    );
  }

  /**
   * The live view's tiles: each answering member's queues (master of a classic queue, leader
   * of a quorum queue) and what it sees of the others, from its own API (two calls of at
   * most a second each: the API stalls while a node waits on a cut-off peer). A member that
   * does not answer (stopped, cut off, stalled) says so rather than showing no tile.
   */
  async liveRoles(): Promise<Record<string, string>> {
    const rows = await Promise.all(
      this.members.map(async (n) => {
        const admin = this.admin(n, 1000);
        const seen = await Promise.all([admin.nodes(), admin.queues()]).catch(() => undefined);
        return [n, seen ? liveRole(n, ...seen) : NO_ANSWER] as const;
      }),
    );
    return Object.fromEntries(rows);
  }

  /** Waits until a node answers its own API (the intruder, alone, is "healthy" that way). */
  async waitAnswers(node: string, timeoutMs = 120_000): Promise<NodeInfo[]> {
    return waitUntil(
      `${node}'s management API`,
      async (): Promise<Probe<NodeInfo[]>> => ({ done: true, value: await this.admin(node, 2000).nodes() }),
      { timeoutMs, intervalMs: 250 },
    );
  }

  /** A queue as the first answering node among `via` sees it (undefined: no such queue). */
  async queue(name: string, via: string[] = this.members): Promise<QueueInfo | undefined> {
    let last: unknown;
    for (const n of via) {
      try {
        return await this.admin(n, 2000).queue(name);
      } catch (err) {
        last = err;
      }
    }
    throw last ?? new UsageError(`no node to ask about ${name}`, 'name at least one node');
  }

  /** The Raft members of a quorum queue as `node` reports them (rabbitmq-queues, ~0.7 s of CPU). */
  async raftMembers(node: string, queue: string): Promise<RaftMember[]> {
    const r = await this.cluster.node(node).exec(['rabbitmq-queues', 'quorum_status', queue, '--formatter', 'json']);
    if (r.exitCode !== 0) throw new CliError(`quorum_status ${queue} on ${node}: ${(r.stderr || r.stdout).trim()}`);
    return parseQuorumStatus(r.stdout);
  }

  /** Waits until a quorum queue's Raft members agree on one leader, term and commit index. */
  async waitRaftSettled(queue: string, node: string, members: number, timeoutMs = 60_000): Promise<RaftMember[]> {
    return waitUntil(raftSettledText(queue, members), () => this.raftProbe(queue, node, members), {
      timeoutMs,
      intervalMs: 250,
    });
  }

  /** A probe: done with the Raft members once they are settled (see `raftSettled`). */
  async raftProbe(queue: string, node: string, members: number): Promise<Probe<RaftMember[]>> {
    const rows = await this.raftMembers(node, queue);
    const s = raftSettled(rows, members);
    return s.settled ? { done: true, value: rows } : { done: false, seen: s.seen };
  }

  /** Polls a queue until `ok` holds; returns it. */
  async waitForQueue(
    name: string,
    what: string,
    ok: (q: QueueInfo) => boolean,
    opts: { via?: string[]; timeoutMs?: number; intervalMs?: number } = {},
  ): Promise<QueueInfo> {
    return waitUntil(
      `queue ${name}: ${what}`,
      async (): Promise<Probe<QueueInfo>> => {
        const q = await this.queue(name, opts.via);
        if (q && ok(q)) return { done: true, value: q };
        return { done: false, seen: q ? describeQueue(q) : 'no such queue' };
      },
      { timeoutMs: opts.timeoutMs ?? 30_000, intervalMs: opts.intervalMs ?? 100 },
    );
  }

  stop(): Promise<void> {
    return this.cluster.stop();
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** What waiting for a settled quorum queue waits for. */
export const raftSettledText = (queue: string, members: number) =>
  `quorum queue ${queue}: one leader, ${members} members in its term and commit index`;

const hosts = (names: string[]) => names.map((n) => hostOf(n) ?? n).sort();

/** A classic queue's master, mirrors and synchronised mirrors by host name (rabbit1), and its policy. */
export interface MirrorView {
  master: string | undefined;
  mirrors: string[];
  synchronised: string[];
  policy: string | undefined;
}

export function mirrorView(q: QueueInfo | undefined): MirrorView {
  return {
    master: hostOf(q?.node),
    mirrors: hosts(q?.mirrors ?? []),
    synchronised: hosts(q?.synchronisedMirrors ?? []),
    policy: q?.policy,
  };
}

/** A quorum queue's leader, members and members online by host name (rabbit1). */
export interface Membership {
  leader: string | undefined;
  members: string[];
  online: string[];
}

export function membership(q: QueueInfo | undefined): Membership {
  return { leader: hostOf(q?.leader), members: hosts(q?.members ?? []), online: hosts(q?.online ?? []) };
}

/** The live tile of a member whose API gave no answer within its second. */
export const NO_ANSWER = 'no answer from its API';

/**
 * One member's tile text from its own views: "partitioned from rabbit3" (a split it has
 * recorded) or "sees rabbit3 down", then the queues it runs ("master of ha.orders",
 * "leads qq.orders"), or "running".
 */
export function liveRole(node: string, nodes: NodeInfo[], queues: QueueInfo[]): string {
  const me = nodes.find((n) => n.name === nodeName(node));
  const down = nodes.filter((n) => !n.running).map((n) => hostOf(n.name));
  const list = (names: string[]) =>
    names.length > 2 ? `${names.slice(0, 2).join(', ')} +${names.length - 2}` : names.join(', ');
  const mine = (q: QueueInfo) => hostOf(q.type === 'quorum' ? (q.leader ?? q.node) : q.node) === node;
  const masters = queues.filter((q) => q.type !== 'quorum' && mine(q)).map((q) => q.name);
  const leads = queues.filter((q) => q.type === 'quorum' && mine(q)).map((q) => q.name);
  const parts = [
    me?.partitions.length ? `partitioned from ${me.partitions.map(hostOf).join(', ')}` : '',
    !me?.partitions.length && down.length ? `sees ${down.join(', ')} down` : '',
    masters.length ? `master of ${list(masters)}` : '',
    leads.length ? `leads ${list(leads)}` : '',
  ].filter(Boolean);
  return parts.join('; ') || 'running';
}

/** One line about a queue: where it runs and its copies. */
export function describeQueue(q: QueueInfo): string {
  const parts = [`${q.name} (${q.type}${q.durable ? ', durable' : ', transient'})`];
  if (q.type !== 'quorum') parts.push(`on ${hostOf(q.node) ?? '?'}`);
  if (q.type === 'quorum') {
    parts.push(
      `leader ${hostOf(q.leader) ?? '-'}`,
      `members ${q.members.map(hostOf).join(',') || '-'}`,
      `online ${q.online.map(hostOf).join(',') || '-'}`,
    );
  } else if (q.policy || q.mirrors.length) {
    if (q.policy) parts.push(`policy ${q.policy}`);
    parts.push(
      `mirrors ${q.mirrors.map(hostOf).join(',') || '-'}`,
      `synchronised ${q.synchronisedMirrors.map(hostOf).join(',') || '-'}`,
    );
  }
  return parts.join(', ');
}
