import { availability } from '../../src/checkers/availability.ts';
import { check } from '../../src/checkers/check.ts';
import { delivery, deliveryChecks } from '../../src/checkers/delivery.ts';
import { lastObservation } from '../../src/engine/history.ts';
import { defineLab } from '../../src/engine/lab.ts';
import { sleep, waitUntil } from '../../src/runtime/poll.ts';
import { zookeeper } from '../../stacks/zookeeper/stack.ts';
import { finalRead, ZkWriter } from '../../stacks/zookeeper/workload.ts';
import { srvrCommand } from './commands.ts';

const DIR = '/midlab/quorum';

export default defineLab({
  id: 'zookeeper/quorum-loss',
  title: 'Two of three down: no quorum, no service',
  teaches:
    'with 2 of 3 down the last node stops serving and writes fail; with one back, every acknowledged write is still there',
  notes:
    'Notes, ZooKeeper chapter: "Zookeeper集群部署" - 因为选举机制，半数以上可用，所以建议奇数个节点. A lone node out ' +
    'of three is not a majority: it refuses clients rather than risk a split brain.',
  params: {},
  stack: zookeeper,
  topology: () => ({ nodes: 3 }),
  async run(lab) {
    const zk = lab.stack;
    const writer = new ZkWriter(lab.history, zk.connectString(), DIR);
    const [first, second, last] = zk.names.map((n) => n) as [string, string, string];
    await lab.step(
      'Writes while all three are up',
      'A client writes one znode every 50 ms through any of the three servers.',
      async () => {
        await writer.start();
        await sleep(1500);
        lab.say(`${writer.acknowledged} writes acknowledged`);
      },
    );
    await lab.step(
      `Kill ${first} and ${second}`,
      `${last} alone is one vote of three: not a majority. It stops serving: srvr answers "This ZooKeeper ` +
        'instance is not currently serving requests", and the client\'s writes fail or time out. Those that time ' +
        'out are recorded as unknown (info), never as lost.',
      async () => {
        await lab.faults.kill(first);
        await lab.faults.kill(second);
        const mode = await waitUntil(
          `${last} to stop serving`,
          async () => {
            const m = (await zk.modes([last]))[last];
            return m === 'not serving' ? { done: true, value: m } : { done: false, seen: String(m) };
          },
          { timeoutMs: 20_000, intervalMs: 100 },
        );
        lab.observe('loneMode', mode, `${last}: ${mode}`);
        lab.observe('noQuorumFrom', lab.history.now());
        await sleep(3000);
        lab.observe('noQuorumUntil', lab.history.now());
      },
      [srvrCommand(zk, last)],
    );
    await lab.step(
      `Start ${first} again`,
      `Two of three is a majority again: a leader is elected, the client reconnects and writes resume.`,
      async () => {
        await lab.faults.start(first);
        const leader = await zk.waitForLeader([first, last], 30_000);
        lab.observe('leaderAfterRecovery', leader, `quorum is back: ${leader} leads`);
        const acked = writer.acknowledged;
        await waitUntil(
          'writes to be acknowledged again',
          async () =>
            writer.acknowledged > acked
              ? { done: true, value: 0 }
              : { done: false, seen: `${writer.acknowledged} acknowledged` },
          { timeoutMs: 20_000 },
        );
        lab.observe('recoveredAt', lab.history.now());
        await sleep(1000);
        await writer.stop();
        lab.say(`${writer.acknowledged} writes acknowledged in all`);
      },
    );
  },
  async final(lab) {
    await finalRead(lab.history, lab.stack.connectString(), DIR);
  },
  predictions: [
    {
      beforeStep: 2,
      question: 'Two of the three servers are about to die. What will the last one do?',
      choices: [
        'keep serving reads and writes',
        'stop serving clients until a majority is back',
        'elect itself leader',
      ],
      answer: (ev) =>
        (({ 'not serving': 1, leader: 2 }) as Record<string, number>)[String(lastObservation(ev, 'loneMode'))] ?? 0,
    },
  ],
  check(ev) {
    const lone = lastObservation(ev, 'loneMode');
    const from = Number(lastObservation(ev, 'noQuorumFrom'));
    const until = Number(lastObservation(ev, 'noQuorumUntil'));
    const recovered = lastObservation(ev, 'recoveredAt');
    // Writes invoked while the lone node was confirmed not serving.
    const invokedAt = new Map<number, number>();
    const during = { ok: 0, fail: 0, info: 0 };
    const open = new Map<string, number>();
    for (const o of ev.ops.filter((x) => x.f === 'write')) {
      if (o.type === 'invoke') open.set(o.process, o.time);
      else {
        const t = open.get(o.process) ?? o.time;
        invokedAt.set(o.index, t);
        if (t >= from && t <= until) during[o.type] += 1;
      }
    }
    const tried = during.ok + during.fail + during.info;
    return [
      check(
        'the lone node stops serving',
        lone === 'not serving',
        'srvr: not currently serving requests',
        String(lone),
      ),
      check(
        'writes without quorum fail or are indeterminate',
        tried > 0 && during.ok === 0,
        '0 acknowledged, every write failed or unknown',
        `${tried} tried: ${during.ok} ok, ${during.fail} fail, ${during.info} unknown`,
        { windows: availability(ev.ops, ev.faults, 'write') },
      ),
      check(
        'writes resume once quorum is back',
        recovered !== undefined,
        'an acknowledged write after recovery',
        recovered === undefined ? 'none' : `at +${(Number(recovered) / 1000).toFixed(1)} s`,
      ),
      ...deliveryChecks(
        delivery(ev.ops, { send: 'write', receive: 'read-all' }),
        { loss: 'forbidden', duplicates: 'allowed' },
        'writes',
      ),
    ];
  },
});
