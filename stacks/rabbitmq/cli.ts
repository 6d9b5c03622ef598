import { MidlabError } from '../../src/errors.ts';

/**
 * Readers of what RabbitMQ's command-line tools and logs print. Pure functions, unit-tested.
 */

/** A command-line tool in a node failed, or printed what these readers cannot read. */
export class CliError extends MidlabError {
  constructor(message: string) {
    super('RABBITMQ_CLI', message, { hint: 'run the command in the node (docker exec) to see its whole output' });
    this.name = 'CliError';
  }
}

/** `rabbitmqctl cluster_status --formatter json`, the parts labs use. */
export interface ClusterStatus {
  clusterName: string;
  runningNodes: string[];
  diskNodes: string[];
  /** RAM nodes: deprecated, removed in RabbitMQ 4.3. */
  ramNodes: string[];
  partitions: Record<string, string[]>;
  alarms: unknown[];
  versions: Record<string, string>;
}

/** "running: a, b; disc: a, b; ram: none" */
export function describeStatus(s: ClusterStatus): string {
  const ram = s.ramNodes.join(', ') || 'none';
  return `running: ${s.runningNodes.join(', ')}; disc: ${s.diskNodes.join(', ')}; ram: ${ram}`;
}

export function parseClusterStatus(text: string): ClusterStatus {
  // The CLI may print a line before the JSON ("Cluster status of node ..." without --quiet).
  const start = text.indexOf('{');
  if (start < 0) throw new CliError(`cluster_status: no JSON in ${JSON.stringify(text.slice(0, 200))}`);
  const j = JSON.parse(text.slice(start)) as Record<string, unknown>;
  const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
  const versions: Record<string, string> = {};
  for (const [node, v] of Object.entries((j.versions ?? {}) as Record<string, { rabbitmq_version?: string }>)) {
    versions[node] = String(v?.rabbitmq_version ?? '?');
  }
  const partitions = Array.isArray(j.partitions) ? {} : ((j.partitions ?? {}) as Record<string, string[]>);
  return {
    clusterName: String(j.cluster_name ?? ''),
    runningNodes: list(j.running_nodes).sort(),
    diskNodes: list(j.disk_nodes).sort(),
    ramNodes: list(j.ram_nodes).sort(),
    partitions,
    alarms: Array.isArray(j.alarms) ? j.alarms : [],
    versions,
  };
}

/** What `rabbitmqctl eval` printed for {application:get_env(rabbit, cluster_partition_handling), net_kernel:get_net_ticktime()}. */
export function parsePartitionSettings(text: string): { handling: string; netTicktime: number } {
  const m = /\{\{ok,'?(\w+)'?\},(\d+)\}/.exec(text);
  if (!m) throw new CliError(`partition settings: cannot read ${JSON.stringify(text.slice(0, 200))}`);
  return { handling: m[1] as string, netTicktime: Number(m[2]) };
}

export type JoinFailureCause = 'cookie' | 'unreachable' | 'not running' | 'other';

/**
 * Why `rabbitmqctl join_cluster` failed, in plain words, from its output. A cookie
 * mismatch shows as "TCP connection succeeded but Erlang distribution failed" with the
 * suggestion to check the cookie: the TCP connection worked, the handshake did not.
 */
export function explainJoinFailure(output: string): { cause: JoinFailureCause; plain: string } {
  if (/Erlang distribution failed/i.test(output) || /erlang cookie/i.test(output)) {
    return {
      cause: 'cookie',
      plain:
        'the TCP connection to the cluster node worked, but the Erlang distribution handshake failed: ' +
        'the two nodes do not share the same Erlang cookie, so the cluster refused to talk to this node',
    };
  }
  if (/nxdomain|unable to connect to epmd|could not resolve|TCP connection failed/i.test(output)) {
    return { cause: 'unreachable', plain: 'the cluster node could not be reached (name resolution or network)' };
  }
  if (/target node is not running|nodedown/i.test(output)) {
    return { cause: 'not running', plain: 'the cluster node is not running' };
  }
  return { cause: 'other', plain: output.trim().split('\n')[0] ?? 'unknown error' };
}

/** Log lines where a node refused a distribution connection (a cookie mismatch). */
export function rejectedConnections(log: string): string[] {
  return log
    .split('\n')
    .filter((l) => /Connection attempt from (?:disallowed )?node .* rejected/i.test(l))
    .map((l) => stripLogPrefix(l).replace(/^\*+\s*|\s*\*+$/g, ''));
}

/**
 * Log lines, as written (with their timestamps), of a queue being taken over: a mirror
 * promoted to master of a classic mirrored queue (`node`), or a quorum queue's member
 * becoming its leader ("candidate -> leader in term: N").
 */
export function takeoverLines(log: string, queue: string, role: 'node' | 'leader'): string[] {
  const said = role === 'node' ? /Promoting (mirror|slave)/i : /candidate -> leader in term/;
  return log
    .split('\n')
    .filter((l) => said.test(l) && l.includes(`'${queue}'`))
    .map((l) => l.trim());
}

/** Log lines of a mirror taking over a classic mirrored queue, without their prefixes. */
export function promotionLines(log: string, queue: string): string[] {
  return takeoverLines(log, queue, 'node').map(stripLogPrefix);
}

/** When RabbitMQ wrote a log line (its own timestamp, UTC), in ms since the epoch. */
export function loggedAt(line: string): number | undefined {
  const m = /(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3})\d*\+00:00/.exec(line);
  return m ? Date.parse(`${m[1]}T${m[2]}Z`) : undefined;
}

/** A log line without its timestamps, level and process id: just what was said. */
export function stripLogPrefix(line: string): string {
  return line.replace(/^.*?\[\w+\]\s+<[\d.]+>\s*/, '').trim();
}

/** One member's row of `rabbitmq-queues quorum_status <queue> --formatter json`. */
export interface RaftMember {
  node: string;
  /** leader, follower, candidate, pre_vote, recover, ... */
  state: string;
  logIndex: number;
  commitIndex: number;
  term: number;
}

export function parseQuorumStatus(text: string): RaftMember[] {
  const start = text.indexOf('[');
  if (start < 0) throw new CliError(`quorum_status: no JSON in ${JSON.stringify(text.slice(0, 200))}`);
  const rows = JSON.parse(text.slice(start)) as Record<string, unknown>[];
  const num = (v: unknown) => (typeof v === 'number' ? v : Number.NaN);
  return rows.map((r) => ({
    node: String(r['Node Name'] ?? '?'),
    state: String(r['Raft State'] ?? '?'),
    logIndex: num(r['Log Index']),
    commitIndex: num(r['Commit Index']),
    term: num(r.Term),
  }));
}

/**
 * Settled: `members` rows, exactly one leader, everyone else a follower in the leader's
 * term with the leader's commit index. A member still loading its log after a restart
 * shows as a follower at term 0, and a lone survivor as pre_vote: not settled, whatever
 * the management API's leader field (the queue's record, which can trail) says.
 */
export function raftSettled(rows: RaftMember[], members: number): { settled: boolean; seen: string } {
  const seen =
    rows.map((r) => `${r.node} ${r.state} term ${r.term} commit ${r.commitIndex}`).join('; ') || 'no members';
  const leaders = rows.filter((r) => r.state === 'leader');
  const leader = leaders[0];
  const settled =
    rows.length === members &&
    leaders.length === 1 &&
    leader !== undefined &&
    rows.every(
      (r) => (r === leader || r.state === 'follower') && r.term === leader.term && r.commitIndex === leader.commitIndex,
    );
  return { settled, seen };
}

/** One "Autoheal decision" the leader (the cluster's first node by name) logged: nodes by host name. */
export interface AutohealDecision {
  at: number | undefined;
  partitions: string[][];
  winner: string;
  losers: string[];
}

/** What a node's log says autoheal did: the decisions it took as leader, the restarts it was told to make. */
export interface AutohealLog {
  decisions: AutohealDecision[];
  /** "we were selected to restart; winner is ...": the winner named, when. */
  restarts: { winner: string; at: number | undefined }[];
  /** Requests the leader turned down ("Autoheal request denied: ..."), and aborted rounds. */
  denied: number;
  aborted: number;
  /**
   * The winner waited 60 s for a loser's database to stop, in vain, and told it to restart
   * again ("mnesia in nodes [...] is still up, sending winner notification again"): the loser
   * named, when. rabbit_autoheal:wait_for_mnesia_shutdown/1 waits inside the node monitor.
   */
  resent?: { loser: string; at: number | undefined }[];
  /**
   * "Global hang workaround: global state on <peer> seems broken": the node's boot waits in
   * global:sync, and 3.10.8's workaround cannot unblock it on Erlang 25.1+ (rabbitmq-server
   * #6034, fixed in 3.10.9): the node stays down. When, for each time it was logged.
   */
  globalHang?: (number | undefined)[];
}

const hostsIn = (s: string) => [...s.matchAll(/rabbit@([\w.-]+)/g)].map((m) => m[1] as string);

/**
 * Reads rabbit_autoheal's lines from a node's log. The leader logs a decision as four lines:
 * "Autoheal decision", "* Partitions: [[a,b],[c]]", "* Winner: a", "* Losers: [c]".
 */
export function autohealLog(log: string): AutohealLog {
  const lines = log.split('\n').map((l) => ({ said: stripLogPrefix(l), at: loggedAt(l) }));
  const out: AutohealLog = { decisions: [], restarts: [], denied: 0, aborted: 0, resent: [], globalHang: [] };
  for (const [i, l] of lines.entries()) {
    if (l.said === 'Autoheal decision') {
      const field = (name: string) =>
        lines.slice(i + 1, i + 4).find((x) => x.said.startsWith(`* ${name}:`))?.said ?? '';
      const parts = [...field('Partitions').matchAll(/\[([^[\]]*)\]/g)].map((m) => hostsIn(m[1] ?? '').sort());
      const winner = hostsIn(field('Winner'))[0] ?? '';
      out.decisions.push({ at: l.at, partitions: parts, winner, losers: hostsIn(field('Losers')).sort() });
    }
    const restart = /we were selected to restart; winner is (.*)/.exec(l.said);
    if (restart) out.restarts.push({ winner: hostsIn(restart[1] ?? '')[0] ?? '', at: l.at });
    if (l.said.startsWith('Autoheal request denied')) out.denied++;
    if (l.said.startsWith('Autoheal: aborting')) out.aborted++;
    const again = /mnesia in nodes (.*) is still up, sending winner notification again/.exec(l.said);
    if (again) out.resent?.push(...hostsIn(again[1] ?? '').map((loser) => ({ loser, at: l.at })));
    if (l.said.startsWith('Global hang workaround: global state on')) out.globalHang?.push(l.at);
  }
  return out;
}

/** A decision's partitions as text, sorted: "rabbit1+rabbit2 | rabbit3". */
export const partitionsText = (d: Pick<AutohealDecision, 'partitions'>) =>
  d.partitions
    .map((x) => [...x].sort().join('+'))
    .sort()
    .join(' | ');

/**
 * The members' autoheal logs together: the decisions in order, the losers they named, the nodes
 * that restarted, and `again`: each decision that named a loser already restarted by an earlier
 * round (rabbit_node_monitor kept the partition it had healed: see the lab's narration).
 */
export function autohealRound(logs: Record<string, AutohealLog>) {
  const decisions = Object.values(logs)
    .flatMap((l) => l.decisions)
    .sort((a, b) => (a.at ?? 0) - (b.at ?? 0));
  const restartedBefore = (n: string, t = 0) => (logs[n]?.restarts ?? []).some((r) => (r.at ?? 0) < t);
  return {
    decisions,
    again: decisions.filter((d) => d.losers.some((n) => restartedBefore(n, d.at))),
    resent: Object.values(logs).flatMap((l) => l.resent ?? []),
    last: decisions.at(-1),
    named: [...new Set(decisions.flatMap((d) => d.losers))].sort(),
    restarted: Object.keys(logs)
      .filter((n) => logs[n]?.restarts.length)
      .sort(),
  };
}

/** Why a node logging "Global hang workaround" stays down here. */
export const GLOBAL_HANG =
  "3.10.8's global hang workaround cannot unblock it on Erlang 25.1+: rabbitmq-server#6034, fixed in 3.10.9";

/** One node's autoheal log in a line: what it decided as leader, whether it restarted, what it denied. */
export const describeAutoheal = (l: AutohealLog) =>
  [
    ...l.decisions.map((d) => `decided ${partitionsText(d)}, winner ${d.winner}, losers ${d.losers.join(',')}`),
    ...l.restarts.map((x) => `restarted (winner ${x.winner})`),
    l.denied ? `denied ${l.denied} request(s)` : '',
    l.aborted ? `aborted ${l.aborted} round(s)` : '',
    ...(l.resent ?? []).map((x) => `waited 60 s for ${x.loser}'s database to stop, then told it to restart again`),
    l.globalHang?.length ? `boot stuck in global:sync (${GLOBAL_HANG})` : '',
  ]
    .filter(Boolean)
    .join('; ') || 'nothing';
