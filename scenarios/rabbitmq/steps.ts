// What RabbitMQ labs do in their steps: commands to try, publishes and drains, waits,
// faults and the observations they record. Labs import it through kit.ts.
import type { LabContext, StepRun } from '../../src/engine/lab.ts';
import { sleep } from '../../src/runtime/poll.ts';
import type { QueueInfo } from '../../stacks/rabbitmq/admin.ts';
import {
  autohealRound,
  describeAutoheal,
  GLOBAL_HANG,
  loggedAt,
  partitionsText,
  stripLogPrefix,
  takeoverLines,
} from '../../stacks/rabbitmq/cli.ts';
import { type AmqpClient, classify, type PublishOptions } from '../../stacks/rabbitmq/client.ts';
import { describeQueue, raftSettledText, type StartedRabbitMQ } from '../../stacks/rabbitmq/stack.ts';
import {
  drainRecorded,
  emptyTally,
  messageIds,
  publishAll,
  publishRecorded,
  type RecordAs,
  type Tally,
  tally,
} from '../../stacks/rabbitmq/workload.ts';

type Lab = LabContext<StartedRabbitMQ, unknown>;

/** A mechanism proved in one step: `fn` adds the reasons the set-up is not what the lesson needs. */
export async function prove<K extends string>(
  lab: LabContext<StartedRabbitMQ, unknown, K>,
  key: K,
  fn: (reasons: string[]) => Promise<void>,
  run?: StepRun,
): Promise<string[]> {
  const reasons: string[] = [];
  await lab.step(key, () => fn(reasons), run);
  return reasons;
}

/**
 * What a trainee can type during a step, declared in the sheet: the notes' own tools, run
 * inside a node (`node` is a node or a var naming one: `{@node}` becomes its container).
 */
export const rabbitmqctl = (node: string, args: string) => `docker exec {@${node}} rabbitmqctl ${args}`;
export const rabbitmqQueues = (node: string, args: string) => `docker exec {@${node}} rabbitmq-queues ${args}`;
export const listQueues = (node: string, columns = 'name type durable messages') =>
  rabbitmqctl(node, `list_queues ${columns}`);
/** The columns that show a classic queue's master and mirrors. */
export const MIRROR_COLUMNS = 'name pid slave_pids synchronised_slave_pids messages';

/**
 * A clean shutdown (SIGTERM) with a grace period long enough for RabbitMQ (about 6.5 s
 * when idle, more on a busy machine), recorded in the fault ledger as a `stop`: the heal
 * phase starts the node again if the lab has not.
 */
export async function stopCleanly(lab: Lab, node: string, graceS = 30) {
  const t0 = Date.now();
  await lab.stack.cluster.node(node).stop(graceS);
  lab.faults.note('stop', [node], `stopped ${node} (SIGTERM, clean shutdown)`);
  lab.say(`${node} stopped cleanly in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/** Declares a classic queue through `node` (so it is its home); returns it as the API lists it. */
export async function declareClassic(lab: Lab, node: string, queue: string, durable = true): Promise<QueueInfo> {
  await lab.stack.using(node, (c) => c.declare(queue, { kind: 'classic', durable }));
  return lab.stack.waitForQueue(queue, 'listed', () => true);
}

/** Declares a durable classic queue through `node` and observes where it lives as `name`: elsewhere is a reason. */
export async function declareHomed(lab: Lab, reasons: string[], node: string, queue: string, name: string) {
  const q = await declareClassic(lab, node, queue);
  const home = lab.stack.hostOf(q.node);
  lab.observe(name, home, `${queue} lives on ${home}`);
  if (home !== node) reasons.push(`${queue} lives on ${home}, not on ${node}`);
  return q;
}

/** How many messages `queue` holds, asked through `node` (a passive declare): observed as `name`. */
export async function observeDepth(lab: Lab, node: string, queue: string, name: string) {
  const { messages } = await lab.stack.using(node, (c) => c.check(queue));
  return lab.observe(name, messages, `${queue} holds ${messages} messages, asked through ${node}`);
}

/**
 * Publishes `count` messages through `node` (persistent, with confirms unless told
 * otherwise), recorded. A node that refuses the connection refuses every message (`refused`).
 */
export async function publishVia(
  lab: Lab,
  node: string,
  queue: string,
  prefix: string,
  count: number,
  as: RecordAs & { opts?: Partial<PublishOptions> } = { process: 'publisher' },
): Promise<Tally> {
  const c = await lab.stack.client(node).catch(() => undefined);
  try {
    return await publishAll(lab.history, c, queue, prefix, count, { confirm: true, persistent: true, ...as.opts }, as);
  } finally {
    await c?.close();
  }
}

/**
 * Publishes batches of 10 through `node` (persistent, each batch's confirms awaited up to
 * 8 s) until `until` (ms since the epoch), recorded as `process`. A lost connection is
 * opened again for the next batch; while the node refuses it, each batch is refused.
 */
export async function publishRounds(lab: Lab, node: string, queue: string, process: string, until: number) {
  const t = emptyTally();
  let c: AmqpClient | undefined;
  for (let seq = 1; Date.now() < until; seq += 10) {
    if (!c || c.closed) c = await lab.stack.client(node, { connectTimeoutMs: 2000 }).catch(() => undefined);
    const opts = { confirm: true, persistent: true, timeoutMs: 8000 };
    tally(
      (await publishRecorded(lab.history, c, queue, messageIds(`${process}-`, seq, 10), opts, { process })).values(),
      t,
    );
    await sleep(c ? 200 : 1000);
  }
  await c?.close();
  return t;
}

/** Until a quorum queue's Raft members settle, as `node` reports them; [] when the wait gave up. */
export async function untilRaftSettled(lab: Lab, queue: string, node: string, members: number) {
  const probe = () => lab.stack.raftProbe(queue, node, members);
  return (await lab.until(raftSettledText(queue, members), probe, { timeoutMs: 60_000, intervalMs: 250 })) ?? [];
}

/**
 * Heals `node`'s link to `first` only, then waits (at most 30 s) until `first` logs `node` up:
 * a cut that heals link by link. The rest of the cut stays until the lab heals it.
 */
export async function healFirst(lab: Lab, node: string, first: string) {
  const since = Date.now();
  await lab.faults.healFrom(node, [first]);
  const met = async () =>
    (await lab.stack.metSince(first, node, since))
      ? { done: true as const, value: true }
      : { done: false as const, seen: `${first} has not logged ${node} up` };
  await lab.until(`${first} meets ${node} again`, met, { timeoutMs: 30_000, intervalMs: 500 });
}

/** Until every member runs and sees every other, with no partition; false when the wait gave up. */
export async function untilHealthy(lab: Lab, timeoutMs: number): Promise<boolean> {
  const probe = async () => {
    const h = await lab.stack.health();
    return h.healthy ? { done: true as const, value: true } : { done: false as const, seen: h.seen };
  };
  return (await lab.until('every member running, no partition', probe, { timeoutMs, intervalMs: 500 })) ?? false;
}

/**
 * The final drain: everything left in `queues`, consumed through `node` and recorded. With
 * `skipMissing`, a queue a passive declare does not find is said and skipped: its absence is
 * evidence for `check` (its confirmed messages read as lost), not a broken run.
 */
export async function drainVia(
  lab: Lab,
  node: string,
  queues: string[],
  opts: { idleMs?: number; firstMs?: number; skipMissing?: boolean } = {},
) {
  await lab.stack.using(node, async (c) => {
    for (const q of queues) {
      const gone = opts.skipMissing
        ? await c.check(q).then(
            () => '',
            (e: Error) => e.message,
          )
        : '';
      if (/NOT_FOUND/.test(gone)) {
        lab.warn(`${q} is gone (${gone}): nothing to consume`);
        continue;
      }
      const got = await drainRecorded(lab.history, c, q, opts);
      lab.say(`${q}: ${got.length} messages consumed through ${node}`);
    }
  });
}

/** Polls a queue (through `via`, default any member) until `ok`; undefined when the wait gave up. */
export function untilQueue(
  lab: Lab,
  queue: string,
  what: string,
  ok: (q: QueueInfo) => boolean,
  opts: { via?: string[]; timeoutMs: number; intervalMs?: number },
): Promise<QueueInfo | undefined> {
  return lab.until(
    `${queue}: ${what}`,
    async () => {
      const x = await lab.stack.queue(queue, opts.via).catch(() => undefined);
      return x && ok(x)
        ? { done: true, value: x }
        : { done: false, seen: x ? describeQueue(x) : 'the API did not answer' };
    },
    { timeoutMs: opts.timeoutMs, intervalMs: opts.intervalMs ?? 250 },
  );
}

/** Until the queue has a running home (a classic queue's master): the node it runs on, by host name. */
export async function untilRunning(lab: Lab, queue: string, timeoutMs: number) {
  const q = await untilQueue(lab, queue, 'a running master', (x) => !!x.node && x.state === 'running', { timeoutMs });
  return { q, node: lab.stack.hostOf(q?.node) };
}

/**
 * In a mechanism: waits until the queue is as the lesson needs; if it never is, adds why
 * to `reasons`. Returns the queue as last seen.
 */
export function expectQueue(
  lab: Lab,
  reasons: string[],
  queue: string,
  what: string,
  ok: (q: QueueInfo) => boolean,
  timeoutMs: number,
): Promise<QueueInfo | undefined> {
  return lab.stack.waitForQueue(queue, what, ok, { timeoutMs, intervalMs: 250 }).catch(async (err: Error) => {
    reasons.push(err.message);
    return lab.stack.queue(queue);
  });
}

/**
 * Kills `node` and polls the API of the others every 50 ms for a queue `role` (a classic
 * queue's master: `node`; a quorum queue's `leader`) other than it. The clock starts when
 * Docker reports the kill done (the node may have died during the call, which takes up to
 * ~1.5 s on a busy machine: its length is observed too). A new one found is observed as
 * `names.host` and `names.ms`; none found, the host the API named last as `names.none`.
 * What the API shows trails the takeover itself: the new one's log line (mirror promoted,
 * Raft leader elected) is observed as `names.log` with its time from the end of the kill
 * and from the new one's own "node down" line, and the polls (how many, the slowest) as `watch`, so a late answer shows where it waited.
 */
export async function killAndWatch(
  lab: Lab,
  node: string,
  queue: string,
  role: 'node' | 'leader',
  names: { host: string; ms: string; log: string; none?: string },
  timeoutMs: number,
) {
  const r = lab.stack;
  const t0 = Date.now();
  await lab.faults.kill(node);
  const killed = Date.now();
  lab.observe('killCallMs', killed - t0, `docker kill took ${killed - t0} ms`);
  let last: string | undefined;
  const polls = { polls: 0, slowestMs: 0, unanswered: 0 };
  const via = r.members.filter((m) => m !== node);
  const q = await lab.until(
    `${queue}: a ${role === 'node' ? 'master' : 'leader'} other than ${node}`,
    async () => {
      const p0 = Date.now();
      const x = await r.queue(queue, via).catch(() => undefined);
      polls.polls++;
      polls.slowestMs = Math.max(polls.slowestMs, Date.now() - p0);
      if (!x) polls.unanswered++;
      last = r.hostOf(x?.[role]) ?? last;
      if (x?.[role] && x[role] !== r.nodeName(node)) return { done: true, value: x };
      return { done: false, seen: x ? describeQueue(x) : 'the API did not answer' };
    },
    { timeoutMs, intervalMs: 50 },
  );
  const ms = Date.now() - killed;
  const host = r.hostOf(q?.[role]);
  lab.observe(
    'watch',
    polls,
    `${polls.polls} polls of the API, the slowest ${polls.slowestMs} ms, ${polls.unanswered} unanswered`,
  );
  if (!host) {
    if (names.none) lab.observe(names.none, last, `none in ${timeoutMs} ms: the API still names ${last ?? 'none'}`);
    return { q, ms, host };
  }
  lab.observe(
    names.host,
    host,
    `${host} ${role === 'node' ? 'is the master of' : 'leads'} ${queue} ${ms} ms after the kill`,
  );
  lab.observe(names.ms, ms);
  // The moment the process died (the engine's record), not when the kill call returned:
  // under load the call alone can outlast an election.
  const died = Math.min(Math.max((await r.cluster.node(node).diedAt()) ?? killed, t0), killed);
  const log = await r.cluster.node(host).logs();
  const line = takeoverLines(log, queue, role).at(-1);
  const down = log.split('\n').findLast((l) => l.includes(`rabbit on node ${r.nodeName(node)} down`));
  const at = line ? loggedAt(line) : undefined;
  const downAt = down ? loggedAt(down) : undefined;
  const logged = {
    line: line && stripLogPrefix(line),
    msAfterKill: at === undefined ? undefined : at - died,
    msAfterDown: at === undefined || downAt === undefined ? undefined : at - downAt,
  };
  const text = `${host}'s log, ${logged.msAfterDown} ms after it saw ${node} down: ${logged.line}`;
  lab.observe(names.log, logged, line ? text : undefined);
  return { q, ms, host };
}

/** One recorded read by `consumer`, told to the trainee: returns `served` or the error. */
export async function tryRead(
  lab: Lab,
  f: string,
  value: Record<string, unknown>,
  node: string,
  fn: () => Promise<unknown>,
) {
  const res = await lab.history.record('consumer', f, value, node, fn, classify);
  const said = res.ok ? 'served' : String(res.op.error);
  lab.say(`${String(value.how ?? f)} through ${node}: ${said}`);
  return said;
}

/**
 * Freezes a broker: SIGSTOP to its Erlang VM (rather than docker pause: the cgroup freezer
 * can fail on a busy node), recorded as a `pause` fault; whether it worked is observed as `name`.
 */
export async function freezeBroker(lab: Lab, node: string, name: string) {
  const stopped = await lab.stack.cluster.node(node).exec(['pkill', '-STOP', '-x', 'beam.smp']);
  if (stopped.exitCode !== 0) lab.warn(`could not freeze ${node}: ${stopped.stderr || stopped.stdout}`);
  lab.observe(name, stopped.exitCode === 0);
  return lab.faults.note('pause', [node], `froze ${node} (SIGSTOP to beam.smp)`);
}

/** Publishes the messages `ids` through `node` (persistent, with confirms), recorded `as`. */
export async function publishIds(lab: Lab, node: string, queue: string, ids: string[], as: RecordAs) {
  const opts = { confirm: true, persistent: true };
  const out = await lab.stack.using(node, (c) => publishRecorded(lab.history, c, queue, ids, opts, as));
  return tally(out.values());
}

/** One recorded basic.get of `queue` through `node` (as `f`), told to the trainee: `served` or the error. */
export const tryGet = (lab: Lab, f: string, node: string, queue: string) =>
  lab.stack.using(node, (c) => tryRead(lab, f, { queue }, node, () => c.get(queue)));

/** After a heal: until each of `nodes` lists the partition (cluster_status), then what each lists, observed as `name`. */
export async function observePartitions(lab: Lab, nodes: string[], name: string) {
  const probe = () => lab.stack.partitionProbe(nodes);
  // A few seconds more: a partition that stays listed, nothing heals it.
  if (await lab.until('every side lists the partition', probe, { timeoutMs: 60_000, intervalMs: 500 }))
    await sleep(3000);
  const seen = await lab.stack.partitions(nodes);
  lab.observe(name, seen, `cluster_status partitions: ${JSON.stringify(seen)}`);
}

/**
 * What each member's log says autoheal did (the leader's decisions, each loser's restart), observed
 * as `name`; said, with the rounds that restarted a loser again. Throws when the cluster had not
 * settled (`healthy` false): the run cannot be judged, and its reason says what autoheal was doing.
 */
export async function observeAutoheal(lab: Lab, name: string, healthy = true) {
  const logs = lab.observe(name, await lab.stack.autohealLogs());
  for (const [n, l] of Object.entries(logs)) lab.say(`${n}: ${describeAutoheal(l)}`);
  const { again, decisions, resent } = autohealRound(logs);
  const named = again.map((d) => `${d.losers.join(',')} (${partitionsText(d)})`).join('; ');
  const finding = again.length
    ? `${again.length} decision(s) named a loser again after it had restarted: ${named}; the winner waited 60 s ` +
      `for its database ${resent.length} time(s) before restarting it again`
    : '';
  const hung = Object.keys(logs).filter((n) => logs[n]?.globalHang?.length);
  const stuck = hung.length ? `${hung.join(',')}: boot stuck in global:sync (${GLOBAL_HANG})` : '';
  if (finding) lab.say(`finding: ${finding}`);
  if (!healthy)
    throw new Error(
      `autoheal had not settled 120 s after the heal (${decisions.length} decision(s)). ${[finding, stuck].filter(Boolean).join('; ')}`,
    );
}

/** Starts `nodes` again, in turn, then until the cluster is healthy. */
export async function startAgain(lab: Lab, nodes: string[], timeoutMs = 120_000) {
  for (const n of nodes) await lab.faults.start(n);
  await lab.stack.waitHealthy(timeoutMs);
}

/** Clean restarts of `nodes` (stopped together, started in turn), then until the cluster is healthy again. */
export async function restartCleanly(lab: Lab, nodes: string[]) {
  await Promise.all(nodes.map((m) => stopCleanly(lab, m)));
  await startAgain(lab, nodes);
}
