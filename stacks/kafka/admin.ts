import { Admin, IncrementalAlterConfigOperationTypes } from '@platformatic/kafka';
import { waitUntil, withTimeout } from '../../src/runtime/poll.ts';
import { KafkaReader, TOPIC_RESOURCE } from './admin-reads.ts';
import { clientOptions } from './connection.ts';

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
    const t = opts.assignment
      ? {
          topic,
          partitions: -1,
          replicas: -1,
          assignments: opts.assignment.map((replicas, partition) => ({
            partition,
            brokers: replicas.map((n) => Number(n.replace(/\D/g, ''))),
          })),
        }
      : { topic, partitions: opts.partitions ?? 3, replicas: opts.replicationFactor ?? -1 };
    const configs = Object.entries(opts.config ?? {}).map(([name, v]) => ({ name, value: String(v) }));
    // The controller is given 15 s to create it (the request's timeout; the reads' 5 s is
    // shorter than a KRaft controller failover), and the client waits a little longer.
    const admin = new Admin({ ...clientOptions(this.brokerEndpoints, 'midlab-admin', 20_000, 2), timeout: 15_000 });
    try {
      await withTimeout(30_000, `create topic ${topic}`, () => admin.createTopics({ topics: [t], configs }));
    } finally {
      await admin.close().catch(() => {});
    }
    await this.waitForTopic(topic, opts.assignment?.length ?? opts.partitions ?? 3);
  }

  /**
   * Waits until a new topic is usable from anywhere. It is created on the controller; each
   * broker learns it from the metadata a moment later (until then it answers
   * UNKNOWN_TOPIC_OR_PARTITION, on which a consumer may give up subscribing), and a
   * leader may be named in the metadata before it has taken the partition up ("This
   * server does not host this topic-partition"). So: every live broker, each asked on its
   * own, names a leader for every partition; then each leader answers ListOffsets for it.
   */
  private async waitForTopic(topic: string, partitions: number, timeoutMs = 30_000): Promise<void> {
    for (const { name, endpoint } of await this.brokerAddresses()) {
      const one = new KafkaReader({ mode: this.mode, brokers: [endpoint] });
      try {
        await waitUntil(
          `${name} to know topic ${topic} (${partitions} partitions, each with a leader)`,
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
          await this.offsets(topic, 'LATEST', 5000);
          return { done: true, value: undefined };
        } catch (err) {
          return { done: false, seen: err instanceof Error ? err.message : String(err) };
        }
      },
      { timeoutMs, intervalMs: 200 },
    );
  }

  /** Sets topic configuration keys (IncrementalAlterConfigs: the topic's other overrides stay). */
  async alterTopicConfig(topic: string, config: Record<string, string | number | boolean>): Promise<void> {
    await this.use(
      `alter configs of ${topic}`,
      (a) =>
        a.incrementalAlterConfigs({
          resources: [
            {
              resourceType: TOPIC_RESOURCE,
              resourceName: topic,
              configs: Object.entries(config).map(([name, v]) => ({
                name,
                configOperation: IncrementalAlterConfigOperationTypes.SET,
                value: String(v),
              })),
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
    await this.use(`delete topic ${topic}`, (a) => a.deleteTopics({ topics: [topic] }), 30_000, false);
  }
}
