import { check } from '../../src/checkers/check.ts';
import { delivery, deliveryChecks, idsOf, sample } from '../../src/checkers/delivery.ts';
import { completions, type Evidence, lastObservation, type Op } from '../../src/engine/history.ts';
import type { LabContext } from '../../src/engine/lab.ts';
import { defineLab } from '../../src/engine/lab.ts';
import { waitUntil } from '../../src/runtime/poll.ts';
import { classify, type RedisClient, withDirect } from '../../stacks/redis/client.ts';
import { redis, type StartedRedis } from '../../stacks/redis/stack.ts';
import { hostCli, redisCli } from './commands.ts';

/** Keys of identified writes: `midlab:w:<id>`; the final read scans this prefix only. */
const PREFIX = 'midlab:w:';
const PROBE_KEY = 'midlab:probe';
/** Writes made (and replicated) before the cut. */
const BEFORE = 10;

const params = {
  variant: {
    type: 'enum',
    default: 'acks',
    choices: ['acks', 'wait'],
    describe:
      'acks: a write counts once the primary says OK; wait: each write is followed by WAIT, and counts only if a replica confirmed it',
  },
  writes: { type: 'int', default: 100, min: 1, max: 10_000, describe: 'writes made while the replicas are cut off' },
  waitMs: {
    type: 'int',
    default: 200,
    min: 10,
    max: 5000,
    describe: 'wait variant: the timeout of `WAIT 1 <ms>` after each write during the cut',
  },
  maxFailoverMs: {
    type: 'int',
    default: 15_000,
    min: 1000,
    describe: 'the bound within which every Sentinel must name a new primary after the kill',
  },
} as const;

type Ctx = LabContext<StartedRedis, { variant: string; writes: number; waitMs: number; maxFailoverMs: number }>;

/** What the lab saw of each data node while the replicas were cut off. */
interface CutView {
  primary: string;
  primaryDbsize: number;
  primaryOffset: number;
  replicas: Record<string, { dbsize: number; offset: number; link: string; lagSeenByPrimary?: number }>;
}

export default defineLab({
  id: 'redis/sentinel-failover',
  title: 'Sentinel fails over; asynchronous replication loses acknowledged writes',
  teaches:
    'Sentinels agree on a new primary in seconds and ioredis follows it, but writes the old primary acknowledged and never replicated are lost; WAIT tells the client which writes a replica confirmed',
  notes:
    'Notes: Sentinel is only named ("Redis哨兵模式的主从集群", under Operator); replication under "Redis 主从集群" and ' +
    '"冗余法" (a copy may be lost and the data survives). What the notes do not say: replication is asynchronous, ' +
    'so a copy can be missing exactly the writes a client was told succeeded. Lab timing: down-after-milliseconds ' +
    '2000 and failover-timeout 10000; production defaults are 30000 and 180000.',
  params,
  stack: redis,
  topology: () => ({ replicas: 2, sentinels: 3, downAfterMs: 2000 }),
  async mechanism(lab) {
    const r = lab.stack;
    const reasons: string[] = [];
    await lab.step(
      'Replication works before any fault',
      'Before anything is broken the lab proves what it relies on: every Sentinel names the same primary, a write ' +
        'on the primary reaches every replica (WAIT counts the replicas that acknowledged it), and the primary ' +
        'accepts writes whatever its replicas do (min-replicas-to-write 0, the Redis default).',
      async () => {
        const primary = await r.primary();
        lab.observe('primaryBefore', primary, `all ${r.sentinels.length} Sentinels name ${primary} as the primary`);
        const replicas = r.dataNodes.filter((n) => n !== primary);
        const token = `probe-${lab.random.int(1e9)}`;
        const c = await r.client(primary);
        try {
          const minReplicas = await c.configGet('min-replicas-to-write');
          if (minReplicas !== '0') {
            reasons.push(`min-replicas-to-write is ${minReplicas} on ${primary}: writes in the cut would be refused`);
          }
          const w = await lab.history.record(
            'probe',
            'probe-write',
            { token },
            primary,
            () => c.set(PROBE_KEY, token),
            classify,
          );
          if (!w.ok) reasons.push(`the probe write failed: ${w.op.error}`);
          const acked = await c.wait(replicas.length, 2000);
          lab.observe(
            'probeWait',
            acked,
            `WAIT ${replicas.length} 2000 after a probe write: ${acked} replica(s) acknowledged it`,
          );
          if (acked !== replicas.length)
            reasons.push(`only ${acked} of ${replicas.length} replicas acknowledged a write`);
        } finally {
          c.close();
        }
        for (const n of replicas) {
          const got = await withDirect(r.endpoint(n), (c2) => c2.get(PROBE_KEY));
          if (got !== token) reasons.push(`${n} does not have the probe write (it has ${JSON.stringify(got)})`);
        }
        if (!reasons.length) lab.say(`the probe write is on ${replicas.join(' and ')}: replication is on`);
      },
      [redisCli(r, r.firstPrimary, 'INFO replication')],
    );
    return reasons;
  },
  async run(lab) {
    const r = lab.stack;
    const p = lab.params;
    const primary = (lastObservation(lab.history.evidence(), 'primaryBefore') as string | undefined) ?? r.firstPrimary;
    const replicas = r.dataNodes.filter((n) => n !== primary);
    const wait = p.variant === 'wait';
    const app = await lab.step(
      'The application connects through the Sentinels',
      'An application does not hard-code the primary: it asks any Sentinel `SENTINEL get-master-addr-by-name ' +
        'mymaster` and connects to the answer. ioredis does this in Sentinel mode, and asks again whenever its ' +
        'connection breaks. The Sentinels announce host names (redis1:6379); from this host those are reached ' +
        'through ports published on 127.0.0.1, so the client is given a NAT map from names to ports. (The notes ' +
        'name "Redis哨兵模式的主从集群" only as something an Operator deploys; this is what it consists of: ' +
        'three Sentinels watching one primary and its replicas.)',
      async () => {
        const c = await r.sentinelClient();
        lab.observe('clientNodeBefore', r.nodeAt(c.remote), `the client is connected to ${r.nodeAt(c.remote)}`);
        return c;
      },
      [hostCli(r, r.sentinels[0] as string, 'SENTINEL get-master-addr-by-name mymaster')],
    );
    try {
      await lab.step(
        `${BEFORE} writes while the replicas keep up`,
        wait
          ? `Each write is followed by \`WAIT ${replicas.length} 2000\`: it blocks until that many replicas acknowledged ` +
              'every earlier write of this connection, or 2 s passed, and returns how many did. A write counts as ' +
              'confirmed (ok) only if at least one replica has it.'
          : 'Each write counts as done (ok) as soon as the primary answers OK - what every client does by default. ' +
              'The primary then streams it to the replicas, asynchronously.',
        async () => {
          for (let i = 1; i <= BEFORE; i++) {
            await write(
              lab,
              app,
              `before-${pad(i, 2)}`,
              wait ? { replicas: replicas.length, timeoutMs: 2000 } : undefined,
            );
          }
          const target = (await r.replication(primary)).masterReplOffset;
          await waitUntil(
            'the replicas to apply every write',
            async () => {
              const offsets = await Promise.all(
                replicas.map(async (n) => (await r.replication(n)).slaveReplOffset ?? 0),
              );
              return offsets.every((o) => o >= target)
                ? { done: true, value: offsets }
                : { done: false, seen: `offsets ${offsets} < ${target}` };
            },
            { timeoutMs: 10_000, intervalMs: 50 },
          );
          lab.say(
            `every replica has applied the stream up to offset ${target}: the ${BEFORE} writes are on all ${r.dataNodes.length} nodes`,
          );
        },
      );
      await lab.step(
        `Cut the replicas off from ${primary}`,
        `iptables inside ${replicas.join(' and ')} now drops every packet to and from ${primary}, both ways. The ` +
          `Sentinels still reach ${primary} and the application still writes to it: from the outside nothing is ` +
          `wrong. The replicas do not notice either: master_link_status stays "up" until repl-timeout (60 s) passes ` +
          'without data. Only the offsets tell: the primary streams on, the replicas receive nothing.',
        async () => {
          // The rules live in the replicas, not in the primary: the primary is killed later, and
          // healing a partition execs iptables inside its target, which a dead container refuses.
          for (const n of replicas) await lab.faults.partition(n, [primary]);
        },
        [redisCli(r, replicas[0] as string, 'INFO replication')],
      );
      const outcome = await lab.step(
        `${p.writes} writes during the cut`,
        (wait
          ? `Each write is followed by \`WAIT 1 ${p.waitMs}\`, which now returns 0 after ${p.waitMs} ms: no replica ` +
            'has it. The client cannot know whether such a write will survive, so it is recorded as unknown (info), ' +
            'not as confirmed. '
          : `Each write gets OK from ${primary} and is recorded as acknowledged (ok). `) +
          `Note: with \`min-replicas-to-write 1\` and \`min-replicas-max-lag 2\` the primary would start refusing ` +
          'writes ("NOREPLICAS Not enough good replicas to write.") 2-3 s into the cut, once no replica has ' +
          'acknowledged for more than 2 s: the loss is bounded to those first seconds of writes, not removed ' +
          '(midlab up redis --param minReplicasToWrite=1 to try it; the Redis default max lag is 10 s).',
        async () => {
          const types = { ok: 0, fail: 0, info: 0 };
          for (let i = 1; i <= p.writes; i++) {
            const op = await write(
              lab,
              app,
              `cut-${pad(i, 4)}`,
              wait ? { replicas: 1, timeoutMs: p.waitMs } : undefined,
            );
            types[op.type as keyof typeof types] += 1;
          }
          lab.observe(
            'cutWrites',
            types,
            `${p.writes} writes: ${types.ok} acknowledged, ${types.info} unconfirmed, ${types.fail} refused`,
          );
          return types;
        },
      );
      if (outcome.ok + outcome.info === 0) throw new Error('no write reached the primary during the cut');
      await lab.step(
        'Prove the replicas did not get them',
        'DBSIZE counts the keys on each node and the replication offsets count bytes of the stream: the primary ' +
          `holds ${p.writes} keys more than each replica, whose offset stopped when the cut began. The primary ` +
          "sees its replicas fall silent (INFO replication: lag grows), yet accepts writes as before. The notes' " +
          '"冗余法" says a replicated system may lose one copy and keep the data; that holds only for data the ' +
          'copies already have, and Redis replication is asynchronous.',
        async () => {
          // The primary notices before anyone: its replicas' acknowledgements (one a second) stop.
          await waitUntil(
            `${primary} to see its replicas silent for 2 s`,
            async () => {
              const lags = (await r.replication(primary)).replicas.map((x) => x.lag);
              return lags.length === replicas.length && lags.every((l) => l >= 2)
                ? { done: true, value: lags }
                : { done: false, seen: `lags ${lags.join(',')}` };
            },
            { timeoutMs: 15_000, intervalMs: 100 },
          );
          const view = await cutView(r, primary, replicas);
          lab.observe(
            'cut',
            view,
            `${primary}: ${view.primaryDbsize} keys, offset ${view.primaryOffset}; ` +
              replicas
                .map((n) => {
                  const v = view.replicas[n];
                  return `${n}: ${v?.dbsize} keys, offset ${v?.offset}, link ${v?.link}, silent for ${v?.lagSeenByPrimary} s`;
                })
                .join('; '),
          );
        },
        [redisCli(r, primary, 'DBSIZE'), redisCli(r, replicas[0] as string, 'DBSIZE')],
      );
      const newPrimary = await lab.step(
        `Kill the primary (${primary})`,
        `SIGKILL. Each Sentinel marks ${primary} subjectively down (+sdown) once down-after-milliseconds (2000 ms ` +
          'here, 30000 in production) have passed since its last valid reply - Sentinels ping every second, so ' +
          'that reply may predate the kill by up to a second; once a quorum (2 of 3) agrees it is objectively down ' +
          '(+odown), a majority elects one Sentinel leader for this epoch, which picks the best replica (priority, ' +
          'then replication offset, then run id), sends it REPLICAOF NO ONE and points the others at it ' +
          '(+switch-master). Both replicas stopped at the same offset, so either may win - and neither has the ' +
          'writes made during the cut.',
        async () => {
          await lab.faults.kill(primary);
          const killed = Date.now();
          const chosen = await r.waitForPrimary(primary, lab.params.maxFailoverMs * 2, 50);
          const ms = Date.now() - killed;
          lab.observe('primaryAfter', chosen, `every Sentinel now names ${chosen}`);
          lab.observe('failoverMs', ms, `the Sentinels agreed on ${chosen} ${ms} ms after the kill`);
          for (const line of await sentinelEvents(r)) lab.say(line);
          return chosen;
        },
        [
          redisCli(r, r.sentinels[0] as string, 'SENTINEL get-master-addr-by-name mymaster'),
          `docker logs ${r.cluster.node(r.sentinels[0] as string).containerName}`,
        ],
      );
      await lab.step(
        'The Sentinel-aware client follows',
        "The application's connection to the dead primary broke; ioredis asks the Sentinels again, gets the new " +
          'primary and connects to it, checking that its role is master. Meanwhile queued commands wait (here up to ' +
          '30 s). A log line "All sentinels are unreachable" during this is misleading: it means no Sentinel has ' +
          'named a reachable primary yet. One more write through the same client shows where it landed.',
        async () => {
          const op = await write(lab, app, 'after-1', wait ? { replicas: 1, timeoutMs: 1000 } : undefined);
          const endpointNode = r.nodeAt(app.remote);
          const announced = await app.announcedName().catch(() => undefined);
          lab.observe(
            'clientNodeAfter',
            { endpointNode, announced, write: op.type },
            `the write went to ${endpointNode} (which calls itself ${announced}): ${op.type}`,
          );
          if (app.lastError) lab.say(`ioredis' last complaint while it searched: "${app.lastError}"`);
          lab.say(
            `In the heal phase ${primary} is started again. With no persistence and its original redis.conf it comes ` +
              'back as an empty primary; a client that went to it directly would see no data. Sentinel, which ' +
              `still lists it as a replica, converts it within ~10 s (+convert-to-slave) and it resyncs from ${newPrimary}.`,
          );
        },
        [hostCli(r, newPrimary, 'DBSIZE')],
      );
    } finally {
      app.close();
    }
  },
  async final(lab) {
    const r = lab.stack;
    const primary = await r.primary();
    const old = lastObservation(lab.history.evidence(), 'primaryBefore') as string | undefined;
    if (old && old !== primary) {
      const rep = await r.replication(old);
      lab.observe(
        'oldPrimaryNow',
        rep.role,
        `${old} is back as a ${rep.role === 'slave' ? `replica of ${rep.masterHost}` : rep.role}`,
      );
    }
    const c = await r.client(primary);
    try {
      const rd = await lab.history.record(
        'final-reader',
        'read-all',
        undefined,
        primary,
        async () => ({ ids: (await c.scan(`${PREFIX}*`)).map((k) => k.slice(PREFIX.length)).sort() }),
        classify,
      );
      if (!rd.ok) throw rd.error;
      lab.observe(
        'finalRead',
        { primary, keys: rd.result.ids.length },
        `${primary} holds ${rd.result.ids.length} of the written keys`,
      );
    } finally {
      c.close();
    }
  },
  check(ev, p) {
    const before = lastObservation(ev, 'primaryBefore') as string | undefined;
    const after = lastObservation(ev, 'primaryAfter') as string | undefined;
    const ms = Number(lastObservation(ev, 'failoverMs'));
    const cut = lastObservation(ev, 'cut') as CutView | undefined;
    const landed = lastObservation(ev, 'clientNodeAfter') as
      | { endpointNode?: string; announced?: string; write: string }
      | undefined;
    const writes = completions(ev.ops, 'write');
    const cutWrites = writes.filter((o) => idsOf(o.value)[0]?.startsWith('cut-'));
    const cutIds = cutWrites.map((o) => idsOf(o.value)[0] as string);
    const findings = delivery(ev.ops, { send: 'write', receive: 'read-all' });
    const replicaViews = Object.entries(cut?.replicas ?? {});
    const checks = [
      check(
        `the Sentinels agree on a new primary within ${p.maxFailoverMs} ms`,
        typeof after === 'string' && after !== before && Number.isFinite(ms) && ms <= p.maxFailoverMs,
        `a former replica, named by every Sentinel, within ${p.maxFailoverMs} ms`,
        `${String(after)} after ${Number.isFinite(ms) ? ms : '?'} ms (was ${String(before)})`,
        { failoverMs: ms },
      ),
      check(
        'the replicas did not receive the writes made during the cut',
        cut !== undefined &&
          replicaViews.length > 0 &&
          replicaViews.every(([, v]) => v.dbsize === cut.primaryDbsize - p.writes && v.offset < cut.primaryOffset),
        `each replica ${p.writes} keys behind the primary, its offset behind the primary's`,
        cut
          ? `${cut.primary}: ${cut.primaryDbsize} keys @${cut.primaryOffset}; ` +
              replicaViews.map(([n, v]) => `${n}: ${v.dbsize} keys @${v.offset}`).join(', ')
          : 'not observed',
      ),
      check(
        'the Sentinel-aware client follows the new primary',
        // In the wait variant WAIT may return 0 while the other replica is still being repointed: the
        // write itself landed all the same.
        (landed?.write === 'ok' || (p.variant === 'wait' && landed?.write === 'info')) &&
          landed.endpointNode === after &&
          landed.announced === after,
        `a write through the same client lands on ${String(after)}`,
        landed
          ? `${landed.write} on ${landed.endpointNode} (calls itself ${landed.announced})`
          : 'no write after the failover',
      ),
    ];
    if (p.variant === 'wait') {
      const confirmed = writes.filter((o) => o.type === 'ok');
      const unconfirmed = cutWrites.filter((o) => o.type === 'info');
      const received = new Set(readIds(ev));
      const survived = unconfirmed.filter((o) => received.has(idsOf(o.value)[0] as string));
      checks.push(
        check(
          'writes WAIT confirmed include writes made before the cut',
          confirmed.filter((o) => idsOf(o.value)[0]?.startsWith('before-')).length === BEFORE,
          `all ${BEFORE} writes before the cut confirmed by at least one replica`,
          `${confirmed.length} confirmed in all: ${sample(confirmed.map((o) => idsOf(o.value)[0] as string))}`,
        ),
        // In this variant `ok` means confirmed by WAIT: that is what must never be lost.
        ...deliveryChecks(findings, { loss: 'forbidden', duplicates: 'forbidden' }, 'writes').map((c) =>
          c.name === 'no acknowledged writes lost' ? { ...c, name: 'no write WAIT confirmed is lost' } : c,
        ),
        check(
          'writes WAIT did not confirm are reported as unconfirmed',
          cutWrites.length === p.writes && unconfirmed.length === p.writes,
          `all ${p.writes} writes in the cut recorded as unknown (info), none as ok`,
          `${unconfirmed.length} unconfirmed, ${cutWrites.filter((o) => o.type === 'ok').length} confirmed; ` +
            `of the unconfirmed, ${survived.length} survived`,
          { unconfirmed: unconfirmed.map((o) => idsOf(o.value)[0]), survived: survived.length },
        ),
      );
    } else {
      const lostSet = new Set(findings.lost);
      checks.push(
        ...deliveryChecks(findings, { loss: 'expected', duplicates: 'forbidden' }, 'writes'),
        check(
          'exactly the writes made during the cut are lost',
          cutIds.length === p.writes && cutIds.every((id) => lostSet.has(id)) && lostSet.size === cutIds.length,
          `the ${p.writes} writes of the cut lost; the ${BEFORE} before it and the one after the failover kept`,
          `${findings.lost.filter((id) => id.startsWith('cut-')).length} of ${cutIds.length} cut writes lost, ` +
            `${findings.lost.filter((id) => !id.startsWith('cut-')).length} other writes lost`,
          { lost: findings.lost },
        ),
      );
    }
    return checks;
  },
});

/**
 * One identified write through the application's client, recorded. With `confirm`, it
 * is followed by WAIT: confirmed by a replica -> ok; WAIT returned 0 -> info (the
 * primary has it, no replica does: its survival is unknown).
 */
async function write(
  lab: Ctx,
  app: RedisClient,
  id: string,
  confirm?: { replicas: number; timeoutMs: number },
): Promise<Op> {
  const node = lab.stack.nodeAt(app.remote);
  const h = lab.history.invoke('app', 'write', { id }, node);
  try {
    await app.set(`${PREFIX}${id}`, id);
  } catch (err) {
    return classify(err) === 'fail' ? h.fail(err) : h.info(err);
  }
  if (!confirm) return h.ok();
  try {
    const n = await app.wait(confirm.replicas, confirm.timeoutMs);
    return n >= 1
      ? h.ok({ id, replicas: n })
      : h.info(`WAIT ${confirm.replicas} ${confirm.timeoutMs} returned 0: no replica confirmed it`, {
          id,
          replicas: 0,
        });
  } catch (err) {
    return h.info(err);
  }
}

async function cutView(r: StartedRedis, primary: string, replicas: string[]): Promise<CutView> {
  const p = await r.replication(primary);
  const view: CutView = {
    primary,
    primaryDbsize: await r.dbsize(primary),
    primaryOffset: p.masterReplOffset,
    replicas: {},
  };
  for (const n of replicas) {
    const rep = await r.replication(n);
    view.replicas[n] = {
      dbsize: await r.dbsize(n),
      offset: rep.slaveReplOffset ?? rep.masterReplOffset,
      link: rep.masterLinkStatus ?? '-',
      lagSeenByPrimary: p.replicas.find((x) => x.ip === n)?.lag,
    };
  }
  return view;
}

/**
 * The failover as the Sentinel that led it logged it, +sdown to +switch-master (which
 * comes once the other replicas are repointed, a moment after the others agree).
 */
async function sentinelEvents(r: StartedRedis): Promise<string[]> {
  const wanted = /[+-](sdown master|odown|try-failover|elected-leader|selected-slave|promoted-slave|switch-master)\b/;
  const led = await waitUntil(
    'a Sentinel to log +switch-master',
    async () => {
      for (const s of r.sentinels) {
        const log = await r.cluster
          .node(s)
          .logs()
          .catch(() => '');
        if (log.includes('+elected-leader') && log.includes('+switch-master')) {
          return { done: true, value: { s, log } } as const;
        }
      }
      return { done: false, seen: 'no +switch-master yet' } as const;
    },
    { timeoutMs: 15_000, intervalMs: 250 },
  ).catch(() => undefined);
  if (!led) return [];
  const lines = led.log
    .split('\n')
    .filter((l) => wanted.test(l))
    // Docker's timestamp and Sentinel's pid/role prefix say nothing here.
    .map((l) => l.replace(/^\S+\s+\d+:X\s+\d+ \w+ \d+ /, '').trim());
  return [`${led.s} led the failover; its log:`, ...lines.slice(0, 12).map((l) => `  ${l}`)];
}

function readIds(ev: Evidence): string[] {
  return completions(ev.ops, 'read-all')
    .filter((o) => o.type === 'ok')
    .flatMap((o) => idsOf(o.value));
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}
