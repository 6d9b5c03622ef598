import { check } from '../../src/checkers/check.ts';
import { completions, lastObservation } from '../../src/engine/history.ts';
import { defineLab } from '../../src/engine/lab.ts';
import { waitUntil } from '../../src/runtime/poll.ts';
import { classify, ZkClient } from '../../stacks/zookeeper/client.ts';
import { zookeeper } from '../../stacks/zookeeper/stack.ts';
import { srvrCommand, zkCli } from './commands.ts';

export default defineLab({
  id: 'zookeeper/observer',
  title: 'An observer reads but does not vote',
  teaches: 'an observer serves reads; with 2 of 3 voters down it stops serving too, because observers do not vote',
  notes:
    'Notes, ZooKeeper chapter: "集群角色" - 观察者(Observer) ... 不参与Leader投票，也不参与写操作的"过半写成功"策略. ' +
    'Observers scale reads without making elections or writes slower; they cannot make up a lost majority.',
  params: {},
  stack: zookeeper,
  topology: () => ({ nodes: 3, observers: 1 }),
  async run(lab) {
    const zk = lab.stack;
    const observer = zk.observers[0] as string;
    await lab.step(
      'Roles',
      `zk1..zk3 vote; ${observer} is configured with peerType=observer and ":observer" on its server line.`,
      async () => {
        const modes = await zk.modes();
        lab.observe(
          'modes',
          modes,
          Object.entries(modes)
            .map(([n, m]) => `${n}=${m}`)
            .join(', '),
        );
      },
      [srvrCommand(zk, observer)],
    );
    await lab.step(
      `Read through the observer`,
      'A value written through a voter is read through the observer (after sync).',
      async () => {
        const value = `v${lab.random.int(1e6)}`;
        const w = await ZkClient.connect(zk.endpoint('zk1'));
        await w.create('/midlab-observer', value).finally(() => w.close());
        lab.observe('written', value);
        const r = await ZkClient.connect(zk.endpoint(observer));
        try {
          await r.sync('/midlab-observer');
          const res = await lab.history.record(
            'reader',
            'read',
            undefined,
            observer,
            () => r.get('/midlab-observer'),
            classify,
          );
          lab.say(`read through ${observer}: ${res.ok ? res.result : res.op.error}`);
        } finally {
          r.close();
        }
      },
      [zkCli(zk, observer, 'get /midlab-observer')],
    );
    const leader = (await zk.leader(zk.voters)) ?? 'zk1';
    const victims = [leader, zk.voters.find((v) => v !== leader) as string];
    await lab.step(
      `Kill two voters (${victims.join(', ')})`,
      'One voter of three is left. The observer has no vote to lend, so there is no quorum and it stops serving as well.',
      async () => {
        for (const v of victims) await lab.faults.kill(v);
        const mode = await waitUntil(
          `${observer} to stop serving`,
          async () => {
            const m = (await zk.modes([observer]))[observer];
            return m === 'not serving' || m === 'down' ? { done: true, value: m } : { done: false, seen: String(m) };
          },
          { timeoutMs: 20_000, intervalMs: 100 },
        );
        lab.observe('observerWithoutQuorum', mode, `${observer}: ${mode}`);
        const r = await ZkClient.connect(zk.endpoint(observer), { connectTimeoutMs: 3000 }).catch((e: Error) => e);
        if (r instanceof ZkClient) {
          await lab.history.record(
            'reader',
            'read-no-quorum',
            undefined,
            observer,
            () => r.get('/midlab-observer'),
            classify,
          );
          r.close();
        } else {
          lab.history.invoke('reader', 'read-no-quorum', undefined, observer).fail(r);
        }
      },
      [srvrCommand(zk, observer)],
    );
  },
  predictions: [
    {
      beforeStep: 3,
      question: 'Two of the three voters are about to die. Will the observer keep serving reads?',
      choices: ['yes: it holds all the data', 'no: without a voting majority it stops serving'],
      answer: (ev) => (lastObservation(ev, 'observerWithoutQuorum') === 'not serving' ? 1 : 0),
    },
  ],
  check(ev) {
    const modes = (lastObservation(ev, 'modes') as Record<string, string>) ?? {};
    const observerName = Object.keys(modes).sort().at(-1) ?? 'zk4';
    const read = completions(ev.ops, 'read')[0];
    const noQuorum = lastObservation(ev, 'observerWithoutQuorum');
    const late = completions(ev.ops, 'read-no-quorum')[0];
    return [
      check(
        'the observer reports observer',
        modes[observerName] === 'observer',
        'Mode: observer',
        `${observerName}: ${modes[observerName]}`,
      ),
      check(
        'the observer serves reads',
        read?.type === 'ok' && read.value === lastObservation(ev, 'written'),
        'the written value',
        read ? `${read.type}: ${String(read.value ?? read.error)}` : 'no read',
      ),
      check(
        'without a voting majority the observer stops serving',
        noQuorum === 'not serving',
        'not serving',
        String(noQuorum),
      ),
      check(
        'reads through it then fail',
        late !== undefined && late.type !== 'ok',
        'read fails',
        late ? `${late.type}: ${late.error ?? ''}` : 'no read',
      ),
    ];
  },
});
