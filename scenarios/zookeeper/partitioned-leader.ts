import * as kit from './kit.ts';

const DIR = '/midlab/partition';
const COUNTER = '/midlab/counter';
const TICK_MS = 500;
const SYNC_LIMIT = 4;
const STALE_MS = SYNC_LIMIT * TICK_MS + 1000; // a cut-off follower's reads: syncLimit x tickTime, 1 s slack

interface Seen {
  leaderBefore: string;
  /** When the cut was in place (ms since the start). */
  cutAt: number;
  /** The cut-off leader's srvr mode once it stopped serving (or as last seen), and after how long. */
  oldLeader: { mode: string; ms?: number };
  /** The leader the majority elected, or "none"; ms from the cut. */
  leaderAfter: string;
  electionMs: number;
  healAt: number;
  rejoined: string;
  /** The second cut: the old leader, now a follower, cut off from its new leader alone; and its heal. */
  lagAt: number;
  lagHealAt: number;
}

export default kit.defineLab({
  id: 'zookeeper/partitioned-leader',
  title: 'The leader cut off, not killed: no split brain',
  teaches:
    'a leader cut off from its followers keeps running but stops serving within syncLimit; the majority elects ' +
    'another; a client pinned to the old leader gets no write acknowledged; after the heal it rejoins as a follower; ' +
    'a follower cut off from its leader answers reads stale until it gives up, and only sync makes a read fresh',
  notes:
    'Notes, ZooKeeper chapter: "Zookeeper集群部署" (seed line 353: 半数以上可用) and "选举机制". A killed leader ' +
    '(zookeeper/leader-failover) closes its sockets and is noticed at once; a partitioned one is alive on both ' +
    'sides of the cut, the case a quorum exists for. The notes do not say how long it takes: followers give up on a ' +
    `silent leader after syncLimit x tickTime (here ${SYNC_LIMIT} x ${TICK_MS} ms; production often 5 x 2000 ms: ` +
    '10 s), and the leader on its followers after the same time, committing nothing alone: a write needs a majority ' +
    '(ZAB). Lines 355 and 388 call ZAB strongly consistent: true of writes only. Any server answers reads from its ' +
    'own copy (line 356: more nodes, faster reads, hence); the Programmer\'s Guide ("Consistency Guarantees") ' +
    'promises sequential consistency, not simultaneously consistent views: sync before a read that must be fresh.',
  params: {
    boundMs: {
      type: 'int',
      default: 6000,
      min: 1000,
      describe:
        `the bound for the old leader to stop serving and for a new leader, from the cut: syncLimit x tickTime ` +
        `(${SYNC_LIMIT * TICK_MS} ms) plus an election, with headroom`,
    },
  },
  stack: kit.zookeeper,
  topology: () => ({ nodes: 3, tickMs: TICK_MS, syncLimit: SYNC_LIMIT }),
  steps: {
    writes: {
      title: 'Two writers: one through the followers, one pinned to the leader ({leader})',
      narration:
        'Each creates a znode every 50 ms. "majority" knows only {followers}; "pinned" knows only {leader}, as a ' +
        'client configured with one server would. Every write is recorded: ok, fail, or unknown (info).',
    },
    cut: {
      title: 'Cut {leader} off from {followers}',
      narration:
        'iptables in {leader} drops everything to and from the two followers; the host still reaches every node, ' +
        'so both writers keep their connections. Nothing dies: {leader} runs on, alone. The followers stop hearing ' +
        `it, and it stops hearing them, after syncLimit x tickTime (${SYNC_LIMIT * TICK_MS} ms). The lab waits for ` +
        '{leader} to stop serving and for a new leader among the followers, then lets both writers run 2 s more.',
      commands: [kit.srvrCommand('leader'), kit.srvrCommand('follower')],
    },
    heal: {
      title: 'Heal the cut',
      narration:
        '{leader} hears the ensemble again, finds a leader with a newer epoch and rejoins it as a follower, ' +
        'truncating anything it had logged but never committed. Its reads during the cut could be stale only after ' +
        'the majority elected and committed: a race of two timers of one length (syncLimit), decided by the times above.',
    },
    lag: {
      title: 'A lagging follower: cut {lagging} off from its leader {leader} alone',
      narration:
        `A setter bumps ${COUNTER} every 50 ms through {leader} and {other}; two sessions on {lagging} read it, ` +
        'one plainly, one after sync. Cut off, {lagging} answers reads from its own copy while the majority commits ' +
        `without it: stale, until it gives up on its leader after syncLimit x tickTime (${SYNC_LIMIT * TICK_MS} ms; ` +
        `the lab allows ${STALE_MS}). A sync goes through the leader: the synced read waits and fails rather than lie ` +
        '(a leader unaware it was deposed could still answer a sync: no quorum operation, ZOOKEEPER-1675). The cut ' +
        'heals once {lagging} stops serving; then synced reads return the newest value.',
      commands: [
        kit.zkCli('lagging', `get ${COUNTER}`),
        kit.zkCli('leader', `get ${COUNTER}`),
        kit.srvrCommand('lagging'),
      ],
    },
  },
  mechanism: (lab) => kit.proveRoles(lab),
  async run(lab) {
    const zk = lab.stack;
    const leader = await zk.leader();
    if (!leader) throw new Error('no leader before the fault');
    const followers = zk.names.filter((n) => n !== leader);
    lab.observe('leaderBefore', leader);
    const vars = { leader, followers: followers.join(' and '), follower: `${followers[0]}` };
    const step = (key: Parameters<typeof lab.step>[0], fn: () => Promise<void>, more = {}) =>
      lab.step(key, fn, { vars: { ...vars, ...more } });
    const majority = new kit.ZkWriter(lab.history, zk.connectString(followers), DIR, 'majority', 'm');
    const pinned = new kit.ZkWriter(lab.history, zk.connectString([leader]), DIR, 'pinned', 'p');
    const acked = () => `acknowledged so far: majority ${majority.acknowledged}, pinned ${pinned.acknowledged}`;
    await step('writes', async () => {
      await Promise.all([majority.start(), pinned.start()]);
      await kit.sleep(1500);
      lab.say(acked());
    });
    let next = 'none';
    await step('cut', async () => {
      await lab.faults.partition(leader, followers);
      lab.observe('cutAt', lab.history.now());
      next = await kit.untilStoppedAndElected(lab, leader, followers);
      await kit.sleep(2000);
      lab.say(acked());
    });
    await step('heal', async () => {
      await lab.faults.heal(leader);
      lab.observe('healAt', lab.history.now());
      const mode = (await kit.untilMode(lab, [leader], 'follower'))[leader];
      lab.observe('rejoined', mode, `${leader}: ${mode}`);
      await kit.sleep(1000);
      await Promise.all([majority.stop(), pinned.stop()]);
    });
    if (next === 'none') return;
    const lag = async () => {
      const race = await kit.ReadRace.start(lab.history, zk, COUNTER, leader, followers);
      await kit.sleep(1000);
      await lab.faults.partition(leader, [next]);
      lab.observe('lagAt', lab.history.now());
      await kit.untilNotServing(lab, [leader]);
      await kit.sleep(500);
      await lab.faults.heal(leader);
      lab.observe('lagHealAt', lab.history.now());
      const answered = race.synced;
      await lab.until(`a synced read through ${leader}`, () => race.syncedMoreThan(answered), { timeoutMs: 20_000 });
      await race.stop();
    };
    await step('lag', lag, { lagging: leader, leader: next, other: `${followers.find((n) => n !== next)}` });
  },
  final: kit.finalReadOf(DIR),
  predictions: [
    {
      before: 'cut',
      question: 'The leader is cut off from both followers but keeps running. What happens to writes sent through it?',
      choices: [
        'acknowledged: for a while two leaders accept writes (split brain)',
        'none acknowledged; the followers elect a new leader',
        'the whole ensemble stops until the cut heals',
      ],
      answer: (ev) => {
        const s = kit.observed<Seen>(ev);
        if (s.cutAt === undefined || s.healAt === undefined) return undefined;
        if (pinnedDuring(ev.ops, s.cutAt, s.healAt).ok > 0) return 0;
        return s.leaderAfter && s.leaderAfter !== 'none' ? 1 : 2;
      },
    },
  ],
  check(ev, p) {
    const s = kit.observed<Seen>(ev);
    if (s.cutAt === undefined || s.healAt === undefined || !s.oldLeader)
      return [
        kit.unobserved('the leader was cut off and healed', 'a cut and its heal', 'the cut'),
        ...kit.writesKept(ev),
      ];
    const pinned = pinnedDuring(ev.ops, s.cutAt, s.healAt);
    return [
      kit.check(
        `the cut-off leader stops serving within ${p.boundMs} ms`,
        s.oldLeader.mode === 'not serving' && (s.oldLeader.ms ?? Number.POSITIVE_INFINITY) <= p.boundMs,
        `srvr on ${s.leaderBefore}: not serving, within ${p.boundMs} ms of the cut`,
        `${s.oldLeader.mode}${s.oldLeader.ms === undefined ? '' : ` after ${s.oldLeader.ms} ms`}`,
      ),
      kit.failoverWithin(
        `a new leader among the followers within ${p.boundMs} ms`,
        { before: s.leaderBefore, after: s.leaderAfter, ms: s.electionMs },
        p.boundMs,
        `a follower leads within ${p.boundMs} ms of the cut`,
      ),
      kit.check(
        'no write acknowledged through the cut-off leader',
        pinned.total > 0 && pinned.ok === 0,
        '0 of > 0 writes invoked through it during the cut acknowledged',
        `${pinned.ok} of ${pinned.total} acknowledged (${pinned.fail} fail, ${pinned.info} unknown)`,
      ),
      kit.writesServed(
        ev,
        'the majority serves writes during the cut',
        s.cutAt,
        'writes invoked after the cut acknowledged',
        'after the cut',
      ),
      kit.check(
        'the old leader rejoins as a follower',
        s.rejoined === 'follower',
        `srvr on ${s.leaderBefore} after the heal: follower`,
        String(s.rejoined),
      ),
      ...(s.leaderAfter === 'none' ? [] : kit.laggingFollower(ev, s.lagAt, s.lagHealAt, STALE_MS)),
      ...kit.writesKept(ev),
    ];
  },
});

/** The pinned writer's writes invoked during the cut and answered by its heal: the ones judged. */
function pinnedDuring(ops: kit.Op[], from: number, until: number) {
  const pinned = ops.filter((o) => o.process === 'pinned');
  return kit.outcomes(kit.answeredBetween(pinned, 'write', from, until));
}
