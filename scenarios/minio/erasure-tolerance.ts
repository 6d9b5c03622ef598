import * as kit from './kit.ts';

const KILL_ORDER = ['minio4', 'minio3', 'minio2'];
/** The quorum rule is the lesson, not how long peers take to notice: a process crash is noticed at once. */
const FAULT: kit.NodeFault = 'crash';

/** The step taking the k-th node down. */
const down = (k: number) => ({
  title: `{Fault} {node} (${k} of 4 nodes down)`,
  narration:
    `${k} node(s) down leaves {online} of {setDrives} drives. Reads need {readQuorum} (the data shards), writes ` +
    '{writeQuorum} (data = parity, so one more: two halves of a split cluster must never both accept writes). So ' +
    'reads should {reads} and writes {writes}. The health endpoints say the same: /minio/health/cluster is 200 only ' +
    'with write quorum, /minio/health/cluster/read only with read quorum. Every object read back is compared with ' +
    'its sha256. An object written now would get one more parity shard per offline drive, at most half the set: ' +
    'EC:{ec} is already half, so it stays EC:{ec}. How: {how}. The lab first waits until the survivor ' +
    'counts its drives offline.',
  commands: kit.DOWN_COMMANDS,
});

export default kit.defineLab({
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
  stack: kit.minio,
  topology: () => ({ nodes: 4, drives: 2, crashable: true }),
  steps: {
    upload: {
      title: 'Upload objects of several sizes, with checksums',
      narration:
        `Bucket "${kit.BUCKET}" gets a 1 KiB, a 256 KiB and a 2 MiB object through ${kit.VIA}; the lab keeps each one's sha256 ` +
        'and reads each back through every node. Each object is cut into {data} data shards plus {ec} parity ' +
        'shards (Reed-Solomon), one per drive of the erasure set: any {data} of the {setDrives} shards rebuild it. ' +
        "MinIO stores an object inside each drive's xl.meta when its shard is at most 128 KiB: here the 1 KiB and " +
        'the 256 KiB objects (64 KiB shards); the 2 MiB one gets part files beside it.',
      commands: [
        kit.mcCommand(kit.VIA, `ls local/${kit.BUCKET}`),
        `docker exec {@${kit.VIA}} find /data1/${kit.BUCKET}`,
      ],
    },
    'down-1': down(1),
    'down-2': down(2),
    'down-3': down(3),
    restart: kit.RESTART_STEP,
  },
  async mechanism(lab) {
    const problems = await kit.proveErasure(lab, { setDrives: 8 });
    const v = kit.erasureOf(lab);
    // "+1 for writes" exists only when data = parity: the lesson needs parity at half the set.
    if (v.parity * 2 !== v.setDrives) {
      problems.push(
        `parity EC:${v.parity} of ${v.setDrives} drives is not half the set: data != parity, so writes need no extra drive`,
      );
    }
    return problems;
  },
  async run(lab) {
    await kit.uploadStep(lab);
    await kit.killSeries(lab, kit.VIA, KILL_ORDER, FAULT);
  },
  final: (lab) => kit.finalRead(lab, kit.VIA),
  check: (ev) => kit.killSeriesChecks(ev, 'each number of nodes down was tried', KILL_ORDER.length, 8),
  predictions: [
    {
      before: 'down-2',
      question: 'Two of the four nodes (4 of 8 drives) are about to be down. What still works?',
      choices: ['reads and writes', 'reads only', 'neither'],
      answer: (ev) => {
        const s = kit.observed<Record<string, kit.StepRecord | undefined>>(ev)['step-2'];
        return s === undefined ? undefined : s.expected.write ? 0 : s.expected.read ? 1 : 2;
      },
    },
  ],
});
