import {
  Admin,
  ConfigResourceTypes,
  describeQuorumV0,
  ListOffsetTimestamps,
  metadataV12,
  ProtocolError,
} from '@platformatic/kafka';
import { sleep, withTimeout } from '../../src/runtime/poll.ts';
import { ZkClient, ZkError } from '../zookeeper/client.ts';
import { type KafkaMode, nodeName } from './config.ts';
import { ask, clientOptions } from './connection.ts';
import { kafkaErrorType, retriable } from './errors.ts';

type MetadataResponse = metadataV12.MetadataResponse;

export const TOPIC_RESOURCE = ConfigResourceTypes.TOPIC;
/**
 * What a Kafka cluster says about itself (the reads; `admin.ts` adds the actions), read
 * from the host through the published EXTERNAL ports: the admin client (groups, offsets,
 * configs), Metadata and DescribeQuorum asked of given nodes, and ZooKeeper's znodes
 * through the ensemble's published client ports (ZooKeeper mode). Every answer uses node
 * names (kafka1, controller1), not numeric ids.
 */
export interface QuorumReplica {
  id: number;
  logEndOffset: number;
}

export interface QuorumStatus {
  /** The active controller's node id (-1: none). */
  leaderId: number;
  leaderEpoch: number;
  highWatermark: number;
  voters: QuorumReplica[];
  observers: QuorumReplica[];
}

/** DescribeQuorum (what `kafka-metadata-quorum.sh describe --status` shows) of one node. */
export async function describeQuorum(endpoint: string, timeoutMs = 2000): Promise<QuorumStatus> {
  const r = await ask(
    endpoint,
    (c) => describeQuorumV0.api.async(c, [{ topicName: '__cluster_metadata', partitions: [{ partitionIndex: 0 }] }]),
    timeoutMs,
  );
  const p = r.topics[0]?.partitions[0];
  if (!p) throw new Error('DescribeQuorum: no partition in the answer');
  const replicas = (xs: { replicaId: number; logEndOffset: bigint }[]) =>
    xs.map((x) => ({ id: x.replicaId, logEndOffset: Number(x.logEndOffset) }));
  return {
    leaderId: p.leaderId,
    leaderEpoch: p.leaderEpoch,
    highWatermark: Number(p.highWatermark),
    voters: replicas(p.currentVoters),
    observers: replicas(p.observers),
  };
}
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

/** Whether creating a topic failed because it exists already. */
export function isTopicExists(err: unknown): boolean {
  return kafkaErrorType(err) === 'TOPIC_ALREADY_EXISTS';
}

export class KafkaReader {
  readonly mode: KafkaMode;
  protected readonly brokerEndpoints: string[];
  private readonly controllerEndpoints: string[];
  private readonly zkConnect: string | undefined;
  private admin: Admin | undefined;
  private zk: ZkClient | undefined;
  /** The broker that answered the last metadata request: asked first next time. */
  private answering = 0;

  constructor(opts: AdminOptions) {
    this.mode = opts.mode;
    this.brokerEndpoints = opts.brokers;
    this.controllerEndpoints = opts.controllers ?? [];
    this.zkConnect = opts.zkConnect;
  }

  /** The admin client (it connects on first request), made again after a failure. */
  protected client(): Admin {
    this.admin ??= new Admin(clientOptions(this.brokerEndpoints, 'midlab-admin', 5000, 2));
    return this.admin;
  }

  /**
   * Runs an admin call. Reads (`retry`) are retried for a few seconds on errors that say
   * "not yet" (a broker that has not yet learnt new metadata answers UNKNOWN_TOPIC_OR_PARTITION).
   */
  protected async use<T>(what: string, fn: (a: Admin) => Promise<T>, timeoutMs = 10_000, retry = true): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const a = this.client();
      try {
        return await withTimeout(Math.max(1000, deadline - Date.now()), what, () => fn(a));
      } catch (err) {
        const again = retriable(err);
        if (!again) {
          // A broken connection pool is rebuilt on the next call.
          this.admin = undefined;
          a.close().catch(() => {});
        }
        if (!retry || !again || Date.now() + 200 > deadline || attempt >= 20) throw err;
        await sleep(200);
      }
    }
  }

  /**
   * One Metadata request (all topics when `topics` is undefined, none for []), asked of
   * the brokers in turn, the last one that answered first. The answer is taken whole:
   * a partition without a leader (LEADER_NOT_AVAILABLE) comes back with leader -1, and
   * a topic a broker does not know yet comes back with no partitions.
   */
  private async metadata(topics: string[] | undefined): Promise<MetadataResponse> {
    let last: unknown;
    const n = this.brokerEndpoints.length;
    for (let i = 0; i < n; i++) {
      const k = (this.answering + i) % n;
      try {
        const r = await ask(this.brokerEndpoints[k] as string, (c) =>
          metadataV12.api.async(c, topics ?? null, false, false).catch((err: unknown) => {
            const answer = (err as { response?: MetadataResponse }).response;
            if (answer?.brokers) return answer;
            throw err;
          }),
        );
        this.answering = k;
        return r;
      } catch (err) {
        last = err;
      }
    }
    throw last ?? new Error('no broker to ask');
  }

  /** Brokers in the cluster metadata (KRaft: registered and not fenced; ZK: registered). */
  async liveBrokers(): Promise<string[]> {
    const c = await this.metadata([]);
    return c.brokers.map((b) => nodeName(b.nodeId)).sort();
  }

  /** The live brokers' host endpoints (from the metadata: the EXTERNAL listener). */
  protected async brokerAddresses(): Promise<{ name: string; endpoint: string }[]> {
    const c = await this.metadata([]);
    return c.brokers.map((b) => ({ name: nodeName(b.nodeId), endpoint: `${b.host}:${b.port}` }));
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
    const c = await this.metadata([]);
    return c.controllerId < 0 ? undefined : nodeName(c.controllerId);
  }

  /** A topic's configuration in force (topic overrides and broker defaults): name -> value. */
  async topicConfig(topic: string): Promise<Record<string, string>> {
    const r = await this.use(`describe configs of ${topic}`, (a) =>
      a.describeConfigs({ resources: [{ resourceType: TOPIC_RESOURCE, resourceName: topic }], includeSynonyms: false }),
    );
    const out: Record<string, string> = {};
    for (const e of r[0]?.configs ?? []) if (typeof e.value === 'string') out[e.name] = e.value;
    return out;
  }

  async listTopics(): Promise<string[]> {
    return this.use('list topics', (a) => a.listTopics());
  }

  /** Leader, replicas and ISR of every partition (of `topics`, or of every topic, internal ones too). */
  async partitions(topics?: string[]): Promise<PartitionState[]> {
    // A topic the broker does not know yet is asked again for a few seconds.
    let md = await this.metadata(topics);
    for (let i = 0; i < 20 && unknownTopic(md); i++) {
      await sleep(200);
      md = await this.metadata(topics);
    }
    const unknown = unknownTopic(md);
    if (unknown) throw new ProtocolError(unknown.errorCode, `topic ${unknown.name}`);
    const out: PartitionState[] = [];
    for (const t of md.topics) {
      for (const p of t.partitions) {
        out.push({
          topic: t.name ?? '',
          partition: p.partitionIndex,
          leader: p.leaderId >= 0 ? nodeName(p.leaderId) : undefined,
          replicas: p.replicaNodes.map(nodeName),
          isr: p.isrNodes.map(nodeName),
          offline: p.offlineReplicas.map(nodeName),
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
    const r = await this.use(`describe group ${groupId}`, (a) => a.describeGroups({ groups: [groupId] }));
    const g = r.get(groupId);
    if (!g) return { groupId, state: 'Dead', members: [] };
    return {
      groupId,
      state: g.state,
      members: [...g.members.values()].map((m) => {
        const assignment: Record<string, number[]> = {};
        for (const [topic, a] of m.assignments ?? []) assignment[topic] = [...a.partitions].sort();
        return { memberId: m.id, clientId: m.clientId, assignment };
      }),
    };
  }

  /** Committed offsets of a group on one topic: partition -> offset (-1: none). */
  async committed(groupId: string, topic: string): Promise<Record<number, number>> {
    const ids = (await this.partitions([topic])).map((p) => p.partition);
    const r = await this.use(`fetch offsets of ${groupId}`, (a) =>
      a.listConsumerGroupOffsets({ groups: [{ groupId, topics: [{ name: topic, partitionIndexes: ids }] }] }),
    );
    const out: Record<number, number> = {};
    for (const t of r[0]?.topics ?? []) {
      if (t.name === topic) for (const p of t.partitions) out[p.partitionIndex] = Number(p.committedOffset);
    }
    return out;
  }

  /** Offsets of every partition of a topic at `at` (LATEST: the log end, EARLIEST: the log start). */
  protected async offsets(
    topic: string,
    at: 'LATEST' | 'EARLIEST',
    timeoutMs = 10_000,
  ): Promise<Record<number, number>> {
    const ids = (await this.partitions([topic])).map((p) => p.partition);
    const timestamp = ListOffsetTimestamps[at];
    const r = await this.use(
      `fetch offsets of ${topic}`,
      (a) =>
        a.listOffsets({
          topics: [{ name: topic, partitions: ids.map((partitionIndex) => ({ partitionIndex, timestamp })) }],
        }),
      timeoutMs,
    );
    const out: Record<number, number> = {};
    for (const p of r[0]?.partitions ?? []) out[p.partitionIndex] = Number(p.offset);
    return out;
  }

  /** Log-end offsets (high watermarks) of a topic: partition -> offset. */
  async endOffsets(topic: string): Promise<Record<number, number>> {
    return this.offsets(topic, 'LATEST');
  }

  /** Lag per partition: log-end offset minus committed offset (no commit: minus the log start). */
  async lag(groupId: string, topic: string): Promise<{ total: number; partitions: PartitionLag[] }> {
    const [ends, starts, committed] = await Promise.all([
      this.offsets(topic, 'LATEST'),
      this.offsets(topic, 'EARLIEST'),
      this.committed(groupId, topic),
    ]);
    const partitions = Object.entries(ends)
      .map(([k, end]) => {
        const partition = Number(k);
        const c = committed[partition] ?? -1;
        const from = c >= 0 ? c : (starts[partition] ?? 0);
        return { partition, end, committed: c, lag: Math.max(0, end - from) };
      })
      .sort((a, b) => a.partition - b.partition);
    return { total: partitions.reduce((s, p) => s + p.lag, 0), partitions };
  }

  async close(): Promise<void> {
    const a = this.admin;
    this.admin = undefined;
    await a?.close().catch(() => {});
    this.zk?.close();
    this.zk = undefined;
  }
}

/** A topic of the answer with a topic-level error (the broker does not know it yet), if any. */
function unknownTopic(md: MetadataResponse): { name: string; errorCode: number } | undefined {
  const t = md.topics.find((x) => x.errorCode !== 0);
  return t ? { name: t.name ?? '', errorCode: t.errorCode } : undefined;
}
