import * as kit from './kit.ts';

const CUT = 'minio3';
const MAJORITY = ['minio1', 'minio2'];
/** How long a put through the majority may take after the cut: the bound the lab prints and checks. */
const MAJORITY_BOUND_MS = 45_000;
/** How long the lab waits for an answer through the cut-off node (the client's usual time-out). */
const MINORITY_WAIT_MS = 10_000;
/** What the majority side is asked to write: the sizes MinIO inlines in xl.meta (see the cut step). */
const INLINE = ['1k', '256k'];
/** How long after the heal the lab waits for MinIO's answers to the puts whose clients gave up. */
const LATE_WAIT_MS = 60_000;

interface Seen {
  /** MinIO's answers, after the clients had given up, to the puts through the cut-off node. */
  lateAnswers: kit.LateAnswer[];
}

const outcome = (ops: kit.Op[]) => {
  const ok = ops.filter((o) => o.type === 'ok').length;
  const errors = [...new Set(ops.filter((o) => o.type !== 'ok').map((o) => `${o.type}: ${o.error}`))];
  return `${ok}/${ops.length} ok${errors.length ? ` (${errors.join(', ')})` : ''}`;
};

/** The slowest answer (ms) through one side, whose processes are `<side>:<size or id>`. */
function slowest(ev: kit.Evidence, side: string): number {
  const ops = ev.ops.filter((o) => o.process.startsWith(`${side}:`));
  return kit.latency(ops, undefined, 'any').max;
}

/** Each put through the cut-off node that timed out: whether MinIO's late answer and a GET after it agree. */
function abandonedPuts(ev: kit.Evidence) {
  const heal = ev.faults.find((f) => f.kind === 'partition')?.end ?? Number.POSITIVE_INFINITY;
  const late = kit.observed<Seen>(ev).lateAnswers ?? [];
  return kit
    .opsOf(ev, 'minority', 'put')
    .filter((o) => o.type === 'info')
    .map((o) => {
      const { id, sha256 } = o.value as { id: string; sha256: string };
      const a = late.find((x) => x.id === id);
      const got = kit.opsOf(ev, 'unacked', 'get').find((g) => (g.value as { id: string }).id === id);
      const now =
        got?.type !== 'ok' ? got?.error : (got.value as { sha256?: string }).sha256 === sha256 ? 'whole' : 'altered';
      const agrees = a !== undefined && a.time > heal && now === (a.ok ? 'whole' : 'NoSuchKey');
      return { agrees, text: `${id}: ${a ? (a.ok ? 'ok' : a.code) : 'no answer'}, then ${now ?? 'not read'}` };
    });
}

export default kit.defineLab({
  id: 'minio/partition',
  title: 'One node cut off from the others, not from its clients',
  teaches:
    'a node cut off from its peers acknowledges no write and returns no read (it reaches neither a quorum of drives ' +
    'nor of lock servers, so its requests hang rather than fail), while the majority side keeps serving, slowly, as ' +
    'its calls to the lost drives time out; after the heal nothing acknowledged is lost, and the puts whose ' +
    'clients timed out on the cut-off node finish, most applied, some refused, each whole: a time-out is an unknown outcome',
  notes:
    'Notes (seed file, MinIO chapter): line 2810 "只要保证正常磁盘数大于等n/2+1时,就可以支持写入新数据" and line 3074 ' +
    '("不过你需要至少有N/2+1个硬盘来创建新的对象"): the write quorum, stated for lost drives. A partition is the case ' +
    'it is for: both sides run and take requests, and the quorum is what keeps them from both writing. MinIO ' +
    "documents it per erasure set: reads need the data shards' drives, writes as many (one more when data = parity) " +
    '(MinIO docs, Erasure Coding; cmd/erasure-metadata.go objectQuorumFromMeta). With 12 drives at EC:4 the majority side holds 8 drives, ' +
    'both quorums; the cut-off node holds 4, neither. No node dies here: iptables inside the node drops its ' +
    "peers' packets, so each side notices only by time-outs, as with a killed machine (minio/notes-topology --param " +
    'fault=kill). Not in the notes: the cut-off node does not refuse. A put writes its shards first (in memory when ' +
    'inlined), then commits under a namespace lock from a majority of the lock servers (dsync, one per node; ' +
    'cmd/erasure-object.go putObject); minio3 reaches only its own, and retries for up to globalOperationTimeout ' +
    '(10 min, cmd/globals.go), so its clients see time-outs, whose outcome they cannot know.',
  params: {},
  stack: kit.minio,
  topology: () => ({ nodes: 3, drives: 4 }),
  steps: {
    upload: {
      title: 'Upload objects and read them back through every node',
      narration:
        `A 1 KiB, a 256 KiB and a 2 MiB object through ${kit.VIA}, each read back through every node. One erasure set ` +
        'of 12 drives at EC:{ec}: reads need {readQuorum} drives, writes {writeQuorum}.',
    },
    cut: {
      title: `Cut ${CUT} off from ${MAJORITY.join(' and ')}`,
      narration:
        `iptables inside ${CUT} drops every packet to and from ${MAJORITY.join(' and ')}; this machine still reaches ` +
        `every node, so a client can talk to ${CUT}. ${CUT} sees its own 4 drives, the majority 8. Through ${CUT}: ` +
        `{minority}; through ${kit.VIA}: {majority}. Nobody is told: a request on the majority side waits until its calls ` +
        `to ${CUT}'s drives time out and mark them offline (the lab allows ${MAJORITY_BOUND_MS / 1000} s, the bound ` +
        `it checks; MINIO_DRIVE_MAX_TIMEOUT is 30 s by default). At once, the lab puts and gets through both sides; ` +
        `it gives ${CUT} ${MINORITY_WAIT_MS / 1000} s per request, a usual client time-out. Through ${kit.VIA} it puts ` +
        'only the objects MinIO inlines in xl.meta (1 KiB, 256 KiB): a 2 MiB one streams its shards to every drive ' +
        `over HTTP, and on connections to ${CUT} that were open before the cut nothing fails, packets just vanish; ` +
        'such a put hung for more than 45 s in the runs here.',
      commands: [
        kit.mcCommand(CUT, 'admin info local'),
        kit.mcCommand(kit.VIA, 'admin info local'),
        kit.mcCommand(CUT, 'ready --cluster-read local'),
        `docker exec {@${CUT}} iptables -S MIDLAB`,
      ],
    },
    heal: {
      title: 'Heal the cut',
      narration:
        `The rules go; the nodes reconnect. Objects written during the cut miss ${CUT}'s shards until MinIO heals ` +
        `them (on access, and in the background). ${CUT}'s puts were never cancelled, only abandoned by their ` +
        'clients: with the peers back each finishes within seconds, most committed, some refused whole (HTTP 503: ' +
        '4 of 75 in 25 runs here, three of them the 2 MiB put, whose shard streams the cut broke). The lab waits ' +
        `up to ${LATE_WAIT_MS / 1000} s for these answers no client hears and until every node lists every drive ` +
        `online, then reads every acknowledged object through ${CUT} and each abandoned one through ${kit.VIA}: it ` +
        'must be what MinIO answered. Read too soon, a put that lands a moment later reads NoSuchKey: a time-out is ' +
        'an unknown outcome, neither a failure nor a success.',
      commands: [kit.mcCommand(CUT, 'admin info local'), kit.mcCommand(CUT, 'ls local/midlab')],
    },
  },
  async mechanism(lab) {
    const problems = await kit.proveErasure(lab);
    const v = kit.erasureOf(lab);
    const minority = kit.availabilityWithNodesDown(v.sets, v.parity, MAJORITY);
    const majority = kit.availabilityWithNodesDown(v.sets, v.parity, [CUT]);
    if (minority.read || minority.write || !majority.read || !majority.write)
      problems.push(`EC:${v.parity} on ${v.setDrives} drives: the two sides do not split the quorum`);
    return problems;
  },
  async run(lab) {
    const v = kit.erasureOf(lab);
    const w = new kit.ObjectWorkload(lab.history, lab.stack);
    const minority = new kit.ObjectWorkload(lab.history, lab.stack, MINORITY_WAIT_MS);
    await kit.uploadStep(lab);
    const cut = async () => {
      await lab.faults.partition(CUT, MAJORITY);
      const majority = new kit.ObjectWorkload(lab.history, lab.stack, MAJORITY_BOUND_MS);
      await Promise.all([
        minority.putEach(CUT, 'minority', 'minority').then(() => minority.getAll(CUT, 'minority')),
        majority.putEach(kit.VIA, 'majority', 'majority', INLINE).then(() => majority.getAll(kit.VIA, 'majority')),
      ]);
      const ev = lab.history.evidence();
      for (const side of ['minority', 'majority']) {
        const ops = [...kit.opsOf(ev, side, 'put'), ...kit.opsOf(ev, side, 'get')];
        lab.say(`${side}: ${outcome(ops)}, the slowest answered after ${slowest(ev, side)} ms`);
      }
    };
    const [cutSide, bigSide] = [MAJORITY, [CUT]].map((down) => {
      const a = kit.availabilityWithNodesDown(v.sets, v.parity, down);
      return `quorum for reads: ${a.read ? 'yes' : 'no'}, for writes: ${a.write ? 'yes' : 'no'}`;
    });
    await lab.step('cut', cut, { vars: { minority: cutSide as string, majority: bigSide as string } });
    const heal = async () => {
      await lab.faults.heal(CUT);
      const healed = lab.history.now();
      const [late] = await Promise.all([minority.lateAnswers(LATE_WAIT_MS), lab.stack.waitHealthy(90_000)]);
      lab.observe('lateAnswers', late);
      for (const a of late)
        lab.say(
          `${a.id}: ${CUT} answered the abandoned put ${((a.time - healed) / 1000).toFixed(1)} s after the heal: ${a.ok ? 'ok' : a.code}`,
        );
      lab.observe('afterHeal', await lab.stack.drives(kit.VIA));
      const got = await w.getAll(CUT, 'healed');
      lab.say(`${got} of ${w.acked().length} acknowledged objects read through ${CUT}`);
      const sent = kit.opsOf(lab.history.evidence(), 'minority', 'put').map((o) => (o.value as { id: string }).id);
      const c = lab.stack.client(kit.VIA);
      for (const id of sent) await c.get(lab.history, `unacked:${id}`, kit.VIA, kit.BUCKET, id);
    };
    await lab.step('heal', heal);
  },
  final: (lab) => kit.finalRead(lab, kit.VIA),
  check(ev) {
    const side = (p: string, f: string) => kit.opsOf(ev, p, f);
    const served = (ops: kit.Op[]) => ops.length > 0 && ops.every((o) => o.type === 'ok');
    const none = (ops: kit.Op[]) => ops.length > 0 && ops.every((o) => o.type !== 'ok');
    const majority = [...side('majority', 'put'), ...side('majority', 'get')];
    const abandoned = abandonedPuts(ev);
    const healed = side('healed', 'get');
    const acked = kit.ackedIn(ev);
    return [
      kit.check(
        `no write through ${CUT} is acknowledged: 4 drives are no write quorum`,
        none(side('minority', 'put')),
        'every put refused or unanswered',
        outcome(side('minority', 'put')),
      ),
      kit.check(
        `no read through ${CUT} returns an object: 4 drives are no read quorum`,
        none(side('minority', 'get')),
        'every get refused or unanswered',
        outcome(side('minority', 'get')),
      ),
      kit.check(
        `the majority side (${kit.VIA}) serves every inline write and every read, each within ${MAJORITY_BOUND_MS / 1000} s`,
        served(majority),
        'every put and get through it ok (a slower one times out)',
        `${outcome(majority)}; the slowest after ${slowest(ev, 'majority')} ms`,
      ),
      kit.check(
        `each put whose client timed out through ${CUT} is answered only after the heal, and is what the answer says`,
        abandoned.length > 0 && abandoned.every((a) => a.agrees),
        `after an ok a GET through ${kit.VIA} returns the bytes sent, after a refusal NoSuchKey`,
        abandoned.map((a) => a.text).join('; ') || 'no put timed out',
      ),
      kit.check(
        `after the heal ${CUT} serves every acknowledged object`,
        acked.length > 0 && healed.length === acked.length && served(healed),
        `all ${acked.length} acknowledged objects read through ${CUT}`,
        outcome(healed),
      ),
      kit.checksumCheck({ ...ev, ops: ev.ops.filter((o) => !o.process.startsWith('unacked:')) }),
      kit.allDrivesCheck(ev, 'afterHeal', 12),
      kit.finalReadCheck(ev),
    ];
  },
});
