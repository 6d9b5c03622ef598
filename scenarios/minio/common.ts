import { randomBytes } from 'node:crypto';
import { type Check, check } from '../../src/checkers/check.ts';
import { completions, type Evidence, type Op, observed } from '../../src/engine/history.ts';
import type { LabContext } from '../../src/engine/lab.ts';
import { type Probe, withTimeout } from '../../src/runtime/poll.ts';
import type { ClusterInfo } from '../../stacks/minio/admin.ts';
import { type Availability, availabilityWithNodesDown, readQuorum, writeQuorum } from '../../stacks/minio/config.ts';
import type { StartedMinio } from '../../stacks/minio/stack.ts';
import { ecOf, xlMeta } from './shards.ts';

export const BUCKET = 'midlab';
/**
 * Small objects keep a lab near a minute. MinIO inlines an object in xl.meta when its
 * *shard* is at most 128 KiB (storage class inline_block), not the object: with 4 or 8
 * data shards the 1 KiB and the 256 KiB objects are inlined, the 2 MiB one gets part files.
 */
export const SIZES: Record<string, number> = { '1k': 1024, '256k': 256 * 1024, '2m': 2 * 1024 * 1024 };

/**
 * How a lab takes a node down. `crash`: the server process is killed and the container
 * keeps its address, so peers are refused at once (a process crash). `kill`: the whole
 * container dies and its address vanishes, so peers learn it only when their calls time
 * out (a machine crash, ~40 s here).
 */
export type NodeFault = 'crash' | 'kill';

export const NODE_FAULT_TEXT: Record<NodeFault, string> = {
  crash:
    "the server process is SIGKILLed while its container (and address) stays, as when the process crashes: peers' " +
    'connections are refused at once, so the survivor counts its drives offline within 2 s (the bound the lab checks)',
  kill:
    "the container is SIGKILLed and its address vanishes, as when the machine dies: peers' calls to it hang until " +
    'they time out, so the survivor counts its drives offline only after tens of seconds (10-55 s measured; within 75 s, the bound the lab checks)',
};

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

/** How long the survivor took to count the downed node's drives offline. */
export interface Noticed {
  /** ms from the fault to the survivor's view changing (undefined: it never did within the wait). */
  ms: number | undefined;
  how: string;
}

/** The longest the lab waits for the survivor to notice a downed node. */
export const NOTICE_WAIT_MS: Record<NodeFault, number> = { crash: 10_000, kill: 90_000 };

/**
 * Waits until the survivor `via` has noticed the fault: `mc admin info` counts the
 * downed nodes' drives offline (or, when reads are expected to fail, the read-health
 * endpoint is 503). Operations before that may hang on the dead peer, which would
 * measure the detection delay, not the quorum rule.
 */
export async function waitNoticed(
  lab: Ctx,
  via: string,
  down: string[],
  expected: Availability,
  fault: NodeFault,
): Promise<Noticed> {
  const drivesDown = down.length * lab.stack.params.drives;
  const t0 = Date.now();
  const seen = await lab.until(
    `${via} to count ${down.join(', ')}'s drives offline`,
    async (): Promise<Probe<string>> => {
      const h = await healthView(lab, via);
      // With read quorum gone the admin API itself may hang: the read-health 503 is the sign.
      if (!expected.read && h.read === 503) return { done: true, value: 'its read-health endpoint answered 503' };
      const info = await withTimeout(15_000, 'mc admin info', () => lab.stack.info(via)).catch(() => undefined);
      if (!info) return { done: false, seen: 'mc admin info gave no answer' };
      return info.offlineDisks >= drivesDown
        ? { done: true, value: `it counts ${info.offlineDisks} drives offline` }
        : { done: false, seen: `${info.offlineDisks} drives offline` };
    },
    { timeoutMs: NOTICE_WAIT_MS[fault], intervalMs: 500 },
  );
  return seen === undefined
    ? { ms: undefined, how: `${via} did not show it within ${NOTICE_WAIT_MS[fault] / 1000} s` }
    : { ms: Date.now() - t0, how: seen };
}

/** Data and parity shards an object was written with, read from its xl.meta on `via`'s first drive. */
export interface Written {
  id: string;
  data: number;
  parity: number;
}

export async function writtenWith(lab: Ctx, via: string, ids: string[]): Promise<Written[]> {
  const out: Written[] = [];
  for (const id of ids) {
    const meta = await xlMeta(lab, { node: via, path: '/data1' }, BUCKET, id);
    const ec = meta && ecOf(meta);
    if (ec) out.push({ id, data: ec.data, parity: ec.parity });
  }
  return out;
}

/**
 * The parity MinIO gives an object written while `offline` drives of its set are
 * down (storage class optimize=availability, the default): one more per offline drive,
 * at most half the set, so the object is as safe as one written with every drive up.
 */
export function upgradedParity(parity: number, setDrives: number, offline: number): number {
  return Math.min(parity + offline, Math.floor(setDrives / 2));
}

export interface StepRecord {
  step: number;
  down: string[];
  fault: NodeFault;
  expected: Availability;
  health: { cluster: number; read: number };
  noticed: Noticed;
  /** Objects put in this step, with the shards they were written with. */
  written: Written[];
}

/**
 * Takes `order` down one at a time (`fault`). After each: wait until the survivor `via`
 * sees it, read the health endpoints, put one object of each size, get every
 * acknowledged object. Operations are recorded under process `s3-<k>down`.
 */
export async function killSeries(
  lab: Ctx,
  via: string,
  order: string[],
  fault: NodeFault,
  narrate: (k: number) => string,
): Promise<void> {
  const view = observed<{ erasure: ErasureView }>(lab.history.evidence()).erasure;
  if (!view) throw new Error('the erasure layout was not observed');
  const down: string[] = [];
  for (const [i, node] of order.entries()) {
    const k = i + 1;
    await lab.step(
      `${fault === 'crash' ? 'Crash' : 'Kill'} ${node} (${k} of ${lab.stack.params.nodes} nodes down)`,
      `${narrate(k)} How: ${NODE_FAULT_TEXT[fault]}. The lab first waits until the survivor counts its drives offline.`,
      async () => {
        if (fault === 'crash') await lab.faults.crash(node);
        else await lab.faults.kill(node);
        down.push(node);
        const expected = availabilityWithNodesDown(view.sets, view.parity, down);
        const noticed = await waitNoticed(lab, via, down, expected, fault);
        lab.say(noticed.ms === undefined ? noticed.how : `${via} noticed after ${noticed.ms} ms: ${noticed.how}`);
        const proc = `s3-${k}down`;
        const acked = ackedIds(lab).length;
        // Reads of what is stored and new writes at once, with the health endpoints.
        const [gets, puts, health, offline] = await Promise.all([
          getAll(lab, via, proc),
          putEach(lab, via, proc, `w${k}down`),
          healthView(lab, via),
          offlineView(lab, via),
        ]);
        const written = await writtenWith(
          lab,
          via,
          ackedIds(lab).filter((id) => id.startsWith(`w${k}down-`)),
        );
        lab.say(offline);
        lab.observe<StepRecord>(`step-${k}`, { step: k, down: [...down], fault, expected, health, noticed, written });
        lab.say(
          `expected from parity EC:${view.parity}: reads ${expected.read ? 'work' : 'fail'}, writes ${expected.write ? 'work' : 'fail'}; ` +
            `observed: ${puts}/${Object.keys(SIZES).length} puts ok, ${gets}/${acked} gets ok; ` +
            `/minio/health/cluster ${health.cluster}, /minio/health/cluster/read ${health.read}` +
            (written.length
              ? `; written with ${[...new Set(written.map((w) => `EC:${w.parity} (${w.data}+${w.parity})`))].join(', ')} ` +
                `(server default EC:${view.parity}, ${down.length * lab.stack.params.drives} drives offline)`
              : ''),
        );
      },
      {
        key: `down-${k}`,
        commands: [
          lab.stack.mcCommand(via, 'admin info local'),
          `curl -i http://${lab.stack.s3Endpoint(via)}/minio/health/cluster`,
          `curl -i http://${lab.stack.s3Endpoint(via)}/minio/health/cluster/read`,
          lab.stack.mcCommand(via, `ls local/${BUCKET}`),
        ],
      },
    );
  }
}

/** Restarts every downed node and waits for all drives online. */
export async function restartAll(lab: Ctx, nodes: string[], fault: NodeFault): Promise<void> {
  await lab.step(
    `Start ${nodes.join(', ')} again`,
    (fault === 'crash'
      ? 'The crashed servers run again in their containers, with their drives as they were. '
      : 'The killed containers start again with their drives as they were (plain directories in each container). ') +
      "Objects written while a node was down miss that node's shards; MinIO heals them in the background " +
      '(and on access). The stack waits until `mc admin info` shows every drive ok and /minio/health/cluster is 200.',
    async () => {
      for (const n of nodes) await lab.faults.start(n);
      const t0 = Date.now();
      await lab.stack.waitHealthy(120_000);
      lab.say(`every drive online and write quorum on every node ${Date.now() - t0} ms after the last start`);
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

/** The longest the lab lets the survivor take to notice a downed node, as the narration says. */
export const NOTICE_BOUND_MS: Record<NodeFault, number> = { crash: 2_000, kill: 75_000 };

/** The survivor noticed every downed node within the bound its kind of fault allows. */
export function noticeChecks(ev: Evidence): Check[] {
  const steps = stepsOf(ev);
  const kinds = [...new Set(steps.map((s) => s.fault))];
  return kinds.map((fault) => {
    const mine = steps.filter((s) => s.fault === fault);
    const times = mine.map((s) => s.noticed.ms);
    const bound = NOTICE_BOUND_MS[fault];
    return check(
      `the survivor noticed each ${fault === 'crash' ? 'crashed server' : 'killed machine'} within ${bound / 1000} s`,
      times.length > 0 && times.every((t) => t !== undefined && t <= bound),
      `its drives counted offline within ${bound / 1000} s of each ${fault}`,
      mine
        .map((s) => `${s.down.at(-1)}: ${s.noticed.ms === undefined ? s.noticed.how : `${s.noticed.ms} ms`}`)
        .join(', '),
      { times },
    );
  });
}

/**
 * Objects written while drives were offline carry the upgraded parity (one more per
 * offline drive, at most half the set), read from their xl.meta.
 */
export function upgradeChecks(ev: Evidence, view: ErasureView | undefined): Check[] {
  if (!view) return [];
  return stepsOf(ev)
    .filter((s) => opsOf(ev, `s3-${s.step}down`, 'put').some((o) => o.type === 'ok'))
    .map((s): Check => {
      const offline = view.sets.flat().filter((d) => s.down.includes(d.node)).length;
      const want = upgradedParity(view.parity, view.setDrives, offline);
      const name =
        `objects written with ${s.down.join(', ')} down get EC:${want}` +
        (want === view.parity
          ? ` (EC:${view.parity} is already half the set)`
          : ` (EC:${view.parity} + ${offline} offline drives, at most half)`);
      const expected = `every object put in this step has ${view.setDrives - want} data + ${want} parity shards in its xl.meta`;
      const got = s.written.map((w) => `${w.id} ${w.data}+${w.parity}`).join(', ');
      if (!s.written.length) return { name, ok: 'unknown', expected, observed: 'no xl.meta could be read' };
      return check(
        name,
        s.written.every((w) => w.parity === want && w.data === view.setDrives - want),
        expected,
        got,
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

export interface DrivesSeen {
  online: number;
  offline: number;
  states: string[];
}

/** After restart every drive is ok. */
export function allDrivesCheck(ev: Evidence, name: string, total: number): Check {
  const after = (observed(ev) as Record<string, DrivesSeen | undefined>)[name];
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
