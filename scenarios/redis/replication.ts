import { check } from '../../src/checkers/check.ts';
import { completions, type Op, observed } from '../../src/engine/history.ts';
import { defineLab } from '../../src/engine/lab.ts';
import { sleep } from '../../src/runtime/poll.ts';
import { type LinkView, linkProblems } from '../../stacks/redis/replication.ts';
import { redis } from '../../stacks/redis/stack.ts';
import { RedisWorkload } from '../../stacks/redis/workload.ts';
import { hostCli, redisCli } from './commands.ts';

export const READONLY_ERROR = "READONLY You can't write against a read only replica.";
const REFUSED_KEY = 'midlab:written-to-a-replica';
const KEY = 'midlab:replicated';

/** What the lab observes, by name. */
interface Seen {
  /** The mechanism proof: every data node's INFO replication once the links were caught up (or gave up). */
  links: Record<string, LinkView>;
  /** The same, as the first step shows it to the trainee. */
  replication: Record<string, LinkView>;
  replicaReadOnly: string;
  written: string;
  /** ms from the primary's OK to each replica returning the value (null: never within the bound). */
  replicationMs: Record<string, number | null>;
}

export default defineLab({
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
  stack: redis,
  topology: () => ({ replicas: 2, sentinels: 0 }),
  async mechanism(lab) {
    const r = lab.stack;
    const primary = r.firstPrimary;
    const replicas = r.dataNodes.filter((n) => n !== primary);
    let problems: string[] = [];
    await lab.step(
      'The replicas are linked and caught up',
      `Before anything else the lab proves replication is running: in \`INFO replication\` ${primary} is master and ` +
        `lists ${replicas.join(' and ')} online, each at its own offset (master_repl_offset: bytes of stream sent), ` +
        'and each replica says master_link_status:up with the same offset applied. The offsets are read until they ' +
        'match for up to 5 s: a replica acknowledges once a second.',
      async () => {
        const views = await lab.until(
          'every replica linked to the primary with its offset caught up',
          async () => {
            const v = await r.links();
            problems = linkProblems(v, primary, replicas);
            return problems.length ? { done: false, seen: problems.join('; ') } : { done: true, value: v };
          },
          { timeoutMs: 5000, intervalMs: 100 },
        );
        const last = views ?? (await r.links());
        lab.observe(
          'links',
          last,
          `${primary}: master at offset ${last[primary]?.offset}; ` +
            replicas.map((n) => `${n}: link ${last[n]?.masterLinkStatus}, offset ${last[n]?.offset}`).join('; '),
        );
      },
      [redisCli(r, primary, 'INFO replication')],
    );
    return problems;
  },
  async run(lab) {
    const r = lab.stack;
    const w = new RedisWorkload(lab.history, r);
    const primary = r.firstPrimary;
    const replicas = r.dataNodes.filter((n) => n !== primary);
    const [replica] = replicas as [string];
    await lab.step(
      'Who replicates from whom?',
      `Each replica's redis.conf says \`replicaof ${primary} 6379\` (the notes' slaveof). At start the replica connects, ` +
        'receives a full copy (an RDB snapshot, streamed over the socket here: repl-diskless-sync), loads it, then ' +
        "applies the primary's command stream. `INFO replication` shows it: the primary reports role:master and " +
        'its connected replicas; each replica role:slave, the primary it follows and master_link_status.',
      async () => {
        const views = await r.links();
        lab.observe(
          'replication',
          views,
          r.dataNodes
            .map((n) => {
              const v = views[n] as LinkView;
              return v.role === 'master'
                ? `${n}: master with ${v.connectedSlaves} replicas`
                : `${n}: replica of ${v.masterHost}, link ${v.masterLinkStatus}`;
            })
            .join('; '),
        );
      },
      [redisCli(r, replica, 'INFO replication'), redisCli(r, primary, 'INFO replication')],
    );
    await lab.step(
      `Write to a replica (${replica})`,
      'Replicas are read-only by default (replica-read-only yes): a write sent to one is refused with a READONLY ' +
        'error rather than silently diverging from the primary. The client must send writes to the primary - ' +
        'which is what a Sentinel-aware client does for you (next lab).',
      async () => {
        const c = await r.client(replica);
        try {
          lab.observe('replicaReadOnly', await c.configGet('replica-read-only'));
          const done = await w.set(`client-${replica}`, c, REFUSED_KEY, 'nope');
          lab.say(done.ok ? `unexpectedly accepted by ${replica}` : `${replica} answered: ${done.op.error}`);
        } finally {
          c.close();
        }
        // The refused write must exist nowhere: not on the replica, not on the primary.
        for (const n of [replica, primary]) {
          const c2 = await r.client(n);
          try {
            await w.get(`client-${n}`, c2, REFUSED_KEY, 'read-refused');
          } finally {
            c2.close();
          }
        }
      },
      [hostCli(r, replica, `SET ${REFUSED_KEY} nope`)],
    );
    await lab.step(
      `Write to the primary (${primary}), read from every replica`,
      'The primary acknowledges a write as soon as it has applied it; replication to the replicas is asynchronous, ' +
        'so a read from a replica a moment later may not see it yet. Each replica is read until it returns the ' +
        `value, every 20 ms (each read is recorded); the lab expects both to return it within ` +
        `${lab.params.maxReplicationMs} ms. Measured on an idle lab machine: 0-2 ms, the first read; the bound ` +
        'leaves room for a busy two-core host, not for a replica that falls behind.',
      async () => {
        const value = `v-${lab.random.int(1e9)}`;
        const c = await r.client(primary);
        try {
          const done = await w.set(`client-${primary}`, c, KEY, value);
          if (!done.ok) throw done.error;
        } finally {
          c.close();
        }
        lab.observe('written', value, `SET ${KEY} ${value} on ${primary}: OK`);
        const delays: Record<string, number | null> = {};
        await Promise.all(
          replicas.map(async (n) => {
            const c2 = await r.client(n);
            const t0 = Date.now();
            try {
              for (let tries = 1; ; tries++) {
                const rd = await w.get(`client-${n}`, c2, KEY);
                if (rd.ok && rd.result === value) {
                  delays[n] = Date.now() - t0;
                  lab.say(`${n} returned it after ${tries} read(s), ${delays[n]} ms`);
                  return;
                }
                if (Date.now() - t0 > lab.params.maxReplicationMs) {
                  delays[n] = null;
                  lab.say(`${n} still does not return it after ${tries} reads`);
                  return;
                }
                await sleep(20);
              }
            } finally {
              c2.close();
            }
          }),
        );
        lab.observe('replicationMs', delays);
        const offsets = await Promise.all(r.dataNodes.map(async (n) => [n, (await r.replication(n)).masterReplOffset]));
        lab.say(
          `replication offsets now: ${offsets.map(([n, o]) => `${n}=${o}`).join(', ')} (equal: every replica has ` +
            'applied the whole stream)',
        );
      },
      [hostCli(r, replicas[1] ?? replica, `GET ${KEY}`), redisCli(r, replica, 'INFO replication')],
    );
  },
  check(ev, p) {
    const seen = observed<Seen>(ev);
    const views = seen.replication ?? {};
    const nodes = Object.keys(views);
    const primaries = nodes.filter((n) => views[n]?.role === 'master');
    const replicas = nodes.filter((n) => views[n]?.role === 'slave');
    const primary = primaries[0];
    const following = replicas.filter((n) => views[n]?.masterHost === primary && views[n]?.masterLinkStatus === 'up');
    const writes = completions(ev.ops, 'write');
    const refused = writes.find((o) => o.node !== primary);
    const refusedReads = completions(ev.ops, 'read-refused');
    const written = seen.written;
    const reads = completions(ev.ops, 'read');
    const readBy = (n: string): Op[] => reads.filter((o) => o.node === n && o.type === 'ok');
    const delays = seen.replicationMs ?? {};
    const inTime = (n: string) => {
      const ms = delays[n];
      return typeof ms === 'number' && ms <= p.maxReplicationMs;
    };
    const fresh = replicas.filter((n) => readBy(n).some((o) => o.value === written) && inTime(n));
    return [
      check(
        'the replicas report the primary',
        primaries.length === 1 &&
          replicas.length === 2 &&
          following.length === 2 &&
          views[primary as string]?.connectedSlaves === 2,
        '1 master with 2 connected replicas; each replica follows it, link up',
        nodes
          .map((n) => {
            const v = views[n] as LinkView;
            return `${n}=${v.role}${v.role === 'slave' ? `(${v.masterHost}, link ${v.masterLinkStatus})` : `(${v.connectedSlaves} replicas)`}`;
          })
          .join(', ') || 'nothing observed',
      ),
      check(
        'a write to a replica is refused with READONLY',
        refused?.type === 'fail' && refused.error === READONLY_ERROR,
        `fail: ${READONLY_ERROR}`,
        refused ? `${refused.type} on ${refused.node}: ${refused.error ?? 'OK'}` : 'no write to a replica recorded',
      ),
      check(
        'the refused write exists nowhere',
        refusedReads.length === 2 && refusedReads.every((o) => o.type === 'ok' && o.value === null),
        'the key is absent on the replica and on the primary',
        refusedReads.map((o) => `${o.node}: ${o.type === 'ok' ? JSON.stringify(o.value) : o.error}`).join(', ') ||
          'not read',
      ),
      check(
        'data written to the primary is read from every replica',
        written !== undefined && replicas.length === 2 && fresh.length === replicas.length,
        `both replicas return "${String(written)}" within ${p.maxReplicationMs} ms`,
        replicas
          .map((n) => {
            const got = readBy(n).some((o) => o.value === written);
            return `${n}: ${got ? `yes after ${readBy(n).length} read(s), ${delays[n]} ms` : 'no'}`;
          })
          .join(', '),
        { replicationMs: delays },
      ),
    ];
  },
});
