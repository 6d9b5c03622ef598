import * as kit from './kit.ts';

const DIR = '/midlab/failover';
/** The bound the lab checks: a follower waits one to two election timeouts, then campaigns; one more for slack. */
const boundMs = (electionMs: number): number => 3 * electionMs;

interface Seen {
  leaderBefore: string;
  termBefore: number;
  /** When the old leader's process died (ms since the start). */
  killedAt: number;
  /** The new leader, or "none" when no survivor led within the wait. */
  leaderAfter: string;
  /** From the old leader's death to a survivor reporting itself leader. */
  electionMs: number;
  termAfter: number;
}

export default kit.defineLab({
  id: 'etcd/leader-failover',
  title: 'The leader dies under a write load',
  teaches:
    'killing the leader elects a new one within three election timeouts, in a higher raft term; no acknowledged write is lost',
  notes:
    'Notes, "Kubernetes—etcd": "etcd选举" (seed 001, lines 6645-6648: Raft elects the leader) and the RAFT TERM ' +
    "column of endpoint status (6711-6723). The notes give no timing: the lab runs etcd's own defaults, " +
    "--heartbeat-interval=100 and --election-timeout=1000 (ms), which the notes' etcd.service (6612-6633) leaves " +
    'unset; across data centres etcd advises heartbeat ~ the round trip and election 10x that (e.g. 500/5000).',
  params: {
    electionMs: {
      type: 'int',
      default: 1000,
      min: 500,
      max: 10_000,
      describe: '--election-timeout in ms (etcd default 1000); the new leader is checked within three of them',
    },
  },
  stack: kit.etcd,
  topology: (p) => ({ members: 3, electionMs: p.electionMs }),
  steps: {
    writes: {
      title: 'A steady stream of writes through {via}',
      narration:
        'A client puts one key every 50 ms through {via}, a follower. Each put is recorded: acknowledged with ' +
        'its revision (ok), certainly refused (fail), or unknown (info: a timeout, the proposal may still commit).',
      commands: [kit.etcdctl('via', '--write-out=table endpoint status')],
    },
    'kill-leader': {
      title: 'Kill the leader ({leader})',
      narration: (p) =>
        'SIGKILL. The followers hear no heartbeat; each waits a randomised one to two election timeouts ' +
        `(${p.electionMs} ms here), then one campaigns in a new term and wins a majority of the two. The lab ` +
        `expects a new leader within ${boundMs(p.electionMs)} ms of the old one's death, by the new leader's own ` +
        'log ("became leader at term N"). Puts in flight time out (unknown) or are refused.',
      commands: [kit.etcdctl('via', '--write-out=table endpoint status')],
    },
    restart: {
      title: 'Start {leader} again',
      narration:
        'The old leader comes back as a follower of the new term: it hears a higher term and steps down, then ' +
        'catches up from the new leader.',
    },
  },
  mechanism: (lab) => kit.proveCluster(lab),
  async run(lab) {
    const e = lab.stack;
    const leader = await e.waitForLeader(e.names);
    const survivors = e.names.filter((n) => n !== leader);
    const via = survivors[0] as string;
    const writer = new kit.EtcdWriter(lab.history, e.client(via), DIR);
    await lab.step(
      'writes',
      async () => {
        const before = await e.statuses();
        lab.observe('leaderBefore', leader, kit.statusLine(before));
        lab.observe('termBefore', before[leader]?.raftTerm ?? 0);
        writer.start();
        await kit.sleep(1500);
        lab.say(`${writer.acknowledged} writes acknowledged`);
      },
      { vars: { via } },
    );
    await lab.step(
      'kill-leader',
      async () => {
        const killed = await kit.killTimed(lab, leader, () => kit.untilLeader(lab, survivors));
        const { value: newLeader, seenAt, died } = killed;
        lab.observe('leaderAfter', newLeader ?? 'none', `new leader: ${newLeader ?? 'none'}`);
        const after = await e.statuses(survivors);
        const term = lab.observe('termAfter', after[newLeader ?? via]?.raftTerm ?? 0, kit.statusLine(after));
        // The election as the new leader logged it ("became leader at term N"), not when a probe, slow under load, saw it.
        const elected = newLeader ? ((await e.becameLeaderAt(newLeader, term)) ?? seenAt) : undefined;
        if (elected)
          lab.observe(
            'electionMs',
            elected - died,
            `elected ${elected - died} ms after the old leader died (seen ${seenAt - died} ms)`,
          );
        await kit.sleep(1500);
        lab.say(`${writer.acknowledged} writes acknowledged so far`);
      },
      { vars: { leader, via } },
    );
    await lab.step(
      'restart',
      async () => {
        await lab.faults.start(leader);
        await e.waitHealthy(30_000);
        await writer.stop();
        lab.say(`${writer.acknowledged} writes acknowledged in all; ${kit.statusLine(await e.statuses())}`);
      },
      { vars: { leader } },
    );
  },
  final: kit.finalReadOf(DIR),
  predictions: [
    {
      before: 'kill-leader',
      question: 'The leader is about to be killed. How long until the two survivors have a new one?',
      choices: ['under one election timeout', 'one to three election timeouts', 'longer', 'never'],
      answer: (ev) => {
        const ms = kit.observed<Seen>(ev).electionMs;
        return ms === undefined ? 3 : ms < 1000 ? 0 : ms <= 3000 ? 1 : 2;
      },
    },
  ],
  check(ev, p) {
    const seen = kit.observed<Seen>(ev);
    const bound = boundMs(p.electionMs);
    if (seen.leaderBefore === undefined || seen.killedAt === undefined)
      return [kit.unobserved('the leader was killed', 'a leader killed under load', 'the kill'), ...kit.writesKept(ev)];
    const ms = seen.electionMs;
    return [
      kit.check(
        `a new leader within ${bound} ms`,
        seen.leaderAfter !== 'none' && seen.leaderAfter !== seen.leaderBefore && ms !== undefined && ms <= bound,
        `a survivor leads within ${bound} ms of the old leader's death`,
        `${String(seen.leaderAfter)} after ${ms ?? '?'} ms (was ${seen.leaderBefore})`,
        { windows: kit.availability(ev.ops, ev.faults, 'write') },
      ),
      kit.check(
        'the raft term went up',
        (seen.termAfter ?? 0) > (seen.termBefore ?? 0),
        `a term above ${seen.termBefore ?? '?'}`,
        `term ${seen.termAfter ?? '?'}`,
      ),
      kit.writesResume(ev.ops, seen.killedAt, 'the kill'),
      ...kit.writesKept(ev),
    ];
  },
});
