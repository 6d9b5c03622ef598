import type { Check } from '../../src/checkers/check.ts';
import { delivery, deliveryChecks } from '../../src/checkers/delivery.ts';
import type { Evidence } from '../../src/engine/history.ts';

/** A check the evidence cannot decide: what it needed was never observed (a run cut short). */
export function unobserved(name: string, expected: string, what: string): Check {
  return { name, ok: 'unknown', expected, observed: `${what} was not observed` };
}

/**
 * No acknowledged write lost, judged against the final read; without a final read
 * nothing can be said about loss.
 */
export function writesKept(ev: Evidence): Check[] {
  const finalRead = ev.ops.some((o) => o.f === 'read-all' && o.type === 'ok');
  if (!finalRead) return [unobserved('no acknowledged writes lost', '0 lost of > 0 acknowledged', 'a final read')];
  return deliveryChecks(
    delivery(ev.ops, { send: 'write', receive: 'read-all' }),
    { loss: 'forbidden', duplicates: 'allowed' },
    'writes',
  );
}
