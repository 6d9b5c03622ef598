import { Kafka, logLevel } from 'kafkajs';
import { quietKafkaJs } from './quiet.ts';

/**
 * Clients still connected, with the brokers they talk to. A stack's stop() closes its own
 * (`closeClientsOf`), so a lab that threw half-way leaves no kafkajs client retrying
 * against removed containers and keeping the process alive.
 */
export const live = new Map<{ close(): Promise<void> }, string[]>();

export async function closeClientsOf(brokers: string[]): Promise<void> {
  const mine = [...live].filter(([, b]) => b.some((x) => brokers.includes(x))).map(([c]) => c);
  await Promise.all(mine.map((c) => c.close().catch(() => {})));
}

export function kafkaClient(brokers: string[], clientId: string, requestTimeoutMs: number, retries: number): Kafka {
  quietKafkaJs();
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1500,
    requestTimeout: requestTimeoutMs,
    retry: { retries, initialRetryTime: 100, maxRetryTime: 1000 },
  });
}
