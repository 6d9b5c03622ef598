import * as kit from './kit.ts';

/** The application writes one key every EVERY_MS... */
const EVERY_MS = 50;
/** ...and goes on this long after the promotion, so two primaries accept writes at once. */
const AFTER_PROMOTION_MS = 3000;
/** On top of min-replicas-max-lag: replicas acknowledge once a second, the primary recounts them once a second. */
const SLACK_S = 2;

interface Seen {
  primaryBefore: string;
  /** When the cut was asked for (ms since the start): the rules are in force by the fault's start. */
  cutAskedAt: number;
  primaryAfter: string | null;
  /** ms from the cut until every Sentinel named the new primary. */
  failoverMs: number | null;
  promotedAt: number;
  /** The old primary's role as this machine reads it while the Sentinels name another. */
  oldRoleInCut: string;
  /** The old primary's link once the heal has settled (null: it never followed the new primary). */
  oldAfterHeal: kit.LinkView | null;
}

export default kit.defineLab({
  id: 'redis/split-brain',
  title: 'Split brain: the cut-off primary keeps writing, and loses it all at the heal',
  teaches:
    'a primary cut off from its replicas and Sentinels but not from a client keeps acknowledging writes after the ' +
    'Sentinels promote a replica; at the heal it becomes a replica and every write it took since the cut is lost. ' +
    'min-replicas-to-write makes it refuse writes once its replicas are silent for min-replicas-max-lag: the loss ' +
    'is bounded by that window, not removed',
  notes:
    'Notes: the notes name only "Redis哨兵模式的主从集群" (line 31443) and "Redis 主从集群" (line 30367), and their ' +
    '"冗余法" (lines 2792-2794) treats copies as interchangeable; they say nothing of partitions. redis.io, Sentinel, ' +
    '"Consistency under partitions": Redis with Sentinel is eventually consistent, "last failover wins", the old ' +
    "primary's data is discarded, so there is always a window for losing writes; min-replicas-to-write 1 with " +
    'min-replicas-max-lag bounds it. redis.io, replication, "Allow writes only with N attached replicas": replicas ' +
    'ping once a second, so the bound is best effort (the source, refreshGoodSlavesCount, recounts once a second in ' +
    'whole seconds). Lab timing: down-after-milliseconds 2000 (production 30000).',
  params: {
    minReplicasToWrite: { type: 'int', default: 0, min: 0, max: 1, describe: 'min-replicas-to-write (0: off)' },
    maxLag: { type: 'int', default: 2, min: 1, max: 10, describe: 'min-replicas-max-lag, seconds (Redis default 10)' },
  },
  variants: [{ minReplicasToWrite: 0 }, { minReplicasToWrite: 1 }],
  stack: kit.redis,
  topology: (p) => ({
    ...kit.SENTINEL_TOPOLOGY,
    minReplicasToWrite: p.minReplicasToWrite,
    minReplicasMaxLag: p.maxLag,
  }),
  steps: {
    proof: kit.sentinelProof,
    writes: {
      title: 'The application writes through the Sentinels',
      narration:
        'ioredis in Sentinel mode asks the Sentinels for the primary ({primary}) and writes one key every ' +
        `${EVERY_MS} ms. The replicas acknowledge the stream once a second; the writes so far are on every node.`,
      commands: [
        kit.sentinelCli('sentinel1', 'SENTINEL get-master-addr-by-name mymaster'),
        kit.redisCli('primary', 'DBSIZE'),
      ],
    },
    cut: {
      title: 'Cut {primary} off from its replicas and the Sentinels, not from the application',
      narration: (p) =>
        'iptables inside {primary} drops packets to and from {peers}. The application on this machine still reaches ' +
        "it through the lab network's gateway: it stays on the primary's side of the cut. Each Sentinel flags it " +
        'down (+sdown) 2 s after its last reply, {quorum} agree (+odown), one is elected and promotes a replica. ' +
        (p.minReplicasToWrite
          ? `With min-replicas-to-write 1 and min-replicas-max-lag ${p.maxLag}, {primary} counts replicas that ` +
            `acknowledged within ${p.maxLag} s; once none has, it answers NOREPLICAS: at most ${p.maxLag + SLACK_S} s ` +
            'after the cut (one more second for the last acknowledgement, one for the once-a-second recount).'
          : '{primary} does not know: nothing in Redis makes a primary step down on its own.'),
      commands: [
        kit.sentinelCli('sentinel1', 'SENTINEL get-master-addr-by-name mymaster'),
        kit.redisCli('primary', 'ROLE'),
      ],
    },
    'two-primaries': {
      title: 'Two primaries: {primary} and {newPrimary}',
      narration: (p) =>
        'The Sentinels name {newPrimary}; {primary}, read from this machine, still says role:master. ioredis asks the ' +
        'Sentinels only when its connection breaks, and nothing breaks it: the application keeps writing to ' +
        `{primary} for ${AFTER_PROMOTION_MS / 1000} s more. ` +
        (p.minReplicasToWrite
          ? 'It answers NOREPLICAS: refused, not acknowledged.'
          : 'It acknowledges every write: they exist on {primary} alone.'),
      commands: [kit.redisCli('primary', 'INFO replication'), kit.redisCli('newPrimary', 'INFO replication')],
    },
    heal: {
      title: 'Heal the cut',
      narration:
        'The application stops; the network heals. The Sentinels reach {primary} again, see a primary with an older ' +
        'configuration and, after 8 s of it answering, send it REPLICAOF {newPrimary} (+convert-to-slave). Its ' +
        "replication id is not {newPrimary}'s: a full resync, and everything it took since the cut is discarded. " +
        '"Last failover wins" (Sentinel docs).',
      commands: [kit.redisCli('primary', 'ROLE'), kit.redisCli('newPrimary', 'DBSIZE')],
    },
  },
  mechanism: kit.proveSentinels,
  async run(lab) {
    const r = lab.stack;
    const { primary, replicas } = kit.primaryAndReplicas(lab);
    const app = await r.sentinelClient();
    let writing = true;
    const writer = new kit.RedisWorkload(lab.history, r).writeWhile('app', app, 'w', () => writing, EVERY_MS);
    const peers = [...replicas, ...r.sentinels];
    let newPrimary = '';
    const step = (key: Parameters<typeof lab.step>[0], fn: () => Promise<void>) =>
      lab.step(key, fn, { vars: { primary, newPrimary, peers: peers.join(', '), quorum: r.layout.quorum } });
    try {
      await step('writes', async () => {
        await kit.sleep(1000);
        const offsets = await kit.untilCaughtUp(lab, primary, replicas);
        lab.say(offsets ? `every replica at offset ${offsets[primary]} or past it` : 'not caught up in 10 s');
      });
      await step('cut', async () => {
        lab.observe('cutAskedAt', lab.history.now());
        await lab.faults.partition(primary, peers);
        newPrimary = await kit.untilFailover(lab, primary, Date.now(), 'cut');
        lab.observe('promotedAt', lab.history.now());
      });
      await step('two-primaries', async () => {
        const role = (await r.replication(primary)).role;
        lab.observe('oldRoleInCut', role, `${primary}, read from this machine: role ${role}`);
        await kit.sleep(AFTER_PROMOTION_MS);
      });
      await step('heal', async () => {
        writing = false;
        const t = await writer;
        lab.say(`the application's writes: ${t.ok} acknowledged, ${t.fail} refused, ${t.info} unknown`);
        await lab.faults.heal(primary);
        const probe = () => r.follows(primary, newPrimary);
        const follows = await lab.until(`${primary} to follow ${newPrimary}`, probe, { timeoutMs: 40_000 });
        lab.observe('oldAfterHeal', follows ?? null, follows ? kit.describeLinks({ [primary]: follows }) : 'not yet');
      });
    } finally {
      writing = false;
      await writer.catch(() => undefined);
      app.close();
    }
  },
  final: kit.readFinal,
  check(ev, p) {
    const seen = kit.observed<Seen>(ev);
    const cut = ev.faults.find((f) => f.kind === 'partition');
    const { primaryBefore: before, promotedAt, cutAskedAt, oldAfterHeal: oldAfter, primaryAfter: after } = seen;
    if (!cut || cutAskedAt === undefined || promotedAt === undefined || !before)
      return [kit.unobserved('the primary was cut off and a replica promoted', 'a cut and a failover', 'the cut')];
    const healAt = cut.end ?? Number.POSITIVE_INFINITY;
    const boundMs = (p.maxLag + SLACK_S) * 1000;
    const findings = kit.delivery(ev.ops, { send: 'write', receive: 'read-all' });
    const lost = new Set(findings.lost);
    const writes = kit.completions(ev.ops, 'write');
    const acked = writes.filter((o) => o.type === 'ok');
    const ackedBefore = acked.filter((o) => o.time < cutAskedAt);
    const ackedInCut = acked.filter((o) => o.time > cut.start);
    const checks: kit.Check[] = [
      kit.check(
        'the Sentinels promote a replica while the old primary is cut off',
        !!after && after !== before,
        `a replica named by every Sentinel (was ${before})`,
        after ? `${after}, ${seen.failoverMs} ms after the cut` : 'no agreement on a new primary',
      ),
      kit.check(
        'after the heal the old primary follows the new one',
        oldAfter?.role === 'slave' && oldAfter.masterHost === after && oldAfter.masterLinkStatus === 'up',
        `${before}: replica of ${String(after)}, link up`,
        oldAfter ? kit.describeLinks({ [before]: oldAfter }) : 'it never did',
      ),
      kit.windowLoss('writes acknowledged before the cut are kept', ackedBefore, lost, 'none'),
    ];
    const unread = kit.finalReadMissing(ev);
    if (unread) return [...checks, unread];
    checks.push(
      ...kit.deliveryChecks(findings, { loss: 'expected', duplicates: 'forbidden' }, 'writes'),
      kit.windowLoss('every write the old primary acknowledged during the cut is lost', ackedInCut, lost, 'all'),
    );
    if (!p.minReplicasToWrite) {
      const afterPromotion = acked.filter((o) => o.time > promotedAt && o.time < healAt);
      const twoPrimaries = kit.windowLoss('', afterPromotion, lost, 'all');
      return [
        ...checks,
        kit.check(
          'two primaries: the old one acknowledges writes after the promotion, all lost',
          seen.oldRoleInCut === 'master' && twoPrimaries.ok === true,
          `${before} still master; > 0 writes acknowledged after the promotion, every one lost`,
          `${before}: ${seen.oldRoleInCut ?? '-'}; of those acknowledged after the promotion ${twoPrimaries.observed}`,
        ),
      ];
    }
    const lateLost = [...lost].filter((id) => !acked.some((o) => kit.idOf(o) === id && o.time <= cut.start + boundMs));
    const late = writes.filter((o) => o.time > cut.start + boundMs && o.time < healAt);
    const refused = late.filter((o) => o.type === 'fail' && o.error?.startsWith('NOREPLICAS'));
    const lastAck = Math.max(...ackedInCut.map((o) => o.time - cut.start), 0);
    return [
      ...checks,
      kit.check(
        `only writes acknowledged within ${p.maxLag + SLACK_S} s of the cut are lost`,
        lost.size > 0 && lateLost.length === 0,
        `> 0 lost, each acknowledged by ${boundMs} ms after the cut (max-lag ${p.maxLag} s + ${SLACK_S} s)`,
        `${lost.size} lost; the last acknowledged ${lastAck} ms after the cut; ${lateLost.length} lost later`,
        { lastAckMs: lastAck },
      ),
      kit.check(
        'after that the old primary refuses writes (NOREPLICAS)',
        late.length > 0 && refused.length === late.length,
        `every write from ${boundMs} ms after the cut until the heal refused with NOREPLICAS`,
        `${refused.length} of ${late.length} refused; ${kit.sample(late.filter((o) => !refused.includes(o)).map(kit.idOf))}`,
      ),
    ];
  },
});
