import { type Check, check } from '../../src/checkers/check.ts';
import { delivery, deliveryChecks, idsOf, sample } from '../../src/checkers/delivery.ts';
import { completions, type Evidence, observed } from '../../src/engine/history.ts';
import { defineLab } from '../../src/engine/lab.ts';
import { sentinelProblems } from '../../stacks/redis/health.ts';
import type { KeysView } from '../../stacks/redis/replication.ts';
import type { SentinelView } from '../../stacks/redis/sentinel.ts';
import { redis } from '../../stacks/redis/stack.ts';
import { RedisWorkload } from '../../stacks/redis/workload.ts';
import { hostCli, redisCli } from './commands.ts';

const PROBE_KEY = 'midlab:probe';
/** Writes made (and replicated) before the cut. */
const BEFORE = 10;

const params = {
  variant: {
    type: 'enum',
    default: 'acks',
    choices: ['acks', 'wait'],
    describe:
      'acks: a write counts once the primary says OK; wait: each write is followed by WAIT, and counts only if a replica acknowledged it',
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
    default: 6000,
    min: 1000,
    describe: 'the bound within which every Sentinel must name a new primary after the kill',
  },
} as const;

/** What the lab observes, by name. */
interface Seen {
  /** The mechanism proof: each Sentinel's view of "mymaster" before any fault. */
  sentinels: SentinelView[];
  primaryBefore: string;
  probeWait: number;
  /** The primary's offset and each replica's after the writes before the cut (undefined: never caught up). */
  caughtUp: Record<string, number>;
  cutWrites: { ok: number; fail: number; info: number };
  /** Seconds since each replica's last acknowledgement, as the primary saw it during the cut. */
  silentFor: number[];
  cut: KeysView;
  /** Every Sentinel's answer, last seen while waiting for the failover. */
  sentinelAnswers: Record<string, string>;
  primaryAfter: string | null;
  /** ms from the kill until every Sentinel named the same new primary (null: not within the wait). */
  failoverMs: number | null;
  clientNodeAfter: { endpointNode?: string; announced?: string; write: string };
  oldPrimaryNow: string;
  finalRead: { primary: string; keys: number };
}

/** The WAIT variant's claim, precisely: what WAIT bounds and what it does not. */
const WAIT_LESSON =
  'WAIT does not make Redis strongly consistent: it returns how many replicas acknowledged the write before it ' +
  'returned, and nothing more. A write acknowledged by WAIT survives a failover that promotes one of those ' +
  'replicas; Sentinel may still promote a replica that did not get it (WAIT 1 with two replicas), or the replicas ' +
  'may lose it (a restart without persistence), and then an acknowledged write is lost all the same.';

export default defineLab({
  id: 'redis/sentinel-failover',
  title: 'Sentinel fails over; asynchronous replication loses acknowledged writes',
  teaches:
    'Sentinels agree on a new primary within seconds and ioredis follows it, but writes the old primary acknowledged ' +
    'and never replicated are lost; WAIT does not prevent that (Redis stays an asynchronous, not a CP, store): it ' +
    'counts the replicas that acknowledged a write before it returned, so a write WAIT confirmed survives a failover ' +
    'that promotes one of those replicas',
  notes:
    'Notes: Sentinel is only named ("Redis哨兵模式的主从集群", line 31443, as something an Operator deploys); ' +
    'replication under "Redis 主从集群" (line 30367) and "冗余法" (lines 2792-2794: "可靠性是允许丢失其中一份数据", ' +
    'reliability means one copy may be lost). What the notes do not say: replication is asynchronous, so a copy ' +
    'can be missing exactly the writes a client was told succeeded, and losing the copy that had them loses them. ' +
    'WAIT (redis.io, WAIT, "Consistency and WAIT"): it does not make Redis a strongly consistent store; it ' +
    'guarantees only that the replicas it counted received the earlier writes, and Sentinel promoting one of ' +
    'those is a best effort, so a write WAIT confirmed can still be lost. ' +
    'Lab timing: down-after-milliseconds 2000 and failover-timeout 10000; production defaults are 30000 and 180000.',
  params,
  variants: [{ variant: 'acks' }, { variant: 'wait' }],
  stack: redis,
  topology: () => ({ replicas: 2, sentinels: 3, downAfterMs: 2000 }),
  async mechanism(lab) {
    const r = lab.stack;
    const w = new RedisWorkload(lab.history, r);
    const reasons: string[] = [];
    await lab.step(
      'Sentinel and replication work before any fault',
      'Before anything is broken the lab proves what it relies on. Each Sentinel (SENTINEL MASTER / REPLICAS / ' +
        `SENTINELS mymaster) names the same primary with no down flag, uses quorum ${r.layout.quorum}, lists both ` +
        `replicas with their link ok and knows the ${r.sentinels.length - 1} other Sentinels - without those it ` +
        'could not agree on a failover. Then a write on the primary reaches every replica (WAIT counts the ' +
        'replicas that acknowledged it), and the primary accepts writes whatever its replicas do ' +
        '(min-replicas-to-write 0, the Redis default).',
      async () => {
        const agreed = await r.agreedPrimary();
        if (!agreed.done) {
          reasons.push(`the Sentinels do not agree on a primary: ${agreed.seen}`);
          return;
        }
        const primary = agreed.value;
        lab.observe('primaryBefore', primary, `all ${r.sentinels.length} Sentinels name ${primary} as the primary`);
        const replicas = r.dataNodes.filter((n) => n !== primary);
        const views = await Promise.all(r.sentinels.map((s) => r.sentinelView(s)));
        lab.observe(
          'sentinels',
          views,
          views
            .map(
              (v) =>
                `${v.sentinel}: ${v.primary} (${v.flags}), quorum ${v.quorum}, replicas ` +
                `${v.replicas.map((x) => `${x.name} ${x.link}`).join(' ')}, knows ${v.sentinels.map((x) => x.name).join(' ')}`,
            )
            .join('; '),
        );
        for (const v of views) {
          reasons.push(...sentinelProblems(v, primary, replicas, r.sentinels.length - 1));
          if (v.quorum !== r.layout.quorum)
            reasons.push(`${v.sentinel} uses quorum ${v.quorum}, not ${r.layout.quorum}`);
        }
        const c = await r.client(primary);
        try {
          const minReplicas = await c.configGet('min-replicas-to-write');
          if (minReplicas !== '0') {
            reasons.push(`min-replicas-to-write is ${minReplicas} on ${primary}: writes in the cut would be refused`);
          }
          const probe = await w.set('probe', c, PROBE_KEY, 'probe', 'probe-write');
          if (!probe.ok) reasons.push(`the probe write failed: ${probe.op.error}`);
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
          const c2 = await r.client(n);
          try {
            const got = await w.get('probe', c2, PROBE_KEY, 'probe-read');
            if (!got.ok || got.result !== 'probe') reasons.push(`${n} does not have the probe write`);
          } finally {
            c2.close();
          }
        }
        if (!reasons.length) lab.say(`the probe write is on ${replicas.join(' and ')}: replication is on`);
      },
      [
        redisCli(r, r.sentinels[0] as string, 'SENTINEL MASTER mymaster'),
        redisCli(r, r.firstPrimary, 'INFO replication'),
      ],
    );
    return reasons;
  },
  async run(lab) {
    const r = lab.stack;
    const p = lab.params;
    const w = new RedisWorkload(lab.history, r);
    const primary = observed<Seen>(lab.history.evidence()).primaryBefore ?? r.firstPrimary;
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
              `confirmed (ok) only if at least one replica has it; here both do, so whichever replica Sentinel ` +
              'promotes later has them.'
          : 'Each write counts as done (ok) as soon as the primary answers OK - what every client does by default. ' +
              'The primary then streams it to the replicas, asynchronously.',
        async () => {
          for (let i = 1; i <= BEFORE; i++) {
            await w.writeId(
              'app',
              app,
              `before-${pad(i, 2)}`,
              wait ? { replicas: replicas.length, timeoutMs: 2000 } : undefined,
            );
          }
          const target = (await r.replication(primary)).masterReplOffset;
          const offsets = await lab.until(
            'the replicas to apply every write',
            async () => {
              const got = await Promise.all(replicas.map(async (n) => (await r.replication(n)).slaveReplOffset ?? 0));
              return got.every((o) => o >= target)
                ? { done: true, value: got }
                : { done: false, seen: `offsets ${got} < ${target}` };
            },
            { timeoutMs: 10_000, intervalMs: 50 },
          );
          lab.observe(
            'caughtUp',
            offsets ? Object.fromEntries([[primary, target], ...replicas.map((n, i) => [n, offsets[i]])]) : undefined,
            offsets
              ? `every replica has applied the stream up to offset ${target}: the ${BEFORE} writes are on all ${r.dataNodes.length} nodes`
              : `the replicas did not reach offset ${target} within 10 s`,
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
      await lab.step(
        `${p.writes} writes during the cut`,
        (wait
          ? `Each write is followed by \`WAIT 1 ${p.waitMs}\`, which now returns 0 after ${p.waitMs} ms: no replica ` +
            'has it. The client cannot know whether such a write will survive, so it is recorded as unknown (info), ' +
            `not as confirmed. ${WAIT_LESSON} `
          : `Each write gets OK from ${primary} and is recorded as acknowledged (ok). `) +
          `Note: with \`min-replicas-to-write 1\` and \`min-replicas-max-lag 2\` the primary would start refusing ` +
          'writes ("NOREPLICAS Not enough good replicas to write.") 2-3 s into the cut, once no replica has ' +
          'acknowledged for more than 2 s: the loss is bounded to those first seconds of writes, not removed ' +
          '(midlab up redis --param minReplicasToWrite=1 to try it; the Redis default max lag is 10 s).',
        async () => {
          const types = { ok: 0, fail: 0, info: 0 };
          for (let i = 1; i <= p.writes; i++) {
            const op = await w.writeId(
              'app',
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
        },
      );
      await lab.step(
        'Prove the replicas did not get them',
        'DBSIZE counts the keys on each node and the replication offsets count bytes of the stream: the primary ' +
          `holds ${p.writes} keys more than each replica, whose offset stopped when the cut began. The primary ` +
          "sees its replicas fall silent (INFO replication: lag grows), yet accepts writes as before. The notes' " +
          '"冗余法" says a replicated system may lose one copy and keep the data; that holds only for data the ' +
          'copies already have, and Redis replication is asynchronous.',
        async () => {
          // The primary notices before anyone: its replicas' acknowledgements (one a second) stop.
          const lags = await lab.until(
            `${primary} to see its replicas silent for 2 s`,
            async () => {
              const got = (await r.replication(primary)).replicas.map((x) => x.lag);
              return got.length === replicas.length && got.every((l) => l >= 2)
                ? { done: true, value: got }
                : { done: false, seen: `lags ${got.join(',')}` };
            },
            { timeoutMs: 15_000, intervalMs: 100 },
          );
          if (lags)
            lab.observe('silentFor', lags, `${primary} last heard from its replicas ${lags.join(' and ')} s ago`);
          const view = await r.data(primary, replicas);
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
          `that reply may predate the kill by up to a second; once a quorum (${r.layout.quorum} of ` +
          `${r.sentinels.length}) agrees it is objectively down ` +
          '(+odown), a majority elects one Sentinel leader for this epoch, which picks the best replica (priority, ' +
          'then replication offset, then run id), sends it REPLICAOF NO ONE and points the others at it ' +
          '(+switch-master). Both replicas stopped at the same offset, so either may win - and neither has the ' +
          `writes made during the cut. The lab expects every Sentinel to name the new primary within ` +
          `${p.maxFailoverMs} ms of the kill. (Should two Sentinels ask for votes at once and neither get a ` +
          'majority, the next attempt waits twice failover-timeout, 20 s here, and the bound is missed.)',
        async () => {
          await lab.faults.kill(primary);
          const killed = Date.now();
          let answers: Record<string, string> = {};
          const chosen = await lab.until(
            `every Sentinel to name a primary other than ${primary}`,
            async () => {
              const agreed = await r.agreedPrimary(primary);
              if (!agreed.done) answers = JSON.parse(agreed.seen) as Record<string, string>;
              return agreed;
            },
            // Long enough to see a failover retried after a split vote (2 x failover-timeout).
            { timeoutMs: 30_000, intervalMs: 50 },
          );
          const ms = chosen ? Date.now() - killed : null;
          lab.observe('sentinelAnswers', chosen ? Object.fromEntries(r.sentinels.map((s) => [s, chosen])) : answers);
          lab.observe('primaryAfter', chosen ?? null, chosen ? `every Sentinel now names ${chosen}` : 'no new primary');
          lab.observe(
            'failoverMs',
            ms,
            ms === null
              ? 'the Sentinels did not agree on a new primary within 30 s'
              : `the Sentinels agreed on ${chosen} ${ms} ms after the kill (bound ${p.maxFailoverMs} ms)`,
          );
          for (const line of await r.failoverLog()) lab.say(line);
          if (wait && chosen) {
            lab.say(
              `WAIT counted both replicas for the ${BEFORE} writes before the cut, so ${chosen} has them: they ` +
                'survive because Sentinel promoted a replica WAIT counted, which is all WAIT can bound.',
            );
          }
          return chosen ?? primary;
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
          const op = await w.writeId('app', app, 'after-1', wait ? { replicas: 1, timeoutMs: 1000 } : undefined);
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
    const w = new RedisWorkload(lab.history, r);
    const primary = await r.primary();
    const old = observed<Seen>(lab.history.evidence()).primaryBefore;
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
      const rd = await w.readIds('final-reader', c);
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
    const seen = observed<Seen>(ev);
    const before = seen.primaryBefore;
    const after = seen.primaryAfter ?? undefined;
    const ms = seen.failoverMs;
    const cut = seen.cut;
    const landed = seen.clientNodeAfter;
    const writes = completions(ev.ops, 'write');
    const cutWrites = writes.filter((o) => idsOf(o.value)[0]?.startsWith('cut-'));
    const cutIds = cutWrites.map((o) => idsOf(o.value)[0] as string);
    const findings = delivery(ev.ops, { send: 'write', receive: 'read-all' });
    const replicaViews = Object.entries(cut?.replicas ?? {});
    const checks: Check[] = [
      check(
        `the Sentinels agree on a new primary within ${p.maxFailoverMs} ms`,
        typeof after === 'string' && after !== before && typeof ms === 'number' && ms <= p.maxFailoverMs,
        `a former replica, named by every Sentinel, within ${p.maxFailoverMs} ms of the kill`,
        typeof ms === 'number'
          ? `${String(after)} after ${ms} ms (was ${String(before)})`
          : `no agreement on a new primary (was ${String(before)}; last answers ${JSON.stringify(seen.sentinelAnswers ?? {})})`,
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
          after !== undefined &&
          landed.endpointNode === after &&
          landed.announced === after,
        `a write through the same client lands on ${String(after)}`,
        landed
          ? `${landed.write} on ${landed.endpointNode} (calls itself ${landed.announced})`
          : 'no write after the failover',
      ),
    ];
    if (!completions(ev.ops, 'read-all').some((o) => o.type === 'ok')) {
      // Without the final read nothing says which writes survived: loss can be neither shown nor ruled out.
      checks.push({
        name: 'the final read shows which writes survived',
        ok: 'unknown',
        expected: 'a read of every key after the failover',
        observed: 'no final read completed',
      });
      return checks;
    }
    if (p.variant === 'wait') {
      const confirmed = writes.filter((o) => o.type === 'ok');
      const beforeConfirmed = confirmed.filter((o) => idsOf(o.value)[0]?.startsWith('before-'));
      const unconfirmed = cutWrites.filter((o) => o.type === 'info');
      const received = new Set(readIds(ev));
      const survived = unconfirmed.filter((o) => received.has(idsOf(o.value)[0] as string));
      checks.push(
        check(
          'WAIT confirmed the writes made before the cut on every replica',
          beforeConfirmed.length === BEFORE &&
            beforeConfirmed.every((o) => (o.value as { replicas?: number }).replicas === replicaViews.length),
          `all ${BEFORE} writes before the cut acknowledged by all ${replicaViews.length || 2} replicas, so by whichever is promoted`,
          `${beforeConfirmed.length} confirmed, by ${[...new Set(beforeConfirmed.map((o) => (o.value as { replicas?: number }).replicas))].join('/') || '-'} replica(s); ` +
            `${confirmed.length} confirmed in all: ${sample(confirmed.map((o) => idsOf(o.value)[0] as string))}`,
        ),
        // In this variant `ok` means confirmed by WAIT, by replicas one of which was promoted.
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

function readIds(ev: Evidence): string[] {
  return completions(ev.ops, 'read-all')
    .filter((o) => o.type === 'ok')
    .flatMap((o) => idsOf(o.value));
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}
