import { describe, expect, it } from 'vitest';
import bitrot from '../../scenarios/minio/bitrot.ts';
import erasureTolerance from '../../scenarios/minio/erasure-tolerance.ts';
import healing from '../../scenarios/minio/healing.ts';
import { type ErasureView, ecOf, type StepRecord, upgradedParity } from '../../scenarios/minio/kit.ts';
import notFound from '../../scenarios/minio/not-found.ts';
import notesTopology from '../../scenarios/minio/notes-topology.ts';
import partition from '../../scenarios/minio/partition.ts';
import { type Evidence, History } from '../../src/engine/history.ts';
import type { AnyLab } from '../../src/engine/lab.ts';
import { resolveParams } from '../../src/params.ts';
import type { ClusterInfo } from '../../stacks/minio/admin.ts';
import { readQuorum, writeQuorum } from '../../stacks/minio/config.ts';
import { expectCheck, expectVerdict, Story } from '../helpers/evidence.ts';

// Fixtures follow what real runs record (observations.json, history.jsonl): per-object
// processes `s3-<k>down:<size>` for puts and `s3-<k>down:<id>` for gets, Timeout as info.

const SIZES = ['1k', '256k', '2m'];

function erasure(nodes: number, drives: number, parity: number): ErasureView {
  const set = Array.from({ length: nodes }, (_, n) =>
    Array.from({ length: drives }, (_, d) => ({ node: `minio${n + 1}`, path: `/data${d + 1}` })),
  ).flat();
  const total = nodes * drives;
  return {
    parity,
    setDrives: total,
    sets: [set],
    readQuorum: readQuorum(total, parity),
    writeQuorum: writeQuorum(total, parity),
    online: total,
    offline: 0,
  };
}

const sha = (id: string) => `sha-${id}`;

interface StepPlan {
  down: string[];
  read: boolean;
  write: boolean;
  noticedMs?: number;
  /** Parity the objects put in this step were written with (when writes work). */
  parity?: number;
}

/** A whole run of a kill-series lab, as the lab records it; `tweak` plants the anomaly. */
function killSeriesStory(view: ErasureView, steps: StepPlan[], tweak: (s: Story) => void = () => {}): Story {
  const s = new Story().at(1000).observe('erasure', view);
  const acked: string[] = [];
  for (const size of SIZES) {
    s.op(`s3-0down:${size}`, 'put', 'ok', { id: `base-${size}`, sha256: sha(`base-${size}`) });
    acked.push(`base-${size}`);
  }
  for (const id of acked) s.op(`s3-0down:${id}`, 'get', 'ok', { id, sha256: sha(id) });
  steps.forEach((st, i) => {
    const k = i + 1;
    s.at(2000 + k * 1000).fault('crash', [st.down.at(-1) as string], 60_000);
    for (const id of [...acked]) {
      if (st.read) s.op(`s3-${k}down:${id}`, 'get', 'ok', { id, sha256: sha(id) });
      else s.op(`s3-${k}down:${id}`, 'get', 'info', { id }, { error: 'Timeout' });
    }
    const written = [];
    for (const size of SIZES) {
      const id = `w${k}down-${size}`;
      if (st.write) {
        s.op(`s3-${k}down:${size}`, 'put', 'ok', { id, sha256: sha(id) });
        acked.push(id);
        const p = st.parity ?? view.parity;
        written.push({ id, data: view.setDrives - p, parity: p });
      } else s.op(`s3-${k}down:${size}`, 'put', 'fail', { id }, { error: 'HTTP 503' });
    }
    s.observe(`step-${k}`, {
      step: k,
      down: st.down,
      fault: 'crash',
      expected: { read: st.read, write: st.write },
      health: { cluster: st.write ? 200 : 503, read: st.read ? 200 : 503 },
      noticed: { ms: st.noticedMs ?? 170, how: 'it counts drives offline' },
      written,
    } satisfies StepRecord);
  });
  s.at(60_000).observe('afterRestart', { online: view.setDrives, offline: 0, states: [] });
  tweak(s);
  for (const id of acked) s.op(`final:${id}`, 'get', 'ok', { id, sha256: sha(id) });
  return s;
}

/** `ev` with the observation `name` set to `value`. */
function replaced(ev: Evidence, name: string, value: unknown): Evidence {
  const o = ev.observations.find((x) => x.name === name);
  if (o) o.value = value;
  return ev;
}

/** Runs a lab's mechanism against a fake cluster that reports `info`. */
async function mechanismOf(lab: AnyLab, info: ClusterInfo, params: Record<string, number | string> = {}) {
  const history = new History();
  const ctx = {
    stack: { info: async () => info },
    params: resolveParams(lab.params, params, lab.id),
    history,
    observe: (name: string, value: unknown) => {
      history.observe(name, value);
      return value;
    },
  };
  return lab.mechanism(ctx as never);
}

function clusterInfo(nodes: number, drives: number, parity: number | undefined): ClusterInfo {
  const list = erasure(nodes, drives, parity ?? 0).sets[0]?.map((d, i) => ({
    endpoint: `http://${d.node}:9000${d.path}`,
    node: d.node,
    path: d.path,
    state: 'ok',
    pool: 0,
    set: 0,
    healing: false,
    i,
  }));
  return {
    standardParity: parity,
    onlineDisks: nodes * drives,
    offlineDisks: 0,
    drives: list ?? [],
    sets: [list ?? []],
    servers: [],
  };
}

describe('minio/erasure-tolerance', () => {
  const view = erasure(4, 2, 4);
  const steps: StepPlan[] = [
    { down: ['minio4'], read: true, write: true },
    { down: ['minio4', 'minio3'], read: true, write: false },
    { down: ['minio4', 'minio3', 'minio2'], read: false, write: false },
  ];
  const lab = erasureTolerance;

  it('passes: 1 down both work, 2 down reads only, 3 down neither; EC:4 stays EC:4', () => {
    expectVerdict(lab, killSeriesStory(view, steps).evidence(), 'pass');
  });
  it('mechanism: parity must be half the set (EC:4 of 8), else the +1 write quorum does not exist', async () => {
    expect(await mechanismOf(lab, clusterInfo(4, 2, 4))).toEqual([]);
    expect((await mechanismOf(lab, clusterInfo(4, 2, 2))).join()).toMatch(/not half the set/);
    expect((await mechanismOf(lab, clusterInfo(4, 2, undefined))).join()).toMatch(/no standard-class parity/);
  });
  it('fails when a step is missing', () => {
    const checks = expectVerdict(lab, killSeriesStory(view, steps.slice(0, 2)).evidence(), 'fail');
    expectCheck(checks, 'each number of nodes down was tried', false);
  });
  it('fails when the survivor took longer than the bound to notice', () => {
    const slow = steps.map((s, i) => (i === 1 ? { ...s, noticedMs: 2500 } : s));
    const checks = expectVerdict(lab, killSeriesStory(view, slow).evidence(), 'fail');
    expectCheck(checks, 'the survivor noticed each crashed server within 2 s', false);
  });
  it('fails when a write got through with only half the drives (no +1)', () => {
    const ev = killSeriesStory(view, steps, (s) =>
      s.op('s3-2down:2m', 'put', 'ok', { id: 'w2down-2m', sha256: sha('w2down-2m') }),
    ).evidence();
    const step2 = ev.observations.find((o) => o.name === 'step-2')?.value as StepRecord;
    step2.written = [{ id: 'w2down-2m', data: 4, parity: 4 }];
    const checks = expectVerdict(lab, ev, 'fail');
    expectCheck(checks, '2 node(s) down (minio4, minio3): reads work, writes fail', false);
  });
  it('fails when reads worked with 3 nodes down, or failed with 1 down', () => {
    const ev = killSeriesStory(view, steps, (s) =>
      s.op('s3-3down:base-1k', 'get', 'ok', { id: 'base-1k', sha256: sha('base-1k') }),
    ).evidence();
    expectCheck(
      expectVerdict(lab, ev, 'fail'),
      '3 node(s) down (minio4, minio3, minio2): reads fail, writes fail',
      false,
    );
    const ev1 = killSeriesStory(view, steps, (s) =>
      s.op('s3-1down:base-2m', 'get', 'fail', { id: 'base-2m' }, { error: 'SlowDownRead' }),
    ).evidence();
    expectCheck(expectVerdict(lab, ev1, 'fail'), '1 node(s) down (minio4): reads work, writes work', false);
  });
  it('fails when an object written with a node down has another parity than EC:4', () => {
    const up = steps.map((s, i) => (i === 0 ? { ...s, parity: 2 } : s));
    const checks = expectVerdict(lab, killSeriesStory(view, up).evidence(), 'fail');
    expectCheck(checks, 'objects written with minio4 down get EC:4 (EC:4 is already half the set)', false);
  });
  it('fails on a read that returned other bytes', () => {
    const ev = killSeriesStory(view, steps, (s) =>
      s.op('s3-2down:base-1k', 'get', 'ok', { id: 'base-1k', sha256: 'rotten' }),
    ).evidence();
    expectCheck(expectVerdict(lab, ev, 'fail'), 'every object read back matches its checksum', false);
  });
  it('fails when a drive stays offline after the restart', () => {
    const ev = killSeriesStory(view, steps, (s) => s.observe('afterRestart', { online: 7, offline: 1, states: [] }));
    expectCheck(expectVerdict(lab, ev.evidence(), 'fail'), 'after restart all drives are online', false);
  });
  it('fails when an acknowledged object is gone after recovery', () => {
    const ev = killSeriesStory(view, steps, (s) =>
      s.op('final:base-2m', 'get', 'fail', { id: 'base-2m' }, { error: 'NoSuchKey' }),
    ).evidence();
    // The fixture's own final read of base-2m comes after this one and is ok: drop it.
    ev.ops.splice(ev.ops.findIndex((o) => o.process === 'final:base-2m' && o.type === 'ok') - 1, 2);
    expectCheck(expectVerdict(lab, ev, 'fail'), 'every acknowledged object is read after recovery', false);
  });
  it('is unknown when the xl.meta of the objects written with a node down could not be read', () => {
    const ev = killSeriesStory(view, steps).evidence();
    const step1 = ev.observations.find((o) => o.name === 'step-1')?.value as StepRecord;
    step1.written = [];
    expectVerdict(lab, ev, 'unknown');
  });
});

describe('minio/notes-topology', () => {
  const lab = notesTopology;
  const steps = (parity: number): StepPlan[] => [
    { down: ['minio3'], read: true, write: true, parity: upgradedParity(parity, 12, 4) },
    { down: ['minio3', 'minio2'], read: parity >= 8, write: false },
  ];

  it('passes with the server default EC:4: one node down both work, objects written then get EC:6; two down neither', () => {
    expectVerdict(lab, killSeriesStory(erasure(3, 4, 4), steps(4)).evidence(), 'pass');
  });
  it("passes with parity=6 (the notes' 6+6): one node down both work; two down neither (8 drives > 6)", () => {
    expectVerdict(lab, killSeriesStory(erasure(3, 4, 6), steps(6)).evidence(), 'pass', { parity: 6 });
  });
  it("reports a parity other than the notes' and checks what follows from it, instead of unknown", () => {
    // A server that chose EC:5: 7 data, read quorum 7, write quorum 7; one node down leaves 8.
    const ev = killSeriesStory(erasure(3, 4, 5), steps(5)).evidence();
    const checks = expectVerdict(lab, ev, 'pass');
    expectCheck(checks, 'objects written with minio3 down get EC:6 (EC:5 + 4 offline drives, at most half)', true);
  });
  it('mechanism: one set of 12 drives with erasure coding; a requested parity must be in force', async () => {
    expect(await mechanismOf(lab, clusterInfo(3, 4, 4))).toEqual([]);
    expect(await mechanismOf(lab, clusterInfo(3, 4, 5))).toEqual([]);
    expect((await mechanismOf(lab, clusterInfo(3, 4, 4), { parity: 6 })).join()).toMatch(/asked for EC:6/);
    expect((await mechanismOf(lab, clusterInfo(3, 4, 0))).join()).toMatch(/no erasure coding/);
  });
  it('fails when objects written with a node down kept EC:4 (no upgrade)', () => {
    const plan = steps(4).map((s, i) => (i === 0 ? { ...s, parity: 4 } : s));
    const checks = expectVerdict(lab, killSeriesStory(erasure(3, 4, 4), plan).evidence(), 'fail');
    expectCheck(checks, 'objects written with minio3 down get EC:6 (EC:4 + 4 offline drives, at most half)', false);
  });
  it('fails when reads still worked with two of three nodes down under EC:4', () => {
    const ev = killSeriesStory(erasure(3, 4, 4), steps(4), (s) =>
      s.op('s3-2down:base-2m', 'get', 'ok', { id: 'base-2m', sha256: sha('base-2m') }),
    ).evidence();
    expectCheck(expectVerdict(lab, ev, 'fail'), '2 node(s) down (minio3, minio2): reads fail, writes fail', false);
  });
  it('fails when an acknowledged object answered NoSuchKey after recovery (the loss once seen with docker kill)', () => {
    const ev = killSeriesStory(erasure(3, 4, 4), steps(4)).evidence();
    const final = ev.ops.filter((o) => o.process === 'final:base-2m');
    for (const o of final) if (o.type === 'ok') Object.assign(o, { type: 'fail', error: 'NoSuchKey' });
    expectCheck(expectVerdict(lab, ev, 'fail'), 'every acknowledged object is read after recovery', false);
  });
  it('names, for a missing object, what every node answered and how many drives still hold its xl.meta', () => {
    const ev = killSeriesStory(erasure(3, 4, 4), steps(4)).evidence();
    for (const o of ev.ops.filter((x) => x.process === 'final:base-1k' && x.type === 'ok'))
      Object.assign(o, { type: 'fail', error: 'NoSuchKey' });
    const answers = { minio1: 'NoSuchKey', minio2: 'ok', minio3: 'ok' };
    const drivesWithMeta = erasure(3, 4, 4).sets[0]?.map((d) => `${d.node}:${d.path}`) ?? [];
    ev.observations.push({
      time: 70_000,
      name: 'vanished',
      value: [{ id: 'base-1k', answers, drivesWithMeta, drives: 12 }],
    });
    const checks = expectVerdict(lab, ev, 'fail');
    expectCheck(checks, 'every acknowledged object is read after recovery', false);
    expect(checks.find((c) => c.name === 'every acknowledged object is read after recovery')?.observed).toBe(
      'missing: base-1k (minio1 NoSuchKey, minio2 ok, minio3 ok; xl.meta on 12/12 drives)',
    );
  });
  it('fails when the survivor was slow to notice, and when a step is missing', () => {
    const slow = steps(4).map((s) => ({ ...s, noticedMs: 2500 }));
    expectCheck(
      expectVerdict(lab, killSeriesStory(erasure(3, 4, 4), slow).evidence(), 'fail'),
      'the survivor noticed each crashed server within 2 s',
      false,
    );
    expectCheck(
      expectVerdict(lab, killSeriesStory(erasure(3, 4, 4), steps(4).slice(0, 1)).evidence(), 'fail'),
      'one and two nodes down were tried',
      false,
    );
  });
  it('upgraded parity: one more per offline drive, at most half the set', () => {
    expect([
      upgradedParity(4, 12, 4),
      upgradedParity(6, 12, 4),
      upgradedParity(4, 8, 2),
      upgradedParity(2, 8, 1),
    ]).toEqual([6, 6, 4, 3]);
  });
});

describe('minio/healing', () => {
  const lab = healing;
  const ids = SIZES.map((s) => `obj-${s}`);
  function story(
    tweak: { heal?: { ids: string[]; ms: number | undefined }; readFail?: boolean; after?: string[] } = {},
  ) {
    const s = new Story().at(1000).observe('erasure', erasure(4, 2, 4));
    for (const [i, id] of ids.entries()) s.op(`put:${SIZES[i]}`, 'put', 'ok', { id, sha256: sha(id) });
    s.observe('beforeWipe', ids)
      .fault('wipe', ['minio2:/data2'], 3000)
      .observe('afterWipe', tweak.after ?? []);
    for (const p of ['read-wiped', 'read-wiped-local'])
      for (const id of ids) {
        if (tweak.readFail && id === 'obj-2m' && p === 'read-wiped')
          s.op(`${p}:${id}`, 'get', 'fail', { id }, { error: 'SlowDownRead' });
        else s.op(`${p}:${id}`, 'get', 'ok', { id, sha256: sha(id) });
      }
    s.observe('afterReads', ['obj-1k']);
    s.observe('afterHeal', tweak.heal ?? { ids, ms: 900 });
    s.observe('afterHealDrives', { online: 8, offline: 0, states: [] });
    for (const id of ids) s.op(`final:${id}`, 'get', 'ok', { id, sha256: sha(id) });
    return s.evidence();
  }
  it('passes: reads work with the drive wiped, heal puts every shard back within the bound', () => {
    expectVerdict(lab, story(), 'pass');
  });
  it('fails when the wipe left shards behind', () => {
    expectCheck(
      expectVerdict(lab, story({ after: ['obj-2m'] }), 'fail'),
      'the drive held a shard of every object, and the wipe removed them',
      false,
    );
  });
  it('fails when a read failed with the drive wiped', () => {
    expectCheck(
      expectVerdict(lab, story({ readFail: true }), 'fail'),
      'reads still succeed with the drive wiped',
      false,
    );
  });
  it('fails when healing left an object off the drive, or took longer than the bound', () => {
    const name = "healing restores the drive's shards within 5 s";
    expectCheck(expectVerdict(lab, story({ heal: { ids: ['obj-1k'], ms: undefined } }), 'fail'), name, false);
    expectCheck(expectVerdict(lab, story({ heal: { ids, ms: 6000 } }), 'fail'), name, false);
  });
  it('fails when a drive is not ok afterwards, or an object is gone', () => {
    const ev = replaced(story(), 'afterHealDrives', { online: 7, offline: 1, states: [] });
    expectCheck(expectVerdict(lab, ev, 'fail'), 'afterwards every drive is online', false);
    const ev2 = story();
    for (const op of ev2.ops)
      if (op.process === 'final:obj-1k' && op.type === 'ok') Object.assign(op, { type: 'fail' });
    expectCheck(expectVerdict(lab, ev2, 'fail'), 'every acknowledged object is read after recovery', false);
  });
  it('fails on a read that returned other bytes', () => {
    const ev = story();
    const op = ev.ops.find((o) => o.process === 'read-wiped-local:obj-2m' && o.type === 'ok');
    if (op) op.value = { id: 'obj-2m', sha256: 'rotten' };
    expectCheck(expectVerdict(lab, ev, 'fail'), 'every object read back matches its checksum', false);
  });
});

describe('minio/bitrot', () => {
  const lab = bitrot;
  const ID = 'bitrot-2m';
  function story(t: { ecIndex?: number; after?: string; healed?: { sha256: string; ms: number | undefined } } = {}) {
    const s = new Story().at(1000).observe('erasure', erasure(4, 2, 4));
    s.op('put', 'put', 'ok', { id: ID, sha256: sha(ID) });
    const target = { drive: 'minio3:/data1', ecIndex: t.ecIndex ?? 2, dataShards: 4, file: '/data1/midlab/x/part.1' };
    s.observe('target', target).fault('corrupt', ['minio3:/data1'], 5000);
    s.observe('corruption', { ...target, before: 'aaa', after: t.after ?? 'bbb' });
    s.op(`read-corrupt:${ID}`, 'get', 'ok', { id: ID, sha256: sha(ID) }, { node: 'minio1' });
    s.op(`read-corrupt-local:${ID}`, 'get', 'ok', { id: ID, sha256: sha(ID) }, { node: 'minio3' });
    s.observe('healedShard', t.healed ?? { sha256: 'aaa', ms: 1200 });
    s.op(`final:${ID}`, 'get', 'ok', { id: ID, sha256: sha(ID) });
    return s.evidence();
  }
  it('passes: the corrupted data shard is detected, the read returns the original bytes, heal rewrites it', () => {
    expectVerdict(lab, story(), 'pass');
  });
  it('fails when the corrupted shard was a parity shard, or the file did not change', () => {
    const name = 'a data shard was corrupted on disk';
    expectCheck(expectVerdict(lab, story({ ecIndex: 6 }), 'fail'), name, false);
    expectCheck(expectVerdict(lab, story({ after: 'aaa' }), 'fail'), name, false);
  });
  it('fails when a read failed, or returned the corrupted bytes', () => {
    const ev = story();
    const op = ev.ops.find((o) => o.process === `read-corrupt-local:${ID}` && o.type === 'ok');
    if (op) Object.assign(op, { type: 'fail', error: 'InternalError' });
    expectCheck(expectVerdict(lab, ev, 'fail'), 'a read still returns the object', false);
    const ev2 = story();
    const op2 = ev2.ops.find((o) => o.process === `read-corrupt:${ID}` && o.type === 'ok');
    if (op2) op2.value = { id: ID, sha256: 'rotten' };
    expectCheck(expectVerdict(lab, ev2, 'fail'), 'every object read back matches its checksum', false);
  });
  it('fails when the heal did not restore the shard within the bound', () => {
    const name = 'healing rewrites the corrupted shard within 5 s';
    expectCheck(expectVerdict(lab, story({ healed: { sha256: 'bbb', ms: undefined } }), 'fail'), name, false);
    expectCheck(expectVerdict(lab, story({ healed: { sha256: 'aaa', ms: 6000 } }), 'fail'), name, false);
  });
});

describe('minio/not-found', () => {
  const lab = notFound;
  /** A run as the lab records it under EC:`parity`; `down` gives each GET's answer with minio3 down. */
  const IDS = ['skewed', 'holed', 'sparse', 'other'];
  function story(
    parity = 4,
    down: Record<string, string> = { skewed: 'NoSuchKey', holed: 'HTTP 503', sparse: 'NoSuchKey' },
  ) {
    const s = new Story().at(1000).observe('erasure', erasure(3, 4, parity));
    for (const id of IDS) s.op(`put:${id}`, 'put', 'ok', { id, sha256: sha(id) });
    for (const id of IDS) s.op(`upload:${id}`, 'get', 'ok', { id, sha256: sha(id) });
    s.at(2000)
      .fault('corrupt', ['minio2'], 10_000)
      .observe('damage', { skewedOwn: 11, holedOn: 11, sparseOn: 9, drives: 12 });
    s.observe('quorum', { answering: 8, readQuorum: 12 - parity, setDrives: 12 });
    s.at(3000).fault('crash', ['minio3'], 5000);
    for (const node of ['minio1', 'minio2']) {
      for (const id of ['skewed', 'holed', 'sparse']) {
        const error = down[id] as string;
        if (error === 'ok') s.op(`down:${id}`, 'get', 'ok', { id, sha256: sha(id) }, { node });
        else s.op(`down:${id}`, 'get', 'fail', { id }, { node, error });
      }
    }
    s.at(9000).observe('afterRestart', { online: 12, offline: 0, states: [] });
    for (const id of IDS) s.op(`final:${id}`, 'get', 'ok', { id, sha256: sha(id) });
    return s.evidence();
  }
  it('passes: EC:4, one disagreeing xl.meta or 5 of 8 holding it give NoSuchKey, one missing gives 503, all back after restart', () => {
    expectVerdict(lab, story(), 'pass');
  });
  it('passes under EC:6: 7 agreeing drives of 8 are a read quorum; 5 are fewer than half the set: NoSuchKey', () => {
    expectVerdict(lab, story(6, { skewed: 'ok', holed: 'ok', sparse: 'NoSuchKey' }), 'pass');
  });
  it('fails when the object on 5 of the 8 answering drives answered 503 or was read', () => {
    const name = 'xl.meta on 9 of 12 drives, a node down: 404 NoSuchKey';
    const unreadable = story(4, { skewed: 'NoSuchKey', holed: 'HTTP 503', sparse: 'HTTP 503' });
    expectCheck(expectVerdict(lab, unreadable, 'fail'), name, false);
    expectCheck(expectVerdict(lab, story(6, { skewed: 'ok', holed: 'ok', sparse: 'ok' }), 'fail'), name, false);
  });
  it('fails when the disagreeing object was read, or answered 503, under EC:4', () => {
    const name = 'one disagreeing xl.meta, a node down: 404 NoSuchKey';
    const s404 = { sparse: 'NoSuchKey' };
    expectCheck(expectVerdict(lab, story(4, { skewed: 'ok', holed: 'HTTP 503', ...s404 }), 'fail'), name, false);
    expectCheck(expectVerdict(lab, story(4, { skewed: 'HTTP 503', holed: 'HTTP 503', ...s404 }), 'fail'), name, false);
  });
  it('fails when the object without an xl.meta answered NoSuchKey, or was unreadable under EC:6', () => {
    const ev = story(4, { skewed: 'NoSuchKey', holed: 'NoSuchKey', sparse: 'NoSuchKey' });
    expectCheck(expectVerdict(lab, ev, 'fail'), 'one missing xl.meta, a node down: 503 (unreadable now)', false);
    const ev6 = story(6, { skewed: 'ok', holed: 'HTTP 503', sparse: 'NoSuchKey' });
    expectCheck(expectVerdict(lab, ev6, 'fail'), 'one missing xl.meta, a node down: the object', false);
  });
  it('fails when the damage did not leave the objects on 11, 11 and 9 drives', () => {
    const name = 'the damage left skewed and holed on 11 of 12 drives, sparse on 9';
    for (const bad of [{ skewedOwn: 12 }, { sparseOn: 10 }]) {
      const ev = story();
      const d = ev.observations.find((o) => o.name === 'damage');
      if (d) d.value = { ...(d.value as object), ...bad };
      expectCheck(expectVerdict(lab, ev, 'fail'), name, false);
    }
  });
  it('fails when an object is gone after the restart, or a read returned other bytes', () => {
    const ev = story();
    for (const o of ev.ops.filter((x) => x.process === 'final:skewed' && x.type === 'ok'))
      Object.assign(o, { type: 'fail', error: 'NoSuchKey' });
    expectCheck(expectVerdict(lab, ev, 'fail'), 'every acknowledged object is read after recovery', false);
    const ev2 = story();
    const g = ev2.ops.find((o) => o.process === 'final:holed' && o.type === 'ok');
    if (g) g.value = { id: 'holed', sha256: 'other-bytes' };
    expectCheck(expectVerdict(lab, ev2, 'fail'), 'every object read back matches its checksum', false);
  });
  it('fails when a drive stays offline after the restart', () => {
    const ev = replaced(story(), 'afterRestart', { online: 8, offline: 4, states: [] });
    expectCheck(expectVerdict(lab, ev, 'fail'), 'after restart all drives are online', false);
  });
});

describe('minio/partition', () => {
  const lab = partition;
  /** A run as the lab records it: minio3 cut off, each side's puts and gets, the heal, the reads after it. */
  function story() {
    const s = new Story().at(1000).observe('erasure', erasure(3, 4, 4));
    const acked = SIZES.map((size) => `base-${size}`);
    for (const id of acked) s.op(`s3-0down:${id.slice(5)}`, 'put', 'ok', { id, sha256: sha(id) });
    for (const id of acked) s.op(`s3-0down:${id}`, 'get', 'ok', { id, sha256: sha(id) });
    s.at(2000).fault('partition', ['minio3'], 40_000);
    for (const size of SIZES) {
      const id = `minority-${size}`;
      s.op(`minority:${size}`, 'put', 'info', { id, sha256: sha(id) }, { node: 'minio3', error: 'Timeout' });
    }
    for (const size of ['1k', '256k']) {
      const id = `majority-${size}`;
      s.op(`majority:${size}`, 'put', 'ok', { id, sha256: sha(id) }, { node: 'minio1', ms: 12_000 });
      acked.push(id);
    }
    for (const id of acked) {
      s.op(`majority:${id}`, 'get', 'ok', { id, sha256: sha(id) }, { node: 'minio1' });
      s.op(`minority:${id}`, 'get', 'info', { id }, { node: 'minio3', error: 'Timeout' });
    }
    const late = SIZES.map((size, i) => ({ id: `minority-${size}`, time: 43_000 + i * 500, ok: true }));
    s.at(44_000).observe('lateAnswers', late).observe('afterHeal', { online: 12, offline: 0, states: [] });
    for (const id of acked) s.op(`healed:${id}`, 'get', 'ok', { id, sha256: sha(id) }, { node: 'minio3' });
    for (const size of SIZES) {
      const id = `minority-${size}`;
      s.op(`unacked:${id}`, 'get', 'ok', { id, sha256: sha(id) }, { node: 'minio1' });
    }
    for (const id of acked) s.op(`final:${id}`, 'get', 'ok', { id, sha256: sha(id) });
    return s.evidence();
  }
  /** The story with the first completion of `process` changed. */
  const changed = (process: string, change: object) => {
    const ev = story();
    const o = ev.ops.find((x) => x.process === process && x.type !== 'invoke');
    if (o) Object.assign(o, change);
    return ev;
  };
  it('passes: the cut-off node acknowledges nothing, the majority serves, nothing acknowledged is lost', () => {
    expectVerdict(lab, story(), 'pass');
  });
  it('passes when the cut-off node refuses instead of hanging', () => {
    expectVerdict(lab, changed('minority:1k', { type: 'fail', error: 'HTTP 503' }), 'pass');
  });
  it('mechanism: the two sides must split the quorum (EC:4 or EC:6 of 12 do, EC:2 does not)', async () => {
    expect(await mechanismOf(lab, clusterInfo(3, 4, 4))).toEqual([]);
    expect(await mechanismOf(lab, clusterInfo(3, 4, 6))).toEqual([]);
    expect((await mechanismOf(lab, clusterInfo(3, 4, 2))).join()).toMatch(/do not split the quorum/);
  });
  it('fails when a write through the cut-off node was acknowledged', () => {
    const ev = changed('minority:1k', { type: 'ok', error: undefined });
    expectCheck(
      expectVerdict(lab, ev, 'fail'),
      'no write through minio3 is acknowledged: 4 drives are no write quorum',
      false,
    );
  });
  it('fails when a read through the cut-off node returned the object', () => {
    const ev = changed('minority:base-1k', { type: 'ok', value: { id: 'base-1k', sha256: sha('base-1k') } });
    expectCheck(
      expectVerdict(lab, ev, 'fail'),
      'no read through minio3 returns an object: 4 drives are no read quorum',
      false,
    );
  });
  it('fails when the majority side refused or did not answer a write or a read', () => {
    const name = 'the majority side (minio1) serves every inline write and every read, each within 45 s';
    expectCheck(expectVerdict(lab, changed('majority:256k', { type: 'info', error: 'Timeout' }), 'fail'), name, false);
    expectCheck(
      expectVerdict(lab, changed('majority:base-2m', { type: 'fail', error: 'NoSuchKey' }), 'fail'),
      name,
      false,
    );
  });
  /** The story with MinIO's late answer to the put of `id` changed. */
  const answered = (id: string, change: object, ev = story()) => {
    const late = ev.observations.find((o) => o.name === 'lateAnswers')?.value as { id: string }[];
    Object.assign(late.find((a) => a.id === id) as object, change);
    return ev;
  };
  const abandoned =
    'each put whose client timed out through minio3 is answered only after the heal, and is what the answer says';
  it('passes when MinIO refuses a put after the heal and the object is absent', () => {
    const ev = answered(
      'minority-1k',
      { ok: false, code: 'SlowDownWrite' },
      changed('unacked:minority-1k', { type: 'fail', error: 'NoSuchKey' }),
    );
    expectCheck(expectVerdict(lab, ev, 'pass'), abandoned, true);
  });
  it('fails when a timed-out put is not what MinIO finally answered, or was answered during the cut', () => {
    const gone = changed('unacked:minority-2m', { type: 'fail', error: 'NoSuchKey' });
    expectCheck(expectVerdict(lab, gone, 'fail'), abandoned, false);
    const other = changed('unacked:minority-1k', { value: { id: 'minority-1k', sha256: 'other-bytes' } });
    expectCheck(expectVerdict(lab, other, 'fail'), abandoned, false);
    const refusedButThere = answered('minority-256k', { ok: false, code: 'SlowDownWrite' });
    expectCheck(expectVerdict(lab, refusedButThere, 'fail'), abandoned, false);
    expectCheck(expectVerdict(lab, answered('minority-1k', { time: 30_000 }), 'fail'), abandoned, false);
    const unanswered = story();
    const late = unanswered.observations.find((o) => o.name === 'lateAnswers') as { value: unknown[] };
    late.value = late.value.slice(1);
    expectCheck(expectVerdict(lab, unanswered, 'fail'), abandoned, false);
  });

  it('fails when the healed node or the final read misses an acknowledged object', () => {
    const healed = changed('healed:majority-1k', { type: 'fail', error: 'NoSuchKey' });
    expectCheck(expectVerdict(lab, healed, 'fail'), 'after the heal minio3 serves every acknowledged object', false);
    const final = changed('final:majority-256k', { type: 'fail', error: 'NoSuchKey' });
    expectCheck(expectVerdict(lab, final, 'fail'), 'every acknowledged object is read after recovery', false);
  });
  it('fails when a drive stays offline after the heal', () => {
    const ev = replaced(story(), 'afterHeal', { online: 8, offline: 4, states: [] });
    expectCheck(expectVerdict(lab, ev, 'fail'), 'afterwards every drive is online', false);
  });
});

describe('minio: erasure data and parity from xl.meta', () => {
  it('reads EcM and EcN', () => {
    const meta = Buffer.concat([
      Buffer.from([0xa3]),
      Buffer.from('EcM'),
      Buffer.from([6]),
      Buffer.from([0xa3]),
      Buffer.from('EcN'),
      Buffer.from([6]),
    ]);
    expect(ecOf(meta)).toEqual({ data: 6, parity: 6 });
    expect(ecOf(Buffer.from('none'))).toBeUndefined();
  });
});
