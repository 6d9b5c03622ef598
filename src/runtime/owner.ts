import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';

/**
 * Who made a cluster: host, user, pid and the process's start time, so a leftover is told
 * from a live run even when its process lingers as a zombie or its pid was reused, and one
 * user's `reap` never takes another user's (or another host's) live lab.
 */
export const LABEL_OWNER = 'dev.midlab.owner';

/** Clock ticks since boot when a process started (field 22 of /proc/<pid>/stat), with its state. */
function procStat(pid: number): { state: string; start: string } | undefined {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: fields follow the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '?', start: fields[19] ?? '?' };
}

let mine: string | undefined;

/** This process as an owner: `<host>/<uid>/<pid>/<start>`. */
export function ownerOf(): string {
  if (mine) return mine;
  let start = '?';
  try {
    start = procStat(process.pid)?.start ?? '?';
  } catch {
    // No /proc (macOS, Windows): the pid alone, as a weaker owner.
  }
  mine = [hostname(), uidOf(), process.pid, start].join('/');
  return mine;
}

function uidOf(): string {
  try {
    return String(userInfo().uid);
  } catch {
    return '?';
  }
}

/**
 * Whether the owner still runs. Another host's or another user's process is taken for
 * alive (not ours to judge); a zombie, a missing process or a pid now held by a process
 * that started later is dead.
 */
export function ownerAlive(owner: string | undefined, pid: number): boolean {
  const [host, uid, ownerPid, start] = owner?.split('/') ?? [];
  if (owner && (host !== hostname() || uid !== uidOf())) return true;
  const p = owner ? Number(ownerPid) : pid;
  if (!p) return false;
  try {
    const s = procStat(p);
    if (!s || s.state === 'Z' || s.state === 'X') return false;
    return !start || start === '?' || s.start === start;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return signalAlive(p);
    // /proc exists but not this pid: gone. No /proc at all: ask with a signal.
    try {
      readFileSync('/proc/self/stat');
      return false;
    } catch {
      return signalAlive(p);
    }
  }
}

function signalAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // Not permitted to signal it: it exists, and belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
