// What an etcd lab imports: the engine's lab kit, the stack, its client and workload, and
// the pieces the etcd labs share (the mechanism proof, evidence checks).
import { type Check, check } from '../../src/checkers/check.ts';
import { answeredBetween, type Op } from '../../src/engine/history.ts';
import type { LabContext } from '../../src/engine/lab.ts';
import { type EndpointStatus, healthProblem, type StartedEtcd } from '../../stacks/etcd/stack.ts';
import { type EtcdWriter, finalRead } from '../../stacks/etcd/workload.ts';

export * from '../../src/kit.ts';
export { classify, EtcdClient, EtcdError, type KeyValue, type WatchEvent } from '../../stacks/etcd/client.ts';
export {
  clientUrl,
  DATA_DIR,
  type EndpointStatus,
  etcd,
  initialCluster,
  type Member,
  restoreCommand,
  type StartedEtcd,
} from '../../stacks/etcd/stack.ts';
export { EtcdWriter, recorded, recordedPut, revisionOf } from '../../stacks/etcd/workload.ts';

/**
 * The etcd labs' mechanism: every member answers, one leader in one term, everyone caught
 * up, and `member list` names every member as started (a name and client URLs).
 */
export async function proveCluster(lab: LabContext<StartedEtcd, unknown>): Promise<string[]> {
  const e = lab.stack;
  const problem = healthProblem(Object.values(await e.statuses()));
  const members = await e.members(e.names[0] as string).catch(() => []);
  const started = members.filter((m) => m.name && m.clientURLs.length).map((m) => m.name);
  return [
    ...(problem ? [`the cluster is not healthy: ${problem}`] : []),
    ...(started.length === e.names.length ? [] : [`member list shows ${started.length} started of ${e.names.length}`]),
  ];
}

type Lab = LabContext<StartedEtcd, unknown>;

/** The notes' etcdctl, run inside a member (a node, or a step var naming one): a step's command to try. */
export function etcdctl(node: string, args: string): string {
  return `docker exec -it {@${node}} etcdctl ${args}`;
}

/** Waits (giving up without throwing) until one of `nodes` says it leads: its name, or undefined. */
export function untilLeader(lab: Lab, nodes: string[]): Promise<string | undefined> {
  return lab.until(
    `a leader among ${nodes.join(',')}`,
    async () => {
      const l = await lab.stack.leader(nodes);
      return l ? { done: true, value: l } : { done: false, seen: 'no member says it leads' };
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  );
}

/** Waits (giving up without throwing) until `writer` has one more acknowledged put than now. */
export function untilAcknowledged(lab: Lab, writer: EtcdWriter): Promise<number | undefined> {
  const before = writer.acknowledged;
  return lab.until(
    'writes acknowledged again',
    async () =>
      writer.acknowledged > before ? { done: true, value: 0 } : { done: false, seen: `${before} acknowledged` },
    { timeoutMs: 20_000 },
  );
}

/** The `final` of a lab whose writer wrote under `dir`: one read of every key there through all members (`read-all`). */
export function finalReadOf(dir: string): (lab: Lab) => Promise<void> {
  return async (lab) => {
    await finalRead(lab.history, lab.stack.client('etcd1', lab.stack.names), dir);
  };
}

/** A one-line view of endpoint statuses, as the notes' table shows them (lines 6709-6724). */
export function statusLine(all: Record<string, EndpointStatus | undefined>): string {
  return Object.entries(all)
    .map(([n, s]) =>
      s
        ? `${n}: ${s.memberId === s.leader ? 'LEADER' : 'follower'} term ${s.raftTerm} index ${s.raftIndex} db ${s.dbSize} B`
        : `${n}: down`,
    )
    .join('; ');
}

/** Writes resumed: at least one acknowledged write invoked at or after `from`. */
export function writesResume(ops: Op[], from: number | undefined, what: string): Check {
  const after = from === undefined ? [] : answeredBetween(ops, 'write', from);
  const ok = after.filter((o) => o.type === 'ok').length;
  return check(
    'writes resume',
    ok > 0,
    `an acknowledged write invoked after ${what}`,
    `${ok} of ${after.length} acknowledged`,
  );
}
