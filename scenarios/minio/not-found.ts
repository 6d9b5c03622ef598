import {
  allDrivesCheck,
  BUCKET,
  check,
  checksumCheck,
  completions,
  defineLab,
  erasureOf,
  finalRead,
  finalReadCheck,
  mcCommand,
  minio,
  ObjectWorkload,
  type Op,
  observed,
  parityParam,
  proveErasure,
  RESTART_STEP,
  restartAll,
  VIA,
  waitNoticed,
} from './kit.ts';

const DOWN = 'minio3';
/** The drive whose xl.meta the lab damages: one of the eight that still answer with minio3 down. */
const DRIVE = { node: 'minio2', path: '/data1' };
/** skewed: that drive holds other's xl.meta in its place; holed: that drive lost it. */
const IDS = ['skewed', 'holed', 'other'];

interface Seen {
  /** Drives whose xl.meta of skewed is its own (not other's), and drives holding holed's. */
  damage: { skewedOwn: number; holedOn: number; drives: number };
  /** Drives answering with the node down, and how many of them a read needs (the data shards). */
  quorum: { answering: number; readQuorum: number };
}

/** What a GET answers when `agreeing` drives of those answering hold the object's own xl.meta. */
const outcome = (agreeing: number, readQuorum: number, holed: boolean) =>
  agreeing >= readQuorum ? 'the object' : holed ? '503 (unreadable now)' : '404 NoSuchKey';

export default defineLab({
  id: 'minio/not-found',
  title: 'NoSuchKey for an object that is there',
  teaches:
    'a GET needs a read quorum of drives that agree on the xl.meta; with a node down and one drive disagreeing, MinIO answers 404 NoSuchKey (a missing xl.meta gives 503), and the object is back with the node: a 404 in a degraded cluster is no proof of deletion',
  notes:
    'Notes (seed file, MinIO chapter): lines 3078-3079 "一致性 - Minio在分布式和单机模式下，所有读写操作都严格遵守' +
    'read-after-write一致性模型". Only while a read quorum of drives agrees on the object: at this release ' +
    '(RELEASE.2025-09-07) getObjectFileInfo in cmd/erasure-object.go turns "every drive answered, no read quorum of ' +
    'agreeing xl.meta" (RQInconsistentMeta) into file-not-found, so the client gets NoSuchKey for an acknowledged, ' +
    'intact object (MinIO PR #20522, 2024; unchanged in the 2026-02-12 commit). A drive that does not answer or ' +
    'has no xl.meta gives 503 instead. More parity avoids it here: EC:6 (--param parity=6) needs 6 agreeing drives, ' +
    'and 7 of the 8 still answering agree. It is how a GET answers NoSuchKey while the drives hold the object, as in issue #18 (minio/notes-topology), whose trigger there is not established.',
  variants: [{}, { parity: 6 }],
  params: {
    parity: parityParam('EC:N of the standard class (0: server default, EC:4)'),
  },
  stack: minio,
  topology: (p) => ({ nodes: 3, drives: 4, parity: p.parity, crashable: true }),
  steps: {
    upload: {
      title: 'Upload three small objects and read them back through every node',
      narration:
        `skewed, holed and other (1 KiB each, inline in xl.meta) through ${VIA}: each drive of the 12-drive set holds ` +
        'an xl.meta per object. With EC:{ec} a read needs {readQuorum} drives that agree on it.',
    },
    damage: {
      title: `Damage one xl.meta of each on ${DRIVE.node}:${DRIVE.path}`,
      narration:
        `On ${DRIVE.node}:${DRIVE.path}, skewed's xl.meta is replaced by other's (a valid xl.meta that disagrees, ` +
        "as a drive left behind by a lost update would hold) and holed's is deleted. Each object is still whole on " +
        '11 of 12 drives; nothing is read before the node goes down, so nothing heals it.',
      commands: [`docker exec {@${DRIVE.node}} ls -l ${DRIVE.path}/${BUCKET}/skewed ${DRIVE.path}/${BUCKET}/holed`],
    },
    down: {
      title: `Crash ${DOWN} and read both`,
      narration:
        `With ${DOWN}'s 4 drives gone, 8 answer: 7 agree on each object. A read needs {readQuorum}. skewed: ` +
        '{skewed}; holed: {holed}. Short of a read quorum, theory says an object is unreadable until the node is back ' +
        '(503); this release answers NoSuchKey where the answering drives disagree, as if it had never been written.',
      commands: [mcCommand(VIA, `cat local/${BUCKET}/skewed`), mcCommand(VIA, `cat local/${BUCKET}/holed`)],
    },
    restart: RESTART_STEP,
  },
  async mechanism(lab) {
    const problems = await proveErasure(lab, VIA);
    const v = erasureOf(lab);
    if (v.sets.length !== 1 || v.setDrives !== 12)
      problems.push(`${v.sets.length} set(s) of ${v.setDrives}, not 1 of 12`);
    if (lab.params.parity && v.parity !== lab.params.parity)
      problems.push(`asked EC:${lab.params.parity}: EC:${v.parity}`);
    return problems;
  },
  async run(lab) {
    const v = erasureOf(lab);
    const w = new ObjectWorkload(lab.history, lab.stack);
    const c = lab.stack.client(VIA);
    const node = lab.stack.cluster.node(DRIVE.node);
    const upload = async () => {
      await c.makeBucket(BUCKET);
      for (const id of IDS) await c.put(lab.history, `put:${id}`, VIA, BUCKET, id, Buffer.alloc(1024, id));
      const got = await Promise.all(lab.stack.nodeNames.map((n) => w.getAll(n, 'upload')));
      lab.say(`read back through ${lab.stack.nodeNames.join(', ')}: ${got.join(', ')} of ${IDS.length}`);
    };
    await lab.step('upload', upload, { vars: { ec: v.parity, readQuorum: v.readQuorum } });
    const damage = async () => {
      const dir = `${DRIVE.path}/${BUCKET}`;
      await node.run(['sh', '-c', `cp ${dir}/other/xl.meta ${dir}/skewed/xl.meta && rm ${dir}/holed/xl.meta`]);
      lab.faults.note('corrupt', [`${DRIVE.node}:${DRIVE.path}`], 'skewed holds other xl.meta; holed lost its own');
      const sums = await Promise.all(v.sets.flat().map((d) => lab.stack.metaSums(d, BUCKET)));
      const skewedOwn = sums.filter((x) => x.skewed && x.skewed !== x.other).length;
      const holedOn = sums.filter((x) => x.holed).length;
      const text = `skewed's own xl.meta on ${skewedOwn} drives, holed's on ${holedOn}, of ${sums.length}`;
      lab.observe<Seen['damage']>('damage', { skewedOwn, holedOn, drives: sums.length }, text);
    };
    await lab.step('damage', damage);
    const answering = v.setDrives - 4;
    lab.observe('quorum', { answering, readQuorum: v.readQuorum });
    const down = async () => {
      await lab.faults.crash(DOWN);
      const noticed = await waitNoticed(lab, VIA, [DOWN], { read: true, write: true }, 'crash');
      lab.say(noticed.how);
      for (const n of [VIA, DRIVE.node]) {
        for (const id of ['skewed', 'holed']) await lab.stack.client(n).get(lab.history, `down:${id}`, n, BUCKET, id);
      }
    };
    const [skewed, holed] = [false, true].map((h) => outcome(answering - 1, v.readQuorum, h));
    const vars = { readQuorum: v.readQuorum, skewed: skewed as string, holed: holed as string };
    await lab.step('down', down, { vars });
    await restartAll(lab, [DOWN], 'crash');
  },
  final: (lab) => finalRead(lab, VIA),
  check(ev) {
    const { damage: d, quorum: q } = observed<Seen>(ev);
    const gets = (id: string) => completions(ev.ops, 'get').filter((o) => o.process === `down:${id}`);
    // Both GETs (through minio1 and minio2) of `id` answer what `agreeing` of the answering drives allow.
    const answered = (id: string, what: string, holed: boolean) => {
      const want = q ? outcome(q.answering - 1, q.readQuorum, holed) : 'unknown';
      const as = (o: Op) =>
        o.type === 'ok' ? 'the object' : o.error === 'NoSuchKey' ? '404 NoSuchKey' : '503 (unreadable now)';
      const got = gets(id).map((o) => `${o.node}: ${o.type === 'ok' ? 'ok' : o.error}`);
      return check(
        `one ${what} xl.meta, a node down: ${want}`,
        got.length === 2 && gets(id).every((o) => as(o) === want),
        `both GETs of ${id} answer ${want}`,
        got.join(', ') || 'no read',
      );
    };
    return [
      check(
        'the damage left each object whole on 11 of 12 drives',
        d !== undefined && d.skewedOwn === 11 && d.holedOn === 11,
        "skewed's own xl.meta on 11 drives (other's on one), holed's on 11",
        d ? `skewed ${d.skewedOwn}, holed ${d.holedOn} of ${d.drives}` : 'not observed',
      ),
      answered('skewed', 'disagreeing', false),
      answered('holed', 'missing', true),
      checksumCheck(ev),
      allDrivesCheck(ev, 'afterRestart', 12),
      finalReadCheck(ev),
    ];
  },
  predictions: [
    {
      before: 'down',
      question:
        'With one node down, 8 drives answer and 7 agree on skewed. What does a GET of skewed answer under EC:4?',
      choices: ['the object', '503: unreadable for now', '404 NoSuchKey'],
      answer: (ev) => {
        const g = completions(ev.ops, 'get').find((o) => o.process === 'down:skewed');
        return g === undefined ? undefined : g.type === 'ok' ? 0 : g.error === 'NoSuchKey' ? 2 : 1;
      },
    },
  ],
});
