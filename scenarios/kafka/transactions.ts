import * as kit from './kit.ts';

const [INPUT, OUTPUT, TXN_ID, GROUP] = ['orders', 'orders-copied', 'copier', 'copier-group'];
const [NODE, OTHER] = ['kafka1', 'kafka2']; // the copier runs in NODE, the tools that look at it in OTHER

interface Seen {
  /** The copier stopped (SIGSTOP) then killed: how many tries it took, the offsets and the transaction then. */
  crash: kit.StableOffsets & { tries: number; view: kit.TransactionView; committed: number; copied: number };
  /** The second copier (same transactional.id): its exit code, where it started and what it copied. */
  restart: kit.CopierRun;
  after: kit.TransactionView;
  markers: { commit: number; abort: number };
  reads: { committed: number; uncommitted: number };
}

const ROLES = { transactionalId: TXN_ID, group: GROUP, input: INPUT, output: OUTPUT };
const copier = (p: { transactionSize: number | string }) => ({ ...ROLES, transactionSize: p.transactionSize });
const READ_COMMITTED = ['--topic', OUTPUT, '--from-beginning', '--isolation-level', 'read_committed'];
const copyCmd = `docker exec {@${NODE}} ${kit.copierArgs(NODE, copier({ transactionSize: '{transactionSize}' })).join(' ')}`;
const describeCmd = kit.kafkaTool(OTHER, 'kafka-transactions.sh', 'describe', '--transactional-id', TXN_ID);

export default kit.defineLab({
  id: 'kafka/transactions',
  title: 'A transactional copier is killed mid-transaction: read_committed readers never see the aborted records',
  teaches:
    'a consume-transform-produce loop that writes its output and commits its consumed offsets in one transaction ' +
    'copies each input exactly once across a crash: the restarted instance (same transactional.id) fences the dead ' +
    'one, whose open transaction is aborted; read_committed consumers skip the aborted records, read_uncommitted read them',
  notes:
    'Notes, Kafka chapter, seed lines 1613-1628 (重复消费) list three remedies; the last, "使用事务" (line 1628), is shown ' +
    "working here. Left out: a transaction covers writes to Kafka only (the output and the group's offsets, " +
    'sendOffsetsToTransaction), not side effects elsewhere, and only read_committed consumers honour it; the ' +
    'consumer default, read_uncommitted, reads aborted records (Kafka docs, isolation.level). The client is ' +
    "Kafka's exactly-once test client (kafka-transactional-message-copier.sh, as its system tests run it) in " +
    "--group-mode: assigned a partition, it reads its position before initTransactions, and the dead instance's " +
    'pending offsets (KIP-447: OffsetFetch waits for stable offsets) block that until the transaction times out ' +
    '(transaction.timeout.ms, 60 s, as long as the read waits: exit 1, seen here). Kafka 4.4 ' +
    '(transaction.version=2, KIP-890) bumps the producer epoch at every commit: 15 after 15 commits; 3.9 keeps 0 ' +
    'until the fencing. ' +
    kit.OUTDATED,
  random: 'how long the copier runs between two freezes',
  variants: kit.bothModes(),
  params: {
    mode: kit.modeParam,
    messages: kit.intParam(2000, 'input records to copy', 100, 100_000),
    transactionSize: kit.intParam(20, 'records per transaction (the copier polls at most this many)', 2, 1000),
    tries: kit.intParam(100, 'times the copier is stopped to find it inside a transaction that holds records', 1, 200),
  },
  stack: kit.kafka,
  topology: (p) => ({ mode: p.mode }),
  steps: {
    topics: {
      title: `Topics "${INPUT}" and "${OUTPUT}": one partition each, on all three brokers`,
      narration: 'One partition each: the copier reads input partition 0 and writes output partition 0, in order.',
    },
    produce: {
      title: `{messages} records into "${INPUT}"`,
      narration: 'With acks=all, each acknowledged before the copier starts.',
    },
    copy: {
      title: `The copier (transactional.id "${TXN_ID}") copies "${INPUT}" to "${OUTPUT}", {transactionSize} per transaction`,
      narration:
        'Each poll is one transaction: begin, send each record to the output, sendOffsetsToTransaction (the ' +
        `positions reached, for group "${GROUP}"), commit. Its consumer reads with read_committed and auto-commit off.`,
      commands: [copyCmd],
    },
    crash: {
      title: 'Kill the copier inside an open transaction (tries: {tries})',
      narration:
        'A kill at a random moment may fall between two transactions, so the copier is first frozen (SIGSTOP) and ' +
        'the output asked for its high watermark (read_uncommitted reads to it) and last stable offset ' +
        '(read_committed: the first offset of the oldest open transaction). If they differ after 300 ms and ' +
        'kafka-transactions.sh describe says Ongoing, SIGKILL; else it runs 20-220 ms (random) and is frozen again ' +
        '(a fixed time froze it at the same point each time: caught 0 of 100 once, ZooKeeper mode). Its records ' +
        'reach the log late: the output partition joins the transaction 100-200 ms after they were sent.',
      commands: [describeCmd, kit.kafkaTool(OTHER, 'kafka-transactions.sh', 'list')],
    },
    restart: {
      title: 'A new copier with the same transactional.id finishes the job',
      narration:
        'Its InitProducerId makes the coordinator bump the producer epoch (a zombie that woke up would get ' +
        'ProducerFencedException) and abort the open transaction: ABORT markers go to the output and offsets ' +
        "partitions. It resumes from the group's committed offset, copies the rest and exits. Without a restart " +
        "the coordinator would abort it after transaction.timeout.ms (60 s, the copier's setting and the Java " +
        'default).',
      commands: [describeCmd],
    },
    reads: {
      title: `Read "${OUTPUT}" from the beginning at both isolation levels`,
      narration:
        'kafka-console-consumer.sh --isolation-level read_committed, then read_uncommitted; and kafka-dump-log.sh ' +
        'on the output log, which shows each transaction marker (endTxnMarker: COMMIT or ABORT).',
      commands: [
        kit.kafkaTool(OTHER, 'kafka-console-consumer.sh', ...READ_COMMITTED),
        `docker exec {@${OTHER}} kafka-dump-log.sh --files /var/lib/kafka/data/${OUTPUT}-0/00000000000000000000.log --print-data-log`,
      ],
    },
  },
  async mechanism(lab) {
    kit.observeMode(lab);
    return lab.step('topics', () => kit.createdHealthy(lab, 'topics', { [INPUT]: 1, [OUTPUT]: 1 }));
  },
  async run(lab) {
    const [k, p] = [lab.stack, lab.params];
    const opts = { name: 'input', acks: 'all', route: () => ({ partition: 0 }) } as const;
    await lab.step('produce', () => kit.produce(k.bootstrap, lab.history, INPUT, p.messages, opts));
    const leader = (await k.admin.partition(OUTPUT, 0)).leader ?? OTHER;
    const first = await lab.step('copy', async () => {
      const tool = await kit.startCopier(k, NODE, copier(p), 'copier-1');
      const stable = async () => (await kit.stableOffsets(k, leader, OUTPUT)).lastStable;
      await kit.untilCount(lab, 'the copier committed two transactions', stable, 2 * p.transactionSize, 60_000);
      return tool;
    });
    await lab.step('crash', async () => {
      await first.signal('STOP');
      for (let tries = 1; tries <= p.tries; tries++) {
        if (tries > 1) await first.runFor(20 + lab.random.int(200));
        await kit.sleep(300);
        const o = await kit.stableOffsets(k, leader, OUTPUT);
        const view = o.highWatermark > o.lastStable ? await kit.describeTransaction(k, OTHER, TXN_ID) : undefined;
        const crash = { ...o, tries, view: view ?? { partitions: [], text: 'not asked' }, committed: 0, copied: 0 };
        if (caught(crash) || tries === p.tries) {
          crash.committed = (await k.admin.committed(GROUP, INPUT))[0] ?? 0;
          crash.copied = first.events<kit.CopierEvent>().at(-1)?.totalProcessed ?? 0;
          await first.signal('KILL');
          lab.observe('crash', crash, crashText(crash));
          return;
        }
      }
    });
    await lab.step('restart', async () => {
      const r = await kit.runCopier(k, NODE, copier(p), 180);
      lab.observe('restart', r, `exit ${r.exitCode}: ${r.remainingAtStart} left once assigned, ${r.processed} copied`);
      const after = await kit.describeTransaction(k, OTHER, TXN_ID);
      lab.observe('after', after, `now ${after.state}, producer id ${after.producerId} epoch ${after.producerEpoch}`);
    });
  },
  async final(lab) {
    const k = lab.stack;
    await lab.step('reads', async () => {
      const leader = (await k.admin.partition(OUTPUT, 0)).leader ?? OTHER;
      const m = lab.observe('markers', await kit.markers(k, leader, OUTPUT));
      lab.say(`${OUTPUT} log on ${leader}: ${m.commit} COMMIT and ${m.abort} ABORT markers`);
      const reads = { committed: 0, uncommitted: 0 };
      for (const level of ['committed', 'uncommitted'] as const) {
        const h = lab.history.invoke('reader', `read-${level}`, { topic: OUTPUT });
        const ids = await kit.readIsolated(k, OTHER, OUTPUT, `read_${level}`);
        h.ok({ topic: OUTPUT, ids });
        reads[level] = ids.length;
      }
      lab.observe('reads', reads, `read_committed: ${reads.committed} records, read_uncommitted: ${reads.uncommitted}`);
    });
  },
  check(ev, p) {
    const { crash, restart, after, markers: m, reads } = kit.observed<Seen>(ev);
    if (!crash || !caught(crash))
      return kit.cannotTell(
        'the copier was killed inside an open transaction holding records',
        'Ongoing, high watermark above the last stable offset',
        crash ? crashText(crash) : 'never killed',
      );
    if (!restart || !reads || !m) return kit.cannotTell('the restart and the reads ran', 'both', 'missing');
    const open = crash.highWatermark - crash.lastStable;
    const committed = kit.delivery(ev.ops, { receive: 'read-committed' });
    const uncommitted = kit.delivery(ev.ops, { receive: 'read-uncommitted' });
    const dupes = Object.values(uncommitted.duplicated).reduce((a, n) => a + n - 1, 0);
    const left = p.messages - crash.committed;
    return [
      kit.check(
        `the restarted copier resumed at the committed offset ${crash.committed} and copied the rest`,
        restart.exitCode === 0 && [restart.remainingAtStart, restart.processed].every((n) => n === left),
        `exit 0, ${left} left at its start, ${left} copied`,
        `exit ${restart.exitCode}, ${restart.remainingAtStart} left at its start, ${restart.processed} copied` +
          (restart.exitCode ? ` (${restart.stderr})` : ''),
      ),
      kit.check(
        'the open transaction was aborted: one ABORT marker in the output log',
        m.abort === 1,
        '1 ABORT marker',
        `${m.abort} ABORT, ${m.commit} COMMIT markers; transaction now ${after?.state ?? '?'}`,
      ),
      kit.check(
        'read_committed: every input record exactly once',
        committed.lost.length === 0 && Object.keys(committed.duplicated).length === 0 && reads.committed === p.messages,
        `${p.messages} records, none missing, none twice`,
        `${reads.committed} records, ${committed.lost.length} missing, ${Object.keys(committed.duplicated).length} twice`,
      ),
      kit.check(
        `read_uncommitted: also the ${open} records of the aborted transaction`,
        open > 0 && reads.uncommitted === p.messages + open && dupes === open,
        `${p.messages + open} records, ${open} of them twice`,
        `${reads.uncommitted} records, ${dupes} twice`,
      ),
    ];
  },
});

/** Records of an open transaction in the log, the coordinator saying Ongoing: a kill now leaves them undecided. */
function caught(c: Seen['crash']): boolean {
  return c.view.state === 'Ongoing' && c.highWatermark > c.lastStable;
}

function crashText(c: Seen['crash']): string {
  return (
    `after ${c.tries} stop(s): high watermark ${c.highWatermark}, last stable offset ${c.lastStable}, transaction ` +
    `${c.view.state ?? 'not asked'} on ${c.view.partitions.join(',') || 'no partition'} (producer epoch ` +
    `${c.view.producerEpoch ?? '?'}); ${c.copied} copied, group offset ${c.committed}`
  );
}
