import { type FaultRecord, type Op, pairs } from '../engine/history.ts';

/**
 * How operations fared in each window of time: before any fault, during each fault,
 * after healing. An operation belongs to the window in which it was invoked.
 */
export interface Window {
  label: string;
  start: number;
  end: number;
  ok: number;
  fail: number;
  info: number;
}

export function availability(ops: Op[], faults: FaultRecord[], f?: string, endTime?: number): Window[] {
  let last = 0;
  for (const o of ops) last = Math.max(last, o.time);
  const end = endTime ?? last + 1;
  const edges = new Set<number>([0, end]);
  for (const fr of faults) {
    edges.add(fr.start);
    if (fr.end !== undefined) edges.add(fr.end);
  }
  const sorted = [...edges].sort((a, b) => a - b);
  const windows: Window[] = [];
  for (let i = 0; i + 1 < sorted.length; i++) {
    const start = sorted[i] as number;
    const stop = sorted[i + 1] as number;
    const active = faults.filter((fr) => fr.start <= start && (fr.end ?? Number.POSITIVE_INFINITY) >= stop);
    const label = active.length ? active.map((fr) => `${fr.kind} ${fr.targets.join(',')}`).join(' + ') : 'no fault';
    windows.push({ label, start, end: stop, ok: 0, fail: 0, info: 0 });
  }
  for (const { invoke, done } of pairs(ops, f)) {
    if (!done || done.type === 'invoke') continue;
    const w = windows.find((x) => invoke.time >= x.start && invoke.time < x.end) ?? windows[windows.length - 1];
    if (w) w[done.type] += 1;
  }
  return windows.filter((w) => w.ok + w.fail + w.info > 0);
}
