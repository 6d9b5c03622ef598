import { type Op, pairs } from '../engine/history.ts';

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Latency of completed operations (ms from invocation to completion), by process. */
export function latency(ops: Op[], f?: string, type: 'ok' | 'any' = 'ok'): LatencySummary {
  const samples = pairs(ops, f)
    .filter((p) => p.done && (type === 'any' || p.done.type === 'ok'))
    .map((p) => (p.done as Op).time - p.invoke.time);
  samples.sort((a, b) => a - b);
  const q = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] ?? 0;
  return { count: samples.length, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: samples[samples.length - 1] ?? 0 };
}
