import { check } from '../../src/checkers/check.ts';
import { lastObservation } from '../../src/engine/history.ts';
import { defineLab } from '../../src/engine/lab.ts';
import { defaultParity } from '../../stacks/minio/config.ts';
import { minio } from '../../stacks/minio/stack.ts';
import {
  allDrivesCheck,
  availabilityChecks,
  BUCKET,
  type Ctx,
  checksumCheck,
  type ErasureView,
  finalReadCheck,
  getAll,
  killSeries,
  observeErasure,
  putEach,
  restartAll,
  stepsOf,
} from './common.ts';

const VIA = 'minio1';
const KILL_ORDER = ['minio3', 'minio2'];
const NODES = 3;
const DRIVES = 4;

export default defineLab({
  id: 'minio/notes-topology',
  title: "The notes' 3 nodes x 4 drives: which parity, and what it survives",
  teaches:
    'the server, not the drive count, decides the parity: 12 drives default to EC:4 (8 data + 4 parity), not the 6+6 the notes describe; one node down leaves reads and writes, two leave neither',
  notes:
    'Notes: "二进制安装MinIO 实现3节点4磁盘的分布式集群部署" (the 3 x 4 layout) and "纠删码EC" ("12块盘...6个数据块、6个奇偶校验块, ' +
    '你可以丢失任意6块盘"). Wrong by default: 12 drives get EC:4, so any 4 drives (one node) may be lost, not 6. The 6+6 claim ' +
    'holds only with parity set to 6 (MINIO_STORAGE_CLASS_STANDARD=EC:6, run this lab with --param parity=6) - and even ' +
    'then two nodes down are 8 drives, more than 6. Also wrong: parity is not always half the drives, and fewer than 4 ' +
    'drives is allowed (2-3 drives get EC:1).',
  variants: [{}, { parity: 6 }],
  params: {
    parity: {
      type: 'int',
      default: 0,
      min: 0,
      max: 6,
      describe: "EC:N for the standard storage class (0: the server default; 6: the notes' 6+6)",
    },
  },
  stack: minio,
  topology: (p) => ({ nodes: NODES, drives: DRIVES, parity: p.parity }),
  async mechanism(raw) {
    const lab = raw as unknown as Ctx;
    const problems = await observeErasure(lab, VIA);
    const v = lastObservation(lab.history.evidence(), 'erasure') as ErasureView;
    const wanted = (lab.params.parity as number) || defaultParity(v.setDrives);
    lab.observe(
      'parityChoice',
      { chosen: v.parity, requested: lab.params.parity, notesClaim: (NODES * DRIVES) / 2 },
      lab.params.parity
        ? `asked for EC:${lab.params.parity}; the server runs EC:${v.parity}`
        : `nothing asked: the server chose EC:${v.parity} for ${v.setDrives} drives ` +
            `(${v.setDrives - v.parity} data + ${v.parity} parity), ${v.parity === v.setDrives / 2 ? 'half, as the notes say' : `not the notes' ${v.setDrives / 2}+${v.setDrives / 2}`}`,
    );
    if (v.parity !== wanted) problems.push(`expected EC:${wanted}, the server runs EC:${v.parity}`);
    return problems;
  },
  async run(raw) {
    const lab = raw as unknown as Ctx;
    const v = lastObservation(lab.history.evidence(), 'erasure') as ErasureView;
    await lab.step(
      'Upload objects with checksums',
      `Every node runs \`minio server http://minio{1...3}:9000/data{1...4}\`: one erasure set of 12 drives. With EC:${v.parity} ` +
        `each object is ${v.setDrives - v.parity} data + ${v.parity} parity shards: reads need ${v.readQuorum} drives, ` +
        `writes ${v.writeQuorum}. A node holds 4 shards of every object.`,
      async () => {
        await lab.stack.client(VIA).makeBucket(BUCKET);
        const ok = await putEach(lab, VIA, 's3-0down', 'base');
        const got = await getAll(lab, VIA, 's3-0down');
        lab.say(`${ok} objects stored, ${got} read back`);
      },
      [lab.stack.mcCommand(VIA, 'admin info local --json'), lab.stack.mcCommand(VIA, `ls local/${BUCKET}`)],
    );
    await killSeries(lab, VIA, KILL_ORDER, (k) => {
      const online = v.setDrives - k * DRIVES;
      return (
        `${k} node(s) down: ${online} of 12 drives left. With EC:${v.parity}: reads ${online >= v.readQuorum ? 'work' : 'fail'} ` +
        `(need ${v.readQuorum}), writes ${online >= v.writeQuorum ? 'work' : 'fail'} (need ${v.writeQuorum}). ` +
        'The notes\' "lose any 6 of 12" counts drives; a node takes 4 of them with it.'
      );
    });
    await restartAll(lab, KILL_ORDER);
  },
  async final(raw) {
    await getAll(raw as unknown as Ctx, VIA, 'final');
  },
  check(ev, p) {
    const view = lastObservation(ev, 'erasure') as ErasureView | undefined;
    const wanted = p.parity || defaultParity(view?.setDrives ?? 0);
    return [
      check(
        'the server reports the parity it chose',
        view !== undefined && view.parity === wanted && view.setDrives === NODES * DRIVES,
        `one set of 12 drives, EC:${wanted}${p.parity ? ' (as asked)' : ' (the default for 12 drives; the notes say 6)'}`,
        view ? `${view.sets.length} set(s) of ${view.setDrives}, EC:${view.parity}` : 'not observed',
      ),
      check('one and two nodes down were tried', stepsOf(ev).length === 2, '2 steps', `${stepsOf(ev).length}`),
      ...availabilityChecks(ev, view),
      checksumCheck(ev),
      allDrivesCheck(ev, 'afterRestart', NODES * DRIVES),
      finalReadCheck(ev),
    ];
  },
  predictions: [
    {
      beforeStep: 2,
      question:
        'The notes say 12 drives are split 6 data + 6 parity. What parity will the server report, and what survives one node (4 drives) down?',
      choices: ['EC:6; reads and writes', 'EC:4; reads and writes', 'EC:4; reads only'],
      answer: (ev) => {
        const v = lastObservation(ev, 'erasure') as ErasureView | undefined;
        const s = stepsOf(ev).find((x) => x.down.length === 1);
        if (!v || !s) return undefined;
        if (v.parity === 6) return 0;
        return s.expected.write ? 1 : 2;
      },
    },
  ],
});
