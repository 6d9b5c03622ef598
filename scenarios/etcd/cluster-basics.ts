import * as kit from './kit.ts';

const KEY = '/midlab/basics';
const WATCHED = '/data';

interface Seen {
  members: kit.Member[];
  statuses: Record<string, kit.EndpointStatus | undefined>;
  health: Record<string, boolean>;
  watched: kit.WatchEvent[];
}

export default kit.defineLab({
  id: 'etcd/cluster-basics',
  title: 'Three members, one leader, one keyspace, watches everywhere',
  teaches:
    'member list, endpoint health and status as the notes show them; a put through one member is read through every member and seen by a watch on another',
  notes:
    'Notes, "Kubernetes—etcd" (seed 001, lines 6569-7066): member list (6678-6691), endpoint health (6695-6702), ' +
    'endpoint status with RAFT TERM and RAFT INDEX (6706-6726), put/get/del (6796-6818), watch on one member and ' +
    'put on another (6822-6850). Where the notes are off: `ETCD_API=3` (lines 6734-6774) is a typo for ' +
    'ETCDCTL_API=3, which etcdctl has not needed since 3.4; line 6589 ("every read returns the latest write") ' +
    'holds for the default linearizable reads only (etcd/quorum-loss shows a serializable one that does not).',
  params: {},
  stack: kit.etcd,
  topology: () => ({ members: 3 }),
  steps: {
    members: {
      title: 'Who is in the cluster?',
      narration:
        '`etcdctl member list` asks one member for the membership the cluster agreed on (notes, 6683): an id, a ' +
        "name, peer and client URLs per member. Each member here has ETCDCTL_ENDPOINTS preset, so the notes' " +
        'commands work without --endpoints.',
      commands: [kit.etcdctl('etcd1', '--write-out=table member list')],
    },
    status: {
      title: 'Health and status of every endpoint',
      narration:
        '`endpoint health` commits a proposal through each member (6698); `endpoint status` shows which one leads, ' +
        'the raft term (one per election) and the raft index (one per entry): all three agree on the leader and term.',
      commands: [kit.etcdctl('etcd1', 'endpoint health'), kit.etcdctl('etcd1', '--write-out=table endpoint status')],
    },
    'put-read': {
      title: 'Put through etcd1, read through every member',
      narration:
        'A put goes to the leader whichever member receives it and is acknowledged once a majority has it, with ' +
        'the revision it created. A default (linearizable) get through any member first checks with the leader, ' +
        'so all three return the value at that revision.',
      commands: [kit.etcdctl('etcd2', `get ${KEY}`)],
    },
    watch: {
      title: 'Watch {key} on etcd3, put through etcd2',
      narration:
        'As in the notes (6827-6849), a watch on one member sees a put made through another. A watch names the ' +
        'revision it starts from (here {from}); without --rev it starts "now". Kubernetes informers do the same: ' +
        'list at revision R, then watch from R+1, so nothing falls between the two.',
      commands: [kit.etcdctl('etcd3', `watch ${WATCHED}`)],
    },
  },
  mechanism: (lab) => kit.proveCluster(lab),
  async run(lab) {
    const e = lab.stack;
    // A put through member `n`, recorded as process client-<n>, as the reads through it are.
    const put = (n: string, key: string, id: string, value?: string) =>
      kit.recordedPut(lab.history, e.client(n), `client-${n}`, key, id, value);
    await lab.step('members', async () => {
      const members = await e.members('etcd1');
      lab.observe('members', members, members.map((m) => `${m.id} ${m.name} ${m.clientURLs.join(',')}`).join('; '));
    });
    await lab.step('status', async () => {
      const health = Object.fromEntries(await Promise.all(e.names.map(async (n) => [n, await e.healthy(n)])));
      lab.observe('health', health, `healthy: ${JSON.stringify(health)}`);
      const statuses = await e.statuses();
      lab.observe('statuses', statuses, kit.statusLine(statuses));
    });
    await lab.step('put-read', async () => {
      const stored = await put('etcd1', KEY, 'tom');
      lab.say(stored.ok ? `put ${KEY}=tom at revision ${stored.revision}` : `the put failed: ${String(stored.error)}`);
      for (const n of e.names) {
        const r = await kit.recorded(lab.history, `client-${n}`, 'read', n, () => e.client(n).read(KEY));
        lab.say(`get through ${n}: ${r.ok ? JSON.stringify(r.result) : r.op.error}`);
      }
    });
    const from = (await e.client('etcd3').get(WATCHED)).header.revision ?? 0;
    await lab.step(
      'watch',
      async () => {
        const watching = e.client('etcd3').watch(WATCHED, from + 1, 3000);
        const r = await put('etcd2', WATCHED, 'data-v1', 'data v1');
        const events = await watching.catch((err: Error) => {
          lab.warn(`the watch ended with ${err.message}`);
          return [];
        });
        lab.observe('watched', events, `put at revision ${r.revision}; watch saw ${JSON.stringify(events)}`);
      },
      { vars: { key: WATCHED, from: from + 1 } },
    );
  },
  predictions: [
    {
      before: 'watch',
      question: 'A watch is open on etcd3; a put is made through etcd2. What does the watch report?',
      choices: ['nothing: it only sees puts made through etcd3', 'the PUT, with the revision the put returned'],
      answer: (ev) => ((kit.observed<Seen>(ev).watched ?? []).length ? 1 : 0),
    },
  ],
  check(ev) {
    const seen = kit.observed<Seen>(ev);
    const started = (seen.members ?? []).filter((m) => m.name && m.clientURLs.length).map((m) => m.name);
    const statuses = Object.values(seen.statuses ?? {});
    const up = statuses.filter((s): s is kit.EndpointStatus => s !== undefined);
    const leaders = new Set(up.map((s) => s.leader));
    const leading = up.filter((s) => s.memberId === s.leader).map((s) => s.node);
    const terms = new Set(up.map((s) => s.raftTerm));
    const puts = kit.completions(ev.ops, 'write').filter((o) => o.type === 'ok');
    const basic = puts.find((o) => (o.value as { key?: string }).key === KEY);
    const watchedPut = puts.find((o) => (o.value as { key?: string }).key === WATCHED);
    const reads = kit.completions(ev.ops, 'read').filter((o) => o.type === 'ok');
    const fresh = reads.filter((o) => {
      const v = o.value as { value?: string; revision?: number };
      return basic && v.value === 'tom' && v.revision === kit.revisionOf(basic);
    });
    const event = (seen.watched ?? []).find((w) => w.key === WATCHED && w.type === 'PUT');
    const healthy = Object.entries(seen.health ?? {}).filter(([, h]) => h);
    return [
      kit.check(
        'member list shows three started members',
        started.sort().join(',') === 'etcd1,etcd2,etcd3',
        'etcd1, etcd2, etcd3, each with client URLs',
        started.join(', ') || 'none',
      ),
      kit.check('every endpoint is healthy', healthy.length === 3, '3 of 3 healthy', `${healthy.length} healthy`),
      seen.statuses === undefined
        ? kit.unobserved('one leader, named by every member, in one term', '1 leader, 1 term', 'endpoint status')
        : kit.check(
            'one leader, named by every member, in one term',
            up.length === 3 && leaders.size === 1 && leading.length === 1 && terms.size === 1,
            '3 members naming 1 leader, 1 raft term',
            `${up.length} answered; leader(s) named ${[...leaders].join(',')}; leading: ${leading.join(',') || 'none'}; terms ${[...terms].join(',')}`,
          ),
      kit.check(
        'a put through etcd1 is read through every member at its revision',
        basic !== undefined && new Set(fresh.map((o) => o.node)).size === 3,
        `"tom" at revision ${basic ? kit.revisionOf(basic) : '?'} through etcd1, etcd2, etcd3`,
        `${fresh.length} of ${reads.length} reads returned it`,
      ),
      kit.check(
        'a watch on etcd3 sees the put made through etcd2, with its revision',
        watchedPut !== undefined && event?.value === 'data v1' && event.modRevision === kit.revisionOf(watchedPut),
        `PUT ${WATCHED} "data v1" at revision ${watchedPut ? kit.revisionOf(watchedPut) : '?'}`,
        event ? `${event.type} ${event.key} "${event.value}" at revision ${event.modRevision}` : 'no event',
      ),
    ];
  },
});
