import { type Admin, AssignerProtocol, type ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { sleep, withTimeout } from '../../src/runtime/poll.ts';
import { ZkClient, ZkError } from '../zookeeper/client.ts';
import { type KafkaMode, nodeName } from './config.ts';
import { quietKafkaJs } from './quiet.ts';
import { describeQuorum, type QuorumStatus } from './wire.ts';

/** ConfigResourceTypes.TOPIC (kafkajs's enum is not a named export Node can import). */
export const TOPIC_RESOURCE = 2 as ConfigResourceTypes;
/**
 * What a Kafka cluster says about itself (the reads; `admin.ts` adds the actions), read from the host: kafkajs's admin client
 * (metadata, groups, offsets) through the published EXTERNAL ports, DescribeQuorum on
 * the wire (KRaft), and ZooKeeper's znodes through the ensemble's published client ports
 * (ZooKeeper mode). Every answer uses node names (kafka1, controller1), not numeric ids.
 */
export interface PartitionState {
  topic: string;
  partition: number;
  /** The leader's node name, or undefined when the partition is offline. */
  leader: string | undefined;
  /** Assignment order: the first is the preferred leader. */
  replicas: string[];
  isr: string[];
  offline: string[];
}

export interface GroupMember {
  memberId: string;
  clientId: string;
  /** topic -> partitions assigned to this member. */
  assignment: Record<string, number[]>;
}

export interface GroupState {
  groupId: string;
  /** Stable, PreparingRebalance, CompletingRebalance, Empty, Dead. */
  state: string;
  members: GroupMember[];
}

export interface PartitionLag {
  partition: number;
  /** Log-end offset (the high watermark a consumer can read up to). */
  end: number;
  /** Committed offset of the group; -1 when it has none. */
  committed: number;
  lag: number;
}

export interface ControllerInfo {
  /** The active controller's node name (undefined: none right now). */
  node: string | undefined;
  /** ZooKeeper mode: /controller_epoch; KRaft: the Raft leader epoch. */
  epoch: number | undefined;
  /** KRaft: the quorum's voters by name. */
  voters?: string[];
}

export interface AdminOptions {
  mode: KafkaMode;
  /** Host endpoints of the brokers (`127.0.0.1:PORT`). */
  brokers: string[];
  /** KRaft: host endpoints of the controllers' CONTROLLER listeners. */
  controllers?: string[];
  /** ZooKeeper mode: a connect string over the ensemble's published ports. */
  zkConnect?: string;
}

/** Kafka's own names of the error codes a lab is likely to meet. */
export function isTopicExists(err: unknown): boolean {
  return (err as { type?: string })?.type === 'TOPIC_ALREADY_EXISTS';
}

export class KafkaReader {
  readonly mode: KafkaMode;
  private readonly brokerEndpoints: string[];
  private readonly controllerEndpoints: string[];
  private readonly zkConnect: string | undefined;
  private readonly kafka: Kafka;
  private admin: Admin | undefined;
  private zk: ZkClient | undefined;

  constructor(opts: AdminOptions) {
    this.mode = opts.mode;
    this.brokerEndpoints = opts.brokers;
    this.controllerEndpoints = opts.controllers ?? [];
    this.zkConnect = opts.zkConnect;
    quietKafkaJs();
    this.kafka = new Kafka({
      clientId: 'midlab-admin',
      brokers: opts.brokers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1500,
      requestTimeout: 5000,
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
    });
  }

  /** The kafkajs admin client, connected on first use and again after a failure. */
  protected async client(): Promise<Admin> {
    if (this.admin) return this.admin;
    const a = this.kafka.admin({ retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 } });
    await withTimeout(10_000, 'connecting the admin client', () => a.connect());
    this.admin = a;
    return a;
  }

  /**
   * Runs an admin call. Reads (`retry`) are retried for a few seconds on errors that say
   * "not yet" (a broker that has not yet learnt new metadata answers UNKNOWN_TOPIC_OR_PARTITION).
   */
  protected async use<T>(what: string, fn: (a: Admin) => Promise<T>, timeoutMs = 10_000, retry = true): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const a = await this.client();
      try {
        return await withTimeout(Math.max(1000, deadline - Date.now()), what, () => fn(a));
      } catch (err) {
        const retriable = (err as { retriable?: boolean }).retriable === true;
        if (!retriable) {
          // A broken connection pool is rebuilt on the next call.
          this.admin = undefined;
          a.disconnect().catch(() => {});
        }
        if (!retry || !retriable || Date.now() + 200 > deadline || attempt >= 20) throw err;
        await sleep(200);
      }
    }
  }

  /** Brokers in the cluster metadata (KRaft: registered and not fenced; ZK: registered). */
  async liveBrokers(): Promise<string[]> {
    const c = await this.use('describe cluster', (a) => a.describeCluster());
    return c.brokers.map((b) => nodeName(b.nodeId)).sort();
  }

  /** The brokers one broker's own metadata lists (asked of it alone, 5 s at most; [] if it did not answer). */
  static async brokersSeenBy(mode: KafkaMode, endpoint: string): Promise<string[]> {
    const one = new KafkaReader({ mode, brokers: [endpoint] });
    try {
      return await withTimeout(5000, `metadata of ${endpoint}`, () => one.liveBrokers());
    } catch {
      return [];
    } finally {
      await one.close();
    }
  }

  /**
   * The "controller" in the Metadata answer (what `kcat -L` marks). ZooKeeper mode: the
   * real controller. KRaft: any live broker, since clients never talk to controllers.
   */
  async metadataController(): Promise<string | undefined> {
    const c = await this.use('describe cluster', (a) => a.describeCluster());
    return c.controller === null ? undefined : nodeName(c.controller);
  }

  /** A topic's configuration in force (topic overrides and broker defaults): name -> value. */
  async topicConfig(topic: string): Promise<Record<string, string>> {
    const r = await this.use(`describe configs of ${topic}`, (a) =>
      a.describeConfigs({ resources: [{ type: TOPIC_RESOURCE, name: topic }], includeSynonyms: false }),
    );
    const out: Record<string, string> = {};
    for (const e of r.resources[0]?.configEntries ?? []) out[e.configName] = e.configValue;
    return out;
  }

  async listTopics(): Promise<string[]> {
    return this.use('list topics', (a) => a.listTopics());
  }

  /** Leader, replicas and ISR of every partition (of `topics`, or of every topic, internal ones too). */
  async partitions(topics?: string[]): Promise<PartitionState[]> {
    const md = await this.use('fetch topic metadata', (a) => a.fetchTopicMetadata(topics ? { topics } : undefined));
    const out: PartitionState[] = [];
    for (const t of md.topics) {
      for (const p of t.partitions) {
        out.push({
          topic: t.name,
          partition: p.partitionId,
          leader: p.leader >= 0 ? nodeName(p.leader) : undefined,
          replicas: p.replicas.map(nodeName),
          isr: p.isr.map(nodeName),
          offline: (p.offlineReplicas ?? []).map(nodeName),
        });
      }
    }
    return out.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  }

  async partition(topic: string, partition: number): Promise<PartitionState> {
    const p = (await this.partitions([topic])).find((x) => x.partition === partition);
    if (!p) throw new Error(`no partition ${topic}-${partition}`);
    return p;
  }

  /** Partitions whose ISR is smaller than their replica set (the URP metric). */
  async underReplicated(topics?: string[]): Promise<PartitionState[]> {
    return (await this.partitions(topics)).filter((p) => p.isr.length < p.replicas.length);
  }

  /** Partitions without a leader (the offline-partitions metric). */
  async offline(topics?: string[]): Promise<PartitionState[]> {
    return (await this.partitions(topics)).filter((p) => p.leader === undefined);
  }

  /**
   * The active controller. ZooKeeper mode: the broker named in the ephemeral znode
   * /controller. KRaft: the leader of the Raft metadata quorum (DescribeQuorum, as
   * `kafka-metadata-quorum.sh describe --status` shows it).
   */
  async controller(): Promise<ControllerInfo> {
    if (this.mode === 'zookeeper') {
      const zk = await this.zkClient();
      let node: string | undefined;
      try {
        const data = JSON.parse(await zk.get('/controller')) as { brokerid?: number };
        node = typeof data.brokerid === 'number' ? nodeName(data.brokerid) : undefined;
      } catch (err) {
        if (!(err instanceof ZkError && err.code === 'NONODE')) throw err;
      }
      const epoch = await zk.get('/controller_epoch').then(Number, () => undefined);
      return { node, epoch };
    }
    const q = await this.quorum();
    return {
      node: q.leaderId >= 0 ? nodeName(q.leaderId) : undefined,
      epoch: q.leaderEpoch,
      voters: q.voters.map((v) => nodeName(v.id)),
    };
  }

  /**
   * KRaft: the metadata quorum. Asked of every controller at once on its published
   * CONTROLLER port (only the leader answers; the others say NOT_LEADER_OR_FOLLOWER), so
   * a new leader is seen the moment it is elected. Brokers forward the same request to
   * the controller they know, which lags behind an election by seconds: they are only
   * the fallback.
   */
  async quorum(): Promise<QuorumStatus> {
    if (this.controllerEndpoints.length) {
      try {
        return await Promise.any(this.controllerEndpoints.map((e) => describeQuorum(e, 1500)));
      } catch {
        // no controller answered as leader: ask through the brokers
      }
    }
    let last: unknown;
    for (const e of this.brokerEndpoints) {
      try {
        return await describeQuorum(e);
      } catch (err) {
        last = err;
      }
    }
    throw last ?? new Error('no broker to ask');
  }

  /** ZooKeeper mode: the broker ids registered under /brokers/ids, as names. */
  async registeredBrokers(): Promise<string[]> {
    if (this.mode !== 'zookeeper') return this.liveBrokers();
    const zk = await this.zkClient();
    return (await zk.children('/brokers/ids')).map((id) => nodeName(Number(id))).sort();
  }

  /** ZooKeeper mode: the raw text of a znode (for narration), or undefined when absent. */
  async znode(path: string): Promise<string | undefined> {
    const zk = await this.zkClient();
    try {
      return await zk.get(path);
    } catch (err) {
      if (err instanceof ZkError && err.code === 'NONODE') return undefined;
      throw err;
    }
  }

  private async zkClient(): Promise<ZkClient> {
    if (!this.zkConnect) throw new Error('this cluster has no ZooKeeper (KRaft mode)');
    this.zk ??= await ZkClient.connect(this.zkConnect, { sessionTimeoutMs: 6000, opTimeoutMs: 3000 });
    return this.zk;
  }

  /** A consumer group's state and each member's assigned partitions. */
  async group(groupId: string): Promise<GroupState> {
    const r = await this.use(`describe group ${groupId}`, (a) => a.describeGroups([groupId]));
    const g = r.groups[0];
    if (!g) return { groupId, state: 'Dead', members: [] };
    return {
      groupId,
      state: g.state,
      members: g.members.map((m) => {
        const decoded = m.memberAssignment?.length
          ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment)
          : null;
        const assignment: Record<string, number[]> = {};
        for (const [topic, parts] of Object.entries(decoded?.assignment ?? {})) assignment[topic] = [...parts].sort();
        return { memberId: m.memberId, clientId: m.clientId, assignment };
      }),
    };
  }

  /** Committed offsets of a group on one topic: partition -> offset (-1: none). */
  async committed(groupId: string, topic: string): Promise<Record<number, number>> {
    const r = await this.use(`fetch offsets of ${groupId}`, (a) => a.fetchOffsets({ groupId, topics: [topic] }));
    const out: Record<number, number> = {};
    for (const p of r.find((t) => t.topic === topic)?.partitions ?? []) out[p.partition] = Number(p.offset);
    return out;
  }

  /** Log-end offsets (high watermarks) of a topic: partition -> offset. */
  async endOffsets(topic: string): Promise<Record<number, number>> {
    const r = await this.use(`fetch offsets of ${topic}`, (a) => a.fetchTopicOffsets(topic));
    return Object.fromEntries(r.map((p) => [p.partition, Number(p.high)]));
  }

  /** Lag per partition: log-end offset minus committed offset (no commit: minus the log start). */
  async lag(groupId: string, topic: string): Promise<{ total: number; partitions: PartitionLag[] }> {
    const [ends, committed] = await Promise.all([
      this.use(`fetch offsets of ${topic}`, (a) => a.fetchTopicOffsets(topic)),
      this.committed(groupId, topic),
    ]);
    const partitions = ends
      .map((e) => {
        const end = Number(e.high);
        const c = committed[e.partition] ?? -1;
        const from = c >= 0 ? c : Number(e.low);
        return { partition: e.partition, end, committed: c, lag: Math.max(0, end - from) };
      })
      .sort((a, b) => a.partition - b.partition);
    return { total: partitions.reduce((s, p) => s + p.lag, 0), partitions };
  }

  async close(): Promise<void> {
    const a = this.admin;
    this.admin = undefined;
    await a?.disconnect().catch(() => {});
    this.zk?.close();
    this.zk = undefined;
  }
}
