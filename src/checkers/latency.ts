import type { Op } from '../engine/history.ts';

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Latency of completed operations (ms from invocation to completion), by process. */
export function latency(ops: Op[], f?: string, type: 'ok' | 'any' = 'ok'): LatencySummary {
  const open = new Map<string, number>();
  const samples: number[] = [];
  for (const op of ops) {
    if (f !== undefined && op.f !== f) continue;
    if (op.type === 'invoke') open.set(op.process, op.time);
    else {
      const t = open.get(op.process);
      open.delete(op.process);
      if (t !== undefined && (type === 'any' || op.type === 'ok')) samples.push(op.time - t);
    }
  }
  samples.sort((a, b) => a - b);
  const q = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] ?? 0;
  return { count: samples.length, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: samples[samples.length - 1] ?? 0 };
}
