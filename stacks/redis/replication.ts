import type { StartedRedis } from './started.ts';

/** One data node's replication link, as INFO replication shows it. */
export interface LinkView {
  role: string;
  /** Replica: the primary it follows, and whether the link is up. */
  masterHost?: string;
  masterLinkStatus?: string;
  /** Primary: bytes of stream produced; replica: bytes processed. */
  offset: number;
  connectedSlaves: number;
  /** Primary: each replica it lists, its state and the offset it acknowledged. */
  replicas: { name: string; state: string; offset: number; lag: number }[];
}

export async function linkViews(r: StartedRedis, nodes: string[]): Promise<Record<string, LinkView>> {
  const out: Record<string, LinkView> = {};
  for (const n of nodes) {
    const x = await r.replication(n);
    out[n] = {
      role: x.role,
      masterHost: x.masterHost,
      masterLinkStatus: x.masterLinkStatus,
      offset: x.slaveReplOffset ?? x.masterReplOffset,
      connectedSlaves: x.connectedSlaves,
      replicas: x.replicas.map((y) => ({ name: y.ip, state: y.state, offset: y.offset, lag: y.lag })),
    };
  }
  return out;
}

/**
 * Why the links are not what a primary with `replicas` should have (empty: they are):
 * the primary is master and lists every replica online with its offset caught up, and
 * each replica follows it with its link up and its own offset caught up. Pure.
 */
export function linkProblems(views: Record<string, LinkView>, primary: string, replicas: string[]): string[] {
  const out: string[] = [];
  const p = views[primary];
  if (!p) return [`${primary}: not observed`];
  if (p.role !== 'master') out.push(`${primary} is ${p.role}, not master`);
  for (const n of replicas) {
    const listed = p.replicas.find((x) => x.name === n);
    if (!listed) out.push(`${primary} does not list ${n} as a replica`);
    else if (listed.state !== 'online') out.push(`${primary} lists ${n} ${listed.state}`);
    else if (listed.offset !== p.offset) out.push(`${primary} has ${n} at offset ${listed.offset} of ${p.offset}`);
    const v = views[n];
    if (!v) out.push(`${n}: not observed`);
    else if (v.role !== 'slave' || v.masterHost !== primary || v.masterLinkStatus !== 'up') {
      out.push(`${n}: role ${v.role}, master ${v.masterHost ?? '-'}, link ${v.masterLinkStatus ?? '-'}`);
    } else if (v.offset !== p.offset) out.push(`${n} has applied offset ${v.offset} of ${p.offset}`);
  }
  return out;
}

/**
 * Why the views are not one primary with `count` replicas following it, link up (empty:
 * they are). Offsets are not compared: a replica a moment behind still follows. Pure.
 */
export function followProblems(views: Record<string, LinkView>, count: number): string[] {
  const nodes = Object.keys(views);
  const primaries = nodes.filter((n) => views[n]?.role === 'master');
  const replicas = nodes.filter((n) => views[n]?.role === 'slave');
  const [primary] = primaries;
  const following = replicas.filter((n) => views[n]?.masterHost === primary && views[n]?.masterLinkStatus === 'up');
  const out: string[] = [];
  if (primaries.length !== 1) out.push(`${primaries.length} masters`);
  if (replicas.length !== count || following.length !== count)
    out.push(`${following.length} of ${replicas.length} replicas follow ${primary ?? 'no master'} with the link up`);
  if (primary && views[primary]?.connectedSlaves !== count)
    out.push(`${primary} has ${views[primary]?.connectedSlaves} connected replicas`);
  return out;
}

/** `redis1=master(2 replicas), redis2=slave(redis1, link up), ...` */
export function describeRoles(views: Record<string, LinkView>): string {
  return Object.entries(views)
    .map(([n, v]) =>
      v.role === 'slave'
        ? `${n}=${v.role}(${v.masterHost}, link ${v.masterLinkStatus})`
        : `${n}=${v.role}(${v.connectedSlaves} replicas)`,
    )
    .join(', ');
}

/** What the labs compare across nodes at one moment: keys held and stream offsets. */
export interface KeysView {
  primary: string;
  primaryDbsize: number;
  primaryOffset: number;
  replicas: Record<string, { dbsize: number; offset: number; link: string; lagSeenByPrimary?: number }>;
}

export async function dataView(r: StartedRedis, primary: string, replicas: string[]): Promise<KeysView> {
  const p = await r.replication(primary);
  const view: KeysView = {
    primary,
    primaryDbsize: await r.dbsize(primary),
    primaryOffset: p.masterReplOffset,
    replicas: {},
  };
  for (const n of replicas) {
    const rep = await r.replication(n);
    view.replicas[n] = {
      dbsize: await r.dbsize(n),
      offset: rep.slaveReplOffset ?? rep.masterReplOffset,
      link: rep.masterLinkStatus ?? '-',
      lagSeenByPrimary: p.replicas.find((x) => x.ip === n)?.lag,
    };
  }
  return view;
}

/** Per node: the primary with its replica count, each replica with its primary and link; each one's offset. */
export function describeLinks(views: Record<string, LinkView>): string {
  return Object.entries(views)
    .map(([n, v]) =>
      v.role === 'master'
        ? `${n}: master with ${v.connectedSlaves} replicas, offset ${v.offset}`
        : `${n}: replica of ${v.masterHost}, link ${v.masterLinkStatus}, offset ${v.offset}`,
    )
    .join('; ');
}

/** The keys and offsets of a `KeysView`, in words. */
export function describeKeys(view: KeysView): string {
  const replicas = Object.entries(view.replicas).map(
    ([n, v]) => `${n}: ${v.dbsize} keys, offset ${v.offset}, link ${v.link}, silent for ${v.lagSeenByPrimary} s`,
  );
  return [`${view.primary}: ${view.primaryDbsize} keys, offset ${view.primaryOffset}`, ...replicas].join('; ');
}
