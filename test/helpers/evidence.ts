import { expect } from 'vitest';
import { type Check, type Verdict, verdictOf } from '../../src/checkers/check.ts';
import type { Evidence, FaultKind, FaultRecord, Observation, Op } from '../../src/engine/history.ts';
import type { AnyLab } from '../../src/engine/lab.ts';
import { resolveParams } from '../../src/params.ts';

/**
 * Hand-written evidence for a lab's checks, Jepsen-style: a small builder so a fixture
 * reads like the story it plants. Time moves forward by `at(ms)`; every operation is an
 * invocation and its completion one millisecond later.
 */
export class Story {
  private readonly ops: Op[] = [];
  private readonly observations: Observation[] = [];
  private readonly faults: FaultRecord[] = [];
  private t = 0;

  at(ms: number): this {
    this.t = ms;
    return this;
  }

  /** One completed operation. */
  op(
    process: string,
    f: string,
    type: 'ok' | 'fail' | 'info',
    value?: unknown,
    more: { node?: string; error?: string; ms?: number } = {},
  ): this {
    const { node, error, ms = 1 } = more;
    this.ops.push({ index: this.ops.length, time: this.t, process, type: 'invoke', f, value, node });
    this.ops.push({ index: this.ops.length, time: this.t + ms, process, type, f, value, node, error });
    this.t += ms;
    return this;
  }

  /** An invocation that never completed (the run ended first). */
  invoke(process: string, f: string, value?: unknown): this {
    this.ops.push({ index: this.ops.length, time: this.t, process, type: 'invoke', f, value });
    return this;
  }

  observe(name: string, value: unknown): this {
    this.observations.push({ time: this.t, name, value });
    return this;
  }

  fault(kind: FaultKind, targets: string[], ms?: number): this {
    this.faults.push({
      id: this.faults.length + 1,
      kind,
      targets,
      start: this.t,
      end: ms === undefined ? undefined : this.t + ms,
    });
    return this;
  }

  evidence(): Evidence {
    return { ops: [...this.ops], observations: [...this.observations], faults: [...this.faults] };
  }
}

/** The lab's checks on a piece of evidence, with its parameters resolved as a run would. */
export function checksOf(lab: AnyLab, ev: Evidence, params: Record<string, string | number | boolean> = {}): Check[] {
  return lab.check(ev, resolveParams(lab.params, params, lab.id));
}

/** Asserts the verdict, naming the checks that decided it when it is not the expected one. */
export function expectVerdict(
  lab: AnyLab,
  ev: Evidence,
  verdict: Verdict,
  params: Record<string, string | number | boolean> = {},
): Check[] {
  const checks = checksOf(lab, ev, params);
  const summary = checks.map(
    (c) => `${c.ok === true ? 'ok' : c.ok === false ? 'FAIL' : '??'} ${c.name}: ${c.observed}`,
  );
  expect(verdictOf(checks).verdict, summary.join('\n')).toBe(verdict);
  return checks;
}

/** Asserts that the named check came out as `ok` (true, false or 'unknown'). */
export function expectCheck(checks: Check[], name: string, ok: Check['ok']): void {
  const c = checks.find((x) => x.name === name);
  expect(c, `no check named "${name}" among: ${checks.map((x) => x.name).join('; ')}`).toBeDefined();
  expect(c?.ok, `${name}: ${c?.observed} (expected ${c?.expected})`).toBe(ok);
}
