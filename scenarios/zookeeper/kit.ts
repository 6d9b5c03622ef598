// What a ZooKeeper lab imports: the engine's lab kit, the stack, its recorded workload,
// and the pieces the ZooKeeper labs share (commands to try, the role proof, waits, checks).
import { availability } from '../../src/checkers/availability.ts';
import { type Check, check, unobserved } from '../../src/checkers/check.ts';
import {
  answeredBetween,
  completions,
  type Evidence,
  invokedBetween,
  type Op,
  outcomes,
  pairs,
} from '../../src/engine/history.ts';
import type { LabContext } from '../../src/engine/lab.ts';
import { describeModes, roleProblems } from '../../stacks/zookeeper/roles.ts';
import type { StartedZooKeeper } from '../../stacks/zookeeper/stack.ts';
import { ZkWorkload } from '../../stacks/zookeeper/workload.ts';

export * from '../../src/checkers/failover.ts';
export * from '../../src/kit.ts';
export { ZkClient, ZkError } from '../../stacks/zookeeper/client.ts';
export * from '../../stacks/zookeeper/roles.ts';
export { type ServiceEvent, ServiceProcess } from '../../stacks/zookeeper/service-process.ts';
export { expiryWindow, LATE_SLACK_MS, type StartedZooKeeper, zookeeper } from '../../stacks/zookeeper/stack.ts';
export { ReadRace, ZkWorkload, ZkWriter } from '../../stacks/zookeeper/workload.ts';

type ZkLab = LabContext<StartedZooKeeper, unknown>;

/** The notes' own client, run inside a node (a node, or a step var naming one): a step's command to try. */
export function zkCli(node: string, command: string): string {
  return `docker exec -it {@${node}} zkCli.sh -server 127.0.0.1:2181 ${command}`;
}

/** `srvr` from inside a node (bash's /dev/tcp: the image has no nc). */
export function srvrCommand(node: string): string {
  return `docker exec {@${node}} bash -c 'exec 3<>/dev/tcp/127.0.0.1/2181; echo srvr >&3; cat <&3'`;
}

/**
 * The mechanism every ZooKeeper lab stands on, read from the cluster before any fault:
 * records `modesBefore` and `members`, and returns why the roles are not as configured.
 */
export async function proveRoles(lab: ZkLab): Promise<string[]> {
  const zk = lab.stack;
  const modes = await zk.modes();
  lab.observe('modesBefore', modes, `srvr: ${describeModes(modes)}`);
  const members = await zk.members();
  lab.observe(
    'members',
    members,
    `/zookeeper/config: ${members.map((m) => `server.${m.id}=${m.host} ${m.role}`).join(', ')}`,
  );
  return roleProblems(modes, members, zk.voters, zk.observers);
}

/** Waits (without deciding) until every one of `nodes` is in `mode`; their modes then, or as last seen. */
export async function untilMode(lab: ZkLab, nodes: string[], mode: string): Promise<Record<string, string>> {
  let last: Record<string, string> = {};
  const reached = await lab.until(
    `${nodes.join(', ')}: ${mode}`,
    async () => {
      last = await lab.stack.modes(nodes);
      return Object.values(last).every((m) => m === mode)
        ? { done: true, value: last }
        : { done: false, seen: describeModes(last) };
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
  return reached ?? last;
}

/** Waits (without deciding) until every one of `nodes` says it is not serving. */
export const untilNotServing = (lab: ZkLab, nodes: string[]) => untilMode(lab, nodes, 'not serving');

/** What `p` resolves to, and how long after `since` (a Date.now()) it did. */
export const timedSince = <T>(since: number, p: Promise<T>) => p.then((value) => ({ value, ms: Date.now() - since }));

/** The leader among `nodes` once there is one, or 'none' after 30 s: a wait that does not decide. */
export async function untilLeader(lab: ZkLab, nodes: string[], intervalMs = 100): Promise<string> {
  const l = await lab.until(`a leader among ${nodes.join(',')}`, () => lab.stack.leaderProbe(nodes), {
    timeoutMs: 30_000,
    intervalMs,
  });
  return l ?? 'none';
}

/**
 * After `leader` was cut off from `followers` (now): waits (without deciding) until it
 * stops serving and the followers elect a leader, and records its mode and after how long
 * (`oldLeader`), the new leader (`leaderAfter`, or 'none') and the ms to it (`electionMs`).
 */
export async function untilStoppedAndElected(lab: ZkLab, leader: string, followers: string[]): Promise<string> {
  const cut = Date.now();
  const [stopped, elected] = await Promise.all([
    timedSince(cut, untilNotServing(lab, [leader])),
    timedSince(cut, untilLeader(lab, followers, 50)),
  ]);
  const mode = stopped.value[leader] ?? 'down';
  const ms = mode === 'not serving' ? stopped.ms : undefined;
  lab.observe('oldLeader', { mode, ms }, `${leader}: ${mode}${ms === undefined ? '' : ` after ${ms} ms`}`);
  lab.observe('leaderAfter', elected.value, `the majority's leader: ${elected.value}`);
  if (elected.value !== 'none') lab.observe('electionMs', elected.ms);
  return elected.value;
}

/** The `final` of a lab whose writer wrote under `dir`: one read of every znode there (`read-all`). */
export function finalReadOf(dir: string): (lab: ZkLab) => Promise<void> {
  return async (lab) => {
    await new ZkWorkload(lab.history, lab.stack).finalRead(dir);
  };
}

/** A read of `path` through each of `nodes` after a `sync` (processes `<prefix>-<node>`), told to the trainee. */
export async function syncedReads(lab: ZkLab, nodes: string[], path: string, prefix: string): Promise<void> {
  const w = new ZkWorkload(lab.history, lab.stack);
  for (const node of nodes)
    await lab.stack.withClient(node, async (c) => {
      // A failed sync leaves the read possibly stale; the read itself is what counts.
      await c.sync(path).catch(() => undefined);
      const rd = await w.get(`${prefix}-${node}`, c, path);
      lab.say(`read through ${node}: ${rd.ok ? rd.result : `error ${rd.op.error}`}`);
    });
}

/** Resolves with the value, or undefined after `ms`: a wait that does not decide. */
export function within<T>(ms: number, p: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Writes invoked from `from` on were acknowledged: the ensemble served again (with the availability windows). */
export function writesServed(ev: Evidence, name: string, from: number, expected: string, when: string): Check {
  const after = outcomes(invokedBetween(ev.ops, 'write', from, Number.POSITIVE_INFINITY));
  return check(name, after.ok > 0, expected, `${after.ok} of ${after.total} writes invoked ${when} acknowledged`, {
    windows: availability(ev.ops, ev.faults, 'write'),
  });
}

/** A read (`read`) through each of `nodes` returned `value`. */
export function readThrough(ev: Evidence, name: string, value: unknown, nodes: string[]): Check {
  const reads = completions(ev.ops, 'read');
  const fresh = reads.filter((r) => r.type === 'ok' && r.value === value);
  const through = nodes.filter((n) => fresh.some((r) => r.node === n));
  return check(
    name,
    value !== undefined && through.length === nodes.length,
    `"${String(value)}" read through ${nodes.join(', ')}`,
    `${fresh.length} of ${reads.length} reads returned it (through ${through.join(', ') || 'none'})`,
  );
}

/**
 * Reads of the ReadRace counter (`f`: read, read-synced) that returned less than a `set`
 * acknowledged before the read was invoked: stale. When, and by how many writes behind.
 */
export function staleReads(ops: Op[], f: string): { at: number; behind: number }[] {
  const acked = pairs(ops, 'set').flatMap((p) =>
    p.done?.type === 'ok' ? [{ at: p.done.time, v: Number(p.invoke.value) }] : [],
  );
  return pairs(ops, f).flatMap((p) => {
    if (p.done?.type !== 'ok') return [];
    const newest = Math.max(0, ...acked.filter((s) => s.at < p.invoke.time).map((s) => s.v));
    const behind = newest - Number(p.done.value);
    return behind > 0 ? [{ at: p.invoke.time, behind }] : [];
  });
}

/**
 * The checks of a follower cut off from its leader from `from` until `until` (a ReadRace on
 * it): its plain reads are stale, it stops answering within `boundMs` of the cut, and a
 * synced read is never stale and is answered again after the heal.
 */
export function laggingFollower(ev: Evidence, from: number | undefined, until: number | undefined, boundMs: number) {
  const name = 'a read without sync through the cut-off follower is stale';
  if (from === undefined || until === undefined)
    return [unobserved(name, 'a follower cut off from its leader, then healed', 'that cut')];
  const during = pairs(ev.ops, 'read').filter((p) => p.invoke.time >= from && p.invoke.time <= until);
  const stale = staleReads(ev.ops, 'read').filter((r) => r.at >= from && r.at <= until);
  const lastOk = during.findLast((p) => p.done?.type === 'ok')?.done?.time;
  const refused = during.filter((p) => p.done && p.done.type !== 'ok' && p.done.time >= (lastOk ?? 0)).length;
  const staleSynced = staleReads(ev.ops, 'read-synced').length;
  const synced = completions(ev.ops, 'read-synced').filter((o) => o.type === 'ok').length;
  const fresh = answeredBetween(ev.ops, 'read-synced', until).filter((o) => o.type === 'ok').length;
  const [first, last] = [stale[0], stale.at(-1)];
  const when = first && last ? `, invoked +${first.at - from}..+${last.at - from} ms after the cut` : '';
  return [
    check(
      name,
      stale.length > 0,
      'a read returns less than a write acknowledged before the read was invoked',
      `${stale.length} of ${during.length} reads during the cut stale${when}, up to ${Math.max(0, ...stale.map((r) => r.behind))} writes behind`,
    ),
    check(
      `the cut-off follower stops answering reads within ${boundMs} ms`,
      lastOk !== undefined && lastOk - from <= boundMs && refused > 0,
      `reads answered until at most +${boundMs} ms, then refused`,
      lastOk === undefined
        ? 'no read answered during the cut'
        : `answered until +${lastOk - from} ms, ${refused} refused after`,
    ),
    check(
      'a read after sync is never stale',
      staleSynced === 0 && fresh > 0,
      'no synced read stale; synced reads answered again after the heal',
      `${staleSynced} stale of ${synced} answered, ${fresh} of them after the heal`,
    ),
  ];
}
