import * as kit from './kit.ts';

const DIR = '/midlab/backup';
const SNAPSHOT = '/backup/snapshot.db';
const MEMBERS = 3;

interface Seen {
  /** The revision `etcdutl snapshot status` reports: the snapshot holds everything up to it. */
  snapshotRevision: number;
  clusterBefore: string;
  /** Every member's cluster id after the restore. */
  clustersAfter: string[];
}

export default kit.defineLab({
  id: 'etcd/snapshot-restore',
  title: 'Snapshot under load, every member destroyed, restored as a new cluster',
  teaches:
    'a snapshot saved under load holds every write up to its revision; restored into every member with new --initial-cluster flags it brings them back, drops what came after, and is a new cluster that serves writes',
  notes:
    'Notes, "etcd v3 API版本数据备份与恢复" (seed 001, lines 6911-6963) and "ETCD数据恢复流程" (7047-7058): ' +
    '`etcdctl snapshot save` (6922), a cluster restore with --name, --initial-cluster, --initial-cluster-token ' +
    'and --initial-advertise-peer-urls per member (6952-6956), every member from the same file (7055). Where the ' +
    'notes are out of date: etcd 3.6 removed `etcdctl snapshot restore` (6948, 6952, 7025); it is ' +
    '`etcdutl snapshot restore`. And they do not say that writes after the snapshot are lost, nor that ' +
    'clients watching (Kubernetes) see revisions go back unless the restore adds --bump-revision --mark-compacted.',
  params: {},
  stack: kit.etcd,
  topology: () => ({ members: MEMBERS }),
  steps: {
    snapshot: {
      title: 'Save a snapshot through etcd1 under a write load',
      narration:
        'A client puts one key every 50 ms. `etcdctl snapshot save {snapshot}` (notes 6925) streams the database ' +
        'of one member at one revision; the writes go on after it.',
      commands: [kit.etcdctl('etcd1', `snapshot save ${SNAPSHOT}`)],
    },
    destroy: {
      title: "Destroy every member's data",
      narration:
        "Each member's server is stopped and its data directory ({dataDir}) deleted, as kubeasz does before a " +
        'restore (notes 7006-7010). The snapshot is copied to every member: all restore the same file (7055).',
    },
    restore: {
      title: 'Restore every member with new --initial-cluster flags',
      narration:
        'Each member runs `etcdutl snapshot restore` with its own --name and peer URL, the whole --initial-cluster ' +
        "and a new token ({token}). Without these it would restore a one-member cluster (the notes' warning, " +
        '6951). The member and cluster ids are derived from the peer URLs and the token: a new token makes a ' +
        "new cluster, which members of the old one (or old clients' caches) cannot be confused with.",
      commands: [`docker exec -it {@etcd1} ${kit.restoreCommand(MEMBERS, 'etcd1', SNAPSHOT, '{token}').join(' ')}`],
    },
  },
  mechanism: (lab) => kit.proveCluster(lab),
  async run(lab) {
    const e = lab.stack;
    const token = `${e.token}-restored`;
    const writer = new kit.EtcdWriter(lab.history, e.client('etcd1', e.names), DIR);
    let before = '';
    await lab.step(
      'snapshot',
      async () => {
        before = lab.observe('clusterBefore', (await e.status('etcd1'))?.clusterId ?? '?');
        writer.start();
        await kit.sleep(1500);
        await e.client('etcd1', ['etcd1'], 5000).raw(['snapshot', 'save', SNAPSHOT]);
        const status = await e.cluster.node('etcd1').run(['etcdutl', '-w', 'json', 'snapshot', 'status', SNAPSHOT]);
        const rev = Number(JSON.parse(status).revision);
        lab.observe('snapshotRevision', rev, `snapshot at revision ${rev}`);
        await kit.sleep(1500);
        await writer.stop();
        lab.say(`${writer.acknowledged} writes acknowledged; the last at revision ${writer.lastRevision}`);
      },
      { vars: { snapshot: SNAPSHOT } },
    );
    await lab.step(
      'destroy',
      async () => {
        await e.copyFile(SNAPSHOT, 'etcd1', ['etcd2', 'etcd3']);
        for (const n of e.names) await lab.faults.crash(n);
        const wipe = lab.faults.note('wipe', e.names, `deleted ${kit.DATA_DIR} in ${e.names.join(', ')}`);
        await Promise.all(e.names.map((n) => e.cluster.node(n).run(['rm', '-rf', kit.DATA_DIR])));
        lab.faults.endNote(wipe, 'data directories deleted');
      },
      { vars: { dataDir: kit.DATA_DIR } },
    );
    await lab.step(
      'restore',
      async () => {
        for (const n of e.names) await e.cluster.node(n).run(kit.restoreCommand(MEMBERS, n, SNAPSHOT, token));
        for (const n of e.names) await lab.faults.start(n);
        await e.waitHealthy(30_000);
        const after = await e.statuses();
        lab.observe(
          'clustersAfter',
          e.names.map((n) => after[n]?.clusterId ?? '?'),
          `cluster id ${after.etcd1?.clusterId} (was ${before})`,
        );
        const r = await kit.recordedPut(lab.history, e.client('etcd2'), 'after-restore', `${DIR}-after`, 'after');
        lab.say(r.ok ? `the restored cluster took a put at revision ${r.revision}` : `put refused: ${String(r.error)}`);
      },
      { vars: { token } },
    );
  },
  final: kit.finalReadOf(DIR),
  check(ev) {
    const seen = kit.observed<Seen>(ev);
    const rev = seen.snapshotRevision;
    const reads = kit.completions(ev.ops, 'read-all').filter((o) => o.type === 'ok');
    const back = new Set(reads.flatMap((o) => kit.idsOf(o.value)));
    if (rev === undefined || !reads.length)
      return [kit.unobserved('the snapshot is restored', 'a snapshot revision and a final read', 'the restore')];
    const acked = kit.completions(ev.ops, 'write').filter((o) => o.type === 'ok' && o.process === 'writer');
    const [kept, after] = [acked.filter((o) => kit.revisionOf(o) <= rev), acked.filter((o) => kit.revisionOf(o) > rev)];
    const ids = (os: typeof acked) => os.flatMap((o) => kit.idsOf(o.value));
    const missing = ids(kept).filter((id) => !back.has(id));
    const survived = ids(after).filter((id) => back.has(id));
    const clusters = new Set(seen.clustersAfter ?? []);
    const put = kit.completions(ev.ops, 'write').find((o) => o.process === 'after-restore');
    return [
      kit.check(
        `every write acknowledged up to revision ${rev} is back`,
        kept.length > 0 && missing.length === 0,
        `${kept.length} of ${kept.length} back`,
        `${kept.length - missing.length} of ${kept.length} back${missing.length ? ` (missing ${kit.sample(missing)})` : ''}`,
      ),
      kit.check(
        'writes acknowledged after the snapshot are gone',
        after.length > 0 && survived.length === 0,
        'some acknowledged after the snapshot, none of them back',
        `${after.length} acknowledged after revision ${rev} (${kit.sample(ids(after))}), ${survived.length} back`,
      ),
      kit.check(
        'the restored cluster is a new cluster',
        clusters.size === 1 && !clusters.has(seen.clusterBefore ?? '') && !clusters.has('?'),
        `one cluster id, not ${seen.clusterBefore ?? '?'}`,
        `cluster ids ${[...clusters].join(', ') || 'none'}`,
      ),
      kit.check(
        'the restored cluster serves writes',
        put?.type === 'ok',
        'a put acknowledged',
        `put: ${put?.type ?? 'not tried'} ${put?.error ?? ''}`,
      ),
    ];
  },
});
