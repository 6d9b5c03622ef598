import type { Evidence, Op } from '../engine/history.ts';
import { type Check, check, type Expectation, unobserved } from './check.ts';

/**
 * Delivery over identified messages (or writes). A send's value carries `id`; a
 * receive's value carries `id` (one message) or `ids` (a final read of everything).
 *
 * - lost: acknowledged (`ok`) but never received
 * - duplicated: received more than once
 * - unexpected: received but never sent, or sent with a certain `fail`
 * - recovered: outcome unknown (`info`) at send time, received later
 */
export interface DeliveryFindings {
  acknowledged: number;
  failed: number;
  indeterminate: number;
  received: number;
  lost: string[];
  duplicated: Record<string, number>;
  unexpected: string[];
  recovered: string[];
}

export function idsOf(value: unknown): string[] {
  if (value && typeof value === 'object') {
    const v = value as { id?: unknown; ids?: unknown };
    if (Array.isArray(v.ids)) return v.ids.map(String);
    if (v.id !== undefined) return [String(v.id)];
  }
  return [];
}

export function delivery(ops: Op[], opts: { send?: string; receive?: string } = {}): DeliveryFindings {
  const send = opts.send ?? 'send';
  const receive = opts.receive ?? 'receive';
  const acked = new Set<string>();
  const failed = new Set<string>();
  const unknown = new Set<string>();
  const seen = new Map<string, number>();
  for (const op of ops) {
    if (op.f === send) {
      const ids = idsOf(op.value);
      if (op.type === 'ok') for (const id of ids) acked.add(id);
      else if (op.type === 'fail') for (const id of ids) failed.add(id);
      else if (op.type === 'info') for (const id of ids) unknown.add(id);
    } else if (op.f === receive && op.type === 'ok') {
      for (const id of idsOf(op.value)) seen.set(id, (seen.get(id) ?? 0) + 1);
    }
  }
  const sent = new Set([...acked, ...unknown]);
  return {
    acknowledged: acked.size,
    failed: failed.size,
    indeterminate: unknown.size,
    received: seen.size,
    lost: [...acked].filter((id) => !seen.has(id)),
    duplicated: Object.fromEntries([...seen].filter(([, n]) => n > 1)),
    unexpected: [...seen.keys()].filter((id) => !sent.has(id)),
    recovered: [...unknown].filter((id) => seen.has(id) && !acked.has(id)),
  };
}

/** Turns findings into checks, according to what this configuration expects. */
export function deliveryChecks(
  f: DeliveryFindings,
  expect: { loss: Expectation; duplicates: Expectation },
  label = 'messages',
): Check[] {
  const lost = f.lost.length;
  const dups = Object.keys(f.duplicated).length;
  const checks: Check[] = [];
  const lossObserved = `${lost} of ${f.acknowledged} acknowledged ${label} lost${lost ? ` (${sample(f.lost)})` : ''}`;
  if (expect.loss === 'forbidden') {
    checks.push(
      check(
        `no acknowledged ${label} lost`,
        lost === 0 && f.acknowledged > 0,
        `0 lost of > 0 acknowledged`,
        lossObserved,
        { lost: f.lost },
      ),
    );
  } else if (expect.loss === 'expected') {
    checks.push(
      check(`acknowledged ${label} are lost`, lost > 0, 'at least 1 acknowledged lost', lossObserved, { lost: f.lost }),
    );
  }
  const dupObserved = `${dups} duplicated${dups ? ` (${sample(Object.keys(f.duplicated))})` : ''}`;
  if (expect.duplicates === 'forbidden') {
    checks.push(check(`no ${label} duplicated`, dups === 0, '0 duplicated', dupObserved, { duplicated: f.duplicated }));
  } else if (expect.duplicates === 'expected') {
    checks.push(
      check(`${label} are duplicated`, dups > 0, 'at least 1 duplicated', dupObserved, { duplicated: f.duplicated }),
    );
  }
  checks.push(
    check(
      `no unexpected ${label}`,
      f.unexpected.length === 0,
      'nothing received that was not sent',
      `${f.unexpected.length} unexpected${f.unexpected.length ? ` (${sample(f.unexpected)})` : ''}`,
      { unexpected: f.unexpected },
    ),
  );
  return checks;
}

export function sample(ids: string[], n = 5): string {
  return ids.slice(0, n).join(', ') + (ids.length > n ? `, ... ${ids.length - n} more` : '');
}

/**
 * No acknowledged `write` lost, judged against the final read (`read-all`, the ids it
 * found); without a final read nothing can be said about loss.
 */
export function writesKept(ev: Evidence): Check[] {
  if (!ev.ops.some((o) => o.f === 'read-all' && o.type === 'ok'))
    return [unobserved('no acknowledged writes lost', '0 lost of > 0 acknowledged', 'a final read')];
  return deliveryChecks(
    delivery(ev.ops, { send: 'write', receive: 'read-all' }),
    { loss: 'forbidden', duplicates: 'allowed' },
    'writes',
  );
}
