import type { LabContext } from '../../src/engine/lab.ts';
import type { GroupState } from './admin.ts';
import { type ConsumerOptions, KafkaGroupConsumer } from './client.ts';
import type { StartedKafka } from './stack.ts';

/**
 * Consumer groups seen from the cluster (members and what each is assigned) and read
 * through: waits that give up without throwing, so the lab's check decides.
 */
type Waiter = Pick<LabContext<StartedKafka, unknown>, 'until' | 'stack'>;

/** member client id -> partitions of `topic` assigned to it. */
export function assignmentOf(g: GroupState, topic: string): Record<string, number[]> {
  return Object.fromEntries(g.members.map((m) => [m.clientId, m.assignment[topic] ?? []]));
}

/**
 * Waits until `group` is Stable with `members` members whose assignments cover all
 * `partitions` partitions of `topic`; the group as then described, or as it is now when
 * `timeoutMs` passes.
 */
export async function stableGroup(
  lab: Waiter,
  group: string,
  topic: string,
  members: number,
  partitions: number,
  timeoutMs = 60_000,
): Promise<GroupState> {
  const admin = lab.stack.admin;
  const g = await lab.until(
    `group ${group} stable with ${members} members`,
    async () => {
      const g = await admin.group(group);
      const covered = new Set(g.members.flatMap((m) => m.assignment[topic] ?? []));
      return g.state === 'Stable' && g.members.length === members && covered.size === partitions
        ? { done: true, value: g }
        : { done: false, seen: `${g.state}, ${g.members.length} members, ${covered.size} partitions assigned` };
    },
    { timeoutMs, intervalMs: 250 },
  );
  return g ?? (await admin.group(group));
}

/**
 * Starts a group consumer (recorded in `lab.history`), waits until it has received `n`
 * messages or `timeoutMs` passes, stops it; returns how many it received.
 */
export async function readGroup(
  lab: Waiter & Pick<LabContext<StartedKafka, unknown>, 'history'>,
  n: number,
  opts: ConsumerOptions,
  timeoutMs = 60_000,
): Promise<number> {
  const c = new KafkaGroupConsumer(lab.stack.bootstrap, lab.history, opts);
  await c.start();
  try {
    await lab.until(
      `${opts.name} reading ${n} messages`,
      async () =>
        c.received >= n ? { done: true, value: undefined } : { done: false, seen: `${c.received} received` },
      { timeoutMs, intervalMs: 200 },
    );
  } finally {
    await c.stop();
  }
  return c.received;
}
