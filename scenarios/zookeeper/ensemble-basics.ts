import { check } from '../../src/checkers/check.ts';
import { completions, lastObservation } from '../../src/engine/history.ts';
import { defineLab } from '../../src/engine/lab.ts';
import { classify, ZkClient } from '../../stacks/zookeeper/client.ts';
import { zookeeper } from '../../stacks/zookeeper/stack.ts';
import { srvrCommand, zkCli } from './commands.ts';

export default defineLab({
  id: 'zookeeper/ensemble-basics',
  title: 'A three-node ensemble: one leader, a shared tree',
  teaches: 'one leader and two followers; a znode written through one node is read through every node',
  notes:
    'Notes, ZooKeeper chapter: "Zookeeper集群部署" and "集群角色" (leader, follower, observer), and the zkCli ' +
    'create/get/set walk-through under "ZooKeeper客户端访问". Since 3.5.3 only `srvr` among the four-letter words ' +
    "answers unless whitelisted; the notes' `stat`/`ruok` examples need 4lw.commands.whitelist.",
  params: {},
  stack: zookeeper,
  topology: () => ({ nodes: 3 }),
  async run(lab) {
    const zk = lab.stack;
    await lab.step(
      'Who leads?',
      'Every node answers `srvr` with its Mode. A healthy ensemble of three has exactly one leader, elected by ' +
        'the voters (highest zxid first, then highest myid), and two followers.',
      async () => {
        const modes = await zk.modes();
        lab.observe(
          'modes',
          modes,
          `modes: ${Object.entries(modes)
            .map(([n, m]) => `${n}=${m}`)
            .join(', ')}`,
        );
      },
      [srvrCommand(zk, 'zk1')],
    );
    await lab.step(
      'The ensemble describes itself',
      'The znode /zookeeper/config holds the membership every server agreed on: one server.N line per participant.',
      async () => {
        const c = await ZkClient.connect(zk.connectString(), {});
        try {
          const config = await c.get('/zookeeper/config');
          const participants = config.split('\n').filter((l) => /^server\.\d+=.*participant/.test(l));
          lab.observe('participants', participants, `/zookeeper/config lists ${participants.length} participants`);
        } finally {
          c.close();
        }
      },
      [zkCli(zk, 'zk1', 'get /zookeeper/config')],
    );
    await lab.step(
      'Write through one node, read through every node',
      'A write goes to the leader whichever server receives it, and is committed once a majority has it. A ' +
        'client reading from a follower may be a little behind; `sync` first makes that server catch up with the ' +
        'leader, so each read below is fresh.',
      async () => {
        const value = `written-through-zk1-${lab.random.int(1e6)}`;
        const writer = await ZkClient.connect(zk.endpoint('zk1'), {});
        try {
          const r = await lab.history.record(
            'client-zk1',
            'write',
            { path: '/midlab-basics', value },
            'zk1',
            () => writer.create('/midlab-basics', value),
            classify,
          );
          if (!r.ok) throw r.error;
        } finally {
          writer.close();
        }
        lab.observe('written', value, `wrote /midlab-basics = ${value} through zk1`);
        for (const node of zk.names) {
          const reader = await ZkClient.connect(zk.endpoint(node), {});
          try {
            await reader.sync('/midlab-basics');
            const r = await lab.history.record(
              `client-${node}`,
              'read',
              undefined,
              node,
              () => reader.get('/midlab-basics'),
              classify,
            );
            lab.say(`read through ${node}: ${r.ok ? r.result : `error ${r.op.error}`}`);
          } finally {
            reader.close();
          }
        }
      },
      [zkCli(zk, 'zk2', 'get /midlab-basics')],
    );
    await lab.step(
      'Reading what does not exist',
      'A missing znode is not an empty value: the server answers with a clean NONODE error.',
      async () => {
        const c = await ZkClient.connect(zk.endpoint('zk2'), {});
        try {
          const r = await lab.history.record(
            'client-zk2',
            'read-missing',
            undefined,
            'zk2',
            () => c.get('/midlab-missing'),
            classify,
          );
          lab.say(r.ok ? `unexpectedly read "${r.result}"` : `error: ${r.op.error}`);
        } finally {
          c.close();
        }
      },
      [zkCli(zk, 'zk2', 'get /midlab-missing')],
    );
  },
  check(ev) {
    const modes = Object.values((lastObservation(ev, 'modes') as Record<string, string>) ?? {});
    const leaders = modes.filter((m) => m === 'leader').length;
    const followers = modes.filter((m) => m === 'follower').length;
    const participants = (lastObservation(ev, 'participants') as string[] | undefined) ?? [];
    const written = lastObservation(ev, 'written');
    const reads = completions(ev.ops, 'read');
    const fresh = reads.filter((r) => r.type === 'ok' && r.value === written);
    const missing = completions(ev.ops, 'read-missing')[0];
    return [
      check(
        'exactly one leader and two followers',
        leaders === 1 && followers === 2,
        '1 leader, 2 followers',
        `${leaders} leader(s), ${followers} follower(s)`,
      ),
      check(
        '/zookeeper/config lists 3 participants',
        participants.length === 3,
        '3 participants',
        `${participants.length}: ${participants.join(' | ')}`,
      ),
      check(
        'a value written through zk1 is read through every node',
        reads.length === 3 && fresh.length === 3,
        `3 reads of "${String(written)}"`,
        `${fresh.length} of ${reads.length} reads returned it`,
      ),
      check(
        'a missing znode gives a clean "no node" error',
        missing?.type === 'fail' && /no node/i.test(missing.error ?? ''),
        'read fails with NONODE',
        missing ? `${missing.type}: ${missing.error ?? String(missing.value)}` : 'no read recorded',
      ),
    ];
  },
});
