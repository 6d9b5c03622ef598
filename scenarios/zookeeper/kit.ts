// What a ZooKeeper lab imports: the engine's lab kit, the stack, its recorded workload,
// and the pieces the ZooKeeper labs share (commands to try, the role proof, waits, checks).
import { availability } from '../../src/checkers/availability.ts';
import { type Check, check } from '../../src/checkers/check.ts';
import { completions, type Evidence, invokedBetween, outcomes } from '../../src/engine/history.ts';
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
export { ZkWorkload, ZkWriter } from '../../stacks/zookeeper/workload.ts';

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

/** Waits (without deciding) until every one of `nodes` says it is not serving; their modes then, or last seen. */
export async function untilNotServing(lab: ZkLab, nodes: string[]): Promise<Record<string, string>> {
  let last: Record<string, string> = {};
  const stopped = await lab.until(
    `${nodes.join(', ')} to stop serving`,
    async () => {
      last = await lab.stack.modes(nodes);
      return Object.values(last).every((m) => m === 'not serving')
        ? { done: true, value: last }
        : { done: false, seen: describeModes(last) };
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
  return stopped ?? last;
}

/** The leader among `nodes` once there is one, or 'none' after 30 s: a wait that does not decide. */
export async function untilLeader(lab: ZkLab, nodes: string[], intervalMs = 100): Promise<string> {
  const l = await lab.until(`a leader among ${nodes.join(',')}`, () => lab.stack.leaderProbe(nodes), {
    timeoutMs: 30_000,
    intervalMs,
  });
  return l ?? 'none';
}

/** The `final` of a lab whose writer wrote under `dir`: one read of every znode there (`read-all`). */
export function finalReadOf(dir: string): (lab: ZkLab) => Promise<void> {
  return async (lab) => {
    await new ZkWorkload(lab.history, lab.stack).finalRead(dir);
  };
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
