import * as kit from './kit.ts';

/** Writes made (and replicated) before the cut. */
const BEFORE = 10;

/** What the lab observes, by name (the mechanism also records `sentinels`, `probeWait`; the run `caughtUp`, `silentFor`). */
interface Seen {
  primaryBefore: string;
  cut: kit.KeysView;
  /** Every Sentinel's answer, last seen while waiting for the failover. */
  sentinelAnswers: Record<string, string>;
  primaryAfter: string | null;
  /** ms from the kill until every Sentinel named the same new primary (null: not within the wait). */
  failoverMs: number | null;
  /** The epochs the Sentinels voted in: more than one, a split vote was retried. */
  failoverEpochs: number[];
  clientNodeAfter: { endpointNode?: string; announced?: string; write: string };
}

export default kit.defineLab({
  id: 'redis/sentinel-failover',
  title: 'Sentinel fails over; asynchronous replication loses acknowledged writes',
  teaches:
    'Sentinels agree on a new primary within seconds and ioredis follows it, but writes the old primary acknowledged ' +
    'and never replicated are lost; WAIT does not prevent that (Redis stays asynchronous, not CP): it counts the ' +
    'replicas that acknowledged a write, so a write WAIT confirmed survives a failover promoting one of them',
  notes:
    'Notes: Sentinel is only named ("Redis哨兵模式的主从集群", line 31443, as something an Operator deploys); ' +
    'replication under "Redis 主从集群" (line 30367) and "冗余法" (lines 2792-2794: "可靠性是允许丢失其中一份数据", ' +
    'reliability means one copy may be lost). What the notes do not say: replication is asynchronous, so a copy ' +
    'can be missing exactly the writes a client was told succeeded, and losing the copy that had them loses them. ' +
    'WAIT (redis.io, WAIT, "Consistency and WAIT"): it does not make Redis a strongly consistent store; it ' +
    'guarantees only that the replicas it counted received the earlier writes, and Sentinel promoting one of ' +
    'those is a best effort, so a write WAIT confirmed can still be lost. ' +
    'Lab timing: down-after-milliseconds 2000 and failover-timeout 10000; production defaults are 30000 and 180000.',
  params: {
    variant: {
      type: 'enum',
      default: 'acks',
      choices: ['acks', 'wait'],
      describe:
        'acks: a write counts once the primary says OK; wait: each write is followed by WAIT, and counts only if a replica acknowledged it',
    },
    writes: { type: 'int', default: 100, min: 1, max: 10_000, describe: 'writes made while the replicas are cut off' },
    waitMs: { type: 'int', default: 200, min: 10, max: 5000, describe: 'wait variant: `WAIT 1 <ms>` during the cut' },
    maxFailoverMs: { type: 'int', default: 6000, min: 1000, describe: 'bound on every Sentinel naming a new primary' },
  },
  variants: [{ variant: 'acks' }, { variant: 'wait' }],
  stack: kit.redis,
  topology: () => kit.SENTINEL_TOPOLOGY,
  steps: {
    proof: kit.sentinelProof,
    connect: {
      title: 'The application connects through the Sentinels',
      narration:
        'ioredis in Sentinel mode asks a Sentinel `SENTINEL get-master-addr-by-name mymaster`, connects to the ' +
        'answer and asks again whenever the connection breaks: no hard-coded primary. Sentinels announce host names ' +
        '(redis1:6379), reached from this host through ports on 127.0.0.1: the client gets a NAT map.',
      commands: [kit.sentinelCli('sentinel1', 'SENTINEL get-master-addr-by-name mymaster')],
    },
    before: {
      title: `${BEFORE} writes while the replicas keep up`,
      narration: (p) =>
        p.variant === 'wait'
          ? `Each write is followed by \`WAIT ${kit.SENTINEL_TOPOLOGY.replicas} 2000\`: how many replicas acknowledged ` +
            "this connection's writes within 2 s. A write is confirmed (ok) only if a replica has it; here both do."
          : 'A write is done (ok) once the primary answers OK, as every client does by default; the primary then ' +
            'streams it to the replicas, asynchronously.',
    },
    cut: {
      title: 'Cut the replicas off from {primary}',
      narration:
        'iptables inside {replicas} drops every packet to and from {primary}. Sentinels and the application still ' +
        'reach it: from outside nothing is wrong, and the replicas keep master_link_status "up" until repl-timeout ' +
        '(60 s). Only the offsets tell.',
      commands: [kit.redisCli('replica', 'INFO replication')],
    },
    'cut-writes': {
      title: '{writes} writes during the cut',
      narration: (p) =>
        (p.variant === 'wait'
          ? `Each is followed by \`WAIT 1 ${p.waitMs}\`, now 0: no replica has it, so it is unknown (info). `
          : 'Each gets OK from {primary}: acknowledged (ok). ') +
        'With `min-replicas-to-write 1` and `min-replicas-max-lag 2` the primary would refuse writes (NOREPLICAS) ' +
        'at most 4 s into the cut: the loss bounded, not removed (redis/split-brain --param minReplicasToWrite=1).',
    },
    'prove-cut': {
      title: 'Prove the replicas did not get them',
      narration:
        'DBSIZE counts keys, offsets count bytes of stream: the primary holds {writes} keys more than each replica, ' +
        "whose offset stopped at the cut, and sees them fall silent (lag grows) yet accepts writes. The notes' " +
        '"冗余法" (one copy may be lost) holds only for data the copies already have.',
      commands: [kit.redisCli('primary', 'DBSIZE'), kit.redisCli('replica', 'DBSIZE')],
    },
    kill: {
      title: 'Kill the primary ({primary})',
      narration:
        'SIGKILL. Each Sentinel flags it down (+sdown) down-after-milliseconds (2000 ms here, 30000 in production) ' +
        'after its last reply, which may predate the kill by a second (pings are a second apart). Once {quorum} of ' +
        '{sentinels} agree (+odown), a majority elects a leader Sentinel; it picks the best replica (priority, ' +
        'offset, run id), sends it REPLICAOF NO ONE and repoints the others (+switch-master). Both replicas stopped ' +
        "at the same offset: either may win; neither has the cut's writes. Expected: every Sentinel names it within " +
        '{maxFailoverMs} ms, plus 20 s (twice failover-timeout) for each split vote the Sentinels log ' +
        '(-failover-abort-not-elected: each voted for itself; seen once in 10 runs here).',
      commands: [kit.sentinelCli('sentinel1', 'SENTINEL get-master-addr-by-name mymaster'), 'docker logs {@sentinel1}'],
    },
    follow: {
      title: 'The Sentinel-aware client follows',
      narration:
        'ioredis asks the Sentinels again and connects to the new primary once its role is master; queued commands ' +
        'wait (up to 30 s); "All sentinels are unreachable" meanwhile means no Sentinel named a reachable primary ' +
        'yet. Healed, {primary} restarts as an empty primary (no persistence) until Sentinel converts it within ' +
        '~10 s (+convert-to-slave) and it resyncs from {newPrimary}.',
      commands: [kit.redisCli('newPrimary', 'DBSIZE')],
    },
  },
  mechanism: kit.proveSentinels,
  async run(lab) {
    const r = lab.stack;
    const p = lab.params;
    const w = new kit.RedisWorkload(lab.history, r);
    const { primary, replicas } = kit.primaryAndReplicas(lab);
    const wait = p.variant === 'wait';
    const vars = { primary, replica: `${replicas[0]}`, replicas: replicas.join(' and ') };
    const step = <T>(key: Parameters<typeof lab.step>[0], fn: () => Promise<T>, more = {}) =>
      lab.step(key, fn, { vars: { ...vars, ...more } });
    const app = await step('connect', async () => {
      const c = await r.sentinelClient();
      lab.observe('clientNodeBefore', r.nodeAt(c.remote), `the client is connected to ${r.nodeAt(c.remote)}`);
      return c;
    });
    const write = (prefix: string, n: number, width: number, confirm: { replicas: number; timeoutMs: number }) =>
      w.writeIds('app', app, prefix, n, width, wait ? confirm : undefined);
    try {
      await step('before', async () => {
        await write('before', BEFORE, 2, { replicas: replicas.length, timeoutMs: 2000 });
        const offsets = await kit.untilCaughtUp(lab, primary, replicas);
        const at = offsets ? `at offset ${offsets[primary]}: the ${BEFORE} writes are on all nodes` : 'not in 10 s';
        lab.observe('caughtUp', offsets, `every replica ${at}`);
      });
      // The rules live in the replicas, not in the primary: the primary is killed later, and
      // healing a partition execs iptables inside its target, which a dead container refuses.
      await step('cut', async () => {
        for (const n of replicas) await lab.faults.partition(n, [primary]);
      });
      await step('cut-writes', async () => {
        const t = await write('cut', p.writes, 4, { replicas: 1, timeoutMs: p.waitMs });
        lab.observe('cutWrites', t, `${t.ok} acknowledged, ${t.info} unconfirmed, ${t.fail} refused`);
      });
      await step('prove-cut', () => kit.observeCut(lab, primary, replicas));
      const kill = async () => {
        await lab.faults.kill(primary);
        const chosen = await kit.untilFailover(lab, primary, Date.now(), 'kill');
        for (const line of await r.failoverLog()) lab.say(line);
        if (wait && chosen !== primary) lab.say(`WAIT counted both replicas before the cut: ${chosen} has them`);
        return chosen;
      };
      const newPrimary = await step('kill', kill, { quorum: r.layout.quorum, sentinels: r.sentinels.length });
      const after = () => w.writeId('app', app, 'after-1', wait ? { replicas: 1, timeoutMs: 1000 } : undefined);
      await step('follow', () => kit.observeLanding(lab, app, after), { newPrimary });
    } finally {
      app.close();
    }
  },
  async final(lab) {
    const old = kit.observed<Seen>(lab.history.evidence()).primaryBefore;
    const rep = old && (await lab.stack.replication(old));
    if (rep) lab.say(`${old} is back as ${rep.role === 'slave' ? `a replica of ${rep.masterHost}` : rep.role}`);
    await kit.readFinal(lab);
  },
  check(ev, p) {
    const seen = kit.observed<Seen>(ev);
    const { primaryBefore: before, failoverMs: ms, clientNodeAfter: landed } = seen;
    const after = seen.primaryAfter ?? undefined;
    const findings = kit.delivery(ev.ops, { send: 'write', receive: 'read-all' });
    const replicas = Object.keys(seen.cut?.replicas ?? {}).length;
    const bound = kit.failoverBound(p.maxFailoverMs, seen.failoverEpochs);
    const checks: kit.Check[] = [
      kit.failoverWithin(
        `the Sentinels agree on a new primary within ${bound.ms} ms`,
        { before, after, ms },
        bound.ms,
        `a former replica, named by every Sentinel, within ${p.maxFailoverMs} ms of the kill, plus ` +
          `${2 * kit.FAILOVER_TIMEOUT_MS} ms per split vote (${bound.splitVotes} in the Sentinels' logs)`,
        `no agreement on a new primary (was ${before}; last answers ${JSON.stringify(seen.sentinelAnswers ?? {})})`,
      ),
      kit.cutNotReplicated(seen.cut, p.writes),
      kit.check(
        'the Sentinel-aware client follows the new primary',
        // In the wait variant WAIT may return 0 while the other replica is still being repointed: the
        // write itself landed all the same.
        (landed?.write === 'ok' || (p.variant === 'wait' && landed?.write === 'info')) &&
          after !== undefined &&
          landed.endpointNode === after &&
          landed.announced === after,
        `a write through the same client lands on ${String(after)}`,
        landed ? `${landed.write} on ${landed.endpointNode} (calls itself ${landed.announced})` : 'no write after it',
      ),
    ];
    const unread = kit.finalReadMissing(ev);
    if (unread) return [...checks, unread];
    const variantChecks = p.variant === 'acks' ? kit.cutLossChecks : kit.waitChecks;
    return [...checks, ...variantChecks(ev, findings, { before: BEFORE, cut: p.writes, replicas })];
  },
});
