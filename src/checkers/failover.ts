import { type Check, check } from './check.ts';

/** A failover as a lab observed it: who led before and after the fault, and how long it took. */
export interface Failover {
  before: string | undefined;
  /** The new leader (primary, controller); undefined, null or 'none' when none was chosen. */
  after: string | null | undefined;
  /** From the fault to the new leader; undefined or null when none was chosen within the wait. */
  ms: number | null | undefined;
}

/**
 * A new leader, other than the old one, chosen within `boundMs` of the fault. `missing`
 * is what to say when none was chosen (default: who was seen and after how long).
 */
export function failoverWithin(name: string, f: Failover, boundMs: number, expected: string, missing?: string): Check {
  const chosen = typeof f.after === 'string' && f.after !== 'none' && f.after !== f.before;
  const timed = typeof f.ms === 'number';
  return check(
    name,
    chosen && timed && (f.ms as number) <= boundMs,
    expected,
    !timed && missing ? missing : `${String(f.after)} after ${f.ms ?? '?'} ms (was ${String(f.before)})`,
    { failoverMs: f.ms },
  );
}
