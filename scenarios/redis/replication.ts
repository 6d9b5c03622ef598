import { check } from '../../src/checkers/check.ts';
import { completions, lastObservation, type Op } from '../../src/engine/history.ts';
import { defineLab } from '../../src/engine/lab.ts';
import { sleep } from '../../src/runtime/poll.ts';
import { classify } from '../../stacks/redis/client.ts';
import type { Replication } from '../../stacks/redis/info.ts';
import { redis } from '../../stacks/redis/stack.ts';
import { hostCli, redisCli } from './commands.ts';

/** What the lab keeps of each node's INFO replication. */
interface RoleView {
  role: string;
  masterHost?: string;
  masterLinkStatus?: string;
  connectedSlaves: number;
}

export const READONLY_ERROR = "READONLY You can't write against a read only replica.";
const REFUSED_KEY = 'midlab:written-to-a-replica';
const KEY = 'midlab:replicated';

export default defineLab({
  id: 'redis/replication',
  title: 'A primary and two replicas',
  teaches:
    'replicas report their primary; a write to a replica is refused (READONLY); what is written to the primary is read from every replica',
  notes:
    'Notes: Redis appears only in passing - the StatefulSet table "Redis 主从集群" (a new node takes the latest data from ' +
    'the primary named by slaveof, restores it locally, then follows the replication stream) and the redundancy list ' +
    'under "冗余法". Outdated: since Redis 5 the directive is `replicaof` (`slaveof` remains an alias), and INFO still ' +
    'says role:slave.',
  params: {
    maxReplicationMs: {
      type: 'int',
      default: 5000,
      min: 100,
      describe: 'how long a replica may take to show a write made on the primary',
    },
  },
  stack: redis,
  topology: () => ({ replicas: 2, sentinels: 0 }),
  async run(lab) {
    const r = lab.stack;
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
        const views: Record<string, RoleView> = {};
        for (const n of r.dataNodes) views[n] = roleView(await r.replication(n));
        lab.observe(
          'replication',
          views,
          r.dataNodes
            .map((n) => {
              const v = views[n] as RoleView;
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
          const w = await lab.history.record(
            `client-${replica}`,
            'write',
            { key: REFUSED_KEY, value: 'nope' },
            replica,
            () => c.set(REFUSED_KEY, 'nope'),
            classify,
          );
          lab.say(w.ok ? `unexpectedly accepted by ${replica}` : `${replica} answered: ${w.op.error}`);
        } finally {
          c.close();
        }
        // The refused write must exist nowhere: not on the replica, not on the primary.
        for (const n of [replica, primary]) {
          const c2 = await r.client(n);
          try {
            await lab.history.record(`client-${n}`, 'read-refused', undefined, n, () => c2.get(REFUSED_KEY), classify);
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
        'value (every read is recorded): on a quiet lab network that is usually the first or second read.',
      async () => {
        const value = `v-${lab.random.int(1e9)}`;
        const c = await r.client(primary);
        try {
          const w = await lab.history.record(
            `client-${primary}`,
            'write',
            { key: KEY, value },
            primary,
            () => c.set(KEY, value),
            classify,
          );
          if (!w.ok) throw w.error;
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
                const rd = await lab.history.record(`client-${n}`, 'read', undefined, n, () => c2.get(KEY), classify);
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
    const views = (lastObservation(ev, 'replication') as Record<string, RoleView> | undefined) ?? {};
    const nodes = Object.keys(views);
    const primaries = nodes.filter((n) => views[n]?.role === 'master');
    const replicas = nodes.filter((n) => views[n]?.role === 'slave');
    const primary = primaries[0];
    const following = replicas.filter((n) => views[n]?.masterHost === primary && views[n]?.masterLinkStatus === 'up');
    const writes = completions(ev.ops, 'write');
    const refused = writes.find((o) => o.node !== primary);
    const refusedReads = completions(ev.ops, 'read-refused');
    const written = lastObservation(ev, 'written');
    const reads = completions(ev.ops, 'read');
    const readBy = (n: string): Op[] => reads.filter((o) => o.node === n && o.type === 'ok');
    const fresh = replicas.filter((n) => readBy(n).some((o) => o.value === written));
    const delays = (lastObservation(ev, 'replicationMs') as Record<string, number | null> | undefined) ?? {};
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
            const v = views[n] as RoleView;
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
        replicas.length === 2 && fresh.length === replicas.length,
        `both replicas return "${String(written)}" within ${p.maxReplicationMs} ms`,
        replicas
          .map((n) => `${n}: ${fresh.includes(n) ? `yes after ${readBy(n).length} read(s), ${delays[n]} ms` : 'no'}`)
          .join(', '),
        { replicationMs: delays },
      ),
    ];
  },
});

function roleView(r: Replication): RoleView {
  return {
    role: r.role,
    masterHost: r.masterHost,
    masterLinkStatus: r.masterLinkStatus,
    connectedSlaves: r.connectedSlaves,
  };
}
