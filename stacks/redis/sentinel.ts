import { waitUntil } from '../../src/runtime/poll.ts';
import { withDirect } from './client.ts';
import { MASTER_NAME } from './config.ts';
import { sentinelProblems } from './health.ts';
import { parseMasterAddr, parseSentinelMaster, parseSentinelPeers } from './info.ts';
import type { StartedRedis } from './started.ts';

/**
 * What one Sentinel knows of "mymaster" (SENTINEL MASTER, REPLICAS, SENTINELS): the
 * evidence that Sentinel is watching what the labs think it watches.
 */
export interface SentinelView {
  sentinel: string;
  /** The primary it monitors, by host name. */
  primary: string;
  /** `master` when all is well; `master,s_down`, `master,o_down`, ... when not. */
  flags: string;
  /** Sentinels that must agree the primary is down before a failover is tried. */
  quorum: number;
  configEpoch: number;
  replicas: { name: string; flags: string; link?: string; following?: string }[];
  /** The other Sentinels it has heard from. */
  sentinels: { name: string; flags: string }[];
}

export async function sentinelView(r: StartedRedis, sentinel: string): Promise<SentinelView> {
  return withDirect(r.endpoint(sentinel), async (c) => {
    const m = parseSentinelMaster(await c.sentinelCommand('MASTER', MASTER_NAME));
    const reps = parseSentinelPeers(await c.sentinelCommand('REPLICAS', MASTER_NAME));
    const peers = parseSentinelPeers(await c.sentinelCommand('SENTINELS', MASTER_NAME));
    return {
      sentinel,
      primary: m.ip,
      flags: m.flags,
      quorum: m.quorum,
      configEpoch: m.configEpoch,
      replicas: reps.map((x) => ({ name: x.ip, flags: x.flags, link: x.masterLinkStatus, following: x.masterHost })),
      sentinels: peers.map((x) => ({ name: x.ip, flags: x.flags })),
    };
  });
}

/** The primary one Sentinel names now (`SENTINEL GET-MASTER-ADDR-BY-NAME`): a host name. */
export function primaryBy(r: StartedRedis, sentinel: string): Promise<string | undefined> {
  return withDirect(r.endpoint(sentinel), async (c) => {
    return parseMasterAddr(await c.sentinelCommand('GET-MASTER-ADDR-BY-NAME', MASTER_NAME))?.host;
  });
}

// A split vote shows as -failover-abort-not-elected, then a new epoch and +try-failover
// 2 x failover-timeout later.
const FAILOVER_EVENTS =
  /[+-](sdown master|odown|new-epoch|try-failover|failover-abort-not-elected|elected-leader|selected-slave|promoted-slave|switch-master)\b/;

/**
 * The epochs in which Sentinels tried to elect a failover leader (`+new-epoch N` in any
 * Sentinel's log), in order. One epoch: the first vote elected a leader. More: a vote split
 * (every candidate logs -failover-abort-not-elected) and was tried again 2 x failover-timeout
 * later, as sentinel.conf documents for failover-timeout.
 */
export async function failoverEpochs(r: StartedRedis): Promise<number[]> {
  const epochs = new Set<number>();
  for (const s of r.sentinels) {
    const log = await r.cluster
      .node(s)
      .logs()
      .catch(() => '');
    for (const m of log.matchAll(/\+new-epoch (\d+)/g)) epochs.add(Number(m[1]));
  }
  return [...epochs].sort((a, b) => a - b);
}

/**
 * The failover as the Sentinel that led it logged it, +sdown to +switch-master (which
 * comes once the other replicas are repointed, a moment after the others agree). Empty
 * when no Sentinel logged a whole failover within 15 s: it is narration, not evidence.
 */
export async function failoverLog(r: StartedRedis): Promise<string[]> {
  const led = await waitUntil(
    'a Sentinel to log +switch-master',
    async () => {
      for (const s of r.sentinels) {
        const log = await r.cluster
          .node(s)
          .logs()
          .catch(() => '');
        if (log.includes('+elected-leader') && log.includes('+switch-master')) {
          return { done: true, value: { s, log } } as const;
        }
      }
      return { done: false, seen: 'no +switch-master yet' } as const;
    },
    { timeoutMs: 15_000, intervalMs: 250 },
  ).catch(() => undefined);
  if (!led) return [];
  const lines = eventLines(led.log, FAILOVER_EVENTS);
  return [`${led.s} led the failover; its log:`, ...lines.slice(0, 16).map((l) => `  ${l}`)];
}

/** The lines of a Sentinel log that match `events`, without Docker's timestamp and Sentinel's pid/role prefix. */
function eventLines(log: string, events: RegExp): string[] {
  return log
    .split('\n')
    .filter((l) => events.test(l))
    .map((l) => l.replace(/^\S+\s+\d+:X\s+\d+ \w+ \d+ /, '').trim());
}

/** What `sentinel` logged about the primary going down or coming back (+sdown, +reboot, ...). */
export async function downEvents(r: StartedRedis, sentinel: string): Promise<string[]> {
  return eventLines(await r.cluster.node(sentinel).logs(), /[+-](sdown master|odown|reboot|switch-master)\b/);
}

/** One Sentinel's view in words: its primary and flags, quorum, replicas and the Sentinels it knows. */
export function describeSentinelView(v: SentinelView): string {
  const replicas = v.replicas.map((x) => `${x.name} ${x.link}`).join(' ');
  return `${v.sentinel}: ${v.primary} (${v.flags}), quorum ${v.quorum}, replicas ${replicas}, knows ${v.sentinels.map((x) => x.name).join(' ')}`;
}

/**
 * Why the Sentinels' views are not what a failover needs (empty: they are): each names
 * `primary` with no down flag, lists `replicas` with their link ok, knows every other
 * Sentinel (`sentinelProblems`), and uses `quorum`. Pure.
 */
export function sentinelViewsProblems(
  views: SentinelView[],
  primary: string,
  replicas: string[],
  quorum: number,
): string[] {
  return views.flatMap((v) => [
    ...sentinelProblems(v, primary, replicas, views.length - 1),
    ...(v.quorum === quorum ? [] : [`${v.sentinel} uses quorum ${v.quorum}, not ${quorum}`]),
  ]);
}
