import * as kit from './kit.ts';

const KILL_ORDER = ['minio3', 'minio2'];
const NODES = 3;
const DRIVES = 4;

interface ParityChoice {
  chosen: number;
  requested: number;
  notesClaim: number;
}

interface Seen {
  erasure: kit.ErasureView;
  parityChoice: ParityChoice;
  afterRestart: kit.DrivesSeen;
}

/** The step taking the k-th node down; `more` is what this step adds. */
const down = (k: number, more: string) => ({
  title: `{Fault} {node} (${k} of ${NODES} nodes down)`,
  narration: (p: { fault: string }) =>
    `${k} node(s) down: {online} of 12 drives left. With EC:{ec}: reads {reads} (need {readQuorum}), writes ` +
    '{writes} (need {writeQuorum}). The notes\' "lose any 6 of 12" counts drives; a node takes 4 of them with it. ' +
    more +
    (p.fault === 'kill'
      ? ' A machine kill is noticed only when calls to the dead peer time out (10-55 s here).'
      : ' The lab crashes the server process rather than killing the machine: the quorum rule does not depend on ' +
        'how the node died, and a crash is noticed at once.') +
    ' How: {how}. The lab first waits until the survivor counts its drives offline.',
  commands: kit.DOWN_COMMANDS,
});

export default kit.defineLab({
  id: 'minio/notes-topology',
  title: "The notes' 3 nodes x 4 drives: which parity, and what it survives",
  teaches:
    "the server, not the drive count, decides the parity (12 drives: EC:4 by default, 8 data + 4 parity, not the notes' 6+6); the availability at one and two nodes down follows from the parity the server reports; objects written with a node down get a higher parity",
  notes:
    'Notes (seed file, MinIO chapter): line 3107 "二进制安装MinIO 实现3节点4磁盘的分布式集群部署" (this layout) and line 2813 ' +
    '"如果是12块盘，一个对象会被分成6个数据块、6个奇偶校验块，你可以丢失任意6块盘". Wrong by default: MinIO gives 12 drives ' +
    'EC:4, so any 4 drives (one node) may be lost, not 6; the lab reports what the server chose. The 6+6 claim holds only ' +
    'with parity set to 6 (MINIO_STORAGE_CLASS_STANDARD=EC:6, --param parity=6), and even then two nodes down are 8 ' +
    'drives, more than 6. Line 3075 ("一个16节点Minio集群，每个节点16块硬盘，就算8台服务器宕机，这个集群仍然可读的") is wrong ' +
    'too under the default parity: 256 drives form sets of 16 with EC:4, one drive per node, so 8 servers down leave 8 of ' +
    '16 drives per set, fewer than the 12 data shards a read needs (it holds only with EC:8). Line 3097 ("磁盘只要存活M*N/2 ' +
    '...数据就是安全的") likewise assumes parity N/2. Not in the notes: an object written while drives are offline gets one ' +
    'more parity shard per offline drive, up to half the set (EC:6 here with a node down). Line 2736 (MinIO as a gateway ' +
    'to S3 or Azure) is outdated: gateway mode was removed in 2022. Nodes go down by a process crash here (noticed at ' +
    'once, connection refused; --param fault=kill kills the machine instead, noticed only by time-outs, after 10-55 s ' +
    'here).',
  variants: [{}, { parity: 6 }],
  params: {
    parity: kit.parityParam("EC:N for the standard storage class (0: the server default; 6: the notes' 6+6)"),
    fault: {
      type: 'enum',
      default: 'crash',
      choices: ['crash', 'kill'],
      describe:
        'how nodes go down: crash (server process, noticed at once) or kill (the machine, noticed by time-outs)',
    },
  },
  stack: kit.minio,
  topology: (p) => ({ nodes: NODES, drives: DRIVES, parity: p.parity, crashable: true }),
  steps: {
    upload: {
      title: 'Upload objects with checksums',
      narration:
        'Every node runs `minio server http://minio{1...3}:9000/data{1...4}`: one erasure set of 12 drives. The ' +
        'server reports EC:{ec}, so each object is {data} data + {ec} parity shards: reads need {readQuorum} ' +
        'drives, writes {writeQuorum}. A node holds 4 shards of every object. Each object is read back through every node.',
      commands: [kit.mcCommand(kit.VIA, 'admin info local --json'), kit.mcCommand(kit.VIA, `ls local/${kit.BUCKET}`)],
    },
    'down-1': down(
      1,
      'An object written now gets EC:{upgraded} (one more parity shard per offline drive, at most half the set), so ' +
        'it too survives {upgraded} lost drives once all are back. Issue #18, explained: a put is acknowledged once ' +
        "the write quorum (8) of drives has it, not all 12. On a cluster called ready on minio1's view alone, an " +
        "object put 1 s after the nodes started reached 9 drives (minio2's /data1, /data2, /data4 missed it), and " +
        'minio3 was crashed 150 ms later, before healing copied it: 5 of the 8 answering drives held it, fewer than ' +
        'half the set, so the GET answered NoSuchKey instead of 503 (minio/not-found shows both paths every run). ' +
        'Its xl.meta stayed on the 9 drives, unchanged: unreadable, not deleted. Of 9 runs of that set-up, 1 lost ' +
        'an object so, and in 2 more minio1 answered 503 just after the restart while minio2 and minio3 served the ' +
        'object from all 12 drives. This lab waits until every node lists every drive online for 1 s and reads each object back ' +
        "through every node first. The final read traces any object it misses (each node's answer, the drives " +
        'holding its xl.meta).',
    ),
    'down-2': down(2, ''),
    restart: kit.RESTART_STEP,
  },
  async mechanism(lab) {
    const requested = lab.params.parity;
    const problems = await kit.proveErasure(lab, { setDrives: NODES * DRIVES, parity: requested });
    const v = kit.erasureOf(lab);
    lab.observe<ParityChoice>(
      'parityChoice',
      { chosen: v.parity, requested, notesClaim: (NODES * DRIVES) / 2 },
      requested
        ? `asked for EC:${requested}; the server runs EC:${v.parity}`
        : `nothing asked: the server chose EC:${v.parity} for ${v.setDrives} drives ` +
            `(${v.setDrives - v.parity} data + ${v.parity} parity), ${v.parity === v.setDrives / 2 ? 'half, as the notes say' : `not the notes' ${v.setDrives / 2}+${v.setDrives / 2}`}`,
    );
    return problems;
  },
  async run(lab) {
    await kit.uploadStep(lab);
    await kit.killSeries(lab, kit.VIA, KILL_ORDER, lab.params.fault);
  },
  final: (lab) => kit.finalRead(lab, kit.VIA),
  check: (ev) => kit.killSeriesChecks(ev, 'one and two nodes down were tried', KILL_ORDER.length, NODES * DRIVES),
  predictions: [
    {
      before: 'down-1',
      question:
        'The notes say 12 drives are split 6 data + 6 parity. What parity will the server report, and what survives one node (4 drives) down?',
      choices: ['EC:6; reads and writes', 'EC:4; reads and writes', 'EC:4; reads only', 'another parity'],
      answer: (ev) => {
        const v = kit.observed<Seen>(ev).erasure;
        const s = kit.stepsOf(ev).find((x) => x.down.length === 1);
        if (!v || !s) return undefined;
        if (v.parity === 6) return 0;
        if (v.parity !== 4) return 3;
        return s.expected.write ? 1 : 2;
      },
    },
  ],
});
