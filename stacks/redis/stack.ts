import { UsageError } from '../../src/errors.ts';
import type { ParamValues } from '../../src/params.ts';
import type { StartedCluster } from '../../src/runtime/cluster.ts';
import type { NodeSpec } from '../../src/runtime/node.ts';
import { type Probe, waitUntil } from '../../src/runtime/poll.ts';
import { HOST_IP } from '../../src/runtime/ports.ts';
import type { Stack, StartedStack } from '../../src/runtime/stack.ts';
import { type NatMap, RedisClient, type SentinelClientOptions, withDirect } from './client.ts';
import {
  CONF_DIR,
  dataNodeNames,
  type Layout,
  MASTER_NAME,
  majority,
  REDIS_PORT,
  redisConf,
  SENTINEL_PORT,
  sentinelConf,
  sentinelNames,
} from './config.ts';
import {
  parseMasterAddr,
  parseReplication,
  parseSentinelMaster,
  parseSentinelPeers,
  type Replication,
  type SentinelMaster,
  type SentinelPeer,
} from './info.ts';

export const IMAGE = 'midlab/redis:latest';
export { MASTER_NAME, REDIS_PORT, SENTINEL_PORT };

export const redisParams = {
  replicas: { type: 'int', default: 2, min: 0, max: 8, describe: 'replicas of redis1 (redis2..)' },
  sentinels: {
    type: 'int',
    default: 3,
    min: 0,
    max: 7,
    describe: 'Sentinels monitoring the primary as "mymaster" (sentinel1..; 0: none)',
  },
  quorum: {
    type: 'int',
    default: 0,
    min: 0,
    max: 7,
    describe: 'Sentinels that must agree the primary is down (0: a majority of them)',
  },
  downAfterMs: {
    type: 'int',
    default: 2000,
    min: 100,
    max: 60_000,
    describe: 'ms of silence before a Sentinel deems the primary down (production: 30000)',
  },
  minReplicasToWrite: {
    type: 'int',
    default: 0,
    min: 0,
    max: 8,
    describe: 'min-replicas-to-write on every data node (0: off, the Redis default)',
  },
  minReplicasMaxLag: {
    type: 'int',
    default: 2,
    min: 1,
    max: 60,
    describe: 'min-replicas-max-lag in seconds (Redis default 10)',
  },
} as const;
export type RedisParams = ParamValues<typeof redisParams>;

export function layoutOf(p: RedisParams): Layout {
  return {
    data: dataNodeNames(p.replicas),
    sentinels: sentinelNames(p.sentinels),
    downAfterMs: p.downAfterMs,
    quorum: p.quorum || majority(p.sentinels),
    minReplicasToWrite: p.minReplicasToWrite,
    minReplicasMaxLag: p.minReplicasMaxLag,
  };
}

export const redis: Stack<typeof redisParams, StartedRedis> = {
  name: 'redis',
  summary:
    'Redis primary redis1 + replicas redis2.. (port 6379) and Sentinels sentinel1.. (port 26379) monitoring "mymaster"',
  params: redisParams,
  validate(p) {
    if (p.sentinels === 0 && p.quorum > 0) {
      throw new UsageError('a quorum needs Sentinels', 'use --param sentinels=3, or leave quorum at 0');
    }
    if (p.quorum > p.sentinels) {
      throw new UsageError(
        `a quorum of ${p.quorum} can never be reached by ${p.sentinels} Sentinel(s)`,
        `use --param quorum=${majority(p.sentinels)} (a majority), or more Sentinels`,
      );
    }
    if (p.minReplicasToWrite > p.replicas) {
      throw new UsageError(
        `min-replicas-to-write ${p.minReplicasToWrite} with ${p.replicas} replica(s) refuses every write`,
        `use --param minReplicasToWrite=${p.replicas} or fewer`,
      );
    }
    const warnings: string[] = [];
    if (p.sentinels === 1 || p.sentinels === 2) {
      warnings.push(
        `${p.sentinels} Sentinel(s) cannot reach a majority if one fails: a failover needs ${majority(p.sentinels)} ` +
          'Sentinels to authorise it; use 3',
      );
    } else if (p.sentinels > 2 && p.sentinels % 2 === 0) {
      warnings.push(
        `${p.sentinels} Sentinels tolerate ${Math.floor((p.sentinels - 1) / 2)} failure(s), no more than ` +
          `${p.sentinels - 1} would; use an odd number`,
      );
    }
    if (p.sentinels > 0 && p.replicas === 0) {
      warnings.push('Sentinels without replicas can notice the primary is down but have nothing to promote');
    }
    const quorum = p.quorum || majority(p.sentinels);
    if (p.sentinels > 0 && quorum < majority(p.sentinels)) {
      warnings.push(
        `quorum ${quorum} lets fewer than a majority declare the primary down, but a failover still needs ` +
          `${majority(p.sentinels)} Sentinels to vote for it`,
      );
    }
    return warnings;
  },
  nodes(p) {
    const layout = layoutOf(p);
    const data = layout.data.map(
      (name): NodeSpec => ({
        name,
        image: IMAGE,
        cmd: ['redis-server', `${CONF_DIR}/redis.conf`],
        ports: { redis: REDIS_PORT },
        files: [{ path: `${CONF_DIR}/redis.conf`, content: redisConf(layout, name) }],
        memoryMb: 128,
      }),
    );
    const sentinels = layout.sentinels.map(
      (name): NodeSpec => ({
        name,
        image: IMAGE,
        cmd: ['redis-sentinel', `${CONF_DIR}/sentinel.conf`],
        ports: { sentinel: SENTINEL_PORT },
        files: [{ path: `${CONF_DIR}/sentinel.conf`, content: sentinelConf(layout, name) }],
        memoryMb: 64,
      }),
    );
    return [...data, ...sentinels];
  },
  async connect(cluster, p) {
    const r = new StartedRedis(cluster, p);
    await r.waitHealthy();
    return r;
  },
};

/** Every data node's replication and every Sentinel's view, at one moment. */
export interface RedisHealth {
  healthy: boolean;
  /** The primary, as the Sentinels agree (without Sentinels: the one data node in role master). */
  primary: string | undefined;
  /** What is not right yet, in words. */
  problems: string[];
}

/** A running Redis deployment. Data nodes redis1..redisN (redis1 the first primary), Sentinels sentinel1.. */
export class StartedRedis implements StartedStack {
  readonly cluster: StartedCluster;
  readonly params: RedisParams;
  readonly layout: Layout;
  readonly masterName = MASTER_NAME;
  /** The primary when last seen healthy (endpoints() is synchronous). */
  private knownPrimary: string;

  constructor(cluster: StartedCluster, params: RedisParams) {
    this.cluster = cluster;
    this.params = params;
    this.layout = layoutOf(params);
    this.knownPrimary = this.layout.data[0] as string;
  }

  get dataNodes(): string[] {
    return this.layout.data;
  }
  get sentinels(): string[] {
    return this.layout.sentinels;
  }
  /** The primary the cluster was started with (redis1). */
  get firstPrimary(): string {
    return this.layout.data[0] as string;
  }
  isSentinel(node: string): boolean {
    return this.layout.sentinels.includes(node);
  }

  /** `127.0.0.1:PORT` of a data node's 6379 or a Sentinel's 26379. */
  endpoint(node: string): string {
    return this.cluster.node(node).endpoint(this.isSentinel(node) ? 'sentinel' : 'redis');
  }

  /** The node behind a `127.0.0.1:PORT` endpoint (where a client is connected). */
  nodeAt(endpoint: string | undefined): string | undefined {
    return [...this.dataNodes, ...this.sentinels].find((n) => this.endpoint(n) === endpoint);
  }

  endpoints(): Record<string, string | string[]> {
    return {
      primary: this.endpoint(this.knownPrimary),
      replicas: this.dataNodes.filter((n) => n !== this.knownPrimary).map((n) => this.endpoint(n)),
      sentinels: this.sentinels.map((n) => this.endpoint(n)),
      ...Object.fromEntries([...this.dataNodes, ...this.sentinels].map((n) => [n, this.endpoint(n)])),
    };
  }

  /** Every name Sentinel announces (redis2:6379, sentinel1:26379) mapped to its published port. */
  natMap(): NatMap {
    const map: NatMap = {};
    for (const n of this.dataNodes) map[`${n}:${REDIS_PORT}`] = { host: HOST_IP, port: this.port(n) };
    for (const n of this.sentinels) map[`${n}:${SENTINEL_PORT}`] = { host: HOST_IP, port: this.port(n) };
    return map;
  }

  private port(node: string): number {
    return this.cluster.node(node).hostPort(this.isSentinel(node) ? 'sentinel' : 'redis');
  }

  /** A client of one node (no reconnection): for talking to a chosen replica or primary. */
  client(node: string, opts: { commandTimeoutMs?: number } = {}): Promise<RedisClient> {
    return RedisClient.direct(this.endpoint(node), opts);
  }

  /** The application's client: asks the Sentinels for "mymaster" and follows failovers. */
  sentinelClient(opts: Partial<SentinelClientOptions> = {}): Promise<RedisClient> {
    if (!this.sentinels.length) throw new UsageError('this deployment has no Sentinels', 'use --param sentinels=3');
    return RedisClient.sentinel({
      sentinels: this.sentinels.map((n) => this.endpoint(n)),
      masterName: MASTER_NAME,
      natMap: this.natMap(),
      ...opts,
    });
  }

  /** A data node's `INFO replication`. */
  replication(node: string): Promise<Replication> {
    return withDirect(this.endpoint(node), async (c) => parseReplication(await c.info('replication')));
  }

  dbsize(node: string): Promise<number> {
    return withDirect(this.endpoint(node), (c) => c.dbsize());
  }

  /** The primary one Sentinel names now (`SENTINEL GET-MASTER-ADDR-BY-NAME`): a host name. */
  primaryBy(sentinel: string): Promise<string | undefined> {
    return withDirect(this.endpoint(sentinel), async (c) => {
      return parseMasterAddr(await c.sentinelCommand('GET-MASTER-ADDR-BY-NAME', MASTER_NAME))?.host;
    });
  }

  /** Each Sentinel's answer, or `down` when it does not answer. */
  async primaries(): Promise<Record<string, string>> {
    const views = await Promise.all(
      this.sentinels.map(async (s) => [s, (await this.primaryBy(s).catch(() => 'down')) ?? 'unknown'] as const),
    );
    return Object.fromEntries(views);
  }

  /**
   * The primary now: as every Sentinel agrees (an error if they do not), or without
   * Sentinels the one data node whose role is master.
   */
  async primary(): Promise<string> {
    if (!this.sentinels.length) {
      const roles = await this.roles();
      const masters = Object.entries(roles).filter(([, r]) => r === 'master');
      if (masters.length !== 1) throw new Error(`not one primary: ${JSON.stringify(roles)}`);
      return masters[0]?.[0] as string;
    }
    const views = await this.primaries();
    const answers = new Set(Object.values(views));
    const only = [...answers][0];
    if (answers.size !== 1 || !only || !this.dataNodes.includes(only)) {
      throw new Error(`the Sentinels do not agree on a primary: ${JSON.stringify(views)}`);
    }
    return only;
  }

  /** Each data node's role (master / slave), or `down`. */
  async roles(nodes: string[] = this.dataNodes): Promise<Record<string, string>> {
    const entries = await Promise.all(
      nodes.map(
        async (n) =>
          [
            n,
            await this.replication(n).then(
              (r) => r.role,
              () => 'down',
            ),
          ] as const,
      ),
    );
    return Object.fromEntries(entries);
  }

  /** Waits until every Sentinel names the same primary, other than `not`; returns it. */
  async waitForPrimary(not: string, timeoutMs = 30_000, intervalMs = 50): Promise<string> {
    return waitUntil(
      `the Sentinels to agree on a primary other than ${not}`,
      async (): Promise<Probe<string>> => {
        const views = await this.primaries();
        const names = new Set(Object.values(views));
        const only = [...names][0];
        return names.size === 1 && only && only !== not && this.dataNodes.includes(only)
          ? { done: true, value: only }
          : { done: false, seen: JSON.stringify(views) };
      },
      { timeoutMs, intervalMs },
    );
  }

  async sentinelMaster(sentinel: string): Promise<SentinelMaster> {
    return withDirect(this.endpoint(sentinel), async (c) =>
      parseSentinelMaster(await c.sentinelCommand('MASTER', MASTER_NAME)),
    );
  }

  async sentinelReplicas(sentinel: string): Promise<SentinelPeer[]> {
    return withDirect(this.endpoint(sentinel), async (c) =>
      parseSentinelPeers(await c.sentinelCommand('REPLICAS', MASTER_NAME)),
    );
  }

  async sentinelPeers(sentinel: string): Promise<SentinelPeer[]> {
    return withDirect(this.endpoint(sentinel), async (c) =>
      parseSentinelPeers(await c.sentinelCommand('SENTINELS', MASTER_NAME)),
    );
  }

  /**
   * Strict health, following whichever node is primary now: the Sentinels agree on it;
   * it is master with every other data node connected and acknowledging its replication
   * stream (PUBLISH + WAIT); each replica follows it with its
   * link up; each Sentinel sees the primary without any down flag, every replica as a
   * plain `slave` with its link ok, and every other Sentinel as a plain `sentinel`.
   */
  async health(): Promise<RedisHealth> {
    const problems: string[] = [];
    let primary: string | undefined;
    if (this.sentinels.length) {
      const views = await this.primaries();
      const names = new Set(Object.values(views));
      const only = [...names][0];
      if (names.size === 1 && only && this.dataNodes.includes(only)) primary = only;
      else problems.push(`Sentinels name ${JSON.stringify(views)}`);
    }
    const repl = await Promise.all(this.dataNodes.map((n) => this.replication(n).catch(() => undefined)));
    const byNode = new Map(this.dataNodes.map((n, i) => [n, repl[i]]));
    if (!this.sentinels.length) {
      const masters = this.dataNodes.filter((n) => byNode.get(n)?.role === 'master');
      if (masters.length === 1) primary = masters[0];
      else problems.push(`${masters.length} data nodes in role master`);
    }
    if (!primary) return { healthy: false, primary, problems };
    const replicas = this.dataNodes.filter((n) => n !== primary);
    const p = byNode.get(primary);
    if (!p) problems.push(`${primary} does not answer`);
    else if (p.role !== 'master') problems.push(`${primary} is ${p.role}, not master`);
    else {
      const online = p.replicas.filter((r) => r.state === 'online').length;
      if (p.connectedSlaves !== replicas.length || online !== replicas.length) {
        problems.push(`${primary} has ${p.connectedSlaves} replicas connected, ${online} online`);
      } else if (replicas.length) {
        // "online" is not yet "streaming": after a full sync the primary holds the command
        // stream back until the replica's first REPLCONF ACK (up to a second). A PUBLISH
        // travels the stream like a write; WAIT counts the replicas that acknowledged it.
        const acked = await withDirect(this.endpoint(primary), async (c) => {
          await c.publish('midlab:health', 'probe');
          return c.wait(replicas.length, 200);
        }).catch(() => 0);
        if (acked !== replicas.length) problems.push(`${acked} of ${replicas.length} replicas acknowledge the stream`);
      }
    }
    for (const n of replicas) {
      const r = byNode.get(n);
      if (!r) problems.push(`${n} does not answer`);
      else if (r.role !== 'slave' || r.masterHost !== primary || r.masterLinkStatus !== 'up') {
        problems.push(`${n}: role ${r.role}, master ${r.masterHost ?? '-'}, link ${r.masterLinkStatus ?? '-'}`);
      }
    }
    await Promise.all(
      this.sentinels.map(async (s) => {
        try {
          const [m, reps, peers] = await Promise.all([
            this.sentinelMaster(s),
            this.sentinelReplicas(s),
            this.sentinelPeers(s),
          ]);
          if (m.flags !== 'master' || m.ip !== primary) problems.push(`${s} sees ${m.ip} with flags ${m.flags}`);
          if (m.numSlaves !== replicas.length || m.numOtherSentinels !== this.sentinels.length - 1) {
            problems.push(`${s} knows ${m.numSlaves} replicas and ${m.numOtherSentinels} other Sentinels`);
          }
          const seen = reps.map((r) => r.ip).sort();
          if (JSON.stringify(seen) !== JSON.stringify([...replicas].sort())) {
            problems.push(`${s} lists replicas ${seen.join(',') || 'none'}`);
          }
          for (const r of reps) {
            if (r.flags !== 'slave' || r.masterLinkStatus !== 'ok') {
              problems.push(`${s} sees replica ${r.ip} ${r.flags}, link ${r.masterLinkStatus ?? '-'}`);
            }
          }
          for (const o of peers) if (o.flags !== 'sentinel') problems.push(`${s} sees ${o.ip} ${o.flags}`);
        } catch (err) {
          problems.push(`${s}: ${(err as Error).message}`);
        }
      }),
    );
    return { healthy: problems.length === 0, primary, problems };
  }

  async waitHealthy(timeoutMs = 60_000): Promise<void> {
    const primary = await waitUntil(
      `Redis primary with ${this.params.replicas} replica(s) linked and ${this.sentinels.length} Sentinel(s) agreeing`,
      async (): Promise<Probe<string>> => {
        const h = await this.health();
        return h.healthy && h.primary ? { done: true, value: h.primary } : { done: false, seen: h.problems.join('; ') };
      },
      { timeoutMs, intervalMs: 100 },
    );
    this.knownPrimary = primary;
  }

  stop(): Promise<void> {
    return this.cluster.stop();
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
