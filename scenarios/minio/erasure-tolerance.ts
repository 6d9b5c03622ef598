import { check } from '../../src/checkers/check.ts';
import { lastObservation } from '../../src/engine/history.ts';
import { defineLab } from '../../src/engine/lab.ts';
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
const KILL_ORDER = ['minio4', 'minio3', 'minio2'];

export default defineLab({
  id: 'minio/erasure-tolerance',
  title: 'Erasure coding: how many nodes can MinIO lose?',
  teaches:
    'reads need as many drives as there are data shards, writes one more when data = parity: with 4 nodes x 2 drives (EC:4) one node down changes nothing, two stop writes, three stop reads',
  notes:
    'Notes: "纠删码EC (Erasure Code)" (lose N/2 drives and still read; need N/2+1 to write) and "分布式Minio优势 - 高可用". ' +
    'The lesson holds here only because 8 drives default to EC:4, which is half. The notes are wrong that default parity ' +
    'is always N/2 (MinIO picks EC:4 for 8 to 16 drives, EC:2 for 4-5, EC:3 for 6-7) and that erasure coding needs at ' +
    'least 4 drives (2 or 3 drives get EC:1).',
  params: {},
  stack: minio,
  topology: () => ({ nodes: 4, drives: 2 }),
  async mechanism(lab) {
    return observeErasure(lab as unknown as Ctx, VIA);
  },
  async run(raw) {
    const lab = raw as unknown as Ctx;
    const v = lastObservation(lab.history.evidence(), 'erasure') as ErasureView;
    await lab.step(
      'Upload objects of several sizes, with checksums',
      `Bucket "${BUCKET}" gets a 1 KiB, a 256 KiB and a 2 MiB object through ${VIA}; the lab keeps each one's sha256. ` +
        `Each object is cut into ${v.setDrives - v.parity} data shards plus ${v.parity} parity shards (Reed-Solomon), one ` +
        `per drive of the erasure set: any ${v.setDrives - v.parity} of the ${v.setDrives} shards rebuild it. Objects ` +
        "under 128 KiB are stored inline in each drive's xl.meta; bigger ones in part files beside it.",
      async () => {
        await lab.stack.client(VIA).makeBucket(BUCKET);
        const ok = await putEach(lab, VIA, 's3-0down', 'base');
        const got = await getAll(lab, VIA, 's3-0down');
        lab.say(`${ok} objects stored, ${got} read back`);
      },
      [
        lab.stack.mcCommand(VIA, `ls local/${BUCKET}`),
        `docker exec ${lab.stack.cluster.node(VIA).containerName} find /data1/${BUCKET}`,
      ],
    );
    await killSteps(lab, v);
  },
  async final(raw) {
    const lab = raw as unknown as Ctx;
    await getAll(lab, VIA, 'final');
  },
  check(ev) {
    const view = lastObservation(ev, 'erasure') as ErasureView | undefined;
    const steps = stepsOf(ev);
    return [
      check(
        'the erasure set and its parity are reported by the server',
        view !== undefined && view.parity > 0 && view.setDrives > 0,
        'mc admin info reports an erasure set and its standard-class parity',
        view ? `${view.sets.length} set(s) of ${view.setDrives} drives, EC:${view.parity}` : 'not observed',
        view,
      ),
      check(
        'each number of nodes down was tried',
        steps.length === KILL_ORDER.length,
        `${KILL_ORDER.length} steps`,
        `${steps.length}`,
      ),
      ...availabilityChecks(ev, view),
      checksumCheck(ev),
      allDrivesCheck(ev, 'afterRestart', 8),
      finalReadCheck(ev),
    ];
  },
  predictions: [
    {
      beforeStep: 3,
      question: 'Two of the four nodes (4 of 8 drives) are about to be down. What still works?',
      choices: ['reads and writes', 'reads only', 'neither'],
      answer: (ev) => {
        const s = stepsOf(ev).find((x) => x.down.length === 2);
        return s === undefined ? undefined : s.expected.write ? 0 : s.expected.read ? 1 : 2;
      },
    },
  ],
});

async function killSteps(lab: Ctx, v: ErasureView): Promise<void> {
  await killSeries(lab, VIA, KILL_ORDER, (k) => {
    const online = v.setDrives - k * lab.stack.params.drives;
    return (
      `${k} node(s) down leaves ${online} of ${v.setDrives} drives. Reads need ${v.readQuorum} (the data shards), writes ` +
      `${v.writeQuorum}${v.writeQuorum > v.readQuorum ? ' (data = parity, so one more: two halves of a split cluster must never both accept writes)' : ''}. ` +
      `So reads should ${online >= v.readQuorum ? 'work' : 'fail'} and writes ${online >= v.writeQuorum ? 'work' : 'fail'}. ` +
      `The health endpoints say the same: /minio/health/cluster is 200 only with write quorum, ` +
      '/minio/health/cluster/read only with read quorum. Every object read back is compared with its sha256.'
    );
  });
  await restartAll(lab, KILL_ORDER);
}
