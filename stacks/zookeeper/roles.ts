// The roles of an ensemble as srvr and /zookeeper/config show them, and what is wrong with them. Pure.

/** One `server.N=...` line of /zookeeper/config: the membership the servers agreed on. */
export interface Member {
  id: number;
  host: string;
  role: string;
}

/** `server.1=zk1:2888:3888:participant;0.0.0.0:2181` lines; `version=` and the rest skipped. */
export function parseConfig(text: string): Member[] {
  const out: Member[] = [];
  for (const line of text.split('\n')) {
    const m = /^server\.(\d+)=([^:;]+):\d+:\d+(?::(\w+))?/.exec(line.trim());
    if (m) out.push({ id: Number(m[1]), host: m[2] as string, role: m[3] ?? 'participant' });
  }
  return out;
}

/** The nodes that serve (neither "not serving" nor "down"), as `node=mode`. */
export function serving(modes: Record<string, string>): string[] {
  return Object.entries(modes)
    .filter(([, m]) => m !== 'not serving' && m !== 'down')
    .map(([n, m]) => `${n}=${m}`);
}

export function describeModes(modes: Record<string, string>): string {
  return Object.entries(modes)
    .map(([n, m]) => `${n}=${m}`)
    .join(', ');
}

/**
 * Why the ensemble is not the one a lab needs, from what srvr and /zookeeper/config said:
 * exactly one leader among the voters, the other voters following, observers observing,
 * and the agreed membership listing exactly those voters as participants and those
 * observers as observers. Empty when it is.
 */
export function roleProblems(
  modes: Record<string, string>,
  members: Member[],
  voters: string[],
  observers: string[],
): string[] {
  const problems: string[] = [];
  const leaders = voters.filter((n) => modes[n] === 'leader');
  if (leaders.length !== 1) problems.push(`srvr shows ${leaders.length} leaders among ${voters.join(',')}`);
  const notFollowing = voters.filter((n) => modes[n] !== 'leader' && modes[n] !== 'follower');
  if (notFollowing.length) problems.push(`voters not following: ${notFollowing.map((n) => `${n}=${modes[n]}`)}`);
  const notObserving = observers.filter((n) => modes[n] !== 'observer');
  if (notObserving.length) problems.push(`observers not observing: ${notObserving.map((n) => `${n}=${modes[n]}`)}`);
  const listed = (role: string) =>
    members
      .filter((m) => m.role === role)
      .map((m) => m.host)
      .sort()
      .join(',');
  if (listed('participant') !== [...voters].sort().join(','))
    problems.push(`/zookeeper/config lists participants [${listed('participant')}], expected [${voters.join(',')}]`);
  if (listed('observer') !== [...observers].sort().join(','))
    problems.push(`/zookeeper/config lists observers [${listed('observer')}], expected [${observers.join(',')}]`);
  return problems;
}
