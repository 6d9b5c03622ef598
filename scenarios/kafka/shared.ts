import { type Check, check } from '../../src/checkers/check.ts';
import { delivery, deliveryChecks } from '../../src/checkers/delivery.ts';
import type { History, Op } from '../../src/engine/history.ts';
import type { LabContext } from '../../src/engine/lab.ts';
import type { ParamSpec } from '../../src/params.ts';
import type { PartitionState } from '../../stacks/kafka/admin.ts';
import { errorText } from '../../stacks/kafka/client.ts';
import type { StartedKafka } from '../../stacks/kafka/stack.ts';
import { readAll } from '../../stacks/kafka/workload.ts';
import { named, notInSync, partText, untilInSync } from './commands.ts';

/** Partitions in a line each: "t-0: leader kafka1, replicas ..., isr ...; t-1: ...". */
export function partsText(ps: PartitionState[]): string {
  return ps.map(partText).join('; ') || 'no partitions';
}

/**
 * `topic`'s partitions once `count` are led with all `replicas` in sync, or as they are
 * when `timeoutMs` passes (the lab's mechanism or check then says what is missing).
 */
export async function inSync(
  lab: Pick<LabContext<StartedKafka, unknown>, 'until' | 'stack'>,
  topic: string,
  count: number,
  replicas: number,
  timeoutMs = 30_000,
  intervalMs = 200,
): Promise<PartitionState[]> {
  const parts = await untilInSync(lab, topic, count, replicas, timeoutMs, intervalMs);
  return parts ?? (await lab.stack.admin.partitions([topic]));
}

/** The producer a recorded send or receive names. */
export function producerOf(o: Op): string | undefined {
  return (o.value as { producer?: string } | undefined)?.producer;
}

/**
 * Every acknowledged send of `ops` is received by `receive` (a final read, a group);
 * duplicates as `duplicates` says. Check names start with `prefix` when given.
 */
export function nothingLost(ops: Op[], receive: string, duplicates: 'allowed' | 'forbidden', prefix?: string): Check[] {
  const checks = deliveryChecks(delivery(ops, { send: 'send', receive }), { loss: 'forbidden', duplicates });
  return prefix ? checks.map((c) => ({ ...c, name: `${prefix}: ${c.name}` })) : checks;
}

/** The check of a lab whose run ended before its fault: nothing after it can be judged. */
export function faultNotReached(name: string, expected: string): Check[] {
  return [{ name, ok: 'unknown', expected, observed: 'the run ended before the fault' }];
}

/** Creates a topic as a recorded operation ('admin' create-topic): ok, or fail with Kafka's error. */
export async function createTopicRecorded(
  k: StartedKafka,
  history: History,
  topic: string,
  partitions: number,
  replicationFactor: number,
): Promise<string | undefined> {
  const h = history.invoke('admin', 'create-topic', { topic, partitions, replicationFactor });
  try {
    await k.admin.createTopic(topic, { partitions, replicationFactor });
    h.ok();
    return undefined;
  } catch (err) {
    h.fail(errorText(err));
    return errorText(err);
  }
}

/** A fault's effect is watched this long past the lab's bound: a slow takeover is measured, not cut off. */
export const PAST_BOUND_MS = 30_000;

/** The parameter holding a bound in ms that a lab prints and checks. */
export function boundParam(ms: number, describe: string) {
  return { type: 'int', default: ms, min: 100, describe } as const satisfies ParamSpec;
}

/**
 * A `role` (partition leader, active controller) taken over after `old` was killed: `now`
 * holds it, is not `old`, and took it within `bound` ms (`expected`, with the bound). `now`
 * undefined: nobody took it while the lab watched (`bound` + PAST_BOUND_MS). The time is
 * given in the details under `detail`.
 */
export function takenOver(
  role: string,
  expected: string,
  took: { now: unknown; old: string | undefined; ms: number; bound: number },
  detail: string,
): Check {
  const { now, old, ms, bound } = took;
  return check(
    `a new ${role} within ${bound} ms`,
    typeof now === 'string' && now !== old && ms <= bound,
    `${expected} within ${bound} ms`,
    typeof now === 'string'
      ? `${named(now)} after ${ms} ms (was ${named(old)})`
      : `none within ${bound + PAST_BOUND_MS} ms`,
    { [detail]: ms },
  );
}

/**
 * Kills `node` and waits with `takeover` (a wait that gives up without throwing) for as long
 * as the lab watches a bound of `bound` ms; what took over and how many ms after the kill,
 * or undefined when nothing did.
 */
export async function killAndTime<T>(
  lab: Pick<LabContext<StartedKafka, unknown>, 'faults'>,
  node: string,
  bound: number,
  takeover: (timeoutMs: number) => Promise<T | undefined>,
): Promise<{ now: T; ms: number } | undefined> {
  await lab.faults.kill(node);
  const t0 = Date.now();
  const now = await takeover(bound + PAST_BOUND_MS);
  return now === undefined ? undefined : { now, ms: Date.now() - t0 };
}

/** Records the mode every Kafka lab's evidence carries (`modeOf`), then each of `also`; returns the cluster. */
export function observeMode(
  lab: Pick<LabContext<StartedKafka, unknown>, 'observe' | 'stack'>,
  also: Record<string, unknown> = {},
): StartedKafka {
  lab.observe('mode', lab.stack.mode);
  for (const [name, value] of Object.entries(also)) lab.observe(name, value);
  return lab.stack;
}

/** A lab's final read: all of `topic` as the cluster holds it now, recorded as receives 'read-all'; observed as `finalRead`. */
export async function finalRead(
  lab: Pick<LabContext<StartedKafka, unknown>, 'stack' | 'history' | 'observe'>,
  topic: string,
): Promise<void> {
  const n = await readAll(lab.stack.bootstrap, lab.stack.admin, lab.history, topic);
  lab.observe('finalRead', n, `final read: ${n} messages in ${topic}`);
}

/** `count` partitions, each led, with its `replicas` replicas all in the ISR. */
export function allInSync(name: string, parts: PartitionState[], count: number, replicas: number): Check {
  const expected = `${count} partition(s), each led, with ISR = replicas (${replicas} of ${replicas})`;
  return check(name, notInSync(parts, count, replicas).length === 0, expected, partsText(parts), { partitions: parts });
}

/**
 * The proof labs that start from healthy topics share: each of `topics` (name -> partition
 * count) has its partitions led (by the preferred replica too, with `preferred`) with all
 * `replicas` in sync, each waited for up to 30 s; all observed together as `observation`.
 * The reasons they are not, or none.
 */
export async function topicsHealthy(
  lab: Pick<LabContext<StartedKafka, unknown>, 'until' | 'stack' | 'observe'>,
  observation: string,
  topics: Record<string, number>,
  replicas: number,
  preferred = false,
): Promise<string[]> {
  const all: PartitionState[] = [];
  const wrong: string[] = [];
  for (const [topic, count] of Object.entries(topics)) {
    const parts = await inSync(lab, topic, count, replicas);
    all.push(...parts);
    const notPreferred = preferred ? parts.filter((x) => x.leader !== x.replicas[0]) : [];
    wrong.push(...notInSync(parts, count, replicas).map((w) => `${topic}: ${w}`));
    wrong.push(...notPreferred.map((x) => `${partText(x)} (leader not preferred)`));
  }
  lab.observe(observation, all, partsText(all));
  const led = preferred ? 'led by its preferred replica' : 'led';
  return wrong.length ? [`every partition must be ${led} with ${replicas} replicas in sync: ${wrong.join('; ')}`] : [];
}

/** For a prediction: the index of the first of `limits` that `ms` is under (limits.length past the last). */
export function band(ms: number | undefined, limits: number[]): number | undefined {
  if (ms === undefined || Number.isNaN(ms)) return undefined;
  const i = limits.findIndex((b) => ms < b);
  return i < 0 ? limits.length : i;
}

/** `lab.step` with `vars` given to every step it performs (a step's text uses the ones it names). */
export function stepsWith<K extends string>(
  lab: Pick<LabContext<StartedKafka, unknown, K>, 'step'>,
  vars: Record<string, string | number | boolean>,
): <T>(key: K, fn: () => Promise<T>) => Promise<T> {
  return (key, fn) => lab.step(key, fn, { vars });
}

/** Creates each of `topics` (name -> partition count) with 3 replicas; the reasons they are not healthy (`topicsHealthy`). */
export async function createdHealthy(
  lab: Pick<LabContext<StartedKafka, unknown>, 'until' | 'stack' | 'observe'>,
  observation: string,
  topics: Record<string, number>,
): Promise<string[]> {
  for (const [t, n] of Object.entries(topics))
    await lab.stack.admin.createTopic(t, { partitions: n, replicationFactor: 3 });
  return topicsHealthy(lab, observation, topics, 3);
}
