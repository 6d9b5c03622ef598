import * as kit from './kit.ts';

const DOWN = 'minio3';
/** The drive whose xl.meta the lab damages: one of the eight that still answer with minio3 down. */
const DRIVE = { node: 'minio2', path: '/data1' };
/** Where sparse's xl.meta is removed: three drives of minio2, as a write that reached 9 of 12 drives leaves it. */
const SPARSE = ['/data1', '/data2', '/data4'];
/** skewed: DRIVE holds other's xl.meta in its place; holed: DRIVE lost it; sparse: SPARSE lost it. */
const DAMAGED = ['skewed', 'holed', 'sparse'];
const IDS = [...DAMAGED, 'other'];

interface Seen {
  /** Drives whose xl.meta of skewed is its own (not other's), and drives holding holed's and sparse's. */
  damage: { skewedOwn: number; holedOn: number; sparseOn: number; drives: number };
  /** Drives answering with the node down, and how many of them a read needs (the data shards). */
  quorum: { answering: number; readQuorum: number; setDrives: number };
}

/**
 * What a GET answers when `own` answering drives hold the object's xl.meta and `other` a
 * different one: the object with a read quorum of agreeing drives; NoSuchKey when fewer
 * than half the set hold it (versions need (N+1)/2 drives to exist at all) or when a read
 * quorum answered but disagrees; otherwise 503.
 */
function outcome(own: number, other: number, q: Seen['quorum']): string {
  if (own >= q.readQuorum) return 'the object';
  if (own < Math.floor((q.setDrives + 1) / 2) || own + other >= q.readQuorum) return '404 NoSuchKey';
  return '503 (unreadable now)';
}

/** The damage the lab plants (observed as `damage`). */
const PLANNED: Seen['damage'] = { skewedOwn: 11, holedOn: 11, sparseOn: 9, drives: 12 };

/** What a GET of each damaged object answers with the node down (its drives hold every object). */
function expected(d: Seen['damage'], q: Seen['quorum']): Record<string, string> {
  const gone = q.setDrives - q.answering;
  return {
    skewed: outcome(d.skewedOwn - gone, d.drives - d.skewedOwn, q),
    holed: outcome(d.holedOn - gone, 0, q),
    sparse: outcome(d.sparseOn - gone, 0, q),
  };
}

export default kit.defineLab({
  id: 'minio/not-found',
  title: 'NoSuchKey for an object that is there',
  teaches:
    'a GET needs a read quorum of drives that agree on the xl.meta; with a node down, MinIO answers 404 NoSuchKey where one drive disagrees or fewer than half the set hold the object (a write acknowledged by 9 of 12 drives, then a node lost before healing), 503 where one is missing, and the object is back with the node: a 404 in a degraded cluster is no proof of deletion',
  notes:
    'Notes (seed file, MinIO chapter): lines 3078-3079 "一致性 - Minio在分布式和单机模式下，所有读写操作都严格遵守' +
    'read-after-write一致性模型". Only while a read quorum of drives agrees on the object: at this release ' +
    '(RELEASE.2025-09-07) getObjectFileInfo in cmd/erasure-object.go turns "every drive answered, no read quorum of ' +
    'agreeing xl.meta" (RQInconsistentMeta) into file-not-found, so the client gets NoSuchKey for an acknowledged, ' +
    'intact object (MinIO PR #20522, 2024; unchanged in the 2026-02-12 commit). A drive that does not answer or ' +
    'has no xl.meta gives 503 instead. More parity avoids it here: EC:6 (--param parity=6) needs 6 agreeing drives, ' +
    'and 7 of the 8 still answering agree. A second path: pickLatestQuorumFilesInfo (same file) keeps only versions ' +
    'found on (N+1)/2 drives, 6 of 12, whatever the parity; an object on fewer of the drives answering has no ' +
    'version left, every drive counts as "file not found", and the GET answers NoSuchKey. That is issue #18 ' +
    '(minio/notes-topology), reproduced with readiness judged on one node: an object put 1 s after its nodes ' +
    "started was acknowledged with its xl.meta on 9 drives (minio2's /data1, /data2, /data4 never got it: a put " +
    'needs only the write quorum, 8), minio3 crashed 150 ms later, before healing copied it, and its GET answered ' +
    'NoSuchKey with 5 of the 8 answering drives holding it; after the restart it was still on those 9 drives ' +
    '(same mod time and data dir), so nothing was deleted. Unchanged in the 2026-02-12 commit.',
  variants: [{}, { parity: 6 }],
  params: {
    parity: kit.parityParam('EC:N of the standard class (0: server default, EC:4)'),
  },
  stack: kit.minio,
  topology: (p) => ({ nodes: 3, drives: 4, parity: p.parity, crashable: true }),
  steps: {
    upload: {
      title: 'Upload three small objects and read them back through every node',
      narration:
        `skewed, holed, sparse and other (1 KiB each, inline in xl.meta) through ${kit.VIA}: each drive of the 12-drive set holds ` +
        'an xl.meta per object. With EC:{ec} a read needs {readQuorum} drives that agree on it.',
    },
    damage: {
      title: `Damage xl.meta files on ${DRIVE.node}`,
      narration:
        `On ${DRIVE.node}:${DRIVE.path}, skewed's xl.meta is replaced by other's (a valid xl.meta that disagrees, ` +
        "as a drive left behind by a lost update would hold) and holed's is deleted: each still whole on 11 of 12 " +
        `drives. sparse's is deleted on ${DRIVE.node}:${SPARSE.join(',')}: on 9 of 12, as a put acknowledged while ` +
        'three drives missed it leaves it (a put needs only the write quorum). Nothing is read before the node goes ' +
        'down, so nothing heals them.',
      commands: [`docker exec {@${DRIVE.node}} sh -c 'ls -l /data*/${kit.BUCKET}/*'`],
    },
    down: {
      title: `Crash ${DOWN} and read the three`,
      narration:
        `With ${DOWN}'s 4 drives gone, 8 answer: 7 agree on skewed and on holed, 5 hold sparse. A read needs ` +
        '{readQuorum}. skewed: {skewed}; holed: {holed}; sparse: {sparse}. Short of a read quorum, theory says an ' +
        'object is unreadable until the node is back (503); this release answers NoSuchKey where the answering ' +
        'drives disagree or fewer than half the set (6) hold it, as if it had never been written.',
      commands: ['skewed', 'holed', 'sparse'].map((id) => kit.mcCommand(kit.VIA, `stat local/${kit.BUCKET}/${id}`)),
    },
    restart: kit.RESTART_STEP,
  },
  mechanism: (lab) => kit.proveErasure(lab, { setDrives: 12, parity: lab.params.parity }),
  async run(lab) {
    const v = kit.erasureOf(lab);
    const w = new kit.ObjectWorkload(lab.history, lab.stack);
    const c = lab.stack.client(kit.VIA);
    const upload = async () => {
      await c.makeBucket(kit.BUCKET);
      for (const id of IDS) await c.put(lab.history, `put:${id}`, kit.VIA, kit.BUCKET, id, Buffer.alloc(1024, id));
      const got = await Promise.all(lab.stack.nodeNames.map((n) => w.getAll(n, 'upload')));
      lab.say(`read back through ${lab.stack.nodeNames.join(', ')}: ${got.join(', ')} of ${IDS.length}`);
    };
    await lab.step('upload', upload, { vars: { ec: v.parity, readQuorum: v.readQuorum } });
    const damage = async () => {
      const dir = `${DRIVE.path}/${kit.BUCKET}`;
      const sparse = SPARSE.map((p) => `${p}/${kit.BUCKET}/sparse/xl.meta`).join(' ');
      const script = `cp ${dir}/other/xl.meta ${dir}/skewed/xl.meta && rm ${dir}/holed/xl.meta ${sparse}`;
      await lab.stack.cluster.node(DRIVE.node).run(['sh', '-c', script]);
      const text = `skewed holds other's xl.meta, holed lost its own; sparse lost it on ${SPARSE.join(',')}`;
      lab.faults.note('corrupt', [DRIVE.node], text);
      const sums = await Promise.all(v.sets.flat().map((d) => lab.stack.metaSums(d, kit.BUCKET)));
      const skewedOwn = sums.filter((x) => x.skewed && x.skewed !== x.other).length;
      const on = (id: string) => sums.filter((x) => x[id]).length;
      const [holedOn, sparseOn] = [on('holed'), on('sparse')];
      const seen = { skewedOwn, holedOn, sparseOn, drives: sums.length };
      const said = `xl.meta on the drives: skewed's own ${skewedOwn}, holed ${holedOn}, sparse ${sparseOn}, of ${sums.length}`;
      lab.observe<Seen['damage']>('damage', seen, said);
    };
    await lab.step('damage', damage);
    const quorum = { answering: v.setDrives - 4, readQuorum: v.readQuorum, setDrives: v.setDrives };
    lab.observe<Seen['quorum']>('quorum', quorum);
    const down = async () => {
      await lab.faults.crash(DOWN);
      const noticed = await kit.waitNoticed(lab, kit.VIA, [DOWN], { read: true, write: true }, 'crash');
      lab.say(noticed.how);
      for (const n of [kit.VIA, DRIVE.node]) {
        for (const id of DAMAGED) await lab.stack.client(n).get(lab.history, `down:${id}`, n, kit.BUCKET, id);
      }
    };
    await lab.step('down', down, { vars: { readQuorum: v.readQuorum, ...expected(PLANNED, quorum) } });
    await kit.restartAll(lab, [DOWN], 'crash');
  },
  final: (lab) => kit.finalRead(lab, kit.VIA),
  check(ev) {
    const { damage: d, quorum: q } = kit.observed<Seen>(ev);
    const gets = (id: string) => kit.completions(ev.ops, 'get').filter((o) => o.process === `down:${id}`);
    // Both GETs (through minio1 and minio2) of `id` answer what its xl.meta on the answering drives allows.
    const answered = (id: string, what: string) => {
      const want = d && q ? (expected(d, q)[id] as string) : 'unknown';
      const as = (o: kit.Op) =>
        o.type === 'ok' ? 'the object' : o.error === 'NoSuchKey' ? '404 NoSuchKey' : '503 (unreadable now)';
      const got = gets(id).map((o) => `${o.node}: ${o.type === 'ok' ? 'ok' : o.error}`);
      return kit.check(
        `${what}, a node down: ${want}`,
        got.length === 2 && gets(id).every((o) => as(o) === want),
        `both GETs of ${id} answer ${want}`,
        got.join(', ') || 'no read',
      );
    };
    return [
      kit.check(
        'the damage left skewed and holed on 11 of 12 drives, sparse on 9',
        d !== undefined && d.skewedOwn === 11 && d.holedOn === 11 && d.sparseOn === 9,
        "skewed's own xl.meta on 11 drives (other's on one), holed's on 11, sparse's on 9",
        d ? `skewed ${d.skewedOwn}, holed ${d.holedOn}, sparse ${d.sparseOn} of ${d.drives}` : 'not observed',
      ),
      answered('skewed', 'one disagreeing xl.meta'),
      answered('holed', 'one missing xl.meta'),
      answered('sparse', 'xl.meta on 9 of 12 drives'),
      kit.checksumCheck(ev),
      kit.allDrivesCheck(ev, 'afterRestart', 12),
      kit.finalReadCheck(ev),
    ];
  },
  predictions: [
    {
      before: 'down',
      question:
        'With one node down, 8 drives answer and 7 agree on skewed. What does a GET of skewed answer under EC:4?',
      choices: ['the object', '503: unreadable for now', '404 NoSuchKey'],
      answer: (ev) => {
        const g = kit.completions(ev.ops, 'get').find((o) => o.process === 'down:skewed');
        return g === undefined ? undefined : g.type === 'ok' ? 0 : g.error === 'NoSuchKey' ? 2 : 1;
      },
    },
  ],
});
