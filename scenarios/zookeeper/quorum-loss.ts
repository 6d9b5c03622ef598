import * as kit from './kit.ts';

const DIR = '/midlab/quorum';
/** The lone node is held without quorum at least this long after it stops serving... */
const HOLD_MS = 3000;
/** ...and until this many writes have been tried and answered without a majority. */
const TRIES = 3;

interface Seen {
  /** srvr's mode of the last node once it stopped serving, or what it last said. */
  loneMode: string;
  /** When the second kill returned: no write invoked from here can reach a majority. */
  bothDownAt: number;
  /** When the first killed node was started again. */
  restartAt: number;
  leaderAfterRecovery: string;
}

export default kit.defineLab({
  id: 'zookeeper/quorum-loss',
  title: 'Two of three down: no quorum, no service',
  teaches:
    'with 2 of 3 down the last node stops serving and writes fail; with one back, every acknowledged write is still there',
  notes:
    'Notes, ZooKeeper chapter: "Zookeeper集群部署" - 因为选举机制，半数以上可用，所以建议奇数个节点. A lone node of three ' +
    'is no majority: it refuses clients rather than risk a split brain (seed line 353). Modes are read with `srvr`, the ' +
    "one four-letter word answered by default since 3.5.3 (the notes' list, lines 510-521, needs the whitelist, 524-537).",
  params: {},
  stack: kit.zookeeper,
  topology: () => ({ nodes: 3 }),
  steps: {
    writes: {
      title: 'Writes while all three are up',
      narration: 'A client writes one znode every 50 ms through any of the three servers.',
    },
    'kill-two': {
      title: 'Kill {first} and {second}',
      narration:
        '{last} alone is one vote of three: not a majority. It stops serving: srvr answers "This ZooKeeper ' +
        'instance is not currently serving requests", and the client\'s writes fail or time out. Those that time ' +
        'out are recorded as unknown (info), never as lost. The lab keeps it so for at least ' +
        `${HOLD_MS / 1000} s and until ${TRIES} writes have been answered.`,
      commands: [kit.srvrCommand('last')],
    },
    restart: {
      title: 'Start {first} again',
      narration: 'Two of three is a majority again: a leader is elected, the client reconnects and writes resume.',
    },
  },
  mechanism: (lab) => kit.proveRoles(lab),
  async run(lab) {
    const zk = lab.stack;
    const writer = new kit.ZkWorkload(lab.history, zk).writer(DIR);
    const [first, second, lastNode] = zk.names as [string, string, string];
    const vars = { first, second, last: lastNode };
    await lab.step('writes', async () => {
      await writer.start();
      await kit.sleep(1500);
      lab.say(`${writer.acknowledged} writes acknowledged`);
    });
    await lab.step(
      'kill-two',
      async () => {
        await lab.faults.kill(first);
        await lab.faults.kill(second);
        const bothDownAt = lab.observe('bothDownAt', lab.history.now());
        const mode = (await kit.untilNotServing(lab, [lastNode]))[lastNode] ?? 'nothing yet';
        lab.observe('loneMode', mode, `${lastNode}: ${mode}`);
        // A client retrying a lost connection answers about once a second: wait for a few answers.
        const hold = { count: TRIES, holdMs: HOLD_MS, timeoutMs: 20_000, intervalMs: 100 };
        await kit.untilAnswered(lab, `${TRIES} writes answered without quorum`, 'write', bothDownAt, hold);
        lab.say(`${writer.acknowledged} writes acknowledged so far`);
      },
      { vars },
    );
    await lab.step(
      'restart',
      async () => {
        lab.observe('restartAt', lab.history.now());
        await lab.faults.start(first);
        const leader = await kit.untilLeader(lab, [first, lastNode]);
        lab.observe('leaderAfterRecovery', leader, `quorum is back: ${leader} leader`);
        const acked = writer.acknowledged;
        await lab.until('writes to be acknowledged again', () => writer.acknowledgedMoreThan(acked), {
          timeoutMs: 20_000,
        });
        await kit.sleep(1000);
        await writer.stop();
        lab.say(`${writer.acknowledged} writes acknowledged in all`);
      },
      { vars },
    );
  },
  final: kit.finalReadOf(DIR),
  predictions: [
    {
      before: 'kill-two',
      question: 'Two of the three servers are about to die. What will the last one do?',
      choices: [
        'keep serving reads and writes',
        'stop serving clients until a majority is back',
        'elect itself leader',
      ],
      answer: (ev) => ({ 'not serving': 1, leader: 2 })[String(kit.observed<Seen>(ev).loneMode)] ?? 0,
    },
  ],
  check(ev) {
    const seen = kit.observed<Seen>(ev);
    if (seen.bothDownAt === undefined || seen.restartAt === undefined)
      return [
        kit.unobserved('two of three were down, then one came back', 'both faults run', 'the kills and the restart'),
        ...kit.writesKept(ev),
      ];
    // Invoked with two nodes down and answered before the restart: no majority could have acknowledged it.
    const during = kit.outcomes(kit.answeredBetween(ev.ops, 'write', seen.bothDownAt, seen.restartAt));
    return [
      kit.check(
        'the lone node stops serving',
        seen.loneMode === 'not serving',
        'srvr: not currently serving requests',
        String(seen.loneMode),
      ),
      kit.check(
        'writes without quorum fail or are indeterminate',
        during.total > 0 && during.ok === 0,
        '0 acknowledged, every write failed or unknown',
        `${during.total} invoked with two nodes down and answered before the restart: ${during.ok} ok, ${during.fail} fail, ${during.info} unknown`,
        { windows: kit.availability(ev.ops, ev.faults, 'write') },
      ),
      kit.writesServed(
        ev,
        'writes resume once quorum is back',
        seen.restartAt,
        'an acknowledged write invoked after the restart',
        `after the restart (leader ${String(seen.leaderAfterRecovery)})`,
      ),
      ...kit.writesKept(ev),
    ];
  },
});
