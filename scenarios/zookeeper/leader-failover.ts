import { availability } from '../../src/checkers/availability.ts';
import { check } from '../../src/checkers/check.ts';
import { delivery, deliveryChecks } from '../../src/checkers/delivery.ts';
import { lastObservation } from '../../src/engine/history.ts';
import { defineLab } from '../../src/engine/lab.ts';
import { sleep } from '../../src/runtime/poll.ts';
import { zookeeper } from '../../stacks/zookeeper/stack.ts';
import { finalRead, ZkWriter } from '../../stacks/zookeeper/workload.ts';
import { srvrCommand } from './commands.ts';

const DIR = '/midlab/failover';

export default defineLab({
  id: 'zookeeper/leader-failover',
  title: 'The leader dies under load',
  teaches:
    'killing the leader elects a new one in well under a second; the surviving pair serves; no acknowledged write is lost',
  notes:
    'Notes, ZooKeeper chapter: "集群角色" and "选举ID" (ZXID, then myid, decide the new leader) and "协议说明" (ZAB). ' +
    'A write is acknowledged only once a majority has logged it, which is why the survivors still hold it.',
  params: {
    maxElectionMs: {
      type: 'int',
      default: 10_000,
      min: 100,
      describe: 'the bound a new leader must be elected within',
    },
  },
  stack: zookeeper,
  topology: () => ({ nodes: 3 }),
  async run(lab) {
    const zk = lab.stack;
    const writer = new ZkWriter(lab.history, zk.connectString(), DIR);
    const leader = await lab.step(
      'A steady stream of writes',
      'A client connected to all three servers creates one znode every 50 ms. Each write is recorded: ' +
        'acknowledged (ok), certainly refused (fail), or unknown (info: the connection dropped before the answer).',
      async () => {
        await writer.start();
        await sleep(2000);
        const l = await zk.leader();
        lab.observe('leaderBefore', l, `${writer.acknowledged} writes acknowledged; the leader is ${l}`);
        return l;
      },
      [srvrCommand(zk, 'zk1')],
    );
    if (!leader) throw new Error('no leader before the fault');
    const survivors = zk.names.filter((n) => n !== leader);
    await lab.step(
      `Kill the leader (${leader})`,
      'SIGKILL: the process dies, its sockets close at once, so followers notice immediately and start an ' +
        'election. The lab measures the time until one survivor reports Mode: leader. (A frozen leader is only ' +
        'noticed after syncLimit x tickTime; production tickTime is 2000 ms, here 500 ms.)',
      async () => {
        const requested = Date.now();
        await lab.faults.kill(leader);
        const newLeader = await zk.waitForLeader(survivors, 30_000);
        const seen = Date.now();
        // Counted from the moment the process died (the engine's record), not from when
        // the kill request returned: under load that call alone can outlast an election.
        const died = (await zk.cluster.node(leader).diedAt()) ?? requested;
        const ms = Math.max(0, seen - Math.max(died, requested));
        lab.observe('leaderAfter', newLeader, `new leader ${newLeader}`);
        lab.observe('electionMs', ms, `elected ${ms} ms after the kill`);
        lab.observe('survivorsServingFrom', lab.history.now());
        await sleep(2000);
        lab.say(`${writer.acknowledged} writes acknowledged so far`);
      },
      [srvrCommand(zk, survivors[0] as string)],
    );
    await lab.step(
      'Stop the workload',
      'The killed node is started again in the heal phase; it rejoins as a follower and catches up from the leader.',
      () => writer.stop(),
    );
  },
  async final(lab) {
    await finalRead(lab.history, lab.stack.connectString(), DIR);
  },
  predictions: [
    {
      beforeStep: 2,
      question: 'The leader is about to be killed. How long until the survivors have a new leader?',
      choices: ['under a second', 'one to ten seconds', 'more than ten seconds', 'never: a human must intervene'],
      answer: (ev) => {
        const ms = Number(lastObservation(ev, 'electionMs'));
        return Number.isNaN(ms) ? 3 : ms < 1000 ? 0 : ms <= 10_000 ? 1 : 2;
      },
    },
  ],
  check(ev, p) {
    const before = lastObservation(ev, 'leaderBefore');
    const after = lastObservation(ev, 'leaderAfter');
    const ms = Number(lastObservation(ev, 'electionMs'));
    const servingFrom = Number(lastObservation(ev, 'survivorsServingFrom'));
    const writesAfter = ev.ops.filter((o) => o.f === 'write' && o.type === 'ok' && o.time > servingFrom).length;
    const windows = availability(ev.ops, ev.faults, 'write');
    return [
      check(
        `a new leader within ${p.maxElectionMs} ms`,
        typeof after === 'string' && after !== before && ms <= p.maxElectionMs,
        `a survivor leads within ${p.maxElectionMs} ms`,
        `${String(after)} after ${ms} ms (was ${String(before)})`,
        { electionMs: ms },
      ),
      check(
        'the surviving pair serves writes',
        writesAfter > 0,
        'writes acknowledged after the election',
        `${writesAfter} writes acknowledged after the election`,
        { windows },
      ),
      ...deliveryChecks(
        delivery(ev.ops, { send: 'write', receive: 'read-all' }),
        { loss: 'forbidden', duplicates: 'allowed' },
        'writes',
      ),
    ];
  },
});
