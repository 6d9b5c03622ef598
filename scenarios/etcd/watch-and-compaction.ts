import * as kit from './kit.ts';

const KEY = '/midlab/config';
const VERSIONS = 5;

interface Seen {
  /** The revisions the five puts created, in order. */
  revisions: number[];
  /** What a watch resumed from the second revision delivered before the compaction. */
  replayed: kit.WatchEvent[];
  compactedTo: number;
  /** The same resume after the compaction: the error it ended with ("" if none). */
  resumeAfter: string;
}

/** A read of the key at a revision, recorded as `read-at` with that revision. */
type AtRead = { at: number; value?: string };
const describeRead = (o: kit.Op) =>
  `${(o.value as AtRead | undefined)?.at ?? '?'}: ${o.type} ${o.error ?? (o.value as AtRead).value}`;

export default kit.defineLab({
  id: 'etcd/watch-and-compaction',
  title: 'Watches resume from a revision, until compaction removes it',
  teaches:
    'every put is a new revision and old ones stay readable; a watch resumed from an old revision replays what it missed; after a compaction past it, the resume fails with "required revision has been compacted"',
  notes:
    'Notes: MVCC, "每个变更都会生成一个新的 revision, API Server 使用这个 revision 来进行增量监听" (seed 001, line ' +
    '39687); the watch walk-through (6822-6850); the etcd.service flags --auto-compaction-mode=periodic ' +
    '--auto-compaction-retention=1 (6630-6631), which keep one hour of history. What the notes leave out: a ' +
    'watcher that falls behind further than that cannot resume; the server cancels its watch and it must read ' +
    'everything again (Kubernetes answers such a client "410 Gone: too old resource version").',
  params: {},
  stack: kit.etcd,
  topology: () => ({ members: 3 }),
  steps: {
    history: {
      title: `Put ${KEY} ${VERSIONS} times; read an old revision`,
      narration:
        'Each put creates a new revision of the whole keyspace; the old value is kept, not overwritten: ' +
        '`get --rev=R` reads the key as it was at revision R.',
      commands: [kit.etcdctl('etcd2', `get ${KEY} --write-out=json`)],
    },
    resume: {
      title: 'Resume a watch from revision {from}',
      narration:
        'A client that saw revision {seen} and then lost its connection reopens its watch with --rev={from}: ' +
        'etcd replays every change since, in order, with their revisions. This is how a Kubernetes informer ' +
        'survives a dropped connection without missing an event.',
      commands: [kit.etcdctl('etcd2', `watch ${KEY} --rev={from}`)],
    },
    compact: {
      title: 'Compact to revision {to}',
      narration:
        '`etcdctl compact {to}` drops every version older than revision {to} (the latest version of each key ' +
        'stays). Production does this on a timer (--auto-compaction-*, notes 6630-6631); the lab does it by hand.',
      commands: [kit.etcdctl('etcd1', 'compact {to}')],
    },
    'resume-again': {
      title: 'Resume the same watch from revision {from} again',
      narration:
        'The revisions it needs are gone: the server cancels the watch ("required revision has been compacted"), ' +
        'and `get --rev={from}` fails the same way; revision {to} and later are still readable.',
      commands: [kit.etcdctl('etcd2', `watch ${KEY} --rev={from}`), kit.etcdctl('etcd2', `get ${KEY} --rev={from}`)],
    },
  },
  mechanism: (lab) => kit.proveCluster(lab),
  async run(lab) {
    const e = lab.stack;
    const readAt = async (at: number) => {
      const get = async (): Promise<AtRead> => ({ at, ...(await e.client('etcd2').read(KEY, { revision: at })) });
      const r = await kit.recorded(lab.history, 'reader', 'read-at', 'etcd2', get, { at });
      lab.say(`get --rev=${at}: ${r.ok ? r.result.value : r.op.error}`);
    };
    const revisions: number[] = [];
    await lab.step('history', async () => {
      for (let v = 1; v <= VERSIONS; v++) {
        const r = await kit.recordedPut(lab.history, e.client('etcd1'), 'writer', KEY, `v${v}`, `v${v}`);
        if (r.revision) revisions.push(r.revision);
      }
      lab.observe('revisions', revisions, `revisions ${revisions.join(', ')}`);
      await readAt(revisions[1] ?? 0);
    });
    const [seenRev, from] = revisions as [number, number];
    const to = revisions[3] ?? from + 2;
    const step = (key: Parameters<typeof lab.step>[0], fn: () => Promise<void>) =>
      lab.step(key, fn, { vars: { seen: seenRev, from, to } });
    await step('resume', async () => {
      const events = await e.client('etcd2').watch(KEY, from, 1500);
      lab.observe('replayed', events, events.map((ev) => `${ev.type} ${ev.value} @${ev.modRevision}`).join(', '));
    });
    await step('compact', async () => {
      await e.client('etcd1').compact(to);
      lab.observe('compactedTo', to, `compacted revision ${to}`);
    });
    const resumeAgain = async () => {
      const error = await e
        .client('etcd2')
        .watch(KEY, from, 1500)
        .then((evs) => `no error: ${evs.length} events`)
        .catch((err: Error) => (err instanceof kit.EtcdError ? err.message : `${err.name}: ${err.message}`));
      lab.observe('resumeAfter', error, `watch --rev=${from}: ${error}`);
      for (const at of [from, to]) await readAt(at);
    };
    await step('resume-again', resumeAgain);
  },
  predictions: [
    {
      before: 'resume-again',
      question: 'After the compaction, the client resumes its watch from the same old revision. What happens?',
      choices: ['it replays the same events', 'it gets only the newest value', 'the server cancels it: compacted'],
      answer: (ev) => {
        const r = String(kit.observed<Seen>(ev).resumeAfter ?? '');
        return /compacted/.test(r) ? 2 : r ? 0 : undefined;
      },
    },
  ],
  check(ev) {
    const seen = kit.observed<Seen>(ev);
    const revs = seen.revisions ?? [];
    const puts = kit.completions(ev.ops, 'write').filter((o) => o.type === 'ok');
    const from = revs[1] ?? -1;
    const reads = kit.completions(ev.ops, 'read-at');
    const before = reads.find((o) => o.type === 'ok' && (o.value as AtRead).at === from);
    const compacted = seen.compactedTo ?? Number.POSITIVE_INFINITY;
    const afterCompaction = reads.filter((o) => o.time > (before?.time ?? 0));
    const oldAfter = afterCompaction.find((o) => (o.value as AtRead | undefined)?.at === from);
    const kept = afterCompaction.find((o) => o.type === 'ok' && (o.value as AtRead).at === compacted);
    const replayed = (seen.replayed ?? []).map((w) => `${w.value}@${w.modRevision}`);
    const missed = puts.slice(1).map((o) => `${(o.value as { id: string }).id}@${kit.revisionOf(o)}`);
    return [
      kit.check(
        'an old revision is readable before compaction',
        revs.length === VERSIONS && (before?.value as AtRead | undefined)?.value === 'v2',
        `get --rev=${from} returns v2`,
        before ? `returned ${(before.value as AtRead).value}` : `no answer for revision ${from}`,
      ),
      kit.check(
        'a watch resumed from an old revision replays what it missed',
        missed.length === VERSIONS - 1 && replayed.join(',') === missed.join(','),
        missed.join(', '),
        replayed.join(', ') || 'nothing',
      ),
      kit.check(
        'after compaction past it, the resume fails: revision compacted',
        seen.compactedTo !== undefined &&
          seen.compactedTo > from &&
          /required revision has been compacted/.test(String(seen.resumeAfter)),
        `watch --rev=${from} canceled: "required revision has been compacted"`,
        String(seen.resumeAfter ?? 'the resume was not tried'),
      ),
      kit.check(
        'compaction removes history before its revision, keeps it from there on',
        oldAfter?.type === 'fail' && /compacted/.test(oldAfter.error ?? '') && (kept?.value as AtRead)?.value === 'v4',
        `get --rev=${from} fails (compacted); get --rev=${seen.compactedTo ?? '?'} returns v4`,
        afterCompaction.map(describeRead).join('; ') || 'no read after compaction',
      ),
    ];
  },
});
