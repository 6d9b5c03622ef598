import type { Op } from '../../src/engine/history.ts';
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

/** How a group shared a topic out: what each member was assigned and how many messages it got. */
export interface Split {
  /** consumer -> partitions assigned. */
  assignment: Record<string, number[]>;
  /** consumer -> messages received. */
  counts: Record<string, number>;
}

/** "two-a: partitions [0,1] 60 msgs; two-b: partitions [2] 30 msgs". */
export function describeSplit(s: Split | undefined): string {
  if (!s) return 'not observed';
  const one = (c: string) => `${c}: partitions [${(s.assignment[c] ?? []).join(',')}] ${s.counts[c] ?? 0} msgs`;
  return Object.keys(s.assignment).sort().map(one).join('; ');
}

/** The split of `topic` among `consumers` as they are now: what each owns, and how many it received. */
export function splitOf(consumers: KafkaGroupConsumer[], topic: string): Split {
  return {
    assignment: Object.fromEntries(consumers.map((c) => [c.name, c.assignment[topic] ?? []])),
    counts: Object.fromEntries(consumers.map((c) => [c.name, c.received])),
  };
}

/**
 * kafka-console-consumer.sh run inside `node` without --group, from the beginning, up to
 * `max` messages (30 s at most): how many identified messages it printed.
 */
export async function consoleCount(k: StartedKafka, node: string, topic: string, max: number): Promise<number> {
  const args = ['--topic', topic, '--from-beginning', '--max-messages', String(max), '--timeout-ms', '30000'];
  const r = await k.tool(node, 'kafka-console-consumer.sh', ...args);
  return r.stdout.split('\n').filter((l) => l.includes('"id"')).length;
}

/** The acknowledged receives (function `f`) of messages from `producer`, by `process` when given. */
export function receivesOf(ops: Op[], f: string, producer: string, process?: string): Op[] {
  const from = (o: Op) => (o.value as { producer?: string } | undefined)?.producer === producer;
  return ops.filter((o) => o.f === f && o.type === 'ok' && from(o) && (!process || o.process === process));
}

/** consumer -> the partitions it received from (receives `f` before `until`), as sorted strings. */
export function partitionsBy(ops: Op[], f: string, until: number): Record<string, string[]> {
  const out: Record<string, Set<number>> = {};
  for (const o of ops.filter((o) => o.f === f && o.type === 'ok' && o.time < until))
    out[o.process] = (out[o.process] ?? new Set<number>()).add((o.value as { partition: number }).partition);
  return Object.fromEntries(Object.entries(out).map(([c, s]) => [c, [...s].sort().map(String)]));
}

/** Waits until the receives `f` in the history cover `n` distinct messages of `producer`. */
export async function untilReceived(
  lab: Pick<LabContext<StartedKafka, unknown>, 'until' | 'history'>,
  f: string,
  producer: string,
  n: number,
  what: string,
): Promise<void> {
  await lab.until(
    what,
    async () => {
      const ids = new Set(receivesOf(lab.history.ops, f, producer).map((o) => (o.value as { id: string }).id));
      return ids.size >= n ? { done: true, value: undefined } : { done: false, seen: `${ids.size} of ${n}` };
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

/**
 * Runs `change` (another member leaving, say) and waits until `c` has been assigned again
 * and owns `n` partitions of `topic`: the milliseconds from the change (to the bound, if never).
 */
export async function untilOwns(
  lab: Pick<LabContext<StartedKafka, unknown>, 'until'>,
  c: KafkaGroupConsumer,
  topic: string,
  n: number,
  change: () => Promise<void>,
): Promise<number> {
  const before = c.assignments.length;
  const t0 = Date.now();
  await change();
  await lab.until(
    `${c.name} owning all ${n} partitions`,
    async () =>
      c.assignments.length > before && (c.assignment[topic] ?? []).length === n
        ? { done: true, value: undefined }
        : { done: false, seen: JSON.stringify(c.assignment) },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  return Date.now() - t0;
}
