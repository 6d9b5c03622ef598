/**
 * A check compares what the lab teaches (`expected`) with what happened (`observed`).
 * `ok: 'unknown'` means the evidence cannot decide (a checker threw, data missing).
 */
export interface Check {
  name: string;
  ok: boolean | 'unknown';
  expected: string;
  observed: string;
  /** Extra structured findings (lost ids, windows, percentiles). */
  details?: unknown;
}

export type Verdict = 'pass' | 'fail' | 'unknown';

/** How a lab's configuration expects an anomaly to behave. */
export type Expectation = 'forbidden' | 'expected' | 'allowed';

export function check(name: string, ok: boolean, expected: string, observed: string, details?: unknown): Check {
  return { name, ok, expected, observed, details };
}

/** Runs a checker; if it throws, the check is `unknown`, never a crash. */
export function safely(name: string, expected: string, fn: () => Check | Check[]): Check[] {
  try {
    const r = fn();
    return Array.isArray(r) ? r : [r];
  } catch (err) {
    return [{ name, ok: 'unknown', expected, observed: `checker failed: ${(err as Error).message ?? String(err)}` }];
  }
}

/** Any unknown -> unknown; else any failure -> fail; else pass. No checks at all -> unknown. */
export function verdictOf(checks: Check[]): { verdict: Verdict; reason: string } {
  if (checks.length === 0) return { verdict: 'unknown', reason: 'no check ran' };
  const unknown = checks.filter((c) => c.ok === 'unknown');
  if (unknown.length) return { verdict: 'unknown', reason: `cannot decide: ${unknown.map((c) => c.name).join(', ')}` };
  const failed = checks.filter((c) => c.ok === false);
  if (failed.length) return { verdict: 'fail', reason: `did not hold: ${failed.map((c) => c.name).join(', ')}` };
  return { verdict: 'pass', reason: `all ${checks.length} checks held` };
}

/** A check the evidence cannot decide: what it needed was never observed (a run cut short). */
export function unobserved(name: string, expected: string, what: string): Check {
  return { name, ok: 'unknown', expected, observed: `${what} was not observed` };
}
