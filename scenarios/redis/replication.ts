import * as kit from './kit.ts';

export const READONLY_ERROR = "READONLY You can't write against a read only replica.";
const REFUSED_KEY = 'midlab:written-to-a-replica';
const KEY = 'midlab:replicated';

/** What the lab observes, by name. */
interface Seen {
  /** The mechanism proof: every data node's INFO replication once the links were caught up (or gave up). */
  links: Record<string, kit.LinkView>;
  /** The same, as the first step shows it to the trainee. */
  replication: Record<string, kit.LinkView>;
  replicaReadOnly: string;
  written: string;
  /** ms from the primary's OK to each replica returning the value (null: never within the bound). */
  replicationMs: Record<string, number | null>;
}

export default kit.defineLab({
  id: 'redis/replication',
  title: 'A primary and two replicas',
  teaches:
    'replicas report their primary; a write to a replica is refused (READONLY); what is written to the primary is read from every replica within 100 ms',
  notes:
    'Notes: Redis appears only in passing - the StatefulSet table "Redis 主从集群" (a new node takes the latest data from ' +
    'the primary named by slaveof, restores it locally, then follows the replication stream) and the redundancy list ' +
    'under "冗余法". Outdated: since Redis 5 the directive is `replicaof` (`slaveof` remains an alias), and INFO still ' +
    'says role:slave.',
  random: 'the value written to the primary',
  params: {
    maxReplicationMs: {
      type: 'int',
      default: 100,
      min: 20,
      describe: 'how long each replica may take to return a write the primary acknowledged',
    },
  },
  stack: kit.redis,
  topology: () => ({ replicas: 2, sentinels: 0 }),
  steps: {
    links: {
      title: 'The replicas are linked and caught up',
      narration:
        'Before anything else the lab proves replication is running: in `INFO replication` {primary} is master and ' +
        'lists {replicas} online, each at its own offset (master_repl_offset: bytes of stream sent), and each ' +
        'replica says master_link_status:up with the same offset applied. The offsets are read until they match ' +
        'for up to 5 s: a replica acknowledges once a second.',
      commands: [kit.redisCli('primary', 'INFO replication')],
    },
    roles: {
      title: 'Who replicates from whom?',
      narration:
        "Each replica's redis.conf says `replicaof {primary} 6379` (the notes' slaveof). At start the replica " +
        'connects, receives a full copy (an RDB snapshot, streamed over the socket here: repl-diskless-sync), ' +
        "loads it, then applies the primary's command stream. `INFO replication` shows it: the primary reports " +
        'role:master and its connected replicas; each replica role:slave, the primary it follows and master_link_status.',
      commands: [kit.redisCli('redis2', 'INFO replication'), kit.redisCli('primary', 'INFO replication')],
    },
    'write-replica': {
      title: 'Write to a replica ({replica})',
      narration:
        'Replicas are read-only by default (replica-read-only yes): a write sent to one is refused with a READONLY ' +
        'error rather than silently diverging from the primary. The client must send writes to the primary - ' +
        'which is what a Sentinel-aware client does for you (next lab).',
      commands: [kit.redisCli('replica', `SET ${REFUSED_KEY} nope`)],
    },
    'write-primary': {
      title: 'Write to the primary ({primary}), read from every replica',
      narration:
        'The primary acknowledges a write as soon as it has applied it; replication to the replicas is ' +
        'asynchronous, so a read from a replica a moment later may not see it yet. Each replica is read every 20 ms ' +
        '(each read recorded) until it returns the value; the lab expects both to within {maxReplicationMs} ms. ' +
        'Measured on an idle lab machine: 0-2 ms, the first read; the bound leaves room for a busy two-core host, ' +
        'not for a replica that falls behind.',
      commands: [kit.redisCli('redis3', `GET ${KEY}`), kit.redisCli('redis2', 'INFO replication')],
    },
  },
  async mechanism(lab) {
    const { primary, replicas } = kit.primaryAndReplicas(lab);
    const links = () => kit.observeLinks(lab, primary, replicas, 5000, 'links');
    await lab.step('links', links, { vars: { primary, replicas: replicas.join(' and ') } });
    return kit.linkProblems(kit.observed<Seen>(lab.history.evidence()).links ?? {}, primary, replicas);
  },
  async run(lab) {
    const r = lab.stack;
    const w = new kit.RedisWorkload(lab.history, r);
    const { primary, replicas } = kit.primaryAndReplicas(lab);
    const [replica] = replicas as [string];
    const roles = async () => {
      const views = await r.links();
      lab.observe('replication', views, kit.describeLinks(views));
    };
    await lab.step('roles', roles, { vars: { primary } });
    await lab.step(
      'write-replica',
      async () => {
        const done = await kit.withDirect(r.endpoint(replica), async (c) => {
          lab.observe('replicaReadOnly', await c.configGet('replica-read-only'));
          return w.set(`client-${replica}`, c, REFUSED_KEY, 'nope');
        });
        lab.say(done.ok ? `unexpectedly accepted by ${replica}` : `${replica} answered: ${done.op.error}`);
        // The refused write must exist nowhere: not on the replica, not on the primary.
        for (const n of [replica, primary])
          await kit.withDirect(r.endpoint(n), (c) => w.get(`client-${n}`, c, REFUSED_KEY, 'read-refused'));
      },
      { vars: { replica } },
    );
    await lab.step(
      'write-primary',
      async () => {
        const value = `v-${lab.random.int(1e9)}`;
        const done = await kit.withDirect(r.endpoint(primary), (c) => w.set(`client-${primary}`, c, KEY, value));
        if (!done.ok) throw done.error;
        lab.observe('written', value, `SET ${KEY} ${value} on ${primary}: OK`);
        const delays: Record<string, number | null> = {};
        await Promise.all(
          replicas.map((n) =>
            kit.withDirect(r.endpoint(n), async (c) => {
              const { ms, tries } = await w.readUntil(`client-${n}`, c, KEY, value, lab.params.maxReplicationMs);
              delays[n] = ms;
              lab.say(`${n}: ${ms === null ? 'not returned' : `returned after ${ms} ms`}, ${tries} read(s)`);
            }),
          ),
        );
        lab.observe('replicationMs', delays);
        const offsets = await r.offsets();
        lab.say(`replication offsets now: ${offsets} (equal: every replica has applied the whole stream)`);
      },
      { vars: { primary } },
    );
  },
  check(ev, p) {
    const seen = kit.observed<Seen>(ev);
    const views = seen.replication ?? {};
    const problems = kit.followProblems(views, 2);
    const primary = Object.keys(views).find((n) => views[n]?.role === 'master');
    const replicas = Object.keys(views).filter((n) => views[n]?.role === 'slave');
    const refused = kit.completions(ev.ops, 'write').find((o) => o.node !== primary);
    const refusedReads = kit.completions(ev.ops, 'read-refused');
    const readBy = (n: string) => kit.completions(ev.ops, 'read').filter((o) => o.node === n && o.type === 'ok');
    const { written, replicationMs: delays = {} } = seen;
    const inTime = (n: string) => typeof delays[n] === 'number' && delays[n] <= p.maxReplicationMs;
    const got = (n: string) => readBy(n).some((o) => o.value === written);
    const fresh = replicas.filter((n) => got(n) && inTime(n));
    const said = (n: string) => `${n}: ${got(n) ? `yes after ${readBy(n).length} read(s), ${delays[n]} ms` : 'no'}`;
    return [
      kit.check(
        'the replicas report the primary',
        problems.length === 0,
        '1 master with 2 connected replicas; each replica follows it, link up',
        [kit.describeRoles(views) || 'nothing observed', ...problems].join('; '),
      ),
      kit.check(
        'a write to a replica is refused with READONLY',
        refused?.type === 'fail' && refused.error === READONLY_ERROR,
        `fail: ${READONLY_ERROR}`,
        refused ? `${refused.type} on ${refused.node}: ${refused.error ?? 'OK'}` : 'no write to a replica recorded',
      ),
      kit.check(
        'the refused write exists nowhere',
        refusedReads.length === 2 && refusedReads.every((o) => o.type === 'ok' && o.value === null),
        'the key is absent on the replica and on the primary',
        refusedReads.map((o) => `${o.node}: ${o.type === 'ok' ? JSON.stringify(o.value) : o.error}`).join(', ') ||
          'not read',
      ),
      kit.check(
        'data written to the primary is read from every replica',
        written !== undefined && replicas.length === 2 && fresh.length === replicas.length,
        `both replicas return "${String(written)}" within ${p.maxReplicationMs} ms`,
        replicas.map(said).join(', '),
        { replicationMs: delays },
      ),
    ];
  },
});
