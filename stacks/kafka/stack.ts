/**
 * The Kafka stack: Kafka 3.9 in ZooKeeper mode or KRaft mode (`mode` parameter), or Kafka 4.4
 * (`version=4.4`, KRaft only: ZooKeeper mode is refused),
 * brokers kafka1..kafkaN; ZooKeeper mode adds zk1..zkM (the ZooKeeper stack's image and
 * zoo.cfg); KRaft mode runs the Raft metadata quorum inside kafka1..3 (combined) or on
 * controller1..3 (`layout=isolated`). Configuration: config.ts.
 *
 * For labs (what to use):
 *   startStack(kafka, { mode, ... })        -> StartedKafka (healthy)
 *   k.bootstrap / k.bootstrapServers()      host endpoints, for clients (`127.0.0.1:PORT`)
 *   k.broker('kafka2')                      one broker's host endpoint
 *   k.admin                                 KafkaAdmin (admin.ts): the reads of KafkaReader
 *                                           (admin-reads.ts: partitions(), partition(),
 *                                           underReplicated(), controller(), quorum(),
 *                                           registeredBrokers(), liveBrokers(), group(),
 *                                           committed(), endOffsets(), lag()) and the
 *                                           actions createTopic(), alterTopicConfig()
 *   k.health() / k.waitHealthy()            what is not right yet / poll until healthy
 *   k.waitForLeader(topic, p, {not})        a partition's leader, once it is not `not`
 *   k.waitForController({not})              the active controller, once it is not `not`
 *   k.tool(node, 'kafka-topics.sh', ...)    run a Kafka tool inside a node (slow: a JVM)
 *   KafkaProducer / KafkaGroupConsumer      client.ts (producer.ts, consumer.ts; errors.ts:
 *                                           classify): identified messages into the History
 *   ProducerLoop, readAll, CrashingConsumer workload.ts: steady sends, final reads, a crash
 *   createSink, settleSink                  sink.ts: an idempotent sink (a compacted topic)
 *   untilInSync, untilCanary                partitions.ts: partition views and waits
 *   forceLeader, electPreferred             elections.ts: kafka-leader-election.sh
 *   LagSampler, lagSamples                  lag.ts: consumer lag in messages and in seconds, observed
 *   JavaTool, runJavaTool                   java-tool.ts: a Kafka Java tool in a node, its JSON lines
 *   JavaProducer                            java-producer.ts: kafka-verifiable-producer.sh in a node
 *   JavaConsumer, consumerEvents            java-clients.ts: kafka-verifiable-consumer.sh, its JSON events
 *   startCopier, markers                    transactions.ts: the transactional message copier and its reads
 *   rebalance views and checks              rebalances.ts, rebalance-checks.ts (the group protocols)
 *   migration phases                        migration.ts, migration-steps.ts (ZooKeeper to KRaft, 3.9)
 *
 * Healthy means: every broker registered (ZooKeeper mode: /brokers/ids holds them all and
 * /controller names one; KRaft: the quorum has all its voters and a leader, and the
 * metadata lists every broker unfenced), no partition is under-replicated or offline, and
 * every broker's own metadata lists every broker.
 *
 * This replaces the hand-run recipe (stacks/kafka/recipe/, since removed): same image,
 * same listener plan (INTERNAL 9092 / CONTROLLER 9093 / EXTERNAL 9094 advertised as
 * 127.0.0.1:<host port>), same lab-tuned timeouts with production defaults in comments.
 */
import { describe } from '../../src/errors.ts';
import type { StartedCluster } from '../../src/runtime/cluster.ts';
import type { ExecResult, NodeSpec } from '../../src/runtime/node.ts';
import { waitUntil } from '../../src/runtime/poll.ts';
import { HOST_IP } from '../../src/runtime/ports.ts';
import type { Stack, StartedStack } from '../../src/runtime/stack.ts';
import { fourLetter, parseSrvr } from '../zookeeper/four-letter.ts';
import { KafkaAdmin } from './admin.ts';
import { closeClientsOf } from './client.ts';
import {
  brokerNames,
  CONFIG_PATH,
  CONTROLLER_PORT,
  clusterId,
  EXTERNAL_PORT,
  IMAGES,
  INTERNAL_PORT,
  type KafkaMode,
  type KafkaParams,
  kafkaParams,
  kafkaZooCfg,
  nodeEnv,
  replicationOf,
  serverProperties,
  validateKafka,
  voters,
  ZK_CLIENT_PORT,
  ZK_IMAGE,
  zkNames,
} from './config.ts';
import { withMigration } from './migration.ts';

export { type KafkaParams, kafkaParams };

/** How long a cluster must stay healthy before it counts as healthy (waitHealthy). */
const SETTLE_MS = 1000;

export const kafka: Stack<typeof kafkaParams, StartedKafka> = {
  name: 'kafka',
  summary:
    'Kafka 3.9 or 4.4 brokers kafka1..N (EXTERNAL 9094 published) in KRaft mode (Raft quorum in kafka1..3) or ' +
    'ZooKeeper mode (3.9 only: zk1..3 + brokers): --param version=3.9|4.4 --param mode=kraft|zookeeper',
  params: kafkaParams,
  labParams: ['version'],
  composeVariants: { '4.4': { version: '4.4' } },
  benchmarks: [{ mode: 'kraft' }, { mode: 'zookeeper' }, { mode: 'kraft', version: '4.4' }],
  validate: validateKafka,
  nodes(p) {
    const cid = p.mode === 'kraft' ? clusterId() : undefined;
    const zks = zkNames(p).map(
      (name, i): NodeSpec => ({
        name,
        image: ZK_IMAGE,
        ports: { client: ZK_CLIENT_PORT },
        files: [
          { path: '/conf/zoo.cfg', content: kafkaZooCfg(p, i + 1) },
          { path: '/data/myid', content: `${i + 1}\n` },
        ],
        memoryMb: 384,
      }),
    );
    const isVoter = (name: string) => voters(p).some(([n]) => n === name);
    const kafkaNode = (name: string, broker: boolean): NodeSpec => ({
      name,
      image: IMAGES[p.version],
      // EXTERNAL for clients; CONTROLLER (KRaft voters) so the host can ask each controller
      // whether it leads the quorum (DescribeQuorum), without going through a broker.
      ports: {
        ...(broker ? { external: EXTERNAL_PORT } : {}),
        ...(isVoter(name) ? { controller: CONTROLLER_PORT } : {}),
      },
      env: nodeEnv(p, cid),
      files: [{ path: CONFIG_PATH, content: serverProperties(p, name) }],
      memoryMb: p.heapMb + 320,
    });
    const controllers =
      p.mode === 'kraft' && p.layout === 'isolated' ? voters(p).map(([n]) => kafkaNode(n, false)) : [];
    return withMigration(p, [...zks, ...controllers, ...brokerNames(p).map((n) => kafkaNode(n, true))]);
  },
  async connect(cluster, p) {
    const k = new StartedKafka(cluster, p);
    await k.waitHealthy();
    // An idle handle holds no connection (`midlab up` returns); the admin reconnects on use.
    await k.admin.close();
    return k;
  },
};

/** What is wrong with the cluster right now (empty `problems`: healthy). */
export interface KafkaHealth {
  healthy: boolean;
  problems: string[];
  controller: string | undefined;
  registered: string[];
}

/** A running Kafka cluster in either mode. */
export class StartedKafka implements StartedStack {
  readonly cluster: StartedCluster;
  private current: KafkaParams;
  private adminClient: KafkaAdmin;

  constructor(cluster: StartedCluster, params: KafkaParams) {
    this.cluster = cluster;
    this.current = params;
    this.adminClient = this.newAdmin();
  }

  get params(): KafkaParams {
    return this.current;
  }
  get admin(): KafkaAdmin {
    return this.adminClient;
  }

  private newAdmin(): KafkaAdmin {
    return new KafkaAdmin({
      mode: this.mode,
      brokers: this.brokerEndpoints(),
      controllers: this.controllers.map((n) => this.cluster.node(n).endpoint('controller')),
      zkConnect: this.zookeepers.length ? this.zkConnectString() : undefined,
    });
  }

  /**
   * After a ZooKeeper to KRaft migration (migration.ts) has been finalised: the same nodes,
   * now a KRaft cluster whose quorum is controller1..3, as `layout=isolated` makes it.
   */
  async migratedToKraft(): Promise<void> {
    await this.adminClient.close();
    this.current = { ...this.current, mode: 'kraft', layout: 'isolated' };
    this.adminClient = this.newAdmin();
  }

  get mode(): KafkaMode {
    return this.params.mode as KafkaMode;
  }
  /** kafka1..kafkaN. */
  get brokers(): string[] {
    return brokerNames(this.params);
  }
  /** KRaft: the quorum's voters (kafka1..3 or controller1..3); ZooKeeper mode: none. */
  get controllers(): string[] {
    return voters(this.params).map(([n]) => n);
  }
  /** ZooKeeper mode: zk1..zkM. */
  get zookeepers(): string[] {
    return zkNames(this.params);
  }
  /** The replication factor of new topics and internal ones. */
  get replicationFactor(): number {
    return replicationOf(this.params);
  }

  /**
   * The live view's tiles: the active controller, the other quorum voters, brokers and
   * ZooKeeper nodes (a node's partition leaderships are per partition, not a role).
   */
  async liveRoles(): Promise<Record<string, string>> {
    const active = (await this.admin.controller()).node;
    const roles: Record<string, string> = {};
    for (const n of this.zookeepers) roles[n] = 'zookeeper';
    for (const n of this.controllers) roles[n] = 'voter';
    for (const n of this.brokers) if (!(n in roles)) roles[n] = 'broker';
    if (active) roles[active] = 'controller';
    return roles;
  }

  /** One broker's host endpoint, `127.0.0.1:PORT` (its advertised EXTERNAL listener). */
  broker(node: string): string {
    return this.cluster.node(node).endpoint('external');
  }

  brokerEndpoints(nodes: string[] = this.brokers): string[] {
    return nodes.map((n) => this.broker(n));
  }

  /** `127.0.0.1:P1,127.0.0.1:P2,...` for kcat -b or any host client. */
  bootstrapServers(nodes: string[] = this.brokers): string {
    return this.brokerEndpoints(nodes).join(',');
  }

  /** The host endpoints as a list (the client's bootstrap brokers). */
  get bootstrap(): string[] {
    return this.brokerEndpoints();
  }

  zkConnectString(): string {
    return this.zookeepers.map((z) => this.cluster.node(z).endpoint('client')).join(',');
  }

  endpoints(): Record<string, string | string[]> {
    const out: Record<string, string | string[]> = { bootstrap: this.bootstrapServers() };
    for (const b of this.brokers) out[b] = this.broker(b);
    if (this.zookeepers.length) {
      out.zookeeper = this.zkConnectString();
      for (const z of this.zookeepers) out[z] = this.cluster.node(z).endpoint('client');
    }
    return out;
  }

  /** One look at the cluster: what keeps it from being healthy. */
  async health(): Promise<KafkaHealth> {
    const problems: string[] = [];
    let controller: string | undefined;
    let registered: string[] = [];
    if (this.mode === 'zookeeper') {
      const modes = await Promise.all(
        this.zookeepers.map(async (z) => {
          const raw = await fourLetter(HOST_IP, this.cluster.node(z).hostPort('client'), 'srvr').catch(() => '');
          return [z, parseSrvr(raw).mode ?? 'down'] as const;
        }),
      );
      const serving = modes.filter(([, m]) => m === 'leader' || m === 'follower' || m === 'standalone');
      if (serving.length < Math.floor(this.zookeepers.length / 2) + 1) {
        problems.push(`ZooKeeper not serving (${modes.map(([z, m]) => `${z}=${m}`).join(', ')})`);
        return { healthy: false, problems, controller, registered };
      }
      registered = await this.admin.registeredBrokers();
      controller = (await this.admin.controller()).node;
      if (!controller) problems.push('no /controller znode');
    } else {
      const q = await this.admin.quorum();
      const want = voters(this.params).map(([, id]) => id);
      const have = q.voters.map((v) => v.id);
      if (q.leaderId < 0) problems.push('the metadata quorum has no leader');
      else controller = this.controllers.find((_, i) => want[i] === q.leaderId);
      if (!want.every((id) => have.includes(id)))
        problems.push(`quorum voters ${have.join(',')}, want ${want.join(',')}`);
      const behind = q.voters.filter((v) => v.logEndOffset < 0);
      if (behind.length) problems.push(`voters not replicating yet: ${behind.map((v) => v.id).join(',')}`);
    }
    const live = await this.admin.liveBrokers();
    if (this.mode === 'kraft') registered = live;
    const missing = this.brokers.filter((b) => !registered.includes(b) || !live.includes(b));
    if (missing.length) problems.push(`brokers not registered: ${missing.join(', ')}`);
    const parts = await this.admin.partitions();
    const offline = parts.filter((p) => p.leader === undefined);
    const urp = parts.filter((p) => p.isr.length < p.replicas.length);
    if (offline.length) problems.push(`${offline.length} offline partition(s) (${partitionNames(offline)})`);
    if (urp.length) problems.push(`${urp.length} under-replicated partition(s) (${partitionNames(urp)})`);
    // Last, each broker's own view: right after start one can still list fewer brokers
    // than the controller knows (a client bootstrapping from it would not see them all).
    if (!problems.length) {
      const views = await Promise.all(
        this.brokers.map(
          async (b) => [b, await KafkaAdmin.brokersSeenBy(this.mode, this.brokerEndpoints([b])[0] as string)] as const,
        ),
      );
      for (const [b, seen] of views) {
        if (seen.length < this.brokers.length)
          problems.push(seen.length ? `${b}'s metadata lists only ${seen.join(', ')}` : `${b} gave no metadata`);
      }
    }
    return { healthy: problems.length === 0, problems, controller, registered };
  }

  /**
   * Polls until healthy (see the header) and still healthy a second later. Kafka JVMs
   * start slowly on a loaded machine, and right after the start brokers learn of each
   * other's unfencing a few ms apart: one look found every broker listing all three, and
   * the next Metadata answer, from kafka3, listed only itself (a kafka/cluster-basics run).
   */
  async waitHealthy(timeoutMs = 180_000): Promise<void> {
    let since: number | undefined;
    await waitUntil(
      `Kafka (${this.mode} mode) with ${this.brokers.length} registered brokers, a controller and no under-replicated partition, for ${SETTLE_MS} ms`,
      async () => {
        const h = await this.health();
        if (!h.healthy) {
          since = undefined;
          return { done: false, seen: h.problems.join('; ') };
        }
        since ??= Date.now();
        const held = Date.now() - since;
        return held >= SETTLE_MS ? { done: true, value: undefined } : { done: false, seen: `healthy for ${held} ms` };
      },
      { timeoutMs, intervalMs: 500 },
    );
  }

  /** The leader of a partition, once it has one other than `not`; returns its name. */
  async waitForLeader(
    topic: string,
    partition: number,
    opts: { not?: string; timeoutMs?: number; intervalMs?: number } = {},
  ): Promise<string> {
    return waitUntil(
      `a leader of ${topic}-${partition}${opts.not ? ` other than ${opts.not}` : ''}`,
      async () => {
        const p = await this.admin.partition(topic, partition);
        return p.leader && p.leader !== opts.not
          ? { done: true, value: p.leader }
          : { done: false, seen: `leader ${p.leader ?? 'none'}, isr ${p.isr.join(',')}` };
      },
      { timeoutMs: opts.timeoutMs ?? 60_000, intervalMs: opts.intervalMs ?? 100 },
    );
  }

  /** The active controller, once there is one other than `not`. */
  async waitForController(opts: { not?: string; timeoutMs?: number; intervalMs?: number } = {}): Promise<string> {
    return waitUntil(
      `an active controller${opts.not ? ` other than ${opts.not}` : ''}`,
      async () => {
        const c = await this.admin.controller();
        return c.node && c.node !== opts.not
          ? { done: true, value: c.node }
          : { done: false, seen: `controller ${c.node ?? 'none'} (epoch ${c.epoch ?? '?'})` };
      },
      { timeoutMs: opts.timeoutMs ?? 60_000, intervalMs: opts.intervalMs ?? 50 },
    );
  }

  /** Arguments that point a tool inside `node` at the cluster (`--bootstrap-server kafka1:9092`). */
  private toolArgs(node: string, tool: string, args: string[]): string[] {
    if (tool === 'zookeeper-shell.sh') return [tool, `${this.zookeepers[0]}:${ZK_CLIENT_PORT}`, ...args];
    const target = this.brokers.includes(node) ? node : this.brokers[0];
    return [tool, '--bootstrap-server', `${target}:${INTERNAL_PORT}`, ...args];
  }

  /** Runs a Kafka tool inside a node (a JVM: seconds on a loaded machine). */
  async tool(node: string, tool: string, ...args: string[]): Promise<ExecResult> {
    return this.cluster.node(node).exec(this.toolArgs(node, tool, args));
  }

  /** A broker that is running, for tool calls (the first of `prefer` that is up). */
  async liveNode(prefer: string[] = this.brokers): Promise<string> {
    for (const n of prefer) {
      if (
        (await this.cluster
          .node(n)
          .state()
          .catch(() => 'dead')) === 'running'
      )
        return n;
    }
    throw new Error(`no running node among ${prefer.join(', ')}`);
  }

  async stop(): Promise<void> {
    await closeClientsOf(this.bootstrap);
    await this.admin.close().catch((e: unknown) => describe(e));
    await this.cluster.stop();
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

function partitionNames(ps: { topic: string; partition: number }[], n = 4): string {
  const names = ps.map((p) => `${p.topic}-${p.partition}`);
  return names.slice(0, n).join(', ') + (names.length > n ? ', ...' : '');
}
