import * as kit from './kit.ts';

/** Sentinel's down-after-milliseconds here: the restart must beat it (production default 30000). */
const DOWN_AFTER_MS = 5000;

interface Seen {
  primaryBefore: string;
  /** DBSIZE of every data node once the replicas caught up, before the restart. */
  keysBefore: Record<string, number>;
  /** The primary's run_id before and after: a new one is a new process. */
  runIds: { before: string; after: string | null };
  /** ms from the crash until the primary answered again (null: not within 20 s). */
  downMs: number | null;
  /** The primary the Sentinels name after the restart. */
  primaryAfter: string | null;
  /** Every data node's link once the replicas followed the restarted primary (or last seen). */
  linksAfter: Record<string, kit.LinkView>;
  keysAfter: Record<string, number>;
}

export default kit.defineLab({
  id: 'redis/restart-without-persistence',
  title: 'A primary without persistence restarts: every copy is wiped',
  teaches:
    'a primary with no RDB and no AOF that restarts faster than Sentinel notices comes back empty, and its replicas ' +
    'resynchronise from it and are emptied too: every key is gone from every node. With an append-only file the ' +
    'same restart loses nothing',
  notes:
    'Notes: the notes run `redis-master` (image redis:latest, no configuration) with its /data on an emptyDir ' +
    '(000_022c27bc280afc46.txt, lines 588-615) and say deleting the container does not touch the emptyDir ' +
    '(line 590): true, but a copy kept on disk survives only if Redis writes one. Without a config the image ' +
    'snapshots only on its default save points (Redis 7: 3600 s/1 change, 300 s/100, 60 s/10000), none of which a ' +
    'crash seconds after a burst of writes meets; this lab turns persistence off entirely (save "", appendonly no). ' +
    'And "Redis 主从集群" (001, line 30367) promises a replica takes the latest data from its primary: even when the ' +
    'primary is empty. redis.io, replication, "Safety of replication when master has persistence turned off": a ' +
    'master restarted by a supervisor comes back empty and its replicas destroy their copy; with Sentinel, the ' +
    "master can restart fast enough for Sentinel not to notice. Sentinel 7.0's master-reboot-down-after-period " +
    'does not help: it acts only on a rebooted master still answering -LOADING, and an empty one loads at once.',
  params: {
    persistence: {
      type: 'enum',
      default: 'off',
      choices: ['off', 'aof'],
      describe: "off: no RDB, no AOF (the notes' redis-master); aof: appendonly yes, appendfsync everysec",
    },
    keys: { type: 'int', default: 200, min: 1, max: 10_000, describe: 'keys written before the restart' },
  },
  variants: [{ persistence: 'off' }, { persistence: 'aof' }],
  stack: kit.redis,
  topology: (p) => ({ ...kit.SENTINEL_TOPOLOGY, downAfterMs: DOWN_AFTER_MS, persistence: p.persistence }),
  steps: {
    proof: kit.sentinelProof,
    fill: {
      title: '{keys} keys, on every node',
      narration:
        'The keys are written to {primary} and replicated; once the replicas have applied the whole stream, DBSIZE ' +
        'counts them on every node: three copies, which the notes\' "冗余法" would call safe.',
      commands: [kit.redisCli('primary', 'DBSIZE'), kit.redisCli('redis2', 'DBSIZE')],
    },
    restart: {
      title: 'The redis-server process of {primary} crashes and is restarted at once',
      narration: (p) =>
        'SIGKILL to redis-server alone, then the same command again in the same container, as a supervisor, ' +
        "systemd or the kubelet (restartPolicy Always) does, in well under Sentinel's down-after-milliseconds " +
        `(${DOWN_AFTER_MS} ms here): the Sentinels never flag it down, at most they log +reboot. ` +
        (p.persistence === 'aof'
          ? 'It replays its append-only file: every acknowledged write was in the file (written before the reply; ' +
            'a process crash loses nothing, a machine crash up to a second of fsync). The replicas resync from it ' +
            'and keep everything.'
          : 'With nothing on disk it starts empty, with a new replication id. The replicas reconnect within a second, ' +
            'cannot continue the old stream (PSYNC refused), take a full copy of the empty data set and flush their own.'),
      commands: [
        kit.redisCli('primary', 'INFO server'),
        kit.sentinelCli('sentinel1', 'SENTINEL get-master-addr-by-name mymaster'),
        'docker logs {@sentinel1}',
      ],
    },
    count: {
      title: 'Count the keys on every node',
      narration: (p) =>
        p.persistence === 'aof'
          ? 'Every node holds the {keys} keys again.'
          : 'DBSIZE is 0 on {primary} and on both replicas: one restart wiped every copy. Persistence on the primary, ' +
            'or no automatic restart, is what the Redis docs ask for.',
      commands: [kit.redisCli('primary', 'DBSIZE'), kit.redisCli('redis2', 'DBSIZE'), kit.redisCli('redis3', 'DBSIZE')],
    },
  },
  mechanism: kit.proveSentinels,
  async run(lab) {
    const r = lab.stack;
    const { primary, replicas } = kit.primaryAndReplicas(lab);
    const vars = { primary, keys: lab.params.keys };
    const runId = () => r.runId(primary);
    const step = (key: Parameters<typeof lab.step>[0], fn: () => Promise<void>) => lab.step(key, fn, { vars });
    const keys = async (name: string) => {
      const n = await r.dbsizes();
      lab.observe(name, n, `DBSIZE: ${JSON.stringify(n)}`);
    };
    const write = (c: kit.RedisClient) =>
      new kit.RedisWorkload(lab.history, r).writeIds('app', c, 'k', lab.params.keys, 4);
    await step('fill', async () => {
      await kit.withDirect(r.endpoint(primary), write);
      await kit.untilLinked(lab, primary, replicas, 20_000);
      await keys('keysBefore');
    });
    await step('restart', async () => {
      const before = await runId();
      const t0 = Date.now();
      await lab.faults.crash(primary);
      await lab.faults.start(primary);
      // A probe that throws (refused while the process is down) counts as not yet.
      const answers = async () => ({ done: true as const, value: await runId() });
      const after = await lab.until('the primary to answer again', answers, { timeoutMs: 20_000, intervalMs: 20 });
      const down = after ? Date.now() - t0 : null;
      lab.observe('downMs', down, `${primary} answered again ${down ?? '-'} ms after the crash`);
      const said = `run_id ${before.slice(0, 8)}.. then ${after?.slice(0, 8) ?? '-'}..`;
      lab.observe('runIds', { before, after: after ?? null }, said);
      await kit.observeLinks(lab, primary, replicas, 20_000, 'linksAfter');
      const named = await r.agreedPrimary();
      const name = named.done ? named.value : null;
      lab.observe('primaryAfter', name, `the Sentinels name ${named.done ? named.value : named.seen}`);
      const events = await kit.downEvents(r, 'sentinel1');
      lab.say(events.length ? `sentinel1 logged: ${events.join('; ')}` : 'sentinel1 logged nothing about it');
    });
    await step('count', () => keys('keysAfter'));
  },
  final: kit.readFinal,
  check(ev, p) {
    const seen = kit.observed<Seen>(ev);
    const { keysBefore = {}, keysAfter = {}, linksAfter = {}, primaryBefore: before } = seen;
    const nodes = Object.keys(keysBefore);
    const restarted = !!seen.runIds?.after && seen.runIds.after !== seen.runIds.before;
    const followers = Object.values(linksAfter).filter((v) => v.role === 'slave');
    const atPrimary = (v: kit.LinkView) =>
      v.masterHost === before && v.masterLinkStatus === 'up' && v.offset === linksAfter[before as string]?.offset;
    const checks: kit.Check[] = [
      kit.check(
        `the primary restarted within ${DOWN_AFTER_MS} ms and Sentinel did not fail over`,
        restarted && typeof seen.downMs === 'number' && seen.downMs < DOWN_AFTER_MS && seen.primaryAfter === before,
        `a new run_id on ${before}, answering within ${DOWN_AFTER_MS} ms, still the primary`,
        `run_id ${restarted ? 'changed' : 'unchanged or unread'}, down ${seen.downMs ?? '-'} ms, the Sentinels name ${seen.primaryAfter ?? '-'}`,
      ),
      kit.check(
        'the replicas resynchronised from the restarted primary',
        followers.length === 2 && followers.every(atPrimary),
        `both replicas follow ${before}, link up, at its offset`,
        kit.describeLinks(linksAfter) || 'not observed',
      ),
      kit.check(
        'every node held the keys before the restart',
        nodes.length === 3 && nodes.every((n) => (keysBefore[n] ?? 0) >= p.keys),
        `>= ${p.keys} keys on each of the 3 data nodes`,
        JSON.stringify(keysBefore),
      ),
    ];
    const wiped = nodes.length === 3 && nodes.every((n) => keysAfter[n] === 0);
    const kept = nodes.length === 3 && nodes.every((n) => keysAfter[n] === keysBefore[n]);
    const after = JSON.stringify(keysAfter);
    checks.push(
      p.persistence === 'aof'
        ? kit.check('every node still holds every key', kept, JSON.stringify(keysBefore), after)
        : kit.check('every key is gone from every node', wiped, 'DBSIZE 0 on each of the 3 data nodes', after),
    );
    const unread = kit.finalReadMissing(ev);
    if (unread) return [...checks, unread];
    const findings = kit.delivery(ev.ops, { send: 'write', receive: 'read-all' });
    const loss = p.persistence === 'off' ? 'expected' : 'forbidden';
    checks.push(...kit.deliveryChecks(findings, { loss, duplicates: 'forbidden' }, 'writes'));
    if (loss === 'forbidden') return checks;
    const allLost = findings.acknowledged === p.keys && findings.lost.length === p.keys;
    const lost = `${findings.lost.length} of ${findings.acknowledged}`;
    return [...checks, kit.check('every acknowledged write is lost', allLost, `${p.keys} of ${p.keys}`, lost)];
  },
});
