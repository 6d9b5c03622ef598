import * as kit from './kit.ts';

const WIPED: kit.DriveRef = { node: 'minio2', path: '/data2' };
const DRIVE = kit.driveLabel(WIPED);
const FIND = `docker exec {@${WIPED.node}} find ${WIPED.path}/${kit.BUCKET}`;

interface Seen {
  beforeWipe: string[];
  afterWipe: string[];
  afterReads: string[];
  /** Objects back on the wiped drive; ms from `mc admin heal` to all back (undefined: not within the bound). */
  afterHeal: { ids: string[]; ms: number | undefined };
  afterHealDrives: kit.DrivesSeen;
}

export default kit.defineLab({
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
  stack: kit.minio,
  topology: () => ({ nodes: 4, drives: 2 }),
  steps: {
    upload: {
      title: 'Upload objects with checksums',
      narration:
        `Three objects (1 KiB, 256 KiB, 2 MiB) through ${kit.VIA}. Each drive of the erasure set keeps one shard of every ` +
        `object: a directory ${WIPED.path}/${kit.BUCKET}/<object>/ with xl.meta (small objects inline) and part files.`,
      commands: [FIND],
    },
    wipe: {
      title: `Wipe ${DRIVE} while the cluster runs`,
      narration:
        `\`rm -rf ${WIPED.path}/*\` on ${WIPED.node}: every bucket directory on that drive is gone (the drive's format, ` +
        `${WIPED.path}/.minio.sys, a dot directory, stays: the drive is still a member of the set, just empty). ` +
        'Nothing tells MinIO: it finds out when it next reads or heals.',
      commands: [`docker exec {@${WIPED.node}} ls -la ${WIPED.path}`],
    },
    read: {
      title: 'Read every object (from the wiped node too)',
      narration:
        'Each object has {others} (of {setDrives}) shards elsewhere: a GET gathers the data shards it needs from the ' +
        `other drives and rebuilds the missing one on the fly. Reads go through ${kit.VIA} and through ${WIPED.node} itself.`,
      commands: [kit.mcCommand(kit.VIA, `cat local/${kit.BUCKET}/obj-1k | sha256sum`)],
    },
    heal: {
      title: 'Heal: mc admin heal -r',
      narration: (p) =>
        `\`mc admin heal -r local/${kit.BUCKET}\` walks every object of the bucket and writes each missing shard back, ` +
        "rebuilt from the others. The lab polls the wiped drive until every object's directory is back, for at most " +
        `${p.healTimeoutMs / 1000} s (the bound it checks; 1.2-1.8 s in the runs measured here).`,
      commands: [kit.mcCommand(kit.VIA, `admin heal -r local/${kit.BUCKET}`), FIND],
    },
  },
  async mechanism(lab) {
    const problems = await kit.proveErasure(lab);
    // Rebuilding the wiped drive's shards needs enough others: the drive must be one shard among data + parity.
    const sets = kit.erasureOf(lab).sets;
    if (!sets.some((set) => set.some((d) => kit.driveLabel(d) === DRIVE)))
      problems.push(`${DRIVE} is not a drive of any erasure set`);
    return problems;
  },
  async run(lab) {
    const w = new kit.ObjectWorkload(lab.history, lab.stack);
    const onDrive = () => lab.stack.objectsOnDrive(WIPED, kit.BUCKET);
    const upload = async () => {
      await lab.stack.client(kit.VIA).makeBucket(kit.BUCKET);
      await w.putEach(kit.VIA, 'put', 'obj');
      lab.observe('beforeWipe', await onDrive(), `on ${DRIVE}: shards present`);
    };
    await lab.step('upload', upload);
    const wipe = async () => {
      await lab.stack.cluster.node(WIPED.node).run(['sh', '-c', `rm -rf ${WIPED.path}/*`]);
      lab.faults.note('wipe', [DRIVE], `wiped the data on ${DRIVE}`);
      lab.observe('afterWipe', await onDrive(), `on ${DRIVE} now: no shard left`);
    };
    await lab.step('wipe', wipe);
    const read = async () => {
      const got = (await w.getAll(kit.VIA, 'read-wiped')) + (await w.getAll(WIPED.node, 'read-wiped-local'));
      lab.say(`${got} of ${2 * w.acked().length} reads returned the object`);
      // Reads that noticed a missing shard queue it for healing (MRF): give it a moment.
      await kit.sleep(2000);
      lab.observe('afterReads', await onDrive(), `on ${DRIVE} after the reads`);
    };
    const { setDrives } = kit.erasureOf(lab);
    await lab.step('read', read, { vars: { others: setDrives - 1, setDrives } });
    const heal = async () => {
      lab.say(`mc admin heal: ${await lab.stack.heal(kit.VIA, kit.BUCKET)}`);
      const bound = lab.params.healTimeoutMs;
      const { value: restored, ms } = await kit.within(lab, `every shard back on ${DRIVE}`, bound, async () => {
        const now = await onDrive();
        const all = w.acked().every((id) => now.includes(id));
        return all ? { done: true, value: now } : { done: false, seen: now.join(',') || 'none' };
      });
      const ids = restored ?? (await onDrive());
      const took = ms === undefined ? ` after ${bound} ms` : ` (${ms} ms)`;
      lab.observe<Seen['afterHeal']>('afterHeal', { ids, ms }, `on ${DRIVE}: ${ids.join(', ') || 'nothing'}${took}`);
      for (const f of lab.faults.openFaults()) lab.faults.endNote(f, `${DRIVE} healed`);
      await lab.stack.waitHealthy(60_000);
      const drives = await lab.stack.drives(kit.VIA);
      lab.observe('afterHealDrives', drives, `${drives.online} drives ok, ${drives.offline} offline`);
    };
    await lab.step('heal', heal);
  },
  final: (lab) => kit.finalRead(lab, kit.VIA),
  check(ev, p) {
    const seen = kit.observed<Seen>(ev);
    const before = seen.beforeWipe ?? [];
    const wiped = seen.afterWipe ?? ['?'];
    const healed = seen.afterHeal;
    const acked = kit.ackedIn(ev);
    const reads = kit.completions(ev.ops, 'get').filter((o) => o.process.startsWith('read-wiped'));
    const bound = p.healTimeoutMs;
    return [
      kit.check(
        'the drive held a shard of every object, and the wipe removed them',
        acked.length === 3 && acked.every((id) => before.includes(id)) && wiped.length === 0,
        '3 objects on the drive before, none after the wipe',
        `before: ${before.join(', ') || 'none'}; after: ${wiped.join(', ') || 'none'}`,
      ),
      kit.check(
        'reads still succeed with the drive wiped',
        reads.length === 2 * acked.length && reads.every((o) => o.type === 'ok'),
        `all ${2 * acked.length} reads ok`,
        `${reads.filter((o) => o.type === 'ok').length}/${reads.length} ok`,
      ),
      kit.checksumCheck(ev),
      kit.check(
        `healing restores the drive's shards within ${bound / 1000} s`,
        acked.length > 0 && acked.every((id) => healed?.ids.includes(id)) && (healed?.ms ?? bound + 1) <= bound,
        `every object (${acked.join(', ')}) back on the wiped drive within ${bound} ms of mc admin heal`,
        `back: ${healed?.ids.join(', ') || 'none'}${healed?.ms === undefined ? '' : ` after ${healed.ms} ms`}; right after the reads (before mc admin heal): ${(seen.afterReads ?? []).join(', ') || 'none'}`,
      ),
      kit.allDrivesCheck(ev, 'afterHealDrives', 8),
      kit.finalReadCheck(ev),
    ];
  },
});
