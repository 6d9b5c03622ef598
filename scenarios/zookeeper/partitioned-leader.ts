import {
  answeredBetween,
  check,
  defineLab,
  failoverWithin,
  finalReadOf,
  type Op,
  observed,
  outcomes,
  proveRoles,
  sleep,
  srvrCommand,
  unobserved,
  untilLeader,
  untilNotServing,
  writesKept,
  writesServed,
  ZkWriter,
  zookeeper,
} from './kit.ts';

const DIR = '/midlab/partition';
const TICK_MS = 500;
const SYNC_LIMIT = 4;

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
  /** The old leader's mode once the cut was healed. */
  rejoined: string;
}

export default defineLab({
  id: 'zookeeper/partitioned-leader',
  title: 'The leader cut off, not killed: no split brain',
  teaches:
    'a leader cut off from its followers keeps running but stops serving within syncLimit; the majority elects ' +
    'another; a client pinned to the old leader gets no write acknowledged; after the heal it rejoins as a follower',
  notes:
    'Notes, ZooKeeper chapter: "Zookeeper集群部署" (seed line 353: 半数以上可用) and "选举机制". A killed leader ' +
    '(zookeeper/leader-failover) closes its sockets and is noticed at once; a partitioned one is alive on both ' +
    'sides of the cut, the case a quorum exists for. The notes do not say how long it takes: the followers give up ' +
    `on a silent leader after syncLimit x tickTime (here ${SYNC_LIMIT} x ${TICK_MS} ms; production defaults ` +
    'are often syncLimit=5, tickTime=2000: 10 s), and the leader gives up on its followers after the same time, ' +
    'so it cannot commit anything alone in between: a write needs a majority of acknowledgements (ZAB).',
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
  stack: zookeeper,
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
      commands: [srvrCommand('leader'), srvrCommand('follower')],
    },
    heal: {
      title: 'Heal the cut',
      narration:
        '{leader} hears the ensemble again, finds a leader with a newer epoch and rejoins it as a follower, ' +
        'truncating anything it had logged but never committed.',
    },
  },
  mechanism: (lab) => proveRoles(lab),
  async run(lab) {
    const zk = lab.stack;
    const leader = await zk.leader();
    if (!leader) throw new Error('no leader before the fault');
    const followers = zk.names.filter((n) => n !== leader);
    lab.observe('leaderBefore', leader);
    const vars = { leader, followers: followers.join(' and ') };
    const majority = new ZkWriter(lab.history, zk.connectString(followers), DIR, 'majority', 'm');
    const pinned = new ZkWriter(lab.history, zk.connectString([leader]), DIR, 'pinned', 'p');
    await lab.step(
      'writes',
      async () => {
        await Promise.all([majority.start(), pinned.start()]);
        await sleep(1500);
        lab.say(`acknowledged so far: majority ${majority.acknowledged}, pinned ${pinned.acknowledged}`);
      },
      { vars },
    );
    await lab.step(
      'cut',
      async () => {
        await lab.faults.partition(leader, followers);
        const cut = Date.now();
        lab.observe('cutAt', lab.history.now());
        // Each wait timed on its own: the old leader giving up and the majority electing.
        const timed = <T>(p: Promise<T>) => p.then((value) => ({ value, ms: Date.now() - cut }));
        const [stopped, elected] = await Promise.all([
          timed(untilNotServing(lab, [leader])),
          timed(untilLeader(lab, followers, 50)),
        ]);
        const mode = stopped.value[leader] ?? 'down';
        const next = elected.value;
        const ms = mode === 'not serving' ? stopped.ms : undefined;
        lab.observe(
          'oldLeader',
          { mode, ms },
          `${leader}: ${mode}${ms === undefined ? '' : ` (${ms} ms after the cut)`}`,
        );
        lab.observe('leaderAfter', next, `the majority's leader: ${next}`);
        if (next !== 'none') lab.observe('electionMs', elected.ms);
        await sleep(2000);
        lab.say(`acknowledged so far: majority ${majority.acknowledged}, pinned ${pinned.acknowledged}`);
      },
      { vars: { ...vars, follower: followers[0] as string } },
    );
    await lab.step(
      'heal',
      async () => {
        await lab.faults.heal(leader);
        lab.observe('healAt', lab.history.now());
        const mode = await lab.until(
          `${leader} to rejoin as a follower`,
          async () => {
            const m = (await zk.modes([leader]))[leader] ?? 'down';
            return m === 'follower' ? { done: true, value: m } : { done: false, seen: m };
          },
          { timeoutMs: 20_000, intervalMs: 100 },
        );
        lab.observe('rejoined', mode ?? (await zk.modes([leader]))[leader], `${leader}: ${mode ?? 'not a follower'}`);
        await sleep(1000);
        await Promise.all([majority.stop(), pinned.stop()]);
      },
      { vars },
    );
  },
  final: finalReadOf(DIR),
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
        const s = observed<Seen>(ev);
        if (s.cutAt === undefined || s.healAt === undefined) return undefined;
        if (outcomes(answeredBetween(pinnedOps(ev.ops), 'write', s.cutAt, s.healAt)).ok > 0) return 0;
        return s.leaderAfter && s.leaderAfter !== 'none' ? 1 : 2;
      },
    },
  ],
  check(ev, p) {
    const s = observed<Seen>(ev);
    if (s.cutAt === undefined || s.healAt === undefined || !s.oldLeader)
      return [unobserved('the leader was cut off and healed', 'a cut and its heal', 'the cut'), ...writesKept(ev)];
    const pinned = outcomes(answeredBetween(pinnedOps(ev.ops), 'write', s.cutAt, s.healAt));
    return [
      check(
        `the cut-off leader stops serving within ${p.boundMs} ms`,
        s.oldLeader.mode === 'not serving' && (s.oldLeader.ms ?? Number.POSITIVE_INFINITY) <= p.boundMs,
        `srvr on ${s.leaderBefore}: not serving, within ${p.boundMs} ms of the cut`,
        `${s.oldLeader.mode}${s.oldLeader.ms === undefined ? '' : ` after ${s.oldLeader.ms} ms`}`,
      ),
      failoverWithin(
        `a new leader among the followers within ${p.boundMs} ms`,
        { before: s.leaderBefore, after: s.leaderAfter, ms: s.electionMs },
        p.boundMs,
        `a follower leads within ${p.boundMs} ms of the cut`,
      ),
      check(
        'no write acknowledged through the cut-off leader',
        pinned.total > 0 && pinned.ok === 0,
        '0 of > 0 writes invoked through it during the cut acknowledged',
        `${pinned.ok} of ${pinned.total} acknowledged (${pinned.fail} fail, ${pinned.info} unknown)`,
      ),
      writesServed(
        ev,
        'the majority serves writes during the cut',
        s.cutAt,
        'writes invoked after the cut acknowledged',
        'after the cut',
      ),
      check(
        'the old leader rejoins as a follower',
        s.rejoined === 'follower',
        `srvr on ${s.leaderBefore} after the heal: follower`,
        String(s.rejoined),
      ),
      ...writesKept(ev),
    ];
  },
});

/** The pinned writer's operations: its writes during the cut are the ones judged. */
const pinnedOps = (ops: Op[]) => ops.filter((o) => o.process === 'pinned');
