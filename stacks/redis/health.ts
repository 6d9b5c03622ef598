import { withDirect } from './client.ts';
import type { StartedRedis } from './started.ts';

/** Every data node's replication and every Sentinel's view, at one moment. */
export interface RedisHealth {
  healthy: boolean;
  /** The primary, as the Sentinels agree (without Sentinels: the one data node in role master). */
  primary: string | undefined;
  /** What is not right yet, in words. */
  problems: string[];
}

/**
 * Strict health, following whichever node is primary now: the Sentinels agree on it;
 * it is master with every other data node connected and acknowledging its replication
 * stream (PUBLISH + WAIT); each replica follows it with its link up; each Sentinel sees
 * the primary without any down flag, every replica as a plain `slave` with its link ok,
 * and every other Sentinel as a plain `sentinel`.
 */
export async function health(r: StartedRedis): Promise<RedisHealth> {
  const problems: string[] = [];
  let primary: string | undefined;
  if (r.sentinels.length) {
    const agreed = await r.agreedPrimary();
    if (agreed.done) primary = agreed.value;
    else problems.push(`Sentinels name ${agreed.seen}`);
  }
  const repl = await Promise.all(r.dataNodes.map((n) => r.replication(n).catch(() => undefined)));
  const byNode = new Map(r.dataNodes.map((n, i) => [n, repl[i]]));
  if (!r.sentinels.length) {
    const masters = r.dataNodes.filter((n) => byNode.get(n)?.role === 'master');
    if (masters.length === 1) primary = masters[0];
    else problems.push(`${masters.length} data nodes in role master`);
  }
  if (!primary) return { healthy: false, primary, problems };
  const replicas = r.dataNodes.filter((n) => n !== primary);
  const p = byNode.get(primary);
  if (!p) problems.push(`${primary} does not answer`);
  else if (p.role !== 'master') problems.push(`${primary} is ${p.role}, not master`);
  else {
    const online = p.replicas.filter((x) => x.state === 'online').length;
    if (p.connectedSlaves !== replicas.length || online !== replicas.length) {
      problems.push(`${primary} has ${p.connectedSlaves} replicas connected, ${online} online`);
    } else if (replicas.length) {
      // "online" is not yet "streaming": after a full sync the primary holds the command
      // stream back until the replica's first REPLCONF ACK (up to a second). A PUBLISH
      // travels the stream like a write; WAIT counts the replicas that acknowledged it.
      const acked = await withDirect(r.endpoint(primary), async (c) => {
        await c.publish('midlab:health', 'probe');
        return c.wait(replicas.length, 200);
      }).catch(() => 0);
      if (acked !== replicas.length) problems.push(`${acked} of ${replicas.length} replicas acknowledge the stream`);
    }
  }
  for (const n of replicas) {
    const x = byNode.get(n);
    if (!x) problems.push(`${n} does not answer`);
    else if (x.role !== 'slave' || x.masterHost !== primary || x.masterLinkStatus !== 'up') {
      problems.push(`${n}: role ${x.role}, master ${x.masterHost ?? '-'}, link ${x.masterLinkStatus ?? '-'}`);
    }
  }
  await Promise.all(
    r.sentinels.map(async (s) => {
      try {
        problems.push(...sentinelProblems(await r.sentinelView(s), primary, replicas, r.sentinels.length - 1));
      } catch (err) {
        problems.push(`${s}: ${(err as Error).message}`);
      }
    }),
  );
  return { healthy: problems.length === 0, primary, problems };
}

/**
 * What is wrong with one Sentinel's view, for a deployment whose primary is `primary`
 * with `replicas`, watched by `others` + 1 Sentinels. Pure: the labs' mechanism proofs
 * use it on recorded views too.
 */
export function sentinelProblems(
  v: {
    sentinel: string;
    primary: string;
    flags: string;
    replicas: { name: string; flags: string; link?: string }[];
    sentinels: { name: string; flags: string }[];
  },
  primary: string,
  replicas: string[],
  others: number,
): string[] {
  const out: string[] = [];
  const s = v.sentinel;
  if (v.flags !== 'master' || v.primary !== primary) out.push(`${s} sees ${v.primary} with flags ${v.flags}`);
  const seen = v.replicas.map((x) => x.name).sort();
  if (JSON.stringify(seen) !== JSON.stringify([...replicas].sort())) {
    out.push(`${s} lists replicas ${seen.join(',') || 'none'}, not ${[...replicas].sort().join(',')}`);
  }
  for (const x of v.replicas) {
    if (x.flags !== 'slave' || x.link !== 'ok')
      out.push(`${s} sees replica ${x.name} ${x.flags}, link ${x.link ?? '-'}`);
  }
  if (v.sentinels.length !== others) out.push(`${s} knows ${v.sentinels.length} other Sentinels, not ${others}`);
  for (const o of v.sentinels) if (o.flags !== 'sentinel') out.push(`${s} sees ${o.name} ${o.flags}`);
  return out;
}
