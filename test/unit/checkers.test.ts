import { describe, expect, it } from 'vitest';
import { availability } from '../../src/checkers/availability.ts';
import { safely, verdictOf } from '../../src/checkers/check.ts';
import { delivery, deliveryChecks } from '../../src/checkers/delivery.ts';
import { lag } from '../../src/checkers/lag.ts';
import { latency } from '../../src/checkers/latency.ts';
import { ordering } from '../../src/checkers/ordering.ts';
import type { FaultRecord, Op } from '../../src/engine/history.ts';

/** Hand-written histories: a tiny DSL so each test reads like the story it plants. */
function h(...rows: [string, Op['type'], string, unknown, number?][]): Op[] {
  return rows.map(([process, type, f, value, time], index) => ({
    index,
    time: time ?? index,
    process,
    type,
    f,
    value,
  }));
}
const send = (id: string, outcome: 'ok' | 'fail' | 'info', t = 0): [string, Op['type'], string, unknown, number][] => [
  ['p', 'invoke', 'send', { id }, t],
  ['p', outcome, 'send', { id }, t + 1],
];
const recv = (id: string, t = 100): [string, Op['type'], string, unknown, number] => ['c', 'ok', 'receive', { id }, t];

describe('delivery', () => {
  it('finds nothing wrong in a clean history', () => {
    const f = delivery(h(...send('a', 'ok'), ...send('b', 'ok'), recv('a'), recv('b')));
    expect(f).toMatchObject({ acknowledged: 2, received: 2, lost: [], duplicated: {}, unexpected: [], recovered: [] });
    expect(deliveryChecks(f, { loss: 'forbidden', duplicates: 'forbidden' }).every((c) => c.ok === true)).toBe(true);
  });

  it('names acknowledged messages that were never received', () => {
    const f = delivery(h(...send('a', 'ok'), ...send('b', 'ok'), ...send('c', 'ok'), recv('b')));
    expect(f.lost).toEqual(['a', 'c']);
    const [lossCheck] = deliveryChecks(f, { loss: 'forbidden', duplicates: 'allowed' });
    expect(lossCheck?.ok).toBe(false);
    expect(lossCheck?.observed).toContain('2 of 3 acknowledged messages lost (a, c)');
  });

  it('passes a lab that expects loss only when loss happened', () => {
    const lossy = delivery(h(...send('a', 'ok'), ...send('b', 'ok'), recv('b')));
    const clean = delivery(h(...send('a', 'ok'), recv('a')));
    expect(deliveryChecks(lossy, { loss: 'expected', duplicates: 'allowed' })[0]?.ok).toBe(true);
    expect(deliveryChecks(clean, { loss: 'expected', duplicates: 'allowed' })[0]?.ok).toBe(false);
  });

  it('counts duplicates', () => {
    const f = delivery(h(...send('a', 'ok'), ...send('b', 'ok'), recv('a'), recv('a', 101), recv('a', 102), recv('b')));
    expect(f.duplicated).toEqual({ a: 3 });
    expect(f.lost).toEqual([]);
    const dup = deliveryChecks(f, { loss: 'forbidden', duplicates: 'forbidden' }).find((c) =>
      c.name.includes('duplicated'),
    );
    expect(dup?.ok).toBe(false);
  });

  it('never counts an unknown (info) send as lost, and reports it recovered when seen', () => {
    const f = delivery(h(...send('a', 'info'), ...send('b', 'info'), recv('b')));
    expect(f.lost).toEqual([]);
    expect(f.indeterminate).toBe(2);
    expect(f.recovered).toEqual(['b']);
  });

  it('flags messages received that were never sent or certainly failed', () => {
    const f = delivery(h(...send('a', 'fail'), recv('a'), recv('zz')));
    expect(f.unexpected.sort()).toEqual(['a', 'zz']);
  });

  it('reads a final read of many ids', () => {
    const ops = h(...send('a', 'ok'), ...send('b', 'ok'), ['r', 'ok', 'read-all', { ids: ['a'] }, 50]);
    expect(delivery(ops, { receive: 'read-all' }).lost).toEqual(['b']);
  });

  it('does not pass a loss-forbidden lab that acknowledged nothing', () => {
    const f = delivery(h(...send('a', 'fail')));
    expect(deliveryChecks(f, { loss: 'forbidden', duplicates: 'allowed' })[0]?.ok).toBe(false);
  });
});

describe('ordering', () => {
  const r = (key: string, seq: number): [string, Op['type'], string, unknown] => [
    'c',
    'ok',
    'receive',
    { key, producer: 'p', seq },
  ];
  it('accepts rising sequence numbers within each key', () => {
    const f = ordering(h(r('0', 1), r('0', 2), r('1', 3), r('1', 4)));
    expect(f.withinKey).toEqual([]);
    expect(f.crossKey).toBeUndefined();
  });
  it('catches a reordering within a key', () => {
    const f = ordering(h(r('0', 1), r('0', 3), r('0', 2)));
    expect(f.withinKey).toEqual([{ key: '0', producer: 'p', before: 3, after: 2 }]);
  });
  it('shows an out-of-order pair across keys without calling it a violation', () => {
    const f = ordering(h(r('1', 2), r('0', 1), r('1', 4), r('0', 3)));
    expect(f.withinKey).toEqual([]);
    expect(f.crossKey).toEqual({ first: 2, later: 1 });
  });
});

describe('availability', () => {
  it('splits operations by the fault window they were invoked in', () => {
    const faults: FaultRecord[] = [{ id: 1, kind: 'kill', targets: ['n1'], start: 10, end: 20 }];
    const ops = h(
      ['a', 'invoke', 'w', 1, 1],
      ['a', 'ok', 'w', 1, 2],
      ['a', 'invoke', 'w', 2, 12],
      ['a', 'info', 'w', 2, 19],
      ['a', 'invoke', 'w', 3, 15],
      ['a', 'fail', 'w', 3, 16],
      ['a', 'invoke', 'w', 4, 25],
      ['a', 'ok', 'w', 4, 26],
    );
    const w = availability(ops, faults, 'w');
    expect(w.map((x) => [x.label, x.ok, x.fail, x.info])).toEqual([
      ['no fault', 1, 0, 0],
      ['kill n1', 0, 1, 1],
      ['no fault', 1, 0, 0],
    ]);
  });
});

describe('latency', () => {
  it('measures invocation to completion of ok operations', () => {
    const ops = h(
      ['a', 'invoke', 'w', 1, 0],
      ['a', 'ok', 'w', 1, 10],
      ['a', 'invoke', 'w', 2, 20],
      ['a', 'ok', 'w', 2, 50],
      ['a', 'invoke', 'w', 3, 60],
      ['a', 'fail', 'w', 3, 1060],
    );
    expect(latency(ops, 'w')).toEqual({ count: 2, p50: 30, p95: 30, p99: 30, max: 30 });
  });
});

describe('lag', () => {
  it('sees lag grow past the threshold, then drain', () => {
    const f = lag(
      [0, 10, 40, 90, 150, 60, 0].map((l, i) => ({ time: i * 1000, lag: l })),
      100,
    );
    expect(f).toEqual({ samples: 7, peak: 150, grew: true, alertAt: 4000, drainedAt: 6000 });
  });
  it('raises no alert below the threshold and reports no drain without one', () => {
    const f = lag(
      [0, 5, 8, 3, 0].map((l, i) => ({ time: i, lag: l })),
      100,
    );
    expect(f.alertAt).toBeUndefined();
    expect(f.drainedAt).toBeUndefined();
  });
});

describe('verdicts', () => {
  it('a checker that throws yields unknown, not a crash', () => {
    const checks = safely('broken', 'anything', () => {
      throw new Error('boom');
    });
    expect(checks[0]?.ok).toBe('unknown');
    expect(verdictOf(checks).verdict).toBe('unknown');
  });
  it('pass, fail and unknown', () => {
    const ok = { name: 'a', ok: true, expected: '', observed: '' } as const;
    const bad = { name: 'b', ok: false, expected: '', observed: '' } as const;
    expect(verdictOf([ok]).verdict).toBe('pass');
    expect(verdictOf([ok, bad]).verdict).toBe('fail');
    expect(verdictOf([bad, { ...ok, ok: 'unknown' }]).verdict).toBe('unknown');
    expect(verdictOf([]).verdict).toBe('unknown');
  });
});
