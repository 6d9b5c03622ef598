import { UsageError } from '../../src/errors.ts';
import type { StartedCluster } from '../../src/runtime/cluster.ts';
import { type Probe, waitUntil } from '../../src/runtime/poll.ts';
import { HOST_IP } from '../../src/runtime/ports.ts';
import type { StartedStack } from '../../src/runtime/stack.ts';
import { type NatMap, RedisClient, type SentinelClientOptions, withDirect } from './client.ts';
import { type Layout, MASTER_NAME, REDIS_PORT, SENTINEL_PORT } from './config.ts';
import { health, type RedisHealth } from './health.ts';
import { parseInfo, parseReplication, type Replication } from './info.ts';
import { layoutOf, type RedisParams } from './params.ts';
import { dataView, type KeysView, type LinkView, linkProblems, linkViews } from './replication.ts';
import { failoverEpochs, failoverLog, primaryBy, type SentinelView, sentinelView } from './sentinel.ts';

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

  /** DBSIZE of every data node. */
  async dbsizes(): Promise<Record<string, number>> {
    return Object.fromEntries(await Promise.all(this.dataNodes.map(async (n) => [n, await this.dbsize(n)] as const)));
  }

  /** Every data node's master_repl_offset, in words: `redis1=1234, redis2=1234, ...`. */
  async offsets(): Promise<string> {
    const all = await Promise.all(
      this.dataNodes.map(async (n) => `${n}=${(await this.replication(n)).masterReplOffset}`),
    );
    return all.join(', ');
  }

  /** A data node's run_id (INFO server): a new one is a new process. */
  runId(node: string): Promise<string> {
    return withDirect(this.endpoint(node), async (c) => parseInfo(await c.info('server')).run_id ?? '', {
      connectTimeoutMs: 300,
      commandTimeoutMs: 500,
    });
  }

  /** Each data node's replication link as the labs show it (role, primary, link, offsets). */
  links(nodes: string[] = this.dataNodes): Promise<Record<string, LinkView>> {
    return linkViews(this, nodes);
  }

  /** A probe for `lab.until`: done with the links once `linkProblems` finds nothing; else the problems. */
  async linksCaughtUp(primary: string, replicas: string[]): Promise<Probe<Record<string, LinkView>>> {
    const v = await this.links();
    const problems = linkProblems(v, primary, replicas);
    return problems.length ? { done: false, seen: problems.join('; ') } : { done: true, value: v };
  }

  /** A probe for `lab.until`: done with `node`'s link once it follows `primary`, link up. */
  async follows(node: string, primary: string): Promise<Probe<LinkView>> {
    const v = (await this.links([node]))[node] as LinkView;
    const done = v.role === 'slave' && v.masterHost === primary && v.masterLinkStatus === 'up';
    return done ? { done, value: v } : { done, seen: `${node}: ${v.role}, master ${v.masterHost ?? '-'}` };
  }

  /** Keys and replication offsets of the primary and its replicas, at one moment. */
  data(primary: string, replicas: string[]): Promise<KeysView> {
    return dataView(this, primary, replicas);
  }

  /**
   * A probe for `lab.until`: once every replica has applied `primary`'s stream up to
   * `target`, done with each node's offset (the primary's: `target`).
   */
  async caughtUp(primary: string, replicas: string[], target: number): Promise<Probe<Record<string, number>>> {
    const got = await Promise.all(replicas.map(async (n) => (await this.replication(n)).slaveReplOffset ?? 0));
    return got.every((o) => o >= target)
      ? { done: true, value: Object.fromEntries([[primary, target], ...replicas.map((n, i) => [n, got[i] ?? 0])]) }
      : { done: false, seen: `offsets ${got} < ${target}` };
  }

  /**
   * A probe for `lab.until`: done with the seconds since each of `count` replicas last
   * acknowledged `primary`'s stream, once every one has been silent `seconds` or more.
   */
  async silent(primary: string, count: number, seconds: number): Promise<Probe<number[]>> {
    const got = (await this.replication(primary)).replicas.map((x) => x.lag);
    return got.length === count && got.every((l) => l >= seconds)
      ? { done: true, value: got }
      : { done: false, seen: `lags ${got.join(',')}` };
  }

  /** What one Sentinel knows of "mymaster": primary, flags, quorum, replicas, other Sentinels. */
  sentinelView(sentinel: string): Promise<SentinelView> {
    return sentinelView(this, sentinel);
  }

  /** The failover as the Sentinel that led it logged it (empty when none did yet). */
  failoverLog(): Promise<string[]> {
    return failoverLog(this);
  }

  /** The epochs Sentinels voted in (more than one: a split vote was retried). */
  failoverEpochs(): Promise<number[]> {
    return failoverEpochs(this);
  }

  /** Each Sentinel's answer, or `down` when it does not answer. */
  async primaries(): Promise<Record<string, string>> {
    const views = await Promise.all(
      this.sentinels.map(async (s) => [s, (await primaryBy(this, s).catch(() => 'down')) ?? 'unknown'] as const),
    );
    return Object.fromEntries(views);
  }

  /** The one primary every Sentinel names, other than `not`; undefined while they disagree. */
  async agreedPrimary(not?: string): Promise<Probe<string>> {
    const views = await this.primaries();
    const names = new Set(Object.values(views));
    const only = [...names][0];
    return names.size === 1 && only && only !== not && this.dataNodes.includes(only)
      ? { done: true, value: only }
      : { done: false, seen: JSON.stringify(views) };
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
    const agreed = await this.agreedPrimary();
    if (!agreed.done) throw new Error(`the Sentinels do not agree on a primary: ${agreed.seen}`);
    return agreed.value;
  }

  /** The live view's tiles: primary, replica or sentinel for each node that answers. */
  async liveRoles(): Promise<Record<string, string>> {
    const data = await this.roles();
    const out: Record<string, string> = {};
    for (const [n, r] of Object.entries(data)) if (r !== 'down') out[n] = r === 'master' ? 'primary' : 'replica';
    for (const n of this.sentinels) out[n] = 'sentinel';
    return out;
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

  health(): Promise<RedisHealth> {
    return health(this);
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
