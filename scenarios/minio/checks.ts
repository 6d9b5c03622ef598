/** Pure checks the MinIO labs share: quorum availability per step, detection, parity, checksums, recovery. */
import { type Check, check, completions, type Evidence, type Op, observed } from '../../src/kit.ts';
import type { DrivesSeen, ErasureView } from '../../stacks/minio/drives.ts';
import { upgradedParity } from '../../stacks/minio/drives.ts';
import { NOTICE_BOUND_MS, type StepRecord } from './series.ts';
import type { Vanished } from './shared.ts';

export function stepsOf(ev: Evidence): StepRecord[] {
  return ev.observations.filter((o) => /^step-\d+$/.test(o.name)).map((o) => o.value as StepRecord);
}

/** Completions of `f` by a process or its per-object sub-processes (`<process>:<id>`). */
export function opsOf(ev: Evidence, process: string, f: string): Op[] {
  return completions(ev.ops, f).filter((o) => o.process === process || o.process.startsWith(`${process}:`));
}

/** Ids of the acknowledged puts. */
export function ackedIn(ev: Evidence): string[] {
  const ok = completions(ev.ops, 'put').filter((o) => o.type === 'ok');
  return [...new Set(ok.map((o) => (o.value as { id: string }).id))];
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
    const readsAsExpected = gets.length > 0 && okGets === (s.expected.read ? gets.length : 0);
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

/** The survivor noticed every downed node within the bound its kind of fault allows. */
export function noticeChecks(ev: Evidence): Check[] {
  const steps = stepsOf(ev);
  return [...new Set(steps.map((s) => s.fault))].map((fault) => {
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
      if (!s.written.length) return { name, ok: 'unknown', expected, observed: 'no xl.meta could be read' };
      const ok = s.written.every((w) => w.parity === want && w.data === view.setDrives - want);
      return check(name, ok, expected, s.written.map((w) => `${w.id} ${w.data}+${w.parity}`).join(', '));
    });
}

/** Every get that succeeded returned exactly what the acknowledged put stored. */
export function checksumCheck(ev: Evidence): Check {
  const stored = new Map<string, string>();
  for (const o of completions(ev.ops, 'put').filter((x) => x.type === 'ok')) {
    const v = o.value as { id: string; sha256: string };
    stored.set(v.id, v.sha256);
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

/** The drives observed as `name` are all online. */
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
  const acked = ackedIn(ev);
  const ok = new Set(
    opsOf(ev, 'final', 'get')
      .filter((o) => o.type === 'ok')
      .map((o) => (o.value as { id: string }).id),
  );
  const missing = acked.filter((id) => !ok.has(id));
  // What the lab traced of each missing object: every node's answer, the drives holding its xl.meta.
  const traced = (observed(ev) as { vanished?: Vanished[] }).vanished ?? [];
  const trace = (id: string) => {
    const v = traced.find((x) => x.id === id);
    const answers = v && Object.entries(v.answers).map(([n, a]) => `${n} ${a}`);
    return v ? `${id} (${answers?.join(', ')}; xl.meta on ${v.drivesWithMeta.length}/${v.drives} drives)` : id;
  };
  return check(
    'every acknowledged object is read after recovery',
    acked.length > 0 && missing.length === 0,
    `all ${acked.length} acknowledged objects read back`,
    missing.length ? `missing: ${missing.map(trace).join(', ')}` : `${ok.size} read back`,
    traced.length ? { vanished: traced } : undefined,
  );
}

/** Every check of a kill-series lab: `tried` names the check that `steps` steps ran; `drives` in all. */
export function killSeriesChecks(ev: Evidence, tried: string, steps: number, drives: number): Check[] {
  const view = observed<{ erasure: ErasureView }>(ev).erasure;
  return [
    check(tried, stepsOf(ev).length === steps, `${steps} steps`, `${stepsOf(ev).length}`),
    ...noticeChecks(ev),
    ...availabilityChecks(ev, view),
    ...upgradeChecks(ev, view),
    checksumCheck(ev),
    allDrivesCheck(ev, 'afterRestart', drives),
    finalReadCheck(ev),
  ];
}
