import { check } from '../../src/checkers/check.ts';
import { completions, observed } from '../../src/engine/history.ts';
import { defineLab } from '../../src/engine/lab.ts';
import { type Probe, sleep } from '../../src/runtime/poll.ts';
import { minio } from '../../stacks/minio/stack.ts';
import {
  ackedIds,
  allDrivesCheck,
  BUCKET,
  type Ctx,
  checksumCheck,
  type DrivesSeen,
  type ErasureView,
  finalReadCheck,
  getAll,
  observeErasure,
  putEach,
} from './common.ts';
import { type DriveRef, driveLabel, healBucket, objectsOnDrive } from './shards.ts';

const VIA = 'minio1';
const WIPED: DriveRef = { node: 'minio2', path: '/data2' };

interface Healed {
  /** Objects back on the wiped drive when the lab stopped waiting. */
  ids: string[];
  /** ms from \`mc admin heal\` to every object back (undefined: not within the wait). */
  ms: number | undefined;
}

interface Seen {
  erasure: ErasureView;
  beforeWipe: string[];
  afterWipe: string[];
  afterReads: string[];
  afterHeal: Healed;
  afterHealDrives: DrivesSeen;
}

export default defineLab({
  id: 'minio/healing',
  title: "A drive's data is wiped while the cluster runs",
  teaches:
    'objects stay readable from the other shards; healing rebuilds the missing shards onto the wiped drive; afterwards every drive is healthy',
  notes:
    'Notes (seed file, MinIO chapter): line 2803 "纠删码提供了对象级修复" (erasure code repairs per object) and line 3071 ' +
    '"分布式Minio采用纠删码来防范多个节点宕机和位衰减bit rot". Right; the notes never show healing itself: here it is ' +
    '`mc admin heal -r` (MinIO also heals an object a read finds incomplete, and in its background scanner). No node ' +
    'goes down in this lab (neither crash nor kill): one drive loses its contents while its server keeps running.',
  params: {
    healTimeoutMs: {
      type: 'int',
      default: 5000,
      min: 1000,
      describe: 'how long healing may take to put every shard back on the wiped drive (the bound the lab checks)',
    },
  },
  stack: minio,
  topology: () => ({ nodes: 4, drives: 2 }),
  async mechanism(raw) {
    const lab = raw as unknown as Ctx;
    const problems = await observeErasure(lab, VIA);
    const v = observed<Seen>(lab.history.evidence()).erasure;
    // Rebuilding the wiped drive's shards needs enough others: the drive must be one shard among data + parity.
    if (v && !v.sets.some((set) => set.some((d) => d.node === WIPED.node && d.path === WIPED.path))) {
      problems.push(`${driveLabel(WIPED)} is not a drive of any erasure set`);
    }
    return problems;
  },
  async run(raw) {
    const lab = raw as unknown as Ctx;
    const drive = driveLabel(WIPED);
    const node = lab.stack.cluster.node(WIPED.node).containerName;
    await lab.step(
      'Upload objects with checksums',
      `Three objects (1 KiB, 256 KiB, 2 MiB) through ${VIA}. Each drive of the erasure set keeps one shard of every ` +
        `object: a directory ${WIPED.path}/${BUCKET}/<object>/ with xl.meta (small objects inline) and part files.`,
      async () => {
        await lab.stack.client(VIA).makeBucket(BUCKET);
        await putEach(lab, VIA, 'put', 'obj');
        lab.observe('beforeWipe', await objectsOnDrive(lab, WIPED, BUCKET), `on ${drive}: shards present`);
      },
      [`docker exec ${node} find ${WIPED.path}/${BUCKET}`],
    );
    await lab.step(
      `Wipe ${drive} while the cluster runs`,
      `\`rm -rf ${WIPED.path}/*\` on ${WIPED.node}: every bucket directory on that drive is gone (the drive's format, ` +
        `${WIPED.path}/.minio.sys, a dot directory, stays: the drive is still a member of the set, just empty). ` +
        'Nothing tells MinIO: it finds out when it next reads or heals.',
      async () => {
        await lab.stack.cluster.node(WIPED.node).run(['sh', '-c', `rm -rf ${WIPED.path}/*`]);
        lab.faults.note('wipe', [drive], `wiped the data on ${drive}`);
        lab.observe('afterWipe', await objectsOnDrive(lab, WIPED, BUCKET), `on ${drive} now: no shard left`);
      },
      [`docker exec ${node} ls -la ${WIPED.path}`],
    );
    await lab.step(
      'Read every object (from the wiped node too)',
      `Each object has ${lastErasure(lab)} shards elsewhere: a GET gathers the data shards it needs from the other ` +
        `drives and rebuilds the missing one on the fly. Reads go through ${VIA} and through ${WIPED.node} itself.`,
      async () => {
        const a = await getAll(lab, VIA, 'read-wiped');
        const b = await getAll(lab, WIPED.node, 'read-wiped-local');
        lab.say(`${a + b} of ${2 * ackedIds(lab).length} reads returned the object`);
        // Reads that noticed a missing shard queue it for healing (MRF): give it a moment.
        await sleep(2000);
        lab.observe('afterReads', await objectsOnDrive(lab, WIPED, BUCKET), `on ${drive} after the reads`);
      },
      [lab.stack.mcCommand(VIA, `cat local/${BUCKET}/obj-1k | sha256sum`)],
    );
    await lab.step(
      'Heal: mc admin heal -r',
      '`mc admin heal -r local/midlab` walks every object of the bucket and writes each missing shard back, ' +
        `rebuilt from the others. The lab polls the wiped drive until every object's directory is back, for at most ` +
        `${(lab.params.healTimeoutMs as number) / 1000} s (the bound it checks; 1.2-1.8 s in the runs measured here).`,
      async () => {
        const t0 = Date.now();
        lab.say(`mc admin heal: ${await healBucket(lab, VIA, BUCKET)}`);
        const want = ackedIds(lab).sort();
        const bound = lab.params.healTimeoutMs as number;
        const restored = await lab.until(
          `every shard back on ${drive}`,
          async (): Promise<Probe<string[]>> => {
            const now = await objectsOnDrive(lab, WIPED, BUCKET);
            return want.every((id) => now.includes(id))
              ? { done: true, value: now }
              : { done: false, seen: now.join(',') || 'none' };
          },
          { timeoutMs: bound, intervalMs: 250 },
        );
        const ms = restored ? Date.now() - t0 : undefined;
        const ids = restored ?? (await objectsOnDrive(lab, WIPED, BUCKET));
        lab.observe<Healed>(
          'afterHeal',
          { ids, ms },
          `on ${drive}: ${ids.join(', ') || 'nothing'}${ms === undefined ? ` after ${bound} ms` : ` (${ms} ms)`}`,
        );
        for (const f of lab.faults.openFaults()) lab.faults.endNote(f, `${drive} healed`);
        await lab.stack.waitHealthy(60_000);
        const info = await lab.stack.info(VIA);
        lab.observe(
          'afterHealDrives',
          {
            online: info.onlineDisks,
            offline: info.offlineDisks,
            states: info.drives.map((d) => `${d.endpoint}=${d.state}`),
          },
          `${info.onlineDisks} drives ok, ${info.offlineDisks} offline`,
        );
      },
      [lab.stack.mcCommand(VIA, `admin heal -r local/${BUCKET}`), `docker exec ${node} find ${WIPED.path}/${BUCKET}`],
    );
  },
  async final(raw) {
    await getAll(raw as unknown as Ctx, VIA, 'final');
  },
  check(ev, p) {
    const seen = observed<Seen>(ev);
    const before = seen.beforeWipe ?? [];
    const wiped = seen.afterWipe ?? ['?'];
    const healed = seen.afterHeal;
    const acked = completions(ev.ops, 'put')
      .filter((o) => o.type === 'ok')
      .map((o) => (o.value as { id: string }).id);
    const reads = completions(ev.ops, 'get').filter((o) => o.process.startsWith('read-wiped'));
    const bound = p.healTimeoutMs as number;
    return [
      check(
        'the drive held a shard of every object, and the wipe removed them',
        acked.length === 3 && acked.every((id) => before.includes(id)) && wiped.length === 0,
        '3 objects on the drive before, none after the wipe',
        `before: ${before.join(', ') || 'none'}; after: ${wiped.join(', ') || 'none'}`,
      ),
      check(
        'reads still succeed with the drive wiped',
        reads.length === 2 * acked.length && reads.every((o) => o.type === 'ok'),
        `all ${2 * acked.length} reads ok`,
        `${reads.filter((o) => o.type === 'ok').length}/${reads.length} ok`,
      ),
      checksumCheck(ev),
      check(
        `healing restores the drive's shards within ${bound / 1000} s`,
        acked.length > 0 &&
          healed !== undefined &&
          acked.every((id) => healed.ids.includes(id)) &&
          healed.ms !== undefined &&
          healed.ms <= bound,
        `every object (${acked.join(', ')}) back on the wiped drive within ${bound} ms of mc admin heal`,
        `back: ${healed?.ids.join(', ') || 'none'}${healed?.ms === undefined ? '' : ` after ${healed.ms} ms`}; right after the reads (before mc admin heal): ${(seen.afterReads ?? []).join(', ') || 'none'}`,
      ),
      allDrivesCheck(ev, 'afterHealDrives', 8),
      finalReadCheck(ev),
    ];
  },
});

function lastErasure(lab: Ctx): string {
  const v = observed<Seen>(lab.history.evidence()).erasure;
  return v ? `${v.setDrives - 1} (of ${v.setDrives})` : 'its other';
}
