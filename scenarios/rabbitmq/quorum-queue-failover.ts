import { check } from '../../src/checkers/check.ts';
import { delivery, deliveryChecks } from '../../src/checkers/delivery.ts';
import { completions, type Evidence, observed } from '../../src/engine/history.ts';
import { defineLab } from '../../src/engine/lab.ts';
import { classifyRead } from '../../stacks/rabbitmq/client.ts';
import { describeQueue, rabbitmq, type StartedRabbitMQ } from '../../stacks/rabbitmq/stack.ts';
import {
  describeTally,
  drainRecorded,
  emptyTally,
  messageIds,
  publishRecorded,
  type Tally,
  tally,
} from '../../stacks/rabbitmq/workload.ts';
import { apiCommand, rabbitmqQueues } from './commands.ts';

const QUEUE = 'qq.orders';
const DECLARED_ON = 'rabbit1';

interface Membership {
  leader: string | undefined;
  members: string[];
  online: string[];
}

interface Seen {
  membersBefore: Membership;
  /** Absent when no new leader was seen within the watch. */
  leaderAfter: string;
  electionMs: number;
  minorityGet: string;
  membersAfter: number;
}

/** Measured over 8 runs (API polled every 50 ms from the end of docker kill): a new leader 5-177 ms, median 22 ms. */
const MAX_ELECTION_MS = 1000;

/** Publishes `count` messages in batches of 500 and records them under `process`. */
async function publishMany(
  history: Parameters<typeof publishRecorded>[0],
  r: StartedRabbitMQ,
  node: string,
  prefix: string,
  count: number,
  process: string,
  confirmTimeoutMs = 5000,
): Promise<Tally> {
  const t = emptyTally();
  const c = await r.client(node);
  try {
    for (let from = 1; from <= count; from += 500) {
      const ids = messageIds(prefix, from, Math.min(500, count - from + 1));
      const out = await publishRecorded(
        history,
        c,
        QUEUE,
        ids,
        { confirm: true, persistent: true, timeoutMs: confirmTimeoutMs },
        { process },
      );
      tally(out.values(), t);
    }
  } finally {
    await c.close();
  }
  return t;
}

function byProcess(ev: Evidence, process: string) {
  const ops = completions(ev.ops, 'send').filter((o) => o.process === process);
  return {
    tried: ops.length,
    ok: ops.filter((o) => o.type === 'ok').length,
    fail: ops.filter((o) => o.type === 'fail').length,
    info: ops.filter((o) => o.type === 'info').length,
  };
}

export default defineLab({
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
  stack: rabbitmq,
  topology: () => ({ nodes: 3 }),
  async mechanism(lab) {
    const r = lab.stack;
    const reasons: string[] = [];
    await lab.step(
      `A quorum queue on three members`,
      `"${QUEUE}" is declared with x-queue-type=quorum through ${DECLARED_ON}: one Raft member on every node, the ` +
        `leader on ${DECLARED_ON}. A publish is confirmed once a majority (2 of 3) has written it to disk.`,
      async () => {
        const c = await r.client(DECLARED_ON);
        try {
          await c.declare(QUEUE, { kind: 'quorum' });
        } finally {
          await c.close();
        }
        const q = await r
          .waitForQueue(QUEUE, 'a quorum queue with 3 members online', (x) => x.online.length === 3 && !!x.leader, {
            timeoutMs: 20_000,
          })
          .catch(async (err: Error) => {
            reasons.push(err.message);
            return r.queue(QUEUE);
          });
        const m: Membership = {
          leader: r.hostOf(q?.leader),
          members: (q?.members ?? []).map((x) => r.hostOf(x) ?? x).sort(),
          online: (q?.online ?? []).map((x) => r.hostOf(x) ?? x).sort(),
        };
        lab.observe('membersBefore', m, q ? describeQueue(q) : 'queue not found');
        if (q && q.type !== 'quorum') reasons.push(`${QUEUE} is a ${q.type} queue, not quorum`);
        if (m.members.length !== 3) reasons.push(`${QUEUE} has ${m.members.length} members, not 3`);
      },
      [rabbitmqQueues(r, DECLARED_ON, `quorum_status ${QUEUE}`), apiCommand(r, 'rabbit2', `/api/queues/%2F/${QUEUE}`)],
    );
    return reasons;
  },
  async run(lab) {
    const r = lab.stack;
    const n = lab.params.messages;
    const first = observed<Seen>(lab.history.evidence()).membersBefore?.leader ?? DECLARED_ON;
    await lab.step(
      'Publish with confirms',
      `${n} persistent messages through rabbit2 (not the leader: its channel forwards them to the leader).`,
      async () => {
        const t = await publishMany(lab.history, r, 'rabbit2', 'a', n, 'publisher');
        lab.say(`publisher: ${describeTally(t)}`);
      },
    );
    const afterFirst = r.members.filter((m) => m !== first);
    const second = await lab.step(
      `Kill the leader (${first})`,
      'SIGKILL. The followers notice at once (the Erlang connection closes), one of them calls a Raft election, and ' +
        'the other votes for it: 2 of 3 is a majority, so the queue goes on with a new leader. (A frozen leader, ' +
        'whose connections stay open, would only be noticed through timeouts, not at once.)',
      async () => {
        // The clock starts when Docker reports the kill done; how long the call took is observed too.
        const t0 = Date.now();
        await lab.faults.kill(first);
        const killed = Date.now();
        lab.observe('killCallMs', killed - t0, `docker kill took ${killed - t0} ms`);
        const q = await lab.until(
          `a leader of ${QUEUE} other than ${first}`,
          async () => {
            const x = await r.queue(QUEUE, afterFirst).catch(() => undefined);
            return x?.leader && x.leader !== r.nodeName(first)
              ? { done: true, value: x }
              : { done: false, seen: x ? describeQueue(x) : 'the API did not answer' };
          },
          { timeoutMs: 30_000, intervalMs: 50 },
        );
        const ms = Date.now() - killed;
        const leader = r.hostOf(q?.leader) ?? (afterFirst[0] as string);
        if (q) {
          lab.observe('leaderAfter', leader, `${leader} leads ${QUEUE} ${ms} ms after the kill`);
          lab.observe('electionMs', ms);
        }
        const survivor = afterFirst.find((m) => m !== leader) as string;
        const t = await publishMany(lab.history, r, survivor, 'b', 500, 'publisher-majority');
        lab.say(`with 2 of 3 members, through ${survivor}: ${describeTally(t)}`);
        return leader;
      },
      { key: 'kill-leader', commands: [rabbitmqQueues(r, afterFirst[0] as string, `quorum_status ${QUEUE}`)] },
    );
    const last = afterFirst.find((m) => m !== second) as string;
    await lab.step(
      `Kill the new leader (${second}): 1 of 3 left`,
      `${last} alone is 1 vote of 3: it cannot elect itself, so the queue has no leader. The broker tries to reach ` +
        'one, gives up after a few seconds and nacks each publish (basic.nack: certainly not stored); a basic.get ' +
        'fails with 541 INTERNAL_ERROR, which closes the connection. (Had the lone survivor been the leader, ' +
        'publishes would hang unconfirmed instead: it can append to its log but never commit without a majority, ' +
        'so their fate would be unknown until the others return.)',
      async () => {
        await lab.faults.kill(second);
        const t = await publishMany(lab.history, r, last, 'c', 100, 'publisher-minority', 15_000);
        lab.observe('minorityPublish', t, `with 1 of 3 members, through ${last}: ${describeTally(t)}`);
        const c = await r.client(last);
        try {
          const res = await lab.history.record(
            'consumer',
            'consume-attempt',
            {},
            last,
            () => c.get(QUEUE),
            classifyRead,
          );
          lab.observe(
            'minorityGet',
            res.ok ? 'served' : res.op.error,
            `basic.get: ${res.ok ? 'served' : res.op.error}`,
          );
        } finally {
          await c.close();
        }
        const q = await r.queue(QUEUE, [last]).catch(() => undefined);
        if (q) lab.say(`the API on ${last}: ${describeQueue(q)}`);
      },
      {
        key: 'kill-second',
        commands: [rabbitmqQueues(r, last, `quorum_status ${QUEUE}`), apiCommand(r, last, `/api/queues/%2F/${QUEUE}`)],
      },
    );
    await lab.step(
      `Start ${first} and ${second} again`,
      'Both rejoin (the third node kept running, so they find the cluster at once); the members elect a leader, ' +
        'and the returning members catch up from its log. The management API can name a leader before there is ' +
        'one: its leader field is the queue record, which trails the election. For a few seconds quorum_status ' +
        `shows the truth: the returning members still reading their logs (term 0) and ${last} in pre_vote. The ` +
        'lab waits for the Raft table: one leader, every member a follower in its term at its commit index.',
      async () => {
        await lab.faults.start(first);
        await lab.faults.start(second);
        await r.waitHealthy(120_000);
        const q = await lab.until(
          `${QUEUE}: 3 members online and a leader`,
          async () => {
            const x = await r.queue(QUEUE).catch(() => undefined);
            return x && x.online.length === 3 && x.leader
              ? { done: true, value: x }
              : { done: false, seen: x ? describeQueue(x) : 'the API did not answer' };
          },
          { timeoutMs: 60_000, intervalMs: 250 },
        );
        lab.observe('membersAfter', q?.online.length ?? 0, q ? `the API: ${describeQueue(q)}` : undefined);
        const started = Date.now();
        // Unsettled members only delay the drain, which decides: a wait that gives up is no verdict.
        const raft = await r.waitRaftSettled(QUEUE, last, 3).catch((err: Error) => {
          lab.warn(err.message);
          return [];
        });
        const leader = raft.find((m) => m.state === 'leader');
        if (leader) {
          lab.observe(
            'raftAfter',
            raft,
            `quorum_status: ${r.hostOf(leader.node)} leads term ${leader.term} at commit index ` +
              `${leader.commitIndex}, ${Date.now() - started} ms after the API showed a leader`,
          );
        }
      },
      [rabbitmqQueues(r, last, `quorum_status ${QUEUE}`)],
    );
  },
  async final(lab) {
    const c = await lab.stack.client('rabbit3');
    try {
      // A settled leader delivers at once; the wait for a first message is only a margin.
      const got = await drainRecorded(lab.history, c, QUEUE, { firstMs: 10_000 });
      lab.say(`${got.length} messages consumed after recovery`);
    } finally {
      await c.close();
    }
  },
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
        const lost = delivery(ev.ops).lost.length;
        if (lost > 0) return 2;
        return typeof observed<Seen>(ev).leaderAfter === 'string' && byProcess(ev, 'publisher-majority').ok > 0 ? 0 : 1;
      },
    },
    {
      before: 'kill-second',
      question: 'A second member is about to die: 1 of 3 left. What happens to a publish with confirms?',
      choices: ['the last member confirms it', 'it is refused or never confirmed', 'it is confirmed, and lost later'],
      answer: (ev) => {
        const m = byProcess(ev, 'publisher-minority');
        return m.ok === 0 ? 1 : delivery(ev.ops).lost.length ? 2 : 0;
      },
    },
  ],
  check(ev) {
    const seen = observed<Seen>(ev);
    const before = seen.membersBefore;
    const after = seen.leaderAfter;
    const ms = seen.electionMs;
    const majority = byProcess(ev, 'publisher-majority');
    const minority = byProcess(ev, 'publisher-minority');
    const get = completions(ev.ops, 'consume-attempt')[0];
    return [
      check(
        'three members online, one leader, before any fault',
        before?.members.length === 3 && before.online.length === 3 && before.leader === DECLARED_ON,
        `3 members online, leader ${DECLARED_ON}`,
        `${before?.online.length} online of ${before?.members.join(',')}, leader ${before?.leader}`,
      ),
      check(
        `a new leader within ${MAX_ELECTION_MS} ms`,
        typeof after === 'string' && after !== before?.leader && ms !== undefined && ms <= MAX_ELECTION_MS,
        `a surviving member leads within ${MAX_ELECTION_MS} ms`,
        after === undefined ? 'no new leader seen in 30 s' : `${after} after ${ms} ms`,
        { electionMs: ms },
      ),
      check(
        'with 2 of 3 members, publishes are confirmed',
        majority.tried > 0 && majority.ok === majority.tried,
        'every publish confirmed',
        `${majority.ok} of ${majority.tried} confirmed`,
      ),
      check(
        'with 1 of 3 members, no publish is confirmed',
        minority.tried > 0 && minority.ok === 0,
        '0 confirmed: each nacked (failed) or unanswered (indeterminate)',
        `${minority.tried} tried: ${minority.ok} confirmed, ${minority.fail} nacked or refused, ${minority.info} indeterminate`,
      ),
      check(
        'with 1 of 3 members, reading fails',
        get !== undefined && get.type !== 'ok',
        'basic.get fails',
        get ? `${get.type}: ${get.error ?? 'served'}` : 'not tried',
      ),
      ...deliveryChecks(delivery(ev.ops), { loss: 'forbidden', duplicates: 'forbidden' }, 'confirmed messages'),
    ];
  },
});
