import * as kit from './kit.ts';

const QUEUE = 'qq.orders';
const DECLARED_ON = 'rabbit1';
/**
 * The bound on the election, read from the new leader's log ("candidate -> leader") against the kill:
 * 0.1-0.5 s seen here. The management API showed the new leader after 5-177 ms in most runs, but 5.9-7.1 s
 * in 5 of 14: that lag is the API's, not Raft's (stacks/rabbitmq/README.md), and is shown, not judged.
 */
const MAX_ELECTION_MS = 1000;
/** Confirms not in within 5 s count as unknown. */
const WITHIN_5S = { process: 'publisher', opts: { timeoutMs: 5000 } };
const ready = (q: kit.QueueInfo) => q.online.length === 3 && !!q.leader;
const MEMBER_COLUMNS = 'name type leader members online messages';

interface Seen {
  membersBefore: kit.Membership;
  /** Absent when no new leader was seen within the watch. */
  leaderAfter: string;
  electionMs: number;
  /** The new leader's "candidate -> leader" log line, and when it was written. */
  electionLog: { line?: string; msAfterKill?: number; msAfterDown?: number };
}

export default kit.defineLab({
  id: 'rabbitmq/quorum-queue-failover',
  title: 'Quorum queue: a majority keeps it going, a minority stops it safely',
  teaches:
    'a quorum queue elects a new leader within a second when its leader dies; with 2 of 3 members down it refuses publishes instead of losing them, and after recovery every confirmed message is there',
  notes:
    'Notes, RabbitMQ chapter: the notes only know "普通集群模式" and "镜像集群模式" (RabbitMQ集群模式). Quorum queues ' +
    '(x-queue-type: quorum, Raft, since 3.8) are what replaced classic mirroring, which RabbitMQ 4.0 removed. The ' +
    'rule is the ZooKeeper chapter\'s "半数以上可用": a write counts once a majority of the members has it.',
  params: {
    messages: { type: 'int', default: 2000, min: 1, max: 50_000, describe: 'confirmed messages before the first kill' },
  },
  stack: kit.rabbitmq,
  topology: () => ({ nodes: 3 }),
  steps: {
    declare: {
      title: 'A quorum queue on three members',
      narration:
        `"${QUEUE}" is declared with x-queue-type=quorum through ${DECLARED_ON}: one Raft member on every node, the ` +
        `leader on ${DECLARED_ON}. A publish is confirmed once a majority (2 of 3) has written it to disk.`,
      commands: [kit.rabbitmqQueues(DECLARED_ON, `quorum_status ${QUEUE}`), kit.listQueues('rabbit2', MEMBER_COLUMNS)],
    },
    publish: {
      title: 'Publish with confirms',
      narration: '{messages} persistent messages through rabbit2, a follower: its channel forwards them to the leader.',
    },
    'kill-leader': {
      title: 'Kill the leader ({first})',
      narration:
        'SIGKILL. The followers notice at once (the Erlang connection closes); one calls a Raft election and the ' +
        "other votes for it: 2 of 3 is a majority. The election is timed by the new leader's log line; the API, " +
        'shown beside it, can trail it by ~7 s. (A frozen leader, its connections open, would show only by timeouts.)',
      commands: [kit.rabbitmqQueues('survivor', `quorum_status ${QUEUE}`)],
    },
    'kill-second': {
      title: 'Kill the new leader ({second}): 1 of 3 left',
      narration:
        '{last} alone is 1 vote of 3: no leader. The broker gives up reaching one after a few seconds and nacks each ' +
        'publish (certainly not stored); a basic.get fails with 541 INTERNAL_ERROR, closing the connection. (Had the ' +
        'survivor been the leader, publishes would hang unconfirmed: it can append but not commit without a majority.)',
      commands: [kit.rabbitmqQueues('last', `quorum_status ${QUEUE}`), kit.listQueues('last', MEMBER_COLUMNS)],
    },
    recover: {
      title: 'Start {first} and {second} again',
      narration:
        'Both rejoin at once (the third node kept running); a leader is elected and the others catch up from its log. ' +
        "The API's leader field can name one before the election; quorum_status shows the truth: returning members " +
        'still reading their logs (term 0), {last} in pre_vote. The lab waits for one leader and every member a ' +
        'follower in its term at its commit index.',
      commands: [kit.rabbitmqQueues('last', `quorum_status ${QUEUE}`)],
    },
  },
  mechanism: (lab) =>
    kit.prove(lab, 'declare', async (no) => {
      await lab.stack.using(DECLARED_ON, (c) => c.declare(QUEUE, { kind: 'quorum' }));
      const q = await kit.expectQueue(lab, no, QUEUE, 'a quorum queue with 3 members online', ready, 20_000);
      const m = lab.observe('membersBefore', kit.membership(q), q ? kit.describeQueue(q) : 'queue not found');
      if (q && q.type !== 'quorum') no.push(`${QUEUE} is a ${q.type} queue, not quorum`);
      if (m.members.length !== 3) no.push(`${QUEUE} has ${m.members.length} members, not 3`);
    }),
  async run(lab) {
    const r = lab.stack;
    const first = kit.observed<Seen>(lab.history.evidence()).membersBefore?.leader ?? DECLARED_ON;
    await lab.step('publish', async () => {
      const t = await kit.publishVia(lab, 'rabbit2', QUEUE, 'a', lab.params.messages, WITHIN_5S);
      lab.say(`publisher: ${kit.describeTally(t)}`);
    });
    const afterFirst = r.members.filter((m) => m !== first);
    const step = <T>(key: Parameters<typeof lab.step>[0], vars: Record<string, string>, fn: () => Promise<T>) =>
      lab.step(key, fn, { vars });
    const second = await step('kill-leader', { first, survivor: afterFirst[0] as string }, async () => {
      const names = { host: 'leaderAfter', ms: 'electionMs', log: 'electionLog' };
      const leader =
        (await kit.killAndWatch(lab, first, QUEUE, 'leader', names, 30_000)).host ?? (afterFirst[0] as string);
      const survivor = afterFirst.find((m) => m !== leader) as string;
      const t = await kit.publishVia(lab, survivor, QUEUE, 'b', 500, { ...WITHIN_5S, process: 'publisher-majority' });
      lab.say(`with 2 of 3 members, through ${survivor}: ${kit.describeTally(t)}`);
      return leader;
    });
    const last = afterFirst.find((m) => m !== second) as string;
    const vars = { first, second, last };
    await step('kill-second', vars, async () => {
      await lab.faults.kill(second);
      const as = { process: 'publisher-minority', opts: { timeoutMs: 15_000 } };
      const t = await kit.publishVia(lab, last, QUEUE, 'c', 100, as);
      lab.observe('minorityPublish', t, `with 1 of 3 members, through ${last}: ${kit.describeTally(t)}`);
      lab.observe('minorityGet', await kit.tryGet(lab, 'consume-attempt', last, QUEUE));
      const q = await r.queue(QUEUE, [last]).catch(() => undefined);
      if (q) lab.say(`the API on ${last}: ${kit.describeQueue(q)}`);
    });
    await step('recover', vars, async () => {
      await kit.startAgain(lab, [first, second]);
      const q = await kit.untilQueue(lab, QUEUE, '3 members online and a leader', ready, { timeoutMs: 60_000 });
      lab.observe('membersAfter', q?.online.length ?? 0, q ? `the API: ${kit.describeQueue(q)}` : undefined);
      const started = Date.now();
      // Unsettled members only delay the drain, which decides: a wait that gives up is no verdict.
      const raft = await kit.untilRaftSettled(lab, QUEUE, last, 3);
      const l = raft.find((m) => m.state === 'leader');
      const lead = `${r.hostOf(l?.node)} leads term ${l?.term} at commit index ${l?.commitIndex}`;
      const text = `quorum_status: ${lead}, ${Date.now() - started} ms after the API showed a leader`;
      if (l) lab.observe('raftAfter', raft, text);
    });
  },
  // A settled leader delivers at once; the wait for a first message is only a margin.
  final: (lab) => kit.drainVia(lab, 'rabbit3', [QUEUE], { firstMs: 10_000 }),
  predictions: [
    {
      before: 'kill-leader',
      question: 'The leader of the quorum queue is about to be killed. What happens to publishing?',
      choices: [
        'a new leader within a second; publishes are confirmed again',
        'publishing stops until the old leader is back',
        'publishes go on, but the messages on the old leader are lost',
      ],
      answer: (ev) => {
        if (kit.delivery(ev.ops).lost.length > 0) return 2;
        const elected = typeof kit.observed<Seen>(ev).leaderAfter === 'string';
        return elected && kit.sentBy(ev, 'publisher-majority').ok > 0 ? 0 : 1;
      },
    },
    {
      before: 'kill-second',
      question: 'A second member is about to die: 1 of 3 left. What happens to a publish with confirms?',
      choices: ['the last member confirms it', 'it is refused or never confirmed', 'it is confirmed, and lost later'],
      answer: (ev) => (kit.sentBy(ev, 'publisher-minority').ok === 0 ? 1 : kit.delivery(ev.ops).lost.length ? 2 : 0),
    },
  ],
  check(ev) {
    const seen = kit.observed<Seen>(ev);
    const before = seen.membersBefore;
    const read = kit.completions(ev.ops, 'consume-attempt')[0];
    return [
      kit.check(
        'three members online, one leader, before any fault',
        before?.members.length === 3 && before.online.length === 3 && before.leader === DECLARED_ON,
        `3 members online, leader ${DECLARED_ON}`,
        `${before?.online.length} online of ${before?.members.join(',')}, leader ${before?.leader}`,
      ),
      electedWithin(seen, before?.leader),
      kit.confirmed('with 2 of 3 members, publishes are confirmed', kit.sentBy(ev, 'publisher-majority'), 'all'),
      kit.confirmed('with 1 of 3 members, no publish is confirmed', kit.sentBy(ev, 'publisher-minority'), 'none'),
      kit.refused('with 1 of 3 members, reading fails', read, 'basic.get fails'),
      ...kit.allKept(ev.ops, 'confirmed messages'),
    ];
  },
});

/** A surviving member's log (Raft's election, not the API's view) shows it elected within the bound after the kill. */
function electedWithin(seen: Partial<Seen>, oldLeader: string | undefined): kit.Check {
  const name = `a new leader within ${MAX_ELECTION_MS} ms`;
  const expected = `a surviving member's log shows it elected within ${MAX_ELECTION_MS} ms of the old leader's death`;
  const [host, logMs] = [seen.leaderAfter, seen.electionLog?.msAfterKill];
  const api = seen.electionMs === undefined ? '' : `; the API showed it ${seen.electionMs} ms after the kill returned`;
  if (host === undefined || host === oldLeader) return kit.check(name, false, expected, 'no other leader seen');
  if (logMs === undefined)
    return { name, ok: 'unknown', expected, observed: `${host} leads, but its log has no election line${api}` };
  const said = `${host}: elected ${logMs} ms after ${oldLeader ?? 'the leader'}'s process died (its log)${api}`;
  return kit.check(name, logMs <= MAX_ELECTION_MS, expected, said, { ms: logMs });
}
