import * as kit from './kit.ts';

const VOTERS = ['zk1', 'zk2', 'zk3'];
/**
 * Two observers, so that observers that did vote would show: with two voters down, one
 * voter and two observers are 3 of 5, a majority that would elect a leader and serve.
 */
const OBSERVERS = ['zk4', 'zk5'];
/** Longer than any election seen on this ensemble (under 1.1 s), so a quorum that could form, would. */
const SETTLE_MS = 5000;

interface Seen {
  modesBefore: Record<string, string>;
  members: kit.Member[];
  written: string;
  /** The survivors' modes once every one stopped serving (or what they last said). */
  modesWithoutQuorum: Record<string, string>;
  /** The survivors' modes SETTLE_MS later: long enough for an election, had there been a majority. */
  modesLater: Record<string, string>;
}

export default kit.defineLab({
  id: 'zookeeper/observer',
  title: 'Observers read but do not vote',
  teaches:
    'observers serve reads and forward writes; with 2 of 3 voters down they stop serving too, though one voter and ' +
    'two observers would be 3 of 5, because observers do not vote',
  notes:
    'Notes, ZooKeeper chapter: "集群角色" (seed lines 368-370) - 观察者(Observer): 转交客户端写请求给leader节点 ... ' +
    '不参与Leader投票，也不参与写操作的"过半写成功"策略. Observers scale reads without making elections or writes ' +
    'slower; they cannot make up a lost majority. ZooKeeper\'s admin guide ("Observers") configures them with ' +
    'peerType=observer and ":observer" on their server line, as this lab does; /zookeeper/config then lists them as ' +
    'observer. Roles are read with `srvr`, the one four-letter word answered by default since 3.5.3 (lines 524-537).',
  random: 'the value written through zk1',
  params: {},
  stack: kit.zookeeper,
  topology: () => ({ nodes: VOTERS.length, observers: OBSERVERS.length }),
  steps: {
    roles: {
      title: 'Roles',
      narration:
        `${VOTERS.join(', ')} vote; ${OBSERVERS.join(' and ')} are configured with peerType=observer and ` +
        '":observer" on their server lines. srvr says which is which.',
      commands: [kit.srvrCommand('zk4'), kit.zkCli('zk4', 'get /zookeeper/config')],
    },
    'read-write': {
      title: 'Read through the observers, write through one',
      narration:
        'A value written through a voter is read through each observer (after sync). A write sent to an observer ' +
        'is forwarded to the leader, which commits it with the voters alone.',
      commands: [kit.zkCli('zk4', 'get /midlab-observer')],
    },
    'kill-voters': {
      title: 'Kill two voters ({victims})',
      narration:
        'One voter of three is left. Had observers a vote, {survivors} would be 3 of 5, a majority; they have ' +
        'none, so there is no quorum and the observers stop serving as well. The lab waits for every survivor to ' +
        `stop serving, then ${SETTLE_MS} ms more (longer than any election here), then tries a read and a write ` +
        'through each observer.',
      commands: [kit.srvrCommand('zk4')],
    },
  },
  mechanism: (lab) => kit.proveRoles(lab),
  async run(lab) {
    const zk = lab.stack;
    const w = new kit.ZkWorkload(lab.history, zk);
    await lab.step('roles', async () => lab.say(kit.describeModes(await zk.modes())));
    await lab.step('read-write', async () => {
      const value = `v${lab.random.int(1e6)}`;
      await zk.withClient('zk1', (c) => c.create('/midlab-observer', value));
      lab.observe('written', value);
      await kit.syncedReads(lab, OBSERVERS, '/midlab-observer', 'reader');
      const o = OBSERVERS[0] as string;
      const path = `/midlab-observer-via-${o}`;
      const wr = await zk.withClient(o, (c) => w.create(`writer-${o}`, c, path, o, 'write', { id: `via-${o}` }));
      lab.say(`write through ${o}: ${wr.ok ? 'acknowledged' : wr.op.error}`);
    });
    const leader = (await zk.leader(zk.voters)) ?? 'zk1';
    const victims = [leader, zk.voters.find((v) => v !== leader) as string];
    const survivors = zk.names.filter((n) => !victims.includes(n));
    await lab.step(
      'kill-voters',
      async () => {
        for (const v of victims) await lab.faults.kill(v);
        const stopped = await kit.untilNotServing(lab, survivors);
        lab.observe('modesWithoutQuorum', stopped, kit.describeModes(stopped));
        await kit.sleep(SETTLE_MS);
        const later = await zk.modes(survivors);
        lab.observe('modesLater', later, `${SETTLE_MS} ms later: ${kit.describeModes(later)}`);
        for (const o of OBSERVERS)
          await w.readAndWrite(o, '/midlab-observer', `/midlab-no-quorum-${o}`, 'no-quorum', `no-quorum-${o}`);
      },
      { vars: { victims: victims.join(', '), survivors: survivors.join(', ') } },
    );
  },
  predictions: [
    {
      before: 'kill-voters',
      question: 'Two of the three voters are about to die. Will the observers keep serving?',
      choices: [
        'yes: one voter and two observers are 3 of 5',
        'no: observers do not vote, so one voter of three is no quorum',
      ],
      answer: (ev) => {
        const later = kit.observed<Seen>(ev).modesLater;
        if (!later) return undefined;
        return OBSERVERS.every((o) => later[o] === 'not serving') ? 1 : 0;
      },
    },
  ],
  check(ev) {
    const seen = kit.observed<Seen>(ev);
    const roles = kit.roleProblems(seen.modesBefore ?? {}, seen.members ?? [], VOTERS, OBSERVERS);
    const forwarded = kit.completions(ev.ops, 'write').filter((w) => w.type === 'ok');
    const without = seen.modesWithoutQuorum ?? {};
    const later = seen.modesLater ?? {};
    const lateReads = kit.completions(ev.ops, 'read-no-quorum');
    const lateWrites = kit.completions(ev.ops, 'write-no-quorum');
    const tried = (ops: typeof lateReads) => OBSERVERS.every((o) => ops.some((x) => x.node === o));
    const served = [...lateReads, ...lateWrites].filter((x) => x.type === 'ok');
    const what = seen.modesBefore === undefined ? 'the roles before the fault' : "the survivors' modes after the fault";
    if (seen.modesBefore === undefined || seen.modesLater === undefined)
      return [
        kit.unobserved('without a voting majority every survivor stops serving', 'two voters killed, watched', what),
      ];
    return [
      kit.check(
        'the observers report observer and /zookeeper/config lists them as observers',
        roles.length === 0,
        `${VOTERS.join(',')} participants (one leader), ${OBSERVERS.join(',')} observers`,
        roles.length ? roles.join('; ') : kit.describeModes(seen.modesBefore ?? {}),
      ),
      kit.readThrough(ev, 'every observer serves reads', seen.written, OBSERVERS),
      kit.check(
        'a write through an observer is forwarded and committed',
        forwarded.length > 0,
        'write through an observer acknowledged',
        `${forwarded.length} acknowledged`,
      ),
      kit.check(
        'without a voting majority every survivor stops serving',
        Object.keys(without).length === VOTERS.length - 2 + OBSERVERS.length &&
          Object.values(without).every((m) => m === 'not serving'),
        'srvr: not currently serving requests, on the last voter and both observers',
        kit.describeModes(without) || 'nothing observed',
      ),
      kit.check(
        `no quorum forms among the survivors (${SETTLE_MS} ms later)`,
        Object.keys(later).length > 0 && kit.serving(later).length === 0,
        'no leader, follower or observer among the survivors',
        kit.serving(later).length
          ? `serving: ${kit.serving(later).join(', ')}`
          : kit.describeModes(later) || 'nothing observed',
      ),
      kit.check(
        'reads and writes through the observers then fail',
        tried(lateReads) && tried(lateWrites) && served.length === 0,
        'every read and write through an observer fails',
        [...lateReads, ...lateWrites].map((x) => `${x.f}@${x.node}: ${x.type}`).join(', ') || 'none tried',
      ),
    ];
  },
});
