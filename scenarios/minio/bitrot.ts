import * as kit from './kit.ts';

const ID = 'bitrot-2m';
/** The corrupted shard's checksum: {node} and {file} are the target's, known once it is found. */
const SUM = 'docker exec {@node} sha256sum {file}';

/** How long a deep heal may take to rewrite the shard: the bound the lab prints and checks. */
const HEAL_BOUND_MS = 5000;

/** The data shard the lab corrupts: its drive, erasure index of EcM data shards, part file. */
interface Target {
  drive: string;
  ecIndex: number;
  dataShards: number;
  file: string;
}

/** The shard's sha256 before and after the corruption; after the heal, and how long it took (ms undefined: not within the bound). */
interface Seen {
  target: Target;
  corruption: Target & { before: string | undefined; after: string | undefined };
  healedShard: { sha256: string | undefined; ms: number | undefined };
}

export default kit.defineLab({
  id: 'minio/bitrot',
  title: 'Bit rot: one shard corrupted on disk',
  teaches:
    'every shard block carries a hash: a GET detects the corrupted shard, rebuilds the data from the others and returns the original bytes; healing rewrites the shard',
  notes:
    'Notes (seed file, MinIO chapter): line 3071 "分布式Minio采用纠删码来防范多个节点宕机和位衰减bit rot" and line 2805 ' +
    '"Minio使用纠删码erasure code和校验和checksum来保护数据免受硬件故障和无声数据损坏". Right, and shown here: MinIO keeps ' +
    'a HighwayHash per shard block (bitrot protection) next to the data in part.1. No node goes down in this lab ' +
    '(neither crash nor kill): one shard file is damaged while every server runs.',
  params: {},
  stack: kit.minio,
  topology: () => ({ nodes: 4, drives: 2 }),
  steps: {
    upload: {
      title: 'Upload a 2 MiB object and find a data shard on disk',
      narration:
        'A 2 MiB object is too big to be inlined in xl.meta: every drive gets a part file ' +
        `/dataN/${kit.BUCKET}/${ID}/<data-dir uuid>/part.1 holding its shard, each block preceded by its hash. The lab reads ` +
        "each xl.meta for the drive's erasure index (EcIndex) and picks a drive holding a data shard (index <= EcM), " +
        'the kind a GET reads first: corrupting a parity shard would not even be noticed by a read.',
      commands: [`docker exec {@minio2} find /data1/${kit.BUCKET}`],
    },
    corrupt: {
      title: 'Corrupt the shard on {drive}',
      narration:
        'A few bytes in the middle of the first block are overwritten in place (dd conv=notrunc): the file keeps its ' +
        'size and date, as with a disk that silently flipped bits. Nothing tells MinIO.',
      commands: [SUM],
    },
    read: {
      title: 'Read the object',
      narration:
        'The GET reads the data shards and checks each block against its hash. The corrupted block does not match: ' +
        'MinIO drops that shard, reads a parity shard instead and reconstructs the data. The client gets the original ' +
        'bytes (the lab compares sha256) and never hears about the corruption.',
      commands: [kit.mcCommand(kit.VIA, `cat local/${kit.BUCKET}/${ID} | sha256sum`)],
    },
    heal: {
      title: 'Heal the shard',
      narration:
        '`mc admin heal -r --scan deep` reads every shard and checks its hashes (a normal scan only checks that the ' +
        'shards exist, and would miss this); it rewrites the bad shard from the others. The lab waits until the part ' +
        `file is byte-identical to what it was, for at most ${HEAL_BOUND_MS / 1000} s (the bound it checks; 1.2-2.8 s in the runs measured here).`,
      commands: [kit.mcCommand(kit.VIA, `admin heal -r --scan deep local/${kit.BUCKET}`), SUM],
    },
  },
  mechanism: (lab) => kit.proveErasure(lab),
  async run(lab) {
    const w = new kit.ObjectWorkload(lab.history, lab.stack);
    const upload = async (): Promise<kit.DriveRef & Target> => {
      const c = lab.stack.client(kit.VIA);
      await c.makeBucket(kit.BUCKET);
      const put = await c.put(lab.history, 'put', kit.VIA, kit.BUCKET, ID, kit.payload(kit.SIZES['2m'] as number));
      if (!put.ok) throw new Error(`the upload failed: ${put.code}`);
      // A node other than the one the lab reads through, so the two reads differ: one gathers the bad shard remotely.
      for (const node of [...lab.stack.nodeNames.filter((n) => n !== kit.VIA), kit.VIA]) {
        for (let i = 1; i <= lab.stack.params.drives; i++) {
          const d = { node, path: `/data${i}` };
          const ec = kit.ecIndexOf((await lab.stack.xlMeta(d, kit.BUCKET, ID)) ?? Buffer.alloc(0));
          const file = await lab.stack.partFile(d, kit.BUCKET, ID);
          if (!ec || !file || ec.index > ec.data) continue;
          const t = lab.observe('target', { drive: kit.driveLabel(d), ecIndex: ec.index, dataShards: ec.data, file });
          lab.say(`${t.drive} holds data shard ${ec.index} of ${ec.data}: ${file}`);
          return { ...d, ...t };
        }
      }
      throw new Error('no drive with a data shard part file found');
    };
    const t = await lab.step('upload', upload);
    const vars = { drive: t.drive, node: t.node, file: t.file };
    const corrupt = async () => {
      const before = await lab.stack.fileSha256(t.node, t.file);
      const dd = `printf 'MIDLAB-BITROT-MIDLAB-BITROT' | dd of=${t.file} bs=1 seek=4096 conv=notrunc status=none`;
      await lab.stack.cluster.node(t.node).run(['sh', '-c', dd]);
      lab.faults.note('corrupt', [t.drive], `overwrote 27 bytes of ${t.file} on ${t.node}`);
      const after = await lab.stack.fileSha256(t.node, t.file);
      const { drive, ecIndex, dataShards, file } = t;
      const text = `shard sha256 ${before?.slice(0, 12)}... -> ${after?.slice(0, 12)}...`;
      lab.observe<Seen['corruption']>('corruption', { drive, ecIndex, dataShards, file, before, after }, text);
      return before;
    };
    const before = await lab.step('corrupt', corrupt, { vars });
    const read = async () => {
      const got = (await w.getAll(kit.VIA, 'read-corrupt')) + (await w.getAll(t.node, 'read-corrupt-local'));
      lab.say(`${got} of 2 reads returned the object`);
    };
    await lab.step('read', read);
    const heal = async () => {
      lab.say(`mc admin heal: ${await lab.stack.heal(kit.VIA, kit.BUCKET, true)}`);
      const current = async () => lab.stack.fileSha256(t.node, (await lab.stack.partFile(t, kit.BUCKET, ID)) ?? t.file);
      const { value: sha, ms } = await kit.within(lab, 'the shard to be rewritten', HEAL_BOUND_MS, async () => {
        const now = await current();
        return now === before ? { done: true, value: now } : { done: false, seen: now ?? 'missing' };
      });
      const healed = sha ?? (await current());
      const text = healed === before ? `the shard is byte-identical again (${ms} ms)` : 'the shard was not restored';
      lab.observe<Seen['healedShard']>('healedShard', { sha256: healed, ms }, text);
      for (const x of lab.faults.openFaults()) lab.faults.endNote(x, 'shard rewritten');
    };
    await lab.step('heal', heal, { vars });
  },
  final: (lab) => kit.finalRead(lab, kit.VIA),
  check(ev) {
    const { corruption: c, healedShard: healed } = kit.observed<Seen>(ev);
    const reads = kit.completions(ev.ops, 'get').filter((o) => o.process.startsWith('read-corrupt'));
    return [
      kit.check(
        'a data shard was corrupted on disk',
        !!c?.before && !!c.after && c.before !== c.after && c.ecIndex <= c.dataShards,
        'the part file of a data shard changed',
        c
          ? `${c.drive} shard ${c.ecIndex}/${c.dataShards}: ${c.before?.slice(0, 12)} -> ${c.after?.slice(0, 12)}`
          : 'not observed',
      ),
      kit.check(
        'a read still returns the object',
        reads.length === 2 && reads.every((o) => o.type === 'ok'),
        'both GETs ok (through minio1 and through the node with the corrupted shard)',
        reads.map((o) => `${o.node}: ${o.type === 'ok' ? 'ok' : o.error}`).join(', ') || 'no read',
      ),
      kit.checksumCheck(ev),
      kit.check(
        `healing rewrites the corrupted shard within ${HEAL_BOUND_MS / 1000} s`,
        c !== undefined && healed?.sha256 === c.before && healed?.ms !== undefined && healed.ms <= HEAL_BOUND_MS,
        `the part file is byte-identical to before the corruption within ${HEAL_BOUND_MS} ms of mc admin heal`,
        healed?.sha256 === c?.before
          ? `identical after ${healed?.ms} ms`
          : `sha256 ${String(healed?.sha256).slice(0, 12)}`,
      ),
    ];
  },
});
