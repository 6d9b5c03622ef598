import type { LabContext } from '../../src/engine/lab.ts';
import type { KafkaReader } from './admin.ts';
import { untilLeader } from './leadership.ts';
import { leaderState, logEnd, partText } from './partitions.ts';
import type { StartedKafka } from './stack.ts';

/**
 * Leader elections an operator runs with kafka-leader-election.sh (the ElectLeaders API):
 * preferred (back to the first replica) and unclean (a replica outside the ISR).
 */
type Waits = Pick<LabContext<StartedKafka, unknown>, 'until'>;

/** kafka-leader-election.sh's arguments for one partition (`unclean` or `preferred`). */
export function electionArgs(type: 'unclean' | 'preferred', topic: string, partition: number | string = 0): string[] {
  return ['kafka-leader-election.sh', '--election-type', type, '--topic', topic, '--partition', String(partition)];
}

/** Runs kafka-leader-election.sh on `node`; returns what it said about the election, in a line. */
export async function electLeader(
  k: StartedKafka,
  node: string,
  type: 'unclean' | 'preferred',
  topic: string,
  partition = 0,
): Promise<string> {
  const r = await k.tool(node, ...(electionArgs(type, topic, partition) as [string, ...string[]]));
  return (
    `${r.stdout}\n${r.stderr}`
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /elect/i.test(l))
      .join(' ') || `exit ${r.exitCode}: ${(r.stderr || r.stdout).trim().slice(0, 200)}`
  );
}

/**
 * An operator forcing `want` to lead partition 0 of `topic`: runs kafka-leader-election.sh
 * (`type`) on `node`, and again every 5 s while the partition stays leaderless (the replica
 * may not be registered again yet), until `want` leads or `timeoutMs` passes. Returns the
 * leader then (undefined at the bound), what each run of the tool said, and whether one of
 * them did the election ("Successfully completed leader election").
 */
export async function forceLeader(
  lab: Waits & Pick<LabContext<StartedKafka, unknown>, 'say' | 'stack'>,
  probe: KafkaReader,
  node: string,
  type: 'unclean' | 'preferred',
  topic: string,
  want: string,
  timeoutMs: number,
): Promise<{ leader: string | undefined; outputs: string[]; byTool: boolean }> {
  const outputs: string[] = [];
  let lastTool = 0;
  const run = async () => {
    lastTool = Date.now();
    outputs.push(await electLeader(lab.stack, node, type, topic));
    lab.say(`kafka-leader-election.sh --election-type ${type}: ${outputs.at(-1)}`);
  };
  await run();
  const leader = await lab.until(
    `${want} to lead ${topic}-0`,
    async () => {
      const x = await leaderState(probe, topic);
      if (x.leader === want) return { done: true, value: x.leader };
      if (!x.leader && Date.now() - lastTool > 5000) await run();
      return { done: false, seen: `leader ${x.leader ?? 'none'}` };
    },
    { timeoutMs, intervalMs: 250 },
  );
  return { leader, outputs, byTool: outputs.some((o) => /Successfully completed leader election/i.test(o)) };
}

/**
 * Runs a preferred-leader election of `topic`-`partition` with kafka-leader-election.sh on
 * `node` and waits until `preferred` leads it again; the tool's last line and the leader
 * (as it is when `timeoutMs` passes, if it never came back).
 */
export async function electPreferred(
  lab: Waits & Pick<LabContext<StartedKafka, unknown>, 'stack'>,
  node: string,
  topic: string,
  partition: number,
  preferred: string,
  timeoutMs: number,
): Promise<{ said: string; leader: string | undefined }> {
  const r = await lab.stack.tool(node, ...(electionArgs('preferred', topic, partition) as [string, ...string[]]));
  const said = (r.stdout || r.stderr).trim().split('\n').slice(-1)[0] ?? `exit ${r.exitCode}`;
  const back = await untilLeader(lab, topic, partition, preferred, (l) => l === preferred, timeoutMs, 200);
  return { said, leader: back ?? (await lab.stack.admin.partition(topic, partition)).leader };
}

/** An unclean election as observed: who did it, what the tool said, whether the partition went offline first. */
export interface Election {
  /** What each run of kafka-leader-election.sh printed. */
  outputs: string[];
  /** Who made the replica leader: the tool, or the controller on its own (topic config). */
  electedBy: 'kafka-leader-election.sh' | 'controller';
  /** The partition was seen without a leader after the kill (a clean election had nobody to pick). */
  offlineSeen: boolean;
}

/**
 * After `old`, the leader of partition 0 of `topic`, was killed: waits for the controller
 * to notice (a new leader when the topic allows unclean elections, none when not), then
 * forces `want` to lead with an unclean election run on `node` (see `forceLeader`).
 * Observes `afterKill`, `newLeader`, `election` and `newLeaderLogEnd`; returns the election.
 */
export async function uncleanTakeover(
  lab: Waits & Pick<LabContext<StartedKafka, unknown>, 'observe' | 'say' | 'stack'>,
  probe: KafkaReader,
  e: { node: string; topic: string; old: string; want: string },
  timeoutMs: number,
): Promise<Election> {
  const { node, topic, old, want } = e;
  const killedAt = Date.now();
  const seen = (await lab.until(
    `the controller to notice ${old} is gone`,
    async () => {
      const x = await leaderState(probe, topic);
      return x.leader !== old ? { done: true, value: x } : { done: false, seen: `leader ${x.leader}` };
    },
    { timeoutMs, intervalMs: 250 },
  )) ?? { leader: old, isr: [] };
  const after = `${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`;
  lab.observe(
    'afterKill',
    seen,
    seen.leader === old
      ? `${after} the partition still names ${old} its leader`
      : seen.leader
        ? `${after} the controller has elected ${seen.leader} by itself`
        : `${after} ${topic}-0 has no leader (offline: LEADER_NOT_AVAILABLE)`,
  );
  const { leader, outputs, byTool } = await forceLeader(lab, probe, node, 'unclean', topic, want, timeoutMs);
  const part = await probe.partition(topic, 0).catch(() => undefined);
  lab.observe('newLeader', leader, `new leader: ${leader ?? 'none'}${part ? ` (${partText(part)})` : ''}`);
  const electedBy = byTool ? 'kafka-leader-election.sh' : 'controller';
  const result: Election = { outputs, electedBy, offlineSeen: !seen.leader };
  lab.observe('election', result, `elected by ${electedBy}`);
  const end = await logEnd(probe, topic);
  if (end !== undefined) lab.observe('newLeaderLogEnd', end, `${want}'s log ends at offset ${end}`);
  return result;
}

/**
 * What `uncleanTakeover` does, for narration: how `want` comes to lead after `old` died,
 * by the topic config (`config`) or forced by an operator (`tool`); `via` is asked meanwhile.
 */
export function uncleanElectionText(election: string, e: { old: string; want: string; via: string }): string {
  return (
    `A clean election picks only from the ISR (${e.old}) and leaves the partition offline. ` +
    (election === 'config'
      ? `With unclean.leader.election.enable=true the controller elects ${e.want} by itself once it notices ` +
        `${e.old} is gone (seen 4.8..8.7 s via ${e.via}); the tool run after it answers that a valid leader ` +
        'is already elected. (KRaft honours the topic config only since 3.9, and a partition already leaderless ' +
        'when it is turned on waits for unclean.leader.election.interval.ms, 5 minutes by default.)'
      : 'Once the controller has left it leaderless, the operator forces the election with ' +
        'kafka-leader-election.sh --election-type unclean (the ElectLeaders API), in both modes.')
  );
}
