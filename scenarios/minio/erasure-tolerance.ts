import { check } from '../../src/checkers/check.ts';
import { observed } from '../../src/engine/history.ts';
import { defineLab } from '../../src/engine/lab.ts';
import { minio } from '../../stacks/minio/stack.ts';
import {
  allDrivesCheck,
  availabilityChecks,
  BUCKET,
  type Ctx,
  checksumCheck,
  type DrivesSeen,
  type ErasureView,
  finalReadCheck,
  getAll,
  killSeries,
  type NodeFault,
  noticeChecks,
  observeErasure,
  putEach,
  restartAll,
  stepsOf,
  upgradeChecks,
} from './common.ts';

const VIA = 'minio1';
const KILL_ORDER = ['minio4', 'minio3', 'minio2'];
/** The quorum rule is the lesson, not how long peers take to notice: a process crash is noticed at once. */
const FAULT: NodeFault = 'crash';

interface Seen {
  erasure: ErasureView;
  afterRestart: DrivesSeen;
}

export default defineLab({
  id: 'minio/erasure-tolerance',
  title: 'Erasure coding: how many nodes can MinIO lose?',
  teaches:
    'reads need as many drives as there are data shards, writes one more when data = parity: with 4 nodes x 2 drives (EC:4) one node down changes nothing, two stop writes, three stop reads',
  notes:
    'Notes (seed file, MinIO chapter): line 2805 "即便您丢失一半数量(N/2)的硬盘,您仍然可以恢复数据", line 2810 "只要保证正常磁盘数大于等' +
    'n/2+1时,就可以支持写入新数据", line 3074 ("只要有N/2硬盘在线，数据就是安全的。不过你需要至少有N/2+1个硬盘来创建新的对象"). ' +
    'That rule holds here only because 8 drives default to EC:4, half the set: the lab proves it from the server before any ' +
    'fault. The notes are wrong that parity is always N/2 (line 2807, "将对象拆分成N/2数据和N/2奇偶校验块"): MinIO ' +
    'defaults to EC:4 for sets of 8 to 16 drives, EC:3 for 6-7, EC:2 for 4-5, so with 12 or 16 drives reads need more ' +
    'than half; and wrong that erasure coding needs at least 4 drives (lines 2816, 2863: 2 or 3 drives get EC:1). ' +
    'Nodes are taken down by crashing their server process (the container and its address stay), so the survivor ' +
    'counts its drives offline within 2 s; `minio/notes-topology --param fault=kill` shows a machine crash, noticed ' +
    'only by time-outs.',
  params: {},
  stack: minio,
  topology: () => ({ nodes: 4, drives: 2, crashable: true }),
  async mechanism(raw) {
    const lab = raw as unknown as Ctx;
    const problems = await observeErasure(lab, VIA);
    const v = observed<Seen>(lab.history.evidence()).erasure;
    // "+1 for writes" exists only when data = parity: the lesson needs parity at half the set.
    if (v && v.parity * 2 !== v.setDrives) {
      problems.push(
        `parity EC:${v.parity} of ${v.setDrives} drives is not half the set: data != parity, so writes need no extra drive`,
      );
    }
    if (v && v.sets.length !== 1) problems.push(`${v.sets.length} erasure sets, the lesson needs one`);
    return problems;
  },
  async run(raw) {
    const lab = raw as unknown as Ctx;
    const v = observed<Seen>(lab.history.evidence()).erasure as ErasureView;
    await lab.step(
      'Upload objects of several sizes, with checksums',
      `Bucket "${BUCKET}" gets a 1 KiB, a 256 KiB and a 2 MiB object through ${VIA}; the lab keeps each one's sha256. ` +
        `Each object is cut into ${v.setDrives - v.parity} data shards plus ${v.parity} parity shards (Reed-Solomon), one ` +
        `per drive of the erasure set: any ${v.setDrives - v.parity} of the ${v.setDrives} shards rebuild it. MinIO ` +
        "stores an object inside each drive's xl.meta when its shard is at most 128 KiB: here the 1 KiB and the " +
        '256 KiB objects (64 KiB shards); the 2 MiB one gets part files beside it.',
      async () => {
        await lab.stack.client(VIA).makeBucket(BUCKET);
        const ok = await putEach(lab, VIA, 's3-0down', 'base');
        // Read back through every node, not only the one that took the writes, before any fault.
        const got = await Promise.all(lab.stack.nodeNames.map((n) => getAll(lab, n, 's3-0down')));
        lab.say(`${ok} objects stored, read back through ${lab.stack.nodeNames.join(', ')}: ${got.join(', ')}`);
      },
      [
        lab.stack.mcCommand(VIA, `ls local/${BUCKET}`),
        `docker exec ${lab.stack.cluster.node(VIA).containerName} find /data1/${BUCKET}`,
      ],
    );
    await killSeries(lab, VIA, KILL_ORDER, FAULT, (k) => {
      const online = v.setDrives - k * lab.stack.params.drives;
      return (
        `${k} node(s) down leaves ${online} of ${v.setDrives} drives. Reads need ${v.readQuorum} (the data shards), writes ` +
        `${v.writeQuorum}${v.writeQuorum > v.readQuorum ? ' (data = parity, so one more: two halves of a split cluster must never both accept writes)' : ''}. ` +
        `So reads should ${online >= v.readQuorum ? 'work' : 'fail'} and writes ${online >= v.writeQuorum ? 'work' : 'fail'}. ` +
        `The health endpoints say the same: /minio/health/cluster is 200 only with write quorum, ` +
        '/minio/health/cluster/read only with read quorum. Every object read back is compared with its sha256. ' +
        `An object written now would get one more parity shard per offline drive, at most half the set: EC:${v.parity} ` +
        'is already half, so it stays EC:4.'
      );
    });
    await restartAll(lab, KILL_ORDER, FAULT);
  },
  async final(raw) {
    await getAll(raw as unknown as Ctx, VIA, 'final');
  },
  check(ev) {
    const view = observed<Seen>(ev).erasure;
    const steps = stepsOf(ev);
    return [
      check(
        'each number of nodes down was tried',
        steps.length === KILL_ORDER.length,
        `${KILL_ORDER.length} steps`,
        `${steps.length}`,
      ),
      ...noticeChecks(ev),
      ...availabilityChecks(ev, view),
      ...upgradeChecks(ev, view),
      checksumCheck(ev),
      allDrivesCheck(ev, 'afterRestart', 8),
      finalReadCheck(ev),
    ];
  },
  predictions: [
    {
      before: 'down-2',
      question: 'Two of the four nodes (4 of 8 drives) are about to be down. What still works?',
      choices: ['reads and writes', 'reads only', 'neither'],
      answer: (ev) => {
        const s = stepsOf(ev).find((x) => x.down.length === 2);
        return s === undefined ? undefined : s.expected.write ? 0 : s.expected.read ? 1 : 2;
      },
    },
  ],
});
