import type { Op } from '../engine/history.ts';

/**
 * Order of received messages. Each receive's value carries `key` (a partition or
 * queue), `producer` and `seq`. Within a key, one producer's sequence numbers must rise;
 * across keys nothing is promised, and `crossKey` shows an actual out-of-order pair.
 */
export interface OrderFinding {
  key: string;
  producer: string;
  before: number;
  after: number;
}

export interface OrderingFindings {
  received: number;
  /** Pairs inside one key where a later message carried a lower sequence number. */
  withinKey: OrderFinding[];
  /** One pair received in an order different from the order sent, across keys. */
  crossKey: { first: number; later: number } | undefined;
}

interface Msg {
  key: string;
  producer: string;
  seq: number;
}

export function ordering(ops: Op[], receive = 'receive'): OrderingFindings {
  const msgs: Msg[] = ops
    .filter((o) => o.f === receive && o.type === 'ok' && o.value && typeof o.value === 'object')
    .map((o) => o.value as Msg)
    .filter((m) => m.seq !== undefined);
  const lastSeq = new Map<string, number>();
  const withinKey: OrderFinding[] = [];
  for (const m of msgs) {
    const k = `${m.key}\u0000${m.producer}`;
    const prev = lastSeq.get(k);
    if (prev !== undefined && m.seq < prev)
      withinKey.push({ key: m.key, producer: m.producer, before: prev, after: m.seq });
    lastSeq.set(k, Math.max(prev ?? m.seq, m.seq));
  }
  let crossKey: OrderingFindings['crossKey'];
  const byProducer = new Map<string, number>();
  for (const m of msgs) {
    const prev = byProducer.get(m.producer);
    if (prev !== undefined && m.seq < prev && !crossKey) crossKey = { first: prev, later: m.seq };
    byProducer.set(m.producer, Math.max(prev ?? m.seq, m.seq));
  }
  return { received: msgs.length, withinKey, crossKey };
}
