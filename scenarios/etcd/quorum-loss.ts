import * as kit from './kit.ts';

const DIR = '/midlab/quorum';
const MARKER = `${DIR}/marker`;
/** The survivor is held without quorum at least this long, and until this many writes were answered. */
const HOLD_MS = 3000;
const TRIES = 3;

interface Seen {
  /** When etcd1 was cut off: from here it is a minority of one. */
  isolatedAt: number;
  restartAt: number;
  leaderAfterRecovery: string;
}

const marker = (o: kit.Op) => (o.value as { key?: string } | undefined)?.key === MARKER;

export default kit.defineLab({
  id: 'etcd/quorum-loss',
  title: 'Two of three stopped: no quorum, stale serializable reads',
  teaches:
    'without a majority, linearizable reads and all writes fail or time out; a serializable read still answers, possibly stale; with quorum back nothing acknowledged is lost',
  notes:
    'Notes, "Kubernetes—etcd" (seed 001): "ETCD数据恢复流程" (lines 7047-7049) says that with more than half the ' +
    'members down the whole cluster is down. Not quite: the survivor still answers serializable reads ' +
    '(`etcdctl get --consistency=s`) from its own copy, which may be stale; what stops is every write and every ' +
    'linearizable read, the default. So line 6589 ("every read returns the latest write") is true of ' +
    'linearizable reads only. Restoring from a backup (lines 7051-7058) is for lost data, not for lost quorum: ' +
    'starting one member again is enough here.',
  params: {},
  stack: kit.etcd,
  topology: () => ({ members: 3 }),
  steps: {
    writes: {
      title: `Writes through etcd1; ${MARKER} = v1`,
      narration: 'A client puts one key every 50 ms through etcd1; a marker key gets its first value.',
    },
    isolate: {
      title: 'Cut etcd1 off, then write v2 through etcd2',
      narration:
        'etcd1 alone is a minority: its writes stop. etcd2 and etcd3 are a majority: they (re-)elect a leader and ' +
        "acknowledge the marker's v2, which etcd1 never receives.",
      commands: [kit.etcdctl('etcd2', `get ${MARKER}`)],
    },
    'stop-two': {
      title: 'Stop etcd2 and etcd3',
      narration:
        'One member of three is left, its network healed. A linearizable get must confirm with a leader that ' +
        "none is newer: there is no leader, so it fails or times out. `--consistency=s` answers from etcd1's own " +
        `copy: v1, though v2 was acknowledged. Held at least ${HOLD_MS / 1000} s and until ${TRIES} writes were answered.`,
      commands: [kit.etcdctl('etcd1', `get ${MARKER}`), kit.etcdctl('etcd1', `get ${MARKER} --consistency=s`)],
    },
    restart: {
      title: 'Start etcd2 again',
      narration: 'Two of three is a majority: a leader is elected, etcd1 catches up (v2 included) and writes resume.',
    },
  },
  mechanism: (lab) => kit.proveCluster(lab),
  async run(lab) {
    const e = lab.stack;
    const writer = new kit.EtcdWriter(lab.history, e.client('etcd1'), DIR);
    const get = (consistency: 'l' | 's') => () => e.client('etcd1').read(MARKER, { consistency });
    const read = async (c: 'l' | 's') => {
      const r = await kit.recorded(lab.history, 'reader-etcd1', `read-${c}`, 'etcd1', get(c));
      lab.say(`get --consistency=${c} through etcd1: ${r.ok ? JSON.stringify(r.result) : r.op.error}`);
    };
    await lab.step('writes', async () => {
      await kit.recordedPut(lab.history, e.client('etcd1'), 'marker', MARKER, 'marker', 'v1');
      writer.start();
      await kit.sleep(1500);
      lab.say(`${writer.acknowledged} writes acknowledged`);
    });
    await lab.step('isolate', async () => {
      await lab.faults.partition('etcd1', ['etcd2', 'etcd3']);
      lab.observe('isolatedAt', lab.history.now());
      const acked = await lab.until(
        'v2 acknowledged through etcd2',
        async () => {
          const r = await kit.recordedPut(lab.history, e.client('etcd2'), 'marker', MARKER, 'marker', 'v2');
          return r.ok ? { done: true, value: r.revision } : { done: false, seen: String(r.error) };
        },
        { timeoutMs: 20_000, intervalMs: 200 },
      );
      lab.say(acked ? `v2 acknowledged at revision ${acked}` : 'v2 was never acknowledged');
    });
    await lab.step('stop-two', async () => {
      await Promise.all([lab.faults.stop('etcd2'), lab.faults.stop('etcd3')]);
      await lab.faults.heal('etcd1');
      for (const c of ['l', 's'] as const) await read(c);
      const hold = { count: TRIES, holdMs: HOLD_MS, timeoutMs: 30_000, intervalMs: 200 };
      await kit.untilAnswered(lab, `${TRIES} writes answered without quorum`, 'write', lab.history.now(), hold);
    });
    await lab.step('restart', async () => {
      lab.observe('restartAt', lab.history.now());
      await lab.faults.start('etcd2');
      const l = await kit.untilLeader(lab, ['etcd1', 'etcd2']);
      lab.observe('leaderAfterRecovery', l ?? 'none', `quorum is back: leader ${l ?? 'none'}`);
      await kit.untilAcknowledged(lab, writer);
      await writer.stop();
      await read('l');
    });
  },
  final: kit.finalReadOf(DIR),
  predictions: [
    {
      before: 'stop-two',
      question: 'etcd1 is about to be left alone. What does `etcdctl get --consistency=s` through it return?',
      choices: ['an error: no quorum, no reads', 'the value it last applied, possibly stale', 'the newest value'],
      answer: (ev) => {
        const s = kit.completions(ev.ops, 'read-s')[0];
        return s === undefined ? undefined : s.type !== 'ok' ? 0 : 1;
      },
    },
  ],
  check(ev) {
    const seen = kit.observed<Seen>(ev);
    if (seen.isolatedAt === undefined || seen.restartAt === undefined)
      return [kit.unobserved('quorum was lost, then restored', 'both faults run', 'the faults'), ...kit.writesKept(ev)];
    const inWindow = (o: kit.Op) => o.time >= (seen.isolatedAt ?? 0) && o.time <= (seen.restartAt ?? 0);
    const answered = kit.answeredBetween(ev.ops, 'write', seen.isolatedAt, seen.restartAt);
    const during = kit.outcomes(answered.filter((o) => !marker(o)));
    const lin = kit.completions(ev.ops, 'read-l').filter(inWindow);
    const ser = kit.completions(ev.ops, 'read-s').filter(inWindow);
    const served = ser.find((o) => o.type === 'ok');
    const markers = kit.completions(ev.ops, 'write').filter((o) => marker(o) && o.type === 'ok');
    const newest = Math.max(0, ...markers.map(kit.revisionOf));
    const servedRev = served ? kit.revisionOf(served) : 0;
    return [
      kit.check(
        'writes without quorum fail or time out',
        during.total > 0 && during.ok === 0,
        '0 acknowledged, every write failed or unknown',
        `${during.total} invoked through etcd1 after it was cut off: ${during.ok} ok, ${during.fail} fail, ${during.info} unknown`,
        { windows: kit.availability(ev.ops, ev.faults, 'write') },
      ),
      kit.check(
        'linearizable reads fail or time out without quorum',
        lin.length > 0 && lin.every((o) => o.type !== 'ok'),
        'no answer without a leader',
        lin.map((o) => `${o.type} ${o.error ?? ''}`.trim()).join('; ') || 'no linearizable read',
      ),
      kit.check(
        'a serializable read still answers from the survivor, stale',
        served !== undefined && servedRev > 0 && servedRev < newest,
        `an answer older than revision ${newest} (the acknowledged v2)`,
        served ? `answered ${JSON.stringify(served.value)}` : `no answer: ${ser.map((o) => o.error).join('; ')}`,
      ),
      kit.writesResume(ev.ops, seen.restartAt, 'the restart'),
      ...kit.writesKept(ev),
    ];
  },
});
