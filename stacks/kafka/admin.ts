import type { ITopicConfig } from 'kafkajs';
import { waitUntil } from '../../src/runtime/poll.ts';
import { KafkaReader, TOPIC_RESOURCE } from './admin-reads.ts';
import { nodeName } from './config.ts';

export * from './admin-reads.ts';

/** The admin client: the reads of `KafkaReader`, and the actions (create, alter and delete topics). */
export class KafkaAdmin extends KafkaReader {
  async createTopic(
    topic: string,
    opts: {
      partitions?: number;
      replicationFactor?: number;
      /** Explicit assignment: partition -> broker names, the first preferred. */
      assignment?: string[][];
      config?: Record<string, string | number | boolean>;
    } = {},
  ): Promise<void> {
    const t: ITopicConfig = { topic };
    if (opts.assignment) {
      t.replicaAssignment = opts.assignment.map((replicas, partition) => ({
        partition,
        replicas: replicas.map((n) => Number(n.replace(/\D/g, ''))),
      }));
    } else {
      t.numPartitions = opts.partitions ?? 3;
      if (opts.replicationFactor) t.replicationFactor = opts.replicationFactor;
    }
    if (opts.config) t.configEntries = Object.entries(opts.config).map(([name, v]) => ({ name, value: String(v) }));
    await this.use(
      `create topic ${topic}`,
      async (a) => {
        await a.createTopics({ topics: [t], waitForLeaders: false, timeout: 15_000 });
      },
      30_000,
    );
    await this.waitForTopic(topic, opts.assignment?.length ?? opts.partitions ?? 3);
  }

  /**
   * Waits until a new topic is usable from anywhere. It is created on the controller; each
   * broker learns it from the metadata a moment later (until then it answers
   * UNKNOWN_TOPIC_OR_PARTITION, on which kafkajs's consumer gives up in subscribe), and a
   * leader may be named in the metadata before it has taken the partition up ("This
   * server does not host this topic-partition"). So: every live broker, each asked on its
   * own, names a leader for every partition; then each leader answers ListOffsets for it.
   */
  private async waitForTopic(topic: string, partitions: number, timeoutMs = 30_000): Promise<void> {
    const cluster = await this.use('describe cluster', (a) => a.describeCluster());
    for (const b of cluster.brokers) {
      const endpoint = `${b.host}:${b.port}`;
      const one = new KafkaReader({ mode: this.mode, brokers: [endpoint] });
      try {
        await waitUntil(
          `${nodeName(b.nodeId)} to know topic ${topic} (${partitions} partitions, each with a leader)`,
          async () => {
            const ps = await one.partitions([topic]);
            return ps.length === partitions && ps.every((p) => p.leader)
              ? { done: true, value: undefined }
              : { done: false, seen: `${ps.filter((p) => p.leader).length} of ${partitions} partitions led` };
          },
          { timeoutMs, intervalMs: 100 },
        );
      } finally {
        await one.close();
      }
    }
    await waitUntil(
      `the leaders of ${topic} to answer for their partitions`,
      async () => {
        try {
          await this.use(`list offsets of ${topic}`, (a) => a.fetchTopicOffsets(topic), 5000, false);
          return { done: true, value: undefined };
        } catch (err) {
          return { done: false, seen: err instanceof Error ? err.message : String(err) };
        }
      },
      { timeoutMs, intervalMs: 200 },
    );
  }

  /**
   * Sets topic configuration keys, keeping the topic's other overrides (kafkajs speaks the
   * old AlterConfigs, which replaces the whole set: the current overrides are sent along).
   */
  async alterTopicConfig(topic: string, config: Record<string, string | number | boolean>): Promise<void> {
    const r = await this.use(`describe configs of ${topic}`, (a) =>
      a.describeConfigs({ resources: [{ type: TOPIC_RESOURCE, name: topic }], includeSynonyms: false }),
    );
    const merged: Record<string, string> = {};
    for (const e of r.resources[0]?.configEntries ?? []) {
      // 1 = DYNAMIC_TOPIC_CONFIG: set on this topic (not a broker default)
      if ((e as { configSource?: number }).configSource === 1) merged[e.configName] = e.configValue;
    }
    for (const [k, v] of Object.entries(config)) merged[k] = String(v);
    await this.use(
      `alter configs of ${topic}`,
      (a) =>
        a.alterConfigs({
          validateOnly: false,
          resources: [
            {
              type: TOPIC_RESOURCE,
              name: topic,
              configEntries: Object.entries(merged).map(([name, value]) => ({ name, value })),
            },
          ],
        }),
      10_000,
      false,
    );
    // Brokers learn the change from the controller a moment later.
    await waitUntil(
      `${topic}: configuration ${JSON.stringify(config)} in force`,
      async () => {
        const now = await this.topicConfig(topic);
        const pending = Object.entries(config).filter(([k, v]) => now[k] !== String(v));
        return pending.length === 0 ? { done: true, value: undefined } : { done: false, seen: JSON.stringify(now) };
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
  }

  async deleteTopic(topic: string): Promise<void> {
    await this.use(`delete topic ${topic}`, (a) => a.deleteTopics({ topics: [topic], timeout: 15_000 }), 30_000, false);
  }
}
