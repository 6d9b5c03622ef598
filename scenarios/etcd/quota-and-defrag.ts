import * as kit from './kit.ts';

const DIR = '/midlab/big';
const VALUE = 'x'.repeat(60_000);
/** Enough puts of 60 kB to pass any quota the lab allows. */
const MAX_PUTS = 60;

/** etcd1's file, as `endpoint status` reports it, after each step. */
interface DbSize {
  step: string;
  dbSize: number;
  dbSizeInUse: number;
  alarms: string[];
}

interface Seen {
  alarmsRaised: { member: string; alarm: string }[];
  alarmsAfter: { member: string; alarm: string }[];
}

const sizeAt = (sizes: DbSize[], step: string) => sizes.find((s) => s.step === step);
const isNospace = (o: kit.Op | undefined) => o?.type === 'fail' && /NOSPACE|space exceeded/.test(o.error ?? '');

export default kit.defineLab({
  id: 'etcd/quota-and-defrag',
  title: 'Filling the quota: NOSPACE, compaction, defragmentation',
  teaches:
    'past --quota-backend-bytes etcd raises NOSPACE and refuses puts while reads work; compaction frees space inside the file, only defragmentation shrinks it; disarmed, writes resume',
  notes:
    'Notes, "etcd配置优化" (seed 001, lines 6652-6671): --quota-backend-bytes (default 2 GiB, a warning above ' +
    '8 GiB: right) and `etcdctl defrag --cluster` (6664-6670). Where the notes mislead: defragmentation is not a ' +
    '"performance" chore (6662); it is what returns the space compaction freed to the file system, and it blocks ' +
    'the member while it runs. Nor does a full quota stop every write: deletes and compactions are still ' +
    'accepted, which is how one gets out. Line 6655 calls --max-request-bytes a per-key limit: it bounds a request.',
  params: {
    quotaKiB: { type: 'int', default: 1024, min: 512, max: 8192, describe: '--quota-backend-bytes in KiB' },
  },
  stack: kit.etcd,
  topology: (p) => ({ members: 3, quotaBytes: p.quotaKiB * 1024 }),
  steps: {
    fill: {
      title: 'Put 60 kB values until the quota of {quotaKiB} KiB is full',
      narration:
        'Each put adds a revision to the bbolt file. When the file passes the quota, the member raises the ' +
        'NOSPACE alarm for the whole cluster and puts are refused: "etcdserver: mvcc: database space exceeded".',
      commands: [kit.etcdctl('etcd1', '--write-out=table endpoint status'), kit.etcdctl('etcd1', 'alarm list')],
    },
    alarm: {
      title: 'With NOSPACE raised: a put, a read, a delete',
      narration:
        'The cluster is read-only for new data: a put is refused, a get answers. A delete is still accepted: it ' +
        'adds a tombstone, and it is the first move out.',
    },
    compact: {
      title: 'Delete the big keys and compact',
      narration:
        'Compaction drops old revisions (--physical: wait until the member has removed them; without it etcdctl ' +
        'returns at once): the pages they used become free inside the file (DB SIZE IN USE falls), ' +
        'but the file keeps its size (DB SIZE): bbolt never gives pages back on its own.',
      commands: [kit.etcdctl('etcd1', 'compact <revision> --physical')],
    },
    defrag: {
      title: 'Defragment every member',
      narration:
        "`etcdctl defrag --cluster` (notes 6667) rewrites each member's file without the free pages, one member " +
        'at a time; that member answers nothing meanwhile. Now DB SIZE falls under the quota.',
      commands: [kit.etcdctl('etcd1', 'defrag --cluster')],
    },
    disarm: {
      title: 'Disarm the alarm; put again',
      narration:
        'The alarm stays until someone disarms it, even with room again: `etcdctl alarm disarm`, then puts work.',
      commands: [kit.etcdctl('etcd1', 'alarm disarm')],
    },
  },
  mechanism: (lab) => kit.proveCluster(lab),
  async run(lab) {
    const e = lab.stack;
    const c = e.client('etcd1', e.names, 3000);
    const size = async (step: string) => {
      const s = await e.status('etcd1');
      const v: DbSize = { step, dbSize: s?.dbSize ?? 0, dbSizeInUse: s?.dbSizeInUse ?? 0, alarms: s?.errors ?? [] };
      lab.observe('db', v, `etcd1 DB SIZE ${v.dbSize} B, in use ${v.dbSizeInUse} B`);
    };
    const client = <T>(f: string, fn: () => Promise<T>, value?: unknown) =>
      kit.recorded(lab.history, 'client', f, 'etcd1', fn, value);
    await size('start');
    await lab.step('fill', async () => {
      for (let i = 1; i <= MAX_PUTS; i++) {
        const id = `b${String(i).padStart(3, '0')}`;
        const r = await kit.recordedPut(lab.history, c, 'filler', `${DIR}/${id}`, id, VALUE);
        if (!r.ok) {
          lab.say(`put ${i} refused: ${String((r.error as Error).message)}`);
          break;
        }
      }
      await size('full');
    });
    await lab.step('alarm', async () => {
      lab.observe('alarmsRaised', await e.alarms('etcd1'));
      await kit.recordedPut(lab.history, c, 'client', '/midlab/after-full', 'after-full');
      const r = await client('read', async () => (await c.get(`${DIR}/b001`)).kvs.length);
      lab.say(`get: ${r.ok ? `${r.result} key` : r.op.error}`);
      await client('delete', () => c.del(`${DIR}/b001`), { key: `${DIR}/b001` });
    });
    await lab.step('compact', async () => {
      await client('delete', () => c.del(`${DIR}/`, true), { key: `${DIR}/` });
      const rev = (await c.get('/', { keysOnly: true })).header.revision ?? 0;
      // --physical: without it etcdctl returns before the member has removed anything.
      await e.client('etcd1').compact(rev, true);
      lab.say(`compacted to revision ${rev}`);
      await size('compacted');
    });
    await lab.step('defrag', async () => {
      await c.defragCluster();
      await size('defragmented');
    });
    await lab.step('disarm', async () => {
      await c.alarmDisarm();
      lab.observe('alarmsAfter', await e.alarms('etcd1'));
      await kit.recordedPut(lab.history, c, 'client', '/midlab/after-disarm', 'after-disarm');
      await size('disarmed');
    });
  },
  plots: [kit.plot<DbSize>('db', 'etcd1 DB SIZE (bytes)', (v) => v.dbSize)],
  predictions: [
    {
      before: 'compact',
      question: 'The big keys are deleted and the history compacted. What happens to the size of the file?',
      choices: ['it shrinks to almost nothing', 'it stays the same: only defragmentation shrinks it'],
      answer: (ev) => {
        const sizes = kit.observedSeries<DbSize>(ev, 'db').map((s) => s.value);
        const full = sizeAt(sizes, 'full')?.dbSize;
        const compacted = sizeAt(sizes, 'compacted')?.dbSize;
        return full === undefined || compacted === undefined ? undefined : compacted >= full ? 1 : 0;
      },
    },
  ],
  check(ev, p) {
    const seen = kit.observed<Seen>(ev);
    const quota = p.quotaKiB * 1024;
    const sizes = kit.observedSeries<DbSize>(ev, 'db').map((s) => s.value);
    const [full, compacted, defragged] = ['full', 'compacted', 'defragmented'].map((s) => sizeAt(sizes, s));
    const fills = kit.completions(ev.ops, 'write').filter((o) => o.process === 'filler');
    const client = kit.completions(ev.ops, 'write').filter((o) => o.process === 'client');
    const read = kit.completions(ev.ops, 'read')[0];
    const del = kit.completions(ev.ops, 'delete')[0];
    const raised = (seen.alarmsRaised ?? []).filter((a) => a.alarm === 'NOSPACE');
    const sz = (s: DbSize | undefined) => (s ? `${s.dbSize} B (in use ${s.dbSizeInUse} B)` : '?');
    return [
      kit.check(
        'puts fill the quota until NOSPACE',
        isNospace(fills.at(-1)) && fills.slice(0, -1).every((o) => o.type === 'ok') && raised.length > 0,
        `puts acknowledged, then "database space exceeded" and a NOSPACE alarm (quota ${quota} B)`,
        `${fills.filter((o) => o.type === 'ok').length} acknowledged, then ${fills.at(-1)?.error ?? 'no refusal'}; alarms: ${raised.map((a) => a.member).join(',') || 'none'}`,
      ),
      kit.check(
        'with NOSPACE, a put is refused and a read answers',
        isNospace(client[0]) && read?.type === 'ok',
        'put: database space exceeded; get: answered',
        `put: ${client[0]?.type} ${client[0]?.error ?? ''}; get: ${read?.type} ${read?.error ?? ''}`,
      ),
      kit.check(
        'with NOSPACE, a delete is still accepted',
        del?.type === 'ok',
        'delete: ok',
        `delete: ${del?.type} ${del?.error ?? ''}`,
      ),
      kit.check(
        'compaction frees space inside the file, not the file',
        !!full && !!compacted && compacted.dbSize >= full.dbSize && compacted.dbSizeInUse < full.dbSizeInUse,
        `DB SIZE stays >= ${full?.dbSize ?? '?'} B while in use falls`,
        `full ${sz(full)}; compacted ${sz(compacted)}`,
      ),
      kit.check(
        'defragmentation shrinks the file under the quota',
        !!compacted && !!defragged && defragged.dbSize < compacted.dbSize && defragged.dbSize < quota,
        `DB SIZE < ${quota} B`,
        `defragmented ${sz(defragged)}`,
      ),
      kit.check(
        'disarmed, writes resume',
        (seen.alarmsAfter ?? ['?']).length === 0 && client[1]?.type === 'ok',
        'no alarm; put acknowledged',
        `alarms ${JSON.stringify(seen.alarmsAfter ?? '?')}; put: ${client[1]?.type ?? 'not tried'} ${client[1]?.error ?? ''}`,
      ),
    ];
  },
});
