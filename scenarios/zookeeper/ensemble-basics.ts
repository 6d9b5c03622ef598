import * as kit from './kit.ts';

interface Seen {
  modes: Record<string, string>;
  members: kit.Member[];
  written: string;
}

export default kit.defineLab({
  id: 'zookeeper/ensemble-basics',
  title: 'A three-node ensemble: one leader, a shared tree',
  teaches: 'one leader and two followers; a znode written through one node is read through every node',
  notes:
    'Notes, ZooKeeper chapter: "Zookeeper集群部署实现" (seed lines 400-460: server.N=host:2888:3888, myid 1..3, ' +
    'one leader and two followers), "集群角色" (lines 360-376), and the zkCli walk-through under ' +
    '"ZooKeeper客户端访问" (lines 464-500: get /zookeeper/config lists each server as participant; a missing ' +
    'znode answers "Node does not exist"). Where the notes are outdated: since 3.5.3 only `srvr` among the ' +
    'four-letter words answers unless listed in 4lw.commands.whitelist (lines 524-537 show the error and the ' +
    'fix; `stat`/`ruok` from line 510 need it). And the zoo.cfg of lines 262-299 puts comments after values ' +
    '(`tickTime=2000  # ...`, line 265; `dataDir=/tmp/zookeeper  # ...`, line 275): zoo.cfg is read as Java ' +
    'properties, where `#` starts a comment only at the start of a line, so the comment becomes part of the ' +
    'value: ZooKeeper 3.9 refuses to start ("Invalid config, exiting abnormally", NumberFormatException for ' +
    '"2000  # ..."), and the dataDir line would name a directory with the comment in it. This lab renders ' +
    'comments on their own lines. Lines 380-382 say the highest ZXID wins, then the highest myid; the election ' +
    '(FastLeaderElection) compares the epoch first, then the ZXID, then the myid.',
  random: 'the value written through zk1',
  params: {},
  stack: kit.zookeeper,
  topology: () => ({ nodes: 3 }),
  steps: {
    leader: {
      title: 'Who leads?',
      narration:
        'Every node answers `srvr` with its Mode. A healthy ensemble of three has exactly one leader, elected by ' +
        'the voters (latest epoch, then highest zxid, then highest myid), and two followers.',
      commands: [kit.srvrCommand('zk1')],
    },
    config: {
      title: 'The ensemble describes itself',
      narration:
        'The znode /zookeeper/config holds the membership every server agreed on: one server.N line per participant.',
      commands: [kit.zkCli('zk1', 'get /zookeeper/config')],
    },
    'write-read': {
      title: 'Write through one node, read through every node',
      narration:
        'A write goes to the leader whichever server receives it, and is committed once a majority has it. A ' +
        'client reading from a follower may be a little behind; `sync` first makes that server catch up with the ' +
        'leader, so each read below is fresh.',
      commands: [kit.zkCli('zk2', 'get /midlab-basics')],
    },
    missing: {
      title: 'Reading what does not exist',
      narration: 'A missing znode is not an empty value: the server answers with a clean NONODE error.',
      commands: [kit.zkCli('zk2', 'get /midlab-missing')],
    },
  },
  mechanism: (lab) => kit.proveRoles(lab),
  async run(lab) {
    const zk = lab.stack;
    const w = new kit.ZkWorkload(lab.history, zk);
    await lab.step('leader', async () => {
      const modes = await zk.modes();
      lab.observe('modes', modes, `modes: ${kit.describeModes(modes)}`);
    });
    await lab.step('config', async () => {
      const members = await zk.members('zk2');
      const participants = members.filter((m) => m.role === 'participant').map((m) => m.host);
      lab.observe('members', members, `/zookeeper/config lists participants ${participants.join(', ')}`);
    });
    await lab.step('write-read', async () => {
      const value = `written-through-zk1-${lab.random.int(1e6)}`;
      const r = await zk.withClient('zk1', (c) =>
        w.create('client-zk1', c, '/midlab-basics', value, 'write', { path: '/midlab-basics', value }),
      );
      if (!r.ok) lab.warn(`the write through zk1 failed: ${r.op.error}`);
      lab.observe('written', value, `wrote /midlab-basics = ${value} through zk1`);
      await kit.syncedReads(lab, zk.names, '/midlab-basics', 'client');
    });
    await lab.step('missing', async () => {
      const r = await zk.withClient('zk2', (c) => w.get('client-zk2', c, '/midlab-missing', 'read-missing'));
      lab.say(r.ok ? `unexpectedly read "${r.result}"` : `error: ${r.op.error}`);
    });
  },
  check(ev) {
    const seen = kit.observed<Seen>(ev);
    const modes = Object.values(seen.modes ?? {});
    const leaders = modes.filter((m) => m === 'leader').length;
    const followers = modes.filter((m) => m === 'follower').length;
    const participants = (seen.members ?? []).filter((m) => m.role === 'participant').map((m) => m.host);
    const missing = kit.completions(ev.ops, 'read-missing')[0];
    return [
      seen.modes === undefined
        ? kit.unobserved('exactly one leader and two followers', '1 leader, 2 followers', "the nodes' modes")
        : kit.check(
            'exactly one leader and two followers',
            leaders === 1 && followers === 2,
            '1 leader, 2 followers',
            `${leaders} leader(s), ${followers} follower(s)`,
          ),
      kit.check(
        '/zookeeper/config lists 3 participants',
        participants.sort().join(',') === 'zk1,zk2,zk3',
        'zk1, zk2, zk3',
        `${participants.length}: ${participants.join(', ')}`,
      ),
      kit.readThrough(ev, 'a value written through zk1 is read through every node', seen.written, [
        'zk1',
        'zk2',
        'zk3',
      ]),
      kit.check(
        'a missing znode gives a clean "no node" error',
        missing?.type === 'fail' && /no node/i.test(missing.error ?? ''),
        'read fails with NONODE',
        missing ? `${missing.type}: ${missing.error ?? String(missing.value)}` : 'no read recorded',
      ),
    ];
  },
});
