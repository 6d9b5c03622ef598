import * as kit from './kit.ts';

const DIR = '/midlab/failover';
/** The bound the lab teaches and checks: twice the slowest election seen here (1003 ms). */
const ELECTION_BOUND_MS = 2000;

interface Seen {
  leaderBefore: string;
  /** The new leader, or "none" when no survivor led within the wait. */
  leaderAfter: string;
  /** From the moment the old leader's process died to a survivor answering Mode: leader. */
  electionMs: number;
  /** When the old leader's process died (ms since the start). */
  killedAt: number;
}

export default kit.defineLab({
  id: 'zookeeper/leader-failover',
  title: 'The leader dies under load',
  teaches: `killing the leader elects a new one within ${ELECTION_BOUND_MS / 1000} s; the surviving pair serves; no acknowledged write is lost`,
  notes:
    'Notes, ZooKeeper chapter: "集群角色" and "选举ID" (ZXID, then myid, decide the new leader) and "协议说明" (ZAB). ' +
    'A write is acknowledged only once a majority has logged it, which is why the survivors still hold it. ' +
    "Seed lines 380-382 say the highest ZXID wins, then the highest myid; ZooKeeper's FastLeaderElection " +
    '(totalOrderPredicate) compares the election epoch first, then the ZXID, then the id. The roles are read with ' +
    '`srvr`, the one four-letter word answered by default since 3.5.3 (lines 524-537 show the whitelist).',
  params: {
    maxElectionMs: {
      type: 'int',
      default: ELECTION_BOUND_MS,
      min: 100,
      describe:
        'the bound a new leader must be elected within, from the death of the old leader (measured on 3 nodes: ' +
        '0.2-1.0 s, median 0.45 s; the bound leaves twice the slowest seen)',
    },
  },
  stack: kit.zookeeper,
  topology: () => ({ nodes: 3 }),
  steps: {
    writes: {
      title: 'A steady stream of writes',
      narration:
        'A client connected to all three servers creates one znode every 50 ms. Each write is recorded: ' +
        'acknowledged (ok), certainly refused (fail), or unknown (info: the connection dropped before the answer).',
      commands: [kit.srvrCommand('zk1')],
    },
    'kill-leader': {
      title: 'Kill the leader ({leader})',
      narration:
        'SIGKILL: the process dies, its sockets close at once, so followers notice immediately and start an ' +
        'election. The lab measures the time until one survivor reports Mode: leader; this lab expects it within ' +
        '{maxElectionMs} ms. (A frozen leader is only noticed after syncLimit x tickTime; production tickTime is ' +
        '2000 ms, here 500 ms.)',
      commands: [kit.srvrCommand('survivor')],
    },
    stop: {
      title: 'Stop the workload',
      narration:
        'The killed node is started again in the heal phase; it rejoins as a follower and catches up from the leader.',
    },
  },
  mechanism: (lab) => kit.proveRoles(lab),
  async run(lab) {
    const zk = lab.stack;
    const writer = new kit.ZkWorkload(lab.history, zk).writer(DIR);
    const leader = await lab.step('writes', async () => {
      await writer.start();
      await kit.sleep(2000);
      const l = await zk.leader();
      lab.observe('leaderBefore', l, `${writer.acknowledged} writes acknowledged; the leader is ${l}`);
      return l;
    });
    // The mechanism proved one leader a moment ago; none now means the cluster broke.
    if (!leader) throw new Error('no leader before the fault');
    const survivors = zk.names.filter((n) => n !== leader);
    await lab.step(
      'kill-leader',
      async () => {
        const elected = await kit.killTimed(lab, leader, () => kit.untilLeader(lab, survivors, 50));
        const { value: newLeader, seenAt, died } = elected;
        lab.observe('leaderAfter', newLeader, `new leader ${newLeader}`);
        if (newLeader !== 'none') {
          const ms = Math.max(0, seenAt - died);
          lab.observe('electionMs', ms, `elected ${ms} ms after the old leader died`);
        }
        await kit.sleep(2000);
        lab.say(`${writer.acknowledged} writes acknowledged so far`);
      },
      { vars: { leader, survivor: survivors[0] as string } },
    );
    await lab.step('stop', () => writer.stop());
  },
  final: kit.finalReadOf(DIR),
  predictions: [
    {
      before: 'kill-leader',
      question: 'The leader is about to be killed. How long until the survivors have a new leader?',
      choices: ['under a second', 'one to ten seconds', 'more than ten seconds', 'never: a human must intervene'],
      answer: (ev) => {
        const ms = kit.observed<Seen>(ev).electionMs;
        return ms === undefined ? 3 : ms < 1000 ? 0 : ms <= 10_000 ? 1 : 2;
      },
    },
  ],
  check(ev, p) {
    const seen = kit.observed<Seen>(ev);
    if (seen.leaderBefore === undefined || seen.killedAt === undefined)
      return [
        kit.unobserved('the leader was killed', 'a leader killed under load', 'the kill of the leader'),
        ...kit.writesKept(ev),
      ];
    return [
      kit.failoverWithin(
        `a new leader within ${p.maxElectionMs} ms`,
        { before: seen.leaderBefore, after: seen.leaderAfter, ms: seen.electionMs },
        p.maxElectionMs,
        `a survivor leads within ${p.maxElectionMs} ms of the old leader's death`,
      ),
      kit.writesServed(
        ev,
        'the surviving pair serves writes',
        seen.killedAt,
        'writes invoked after the kill are acknowledged',
        'after the kill',
      ),
      ...kit.writesKept(ev),
    ];
  },
});
