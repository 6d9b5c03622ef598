import { type Op, pairs } from '../engine/history.ts';

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Quantiles of latency samples (ms): the value at rank floor(p * n), and the largest. */
export function summarize(samples: number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
  return { count: sorted.length, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: sorted[sorted.length - 1] ?? 0 };
}

/** Latency of completed operations (ms from invocation to completion), by process. */
export function latency(ops: Op[], f?: string, type: 'ok' | 'any' = 'ok'): LatencySummary {
  return summarize(
    pairs(ops, f)
      .filter((p) => p.done && (type === 'any' || p.done.type === 'ok'))
      .map((p) => (p.done as Op).time - p.invoke.time),
  );
}
