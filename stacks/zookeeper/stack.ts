import { UsageError } from '../../src/errors.ts';
import type { ParamValues } from '../../src/params.ts';
import type { StartedCluster } from '../../src/runtime/cluster.ts';
import type { NodeSpec } from '../../src/runtime/node.ts';
import { type Probe, waitUntil } from '../../src/runtime/poll.ts';
import { HOST_IP } from '../../src/runtime/ports.ts';
import type { Stack, StartedStack } from '../../src/runtime/stack.ts';
import { ZkClient, type ZkClientOptions } from './client.ts';
import { fourLetter, parseSrvr, type Srvr } from './four-letter.ts';
import { describeModes, type Member, parseConfig } from './roles.ts';

export const IMAGE = 'midlab/zookeeper:latest';
export const CLIENT_PORT = 2181;
const QUORUM_PORT = 2888;
const ELECTION_PORT = 3888;

export const zookeeperParams = {
  nodes: { type: 'int', default: 3, min: 1, max: 9, describe: 'voting members (zk1..zkN)' },
  observers: { type: 'int', default: 0, min: 0, max: 3, describe: 'observers after the voters (non-voting)' },
  tickMs: {
    type: 'int',
    default: 500,
    min: 100,
    max: 5000,
    describe: 'tickTime in ms (production: 2000); session timeouts are 2..20 ticks',
  },
  syncLimit: { type: 'int', default: 4, min: 1, max: 20, describe: 'ticks a follower may lag before it is dropped' },
} as const;
export type ZooKeeperParams = ParamValues<typeof zookeeperParams>;

/** zoo.cfg, rendered. Comments go on their own lines: an inline `# ...` would become part of a value. */
export function zooCfg(p: ZooKeeperParams, self: number): string {
  const lines = [
    '# Rendered by midlab. Lab-sized timing: tickTime below, production usually 2000 ms.',
    `tickTime=${p.tickMs}`,
    'initLimit=20',
    `syncLimit=${p.syncLimit}`,
    'dataDir=/data',
    `clientPort=${CLIENT_PORT}`,
    'maxClientCnxns=0',
    '# Since 3.5.3 only srvr is allowed unless listed here.',
    '4lw.commands.whitelist=srvr,stat,mntr,conf,ruok,cons',
    'admin.enableServer=false',
    'standaloneEnabled=false',
    'reconfigEnabled=false',
    'quorumListenOnAllIPs=true',
  ];
  for (let i = 1; i <= p.nodes + p.observers; i++) {
    const role = i > p.nodes ? ':observer' : '';
    lines.push(`server.${i}=zk${i}:${QUORUM_PORT}:${ELECTION_PORT}${role}`);
  }
  if (self > p.nodes) lines.push('peerType=observer');
  return `${lines.join('\n')}\n`;
}

export const zookeeper: Stack<typeof zookeeperParams, StartedZooKeeper> = {
  name: 'zookeeper',
  summary: 'ZooKeeper ensemble: voters zk1..zkN (+ observers), client port 2181 published per node',
  params: zookeeperParams,
  validate(p) {
    if (p.nodes < 1) throw new UsageError('a ZooKeeper ensemble needs at least one voting node', 'use --nodes 3');
    const warnings: string[] = [];
    if (p.nodes % 2 === 0) {
      const tolerated = Math.floor((p.nodes - 1) / 2);
      warnings.push(
        `an ensemble of ${p.nodes} needs ${p.nodes / 2 + 1} voters for a quorum, so it tolerates ${tolerated} failure(s)` +
          (p.nodes === 2 ? ': two nodes tolerate no failure' : `, no more than ${p.nodes - 1} nodes would`) +
          '; use an odd number',
      );
    }
    return warnings;
  },
  nodes(p) {
    return Array.from({ length: p.nodes + p.observers }, (_, i): NodeSpec => {
      const id = i + 1;
      return {
        name: `zk${id}`,
        image: IMAGE,
        ports: { client: CLIENT_PORT },
        files: [
          { path: '/conf/zoo.cfg', content: zooCfg(p, id) },
          { path: '/data/myid', content: `${id}\n` },
        ],
        memoryMb: 512,
      };
    });
  },
  async connect(cluster, p) {
    const zk = new StartedZooKeeper(cluster, p);
    await zk.waitHealthy();
    return zk;
  },
};

const EARLY_SLACK_MS = 100;
/** What the session expiry window allows for the host's own latency. */
export const LATE_SLACK_MS = 500;

/**
 * The window, after a client stops, in which the servers expire its session (and delete
 * its ephemeral znodes). The session times out T after the last packet the servers got
 * from it, and the client pings after T/3 of silence, so that packet is at most T/3 old
 * when it stops: not before 2T/3. The leader expires sessions in buckets one tick wide and
 * learns of pings to a follower every half tick, so by T + 1.5 ticks; the slack covers the
 * host's own latency.
 */
export function expiryWindow(timeoutMs: number, tickMs: number): { earliest: number; latest: number } {
  return { earliest: Math.round((timeoutMs * 2) / 3) - EARLY_SLACK_MS, latest: timeoutMs + 2 * tickMs + LATE_SLACK_MS };
}

/** A running ensemble. Node names: zk1..zkN are voters, then observers. */
export class StartedZooKeeper implements StartedStack {
  readonly cluster: StartedCluster;
  readonly params: ZooKeeperParams;

  constructor(cluster: StartedCluster, params: ZooKeeperParams) {
    this.cluster = cluster;
    this.params = params;
  }

  get voters(): string[] {
    return Array.from({ length: this.params.nodes }, (_, i) => `zk${i + 1}`);
  }
  get observers(): string[] {
    return Array.from({ length: this.params.observers }, (_, i) => `zk${this.params.nodes + i + 1}`);
  }
  get names(): string[] {
    return [...this.voters, ...this.observers];
  }

  /** `127.0.0.1:PORT` of one node's client port. */
  endpoint(node: string): string {
    return this.cluster.node(node).endpoint('client');
  }

  /** A connect string over the given nodes (all by default), for host clients. */
  connectString(nodes: string[] = this.names): string {
    return nodes.map((n) => this.endpoint(n)).join(',');
  }

  endpoints(): Record<string, string | string[]> {
    return { connect: this.connectString(), ...Object.fromEntries(this.names.map((n) => [n, this.endpoint(n)])) };
  }

  /** The node behind a `127.0.0.1:PORT` endpoint (undefined for a connect string over several). */
  nodeAt(endpoint: string): string | undefined {
    return this.names.find((n) => this.endpoint(n) === endpoint);
  }

  /** A client of one node (all of them when none is named). */
  client(node?: string, opts: ZkClientOptions = {}): Promise<ZkClient> {
    return ZkClient.connect(node ? this.endpoint(node) : this.connectString(), opts);
  }

  /** Opens a client of one node, runs `fn`, and closes it whatever happens. */
  async withClient<T>(node: string | undefined, fn: (c: ZkClient) => Promise<T>, opts?: ZkClientOptions): Promise<T> {
    const c = await this.client(node, opts);
    try {
      return await fn(c);
    } finally {
      c.close();
    }
  }

  /** A four-letter word sent to one node from the host. */
  fourLetter(node: string, word: string): Promise<string> {
    return fourLetter(HOST_IP, this.cluster.node(node).hostPort('client'), word);
  }

  async srvr(node: string): Promise<Srvr> {
    return parseSrvr(await this.fourLetter(node, 'srvr'));
  }

  /** The tickTime one node runs with, from `conf` (NaN when it does not say). */
  async tickMs(node = 'zk1'): Promise<number> {
    return Number(/^tickTime=(\d+)/m.exec(await this.fourLetter(node, 'conf'))?.[1]);
  }

  /** The membership the servers agreed on: /zookeeper/config, read through one node (any by default). */
  members(node?: string): Promise<Member[]> {
    return this.withClient(node, async (c) => parseConfig(await c.get('/zookeeper/config')));
  }

  /** The server a session is connected to, from each server's `cons`. */
  async serverOf(sessionId: string): Promise<string | undefined> {
    for (const n of this.names) {
      const cons = await this.fourLetter(n, 'cons').catch(() => '');
      if (cons.includes(`sid=${sessionId}`)) return n;
    }
    return undefined;
  }

  /** Waits until some server's `cons` lists the session, and names that server; throws after `timeoutMs`. */
  waitServerOf(sessionId: string, timeoutMs = 5000): Promise<string> {
    return waitUntil(
      `the server of session ${sessionId}`,
      async () => {
        const s = await this.serverOf(sessionId);
        return s ? { done: true, value: s } : { done: false, seen: 'session not in any cons' };
      },
      { timeoutMs },
    );
  }

  /**
   * The session terms the servers offer: their tickTime, the timeout they grant a client
   * asking for `askedMs` (they allow 2..20 ticks), and why that is not what was asked.
   */
  async sessionTerms(askedMs: number): Promise<{ tickMs: number; grantedMs: number; problems: string[] }> {
    const tickMs = await this.tickMs();
    const grantedMs = await this.withClient(undefined, async (c) => c.sessionTimeoutMs, { sessionTimeoutMs: askedMs });
    const problems = tickMs > 0 ? [] : ['conf did not say the tickTime'];
    if (grantedMs !== askedMs)
      problems.unshift(`granted ${grantedMs} ms, not the ${askedMs} ms asked for (2..20 ticks of ${tickMs} ms)`);
    return { tickMs, grantedMs, problems };
  }

  /** Each node's mode, or "down" when it does not answer, "not serving" when it answers without a mode. */
  async modes(nodes: string[] = this.names): Promise<Record<string, string>> {
    const entries = await Promise.all(
      nodes.map(async (n) => {
        try {
          const s = await this.srvr(n);
          return [n, s.mode ?? (s.raw.includes('not currently serving') ? 'not serving' : 'down')] as const;
        } catch {
          return [n, 'down'] as const;
        }
      }),
    );
    return Object.fromEntries(entries);
  }

  /** The live view's tiles: each answering node's mode (leader, follower, observer). */
  async liveRoles(): Promise<Record<string, string>> {
    return Object.fromEntries(Object.entries(await this.modes()).filter(([, m]) => m !== 'down'));
  }

  async leader(nodes: string[] = this.names): Promise<string | undefined> {
    const modes = await this.modes(nodes);
    return Object.entries(modes).find(([, m]) => m === 'leader')?.[0];
  }

  /** Healthy: exactly one leader, every other voter a follower, every observer an observer. */
  async waitHealthy(timeoutMs = 60_000, nodes: string[] = this.names): Promise<void> {
    await waitUntil(
      `ZooKeeper ensemble ${nodes.join(',')} with one leader`,
      async () => {
        const modes = await this.modes(nodes);
        const leaders = Object.values(modes).filter((m) => m === 'leader').length;
        const ok = nodes.every((n) => {
          const want = this.observers.includes(n) ? ['observer'] : ['leader', 'follower'];
          return want.includes(modes[n] ?? '');
        });
        return ok && leaders === 1 ? { done: true, value: undefined } : { done: false, seen: JSON.stringify(modes) };
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  /** A probe for `waitUntil` / `lab.until`: done with the one of `nodes` that leads. */
  async leaderProbe(nodes: string[] = this.names): Promise<Probe<string>> {
    const modes = await this.modes(nodes);
    const l = Object.entries(modes).find(([, m]) => m === 'leader')?.[0];
    return l ? { done: true, value: l } : { done: false, seen: describeModes(modes) };
  }

  stop(): Promise<void> {
    return this.cluster.stop();
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
