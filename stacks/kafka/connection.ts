import { Connection } from '@platformatic/kafka';
import { withTimeout } from '../../src/runtime/poll.ts';

/**
 * Clients still connected, with the brokers they talk to. A stack's stop() closes its own
 * (`closeClientsOf`), so a lab that threw half-way leaves no client retrying against
 * removed containers and keeping the process alive.
 */
export const live = new Map<{ close(): Promise<void> }, string[]>();

export async function closeClientsOf(brokers: string[]): Promise<void> {
  const mine = [...live].filter(([, b]) => b.some((x) => brokers.includes(x))).map(([c]) => c);
  await Promise.all(mine.map((c) => c.close().catch(() => {})));
}

/** The options every client of ours shares: its name, the brokers, and short timeouts. */
export function clientOptions(brokers: string[], clientId: string, requestTimeoutMs: number, retries: number) {
  return {
    clientId,
    bootstrapBrokers: brokers,
    connectTimeout: 1500,
    requestTimeout: requestTimeoutMs,
    timeout: requestTimeoutMs,
    retries,
    retryDelay: 200,
    autocreateTopics: false,
  };
}

/**
 * One request to one node (`127.0.0.1:PORT`) over a connection of its own, closed after
 * the answer: for what must be asked of a given node (DescribeQuorum of each controller,
 * the metadata one broker holds) rather than of whichever the client picks.
 */
export async function ask<T>(endpoint: string, call: (c: Connection) => Promise<T>, timeoutMs = 5000): Promise<T> {
  const [host, port] = endpoint.split(':');
  const c = new Connection('midlab', { connectTimeout: Math.min(1500, timeoutMs), requestTimeout: timeoutMs });
  // A reset after the answer (the node stopped) is no news: the request's own callback says what failed.
  c.on('error', () => {});
  try {
    return await withTimeout(timeoutMs, `a request to ${endpoint}`, async () => {
      await c.connect(host ?? '127.0.0.1', Number(port));
      return call(c);
    });
  } finally {
    c.close().catch(() => {});
  }
}
