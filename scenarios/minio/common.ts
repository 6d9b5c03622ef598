import { randomBytes } from 'node:crypto';
import { type Check, check } from '../../src/checkers/check.ts';
import { completions, type Evidence, type Op } from '../../src/engine/history.ts';
import type { LabContext } from '../../src/engine/lab.ts';
import { type Probe, waitUntil, withTimeout } from '../../src/runtime/poll.ts';
import type { ClusterInfo } from '../../stacks/minio/admin.ts';
import { type Availability, availabilityWithNodesDown, readQuorum, writeQuorum } from '../../stacks/minio/config.ts';
import type { StartedMinio } from '../../stacks/minio/stack.ts';

export const BUCKET = 'midlab';
/** Small objects keep a lab near a minute: one inlined in xl.meta, two with part files. */
export const SIZES: Record<string, number> = { '1k': 1024, '256k': 256 * 1024, '2m': 2 * 1024 * 1024 };

export type Ctx = LabContext<StartedMinio, Record<string, unknown>>;

/** What the lab keeps of the erasure layout, as the server reported it. */
export interface ErasureView {
  parity: number;
  setDrives: number;
  sets: { node: string; path: string }[][];
  readQuorum: number;
  writeQuorum: number;
  online: number;
  offline: number;
}

export function erasureView(info: ClusterInfo): ErasureView {
  const parity = info.standardParity ?? -1;
  const setDrives = info.sets[0]?.length ?? 0;
  return {
    parity,
    setDrives,
    sets: info.sets.map((s) => s.map((d) => ({ node: d.node, path: d.path }))),
    readQuorum: readQuorum(setDrives, parity),
    writeQuorum: writeQuorum(setDrives, parity),
    online: info.onlineDisks,
    offline: info.offlineDisks,
  };
}

/** Reads and records the erasure layout; returns the reasons it is not erasure-coded. */
export async function observeErasure(lab: Ctx, via = 'minio1'): Promise<string[]> {
  const info = await lab.stack.info(via);
  const v = erasureView(info);
  lab.observe(
    'erasure',
    v,
    `${info.sets.length} erasure set(s) of ${v.setDrives} drives; standard parity EC:${v.parity} -> ` +
      `${v.setDrives - v.parity} data + ${v.parity} parity shards per object; read quorum ${v.readQuorum} drives, ` +
      `write quorum ${v.writeQuorum}`,
  );
  const problems: string[] = [];
  if (info.standardParity === undefined) problems.push('the server reports no standard-class parity');
  else if (info.standardParity < 1) problems.push(`parity ${info.standardParity}: no erasure coding`);
  if (!info.sets.length) problems.push('no erasure set reported');
  return problems;
}

export function payload(size: number): Buffer {
  return randomBytes(size);
}

/** Puts one object of each size through `node`; ids are `<prefix>-<size>`. */
export async function putEach(lab: Ctx, node: string, process: string, prefix: string): Promise<number> {
  const c = lab.stack.client(node);
  const rs = await Promise.all(
    Object.entries(SIZES).map(([name, size]) =>
      c.put(lab.history, `${process}:${name}`, node, BUCKET, `${prefix}-${name}`, payload(size)),
    ),
  );
  return rs.filter((r) => r.ok).length;
}

/** Every object whose put was acknowledged so far. */
export function ackedIds(lab: Ctx): string[] {
  return [
    ...new Set(
      completions(lab.history.ops, 'put')
        .filter((o) => o.type === 'ok')
        .map((o) => (o.value as { id: string }).id),
    ),
  ];
}

/** Gets every acknowledged object through `node`; returns how many came back. */
export async function getAll(lab: Ctx, node: string, process: string): Promise<number> {
  const c = lab.stack.client(node);
  const rs = await Promise.all(ackedIds(lab).map((id) => c.get(lab.history, `${process}:${id}`, node, BUCKET, id)));
  return rs.filter((r) => r.ok).length;
}

/** The nodes' S3 health as `node` answers: cluster (write quorum) and cluster/read. */
export async function healthView(lab: Ctx, node: string): Promise<{ cluster: number; read: number }> {
  const [cluster, read] = await Promise.all([
    lab.stack.health(node, 'cluster'),
    lab.stack.health(node, 'cluster/read'),
  ]);
  return { cluster, read };
}

/** What `via` counts offline now (bounded: with quorum lost the admin API may hang). */
export async function offlineView(lab: Ctx, via: string): Promise<string> {
  try {
    const info = await withTimeout(10_000, 'mc admin info', () => lab.stack.info(via));
    return `${via} counts ${info.onlineDisks} drives online, ${info.offlineDisks} offline`;
  } catch (err) {
    return `mc admin info on ${via} gave no answer: ${(err as Error).message.slice(0, 160)}`;
  }
}

/**
 * Waits until the survivor `via` has noticed the kill: `mc admin info` counts the killed
 * nodes' drives offline (or, when reads are expected to fail, /minio/health/cluster/read is 503). A killed
 * container answers nothing (no reset), so peers notice only when their calls to it time
 * out: 10-60 s here. Operations before that hang, which would measure the detection
 * delay, not the quorum rule. Never fails: returns what it saw.
 */
export async function waitNoticed(lab: Ctx, via: string, down: string[], expected: Availability): Promise<string> {
  const drivesDown = down.length * lab.stack.params.drives;
  const t0 = Date.now();
  try {
    return await waitUntil(
      `${via} to notice ${down.join(', ')} down`,
      async (): Promise<Probe<string>> => {
        const h = await healthView(lab, via);
        // With read quorum gone the admin API itself may hang: the read-health 503 is the sign.
        if (!expected.read && h.read === 503) {
          return { done: true, value: `${via}'s health endpoints changed after ${Date.now() - t0} ms` };
        }
        // With a node down an answer takes ~6 s (minio1 gives the dead peer its time).
        const info = await withTimeout(15_000, 'mc admin info', () => lab.stack.info(via));
        return info.offlineDisks >= drivesDown
          ? { done: true, value: `${via} counts ${info.offlineDisks} drives offline after ${Date.now() - t0} ms` }
          : { done: false, seen: `${info.offlineDisks} offline` };
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
  } catch (err) {
    return `${via} did not show the kill: ${(err as Error).message.slice(0, 200)}`;
  }
}

export interface StepRecord {
  step: number;
  down: string[];
  expected: Availability;
  health: { cluster: number; read: number };
}

/**
 * Kills `order` one at a time. After each kill: wait until the survivor `via` sees it,
 * read the health endpoints, put one object of each size, get every acknowledged object.
 * Operations are recorded under process `s3-<k>down`.
 */
export async function killSeries(
  lab: Ctx,
  via: string,
  order: string[],
  narrate: (k: number) => string,
): Promise<void> {
  const view = (lab.history.last('erasure') as ErasureView | undefined) ?? undefined;
  if (!view) throw new Error('the erasure layout was not observed');
  const down: string[] = [];
  for (const [i, node] of order.entries()) {
    const k = i + 1;
    await lab.step(
      `Kill ${node} (${k} of ${lab.stack.params.nodes} nodes down)`,
      `${narrate(k)} A killed node answers nothing (no connection reset): its peers notice only when their calls ` +
        'to it time out, so the lab first waits until the survivor counts its drives offline.',
      async () => {
        await lab.faults.kill(node);
        down.push(node);
        const expected = availabilityWithNodesDown(view.sets, view.parity, down);
        lab.say(await waitNoticed(lab, via, down, expected));
        const proc = `s3-${k}down`;
        const acked = ackedIds(lab).length;
        // Reads of what is stored and new writes at once, with the health endpoints.
        const [gets, puts, health] = await Promise.all([
          getAll(lab, via, proc),
          putEach(lab, via, proc, `w${k}down`),
          healthView(lab, via),
        ]);
        lab.say(await offlineView(lab, via));
        lab.observe<StepRecord>(`step-${k}`, { step: k, down: [...down], expected, health });
        lab.say(
          `expected from parity EC:${view.parity}: reads ${expected.read ? 'work' : 'fail'}, writes ${expected.write ? 'work' : 'fail'}; ` +
            `observed: ${puts}/${Object.keys(SIZES).length} puts ok, ${gets}/${acked} gets ok; ` +
            `/minio/health/cluster ${health.cluster}, /minio/health/cluster/read ${health.read}`,
        );
      },
      [
        lab.stack.mcCommand(via, 'admin info local'),
        `curl -i http://${lab.stack.s3Endpoint(via)}/minio/health/cluster`,
        `curl -i http://${lab.stack.s3Endpoint(via)}/minio/health/cluster/read`,
        lab.stack.mcCommand(via, `ls local/${BUCKET}`),
      ],
    );
  }
}

/** Restarts every killed node and waits for all drives online. */
export async function restartAll(lab: Ctx, nodes: string[]): Promise<void> {
  await lab.step(
    `Start ${nodes.join(', ')} again`,
    'The killed containers start again with their drives as they were (plain directories in each container). ' +
      "Objects written while a node was down miss that node's shards; MinIO heals them in the background " +
      '(and on access). The stack waits until `mc admin info` shows every drive ok and /minio/health/cluster is 200.',
    async () => {
      for (const n of nodes) await lab.faults.start(n);
      await lab.stack.waitHealthy(120_000);
      const info = await lab.stack.info('minio1');
      lab.observe(
        'afterRestart',
        {
          online: info.onlineDisks,
          offline: info.offlineDisks,
          states: info.drives.map((d) => `${d.endpoint}=${d.state}`),
        },
        `${info.onlineDisks} drives online, ${info.offlineDisks} offline`,
      );
    },
    [lab.stack.mcCommand('minio1', 'admin info local')],
  );
}

// --- pure checks ------------------------------------------------------------------

export function stepsOf(ev: Evidence): StepRecord[] {
  return ev.observations.filter((o) => /^step-\d+$/.test(o.name)).map((o) => o.value as StepRecord);
}

/** Completions of `f` by a process or its per-object sub-processes (`<process>:<id>`). */
function opsOf(ev: Evidence, process: string, f: string): Op[] {
  return completions(ev.ops, f).filter((o) => o.process === process || o.process.startsWith(`${process}:`));
}

const yesNo = (b: boolean) => (b ? 'work' : 'fail');

/** One check per step: all reads ok iff read quorum; all writes ok iff write quorum. */
export function availabilityChecks(ev: Evidence, view: ErasureView | undefined): Check[] {
  return stepsOf(ev).map((s) => {
    const puts = opsOf(ev, `s3-${s.step}down`, 'put');
    const gets = opsOf(ev, `s3-${s.step}down`, 'get');
    const okPuts = puts.filter((o) => o.type === 'ok').length;
    const okGets = gets.filter((o) => o.type === 'ok').length;
    const writesAsExpected = s.expected.write ? puts.length > 0 && okPuts === puts.length : okPuts === 0;
    const readsAsExpected = s.expected.read
      ? gets.length > 0 && okGets === gets.length
      : gets.length > 0 && okGets === 0;
    const errors = [...new Set([...puts, ...gets].filter((o) => o.type !== 'ok').map((o) => `${o.f}: ${o.error}`))];
    return check(
      `${s.down.length} node(s) down (${s.down.join(', ')}): reads ${yesNo(s.expected.read)}, writes ${yesNo(s.expected.write)}`,
      puts.length > 0 && writesAsExpected && readsAsExpected,
      view
        ? `with EC:${view.parity} on ${view.setDrives}-drive sets: reads ${yesNo(s.expected.read)} (quorum ${view.readQuorum}), ` +
            `writes ${yesNo(s.expected.write)} (quorum ${view.writeQuorum})`
        : `reads ${yesNo(s.expected.read)}, writes ${yesNo(s.expected.write)}`,
      `${okPuts}/${puts.length} puts ok, ${okGets}/${gets.length} gets ok` +
        `${errors.length ? ` (${errors.join('; ')})` : ''}; health cluster ${s.health.cluster}, read ${s.health.read}`,
      { step: s, errors },
    );
  });
}

/** Every get that succeeded returned exactly what the acknowledged put stored. */
export function checksumCheck(ev: Evidence): Check {
  const stored = new Map<string, string>();
  for (const o of completions(ev.ops, 'put')) {
    if (o.type === 'ok') {
      const v = o.value as { id: string; sha256: string };
      stored.set(v.id, v.sha256);
    }
  }
  const gets = completions(ev.ops, 'get').filter((o) => o.type === 'ok');
  const bad = gets.filter((o) => {
    const v = o.value as { id: string; sha256: string };
    return stored.get(v.id) !== v.sha256;
  });
  return check(
    'every object read back matches its checksum',
    gets.length > 0 && bad.length === 0,
    'sha256 of every successful GET = sha256 of the acknowledged PUT',
    `${gets.length - bad.length}/${gets.length} reads match${bad.length ? `; mismatched: ${bad.map((o) => (o.value as { id: string }).id).join(', ')}` : ''}`,
  );
}

/** After restart every drive is ok. */
export function allDrivesCheck(ev: Evidence, name: string, total: number): Check {
  const after = ev.observations.filter((o) => o.name === name).at(-1)?.value as
    | { online: number; offline: number; states: string[] }
    | undefined;
  return check(
    name === 'afterRestart' ? 'after restart all drives are online' : 'afterwards every drive is online',
    after !== undefined && after.online === total && after.offline === 0,
    `${total} drives online, 0 offline`,
    after ? `${after.online} online, ${after.offline} offline` : 'not observed',
    after,
  );
}

/** The final read of every acknowledged object (process `final`) returned it. */
export function finalReadCheck(ev: Evidence): Check {
  const acked = new Set(
    completions(ev.ops, 'put')
      .filter((o) => o.type === 'ok')
      .map((o) => (o.value as { id: string }).id),
  );
  const finals = opsOf(ev, 'final', 'get');
  const ok = new Set(finals.filter((o) => o.type === 'ok').map((o) => (o.value as { id: string }).id));
  const missing = [...acked].filter((id) => !ok.has(id));
  return check(
    'every acknowledged object is read after recovery',
    acked.size > 0 && missing.length === 0,
    `all ${acked.size} acknowledged objects read back`,
    missing.length ? `missing: ${missing.join(', ')}` : `${ok.size} read back`,
  );
}
