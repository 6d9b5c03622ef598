import { UsageError } from '../../src/errors.ts';
import type { ParamValues } from '../../src/params.ts';
import type { StartedCluster } from '../../src/runtime/cluster.ts';
import type { NodeSpec } from '../../src/runtime/node.ts';
import { waitUntil } from '../../src/runtime/poll.ts';
import { HOST_IP } from '../../src/runtime/ports.ts';
import type { Stack, StartedStack } from '../../src/runtime/stack.ts';
import { fourLetter, parseSrvr, type Srvr } from './four-letter.ts';

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

  async srvr(node: string): Promise<Srvr> {
    const raw = await fourLetter(HOST_IP, this.cluster.node(node).hostPort('client'), 'srvr');
    return parseSrvr(raw);
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

  /** Waits until one of `nodes` is leader and returns it. */
  async waitForLeader(nodes: string[], timeoutMs = 30_000): Promise<string> {
    return waitUntil(
      `a leader among ${nodes.join(',')}`,
      async () => {
        const modes = await this.modes(nodes);
        const l = Object.entries(modes).find(([, m]) => m === 'leader')?.[0];
        return l ? { done: true, value: l } : { done: false, seen: JSON.stringify(modes) };
      },
      { timeoutMs, intervalMs: 50 },
    );
  }

  stop(): Promise<void> {
    return this.cluster.stop();
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
