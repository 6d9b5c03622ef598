/**
 * The record of what happened, Jepsen-style. Every client operation is an invocation
 * followed by one completion: `ok` (it happened), `fail` (it certainly did not) or
 * `info` (unknown, e.g. a timeout: it may or may not have happened). Observations are
 * facts read from the cluster (modes, leaders, lag); the fault ledger says what was
 * done to which nodes, and when. Checkers read these and nothing else.
 */
export type OpType = 'invoke' | 'ok' | 'fail' | 'info';

export interface Op {
  index: number;
  /** Milliseconds since the run started. */
  time: number;
  /** Who did it: a client or producer name. */
  process: string;
  type: OpType;
  /** What: write, read, send, receive, create, ... */
  f: string;
  value?: unknown;
  /** The node the client talked to, when known. */
  node?: string;
  error?: string;
}

export interface Observation {
  time: number;
  name: string;
  value: unknown;
}

export interface FaultRecord {
  id: number;
  kind: FaultKind;
  targets: string[];
  start: number;
  end?: number;
  /** For partitions: the peers cut off. */
  peers?: string[];
}

export type FaultKind = 'kill' | 'stop' | 'pause' | 'partition' | 'restart' | 'wipe' | 'corrupt';

export interface Evidence {
  ops: Op[];
  observations: Observation[];
  faults: FaultRecord[];
}

/** Completing an invocation; exactly one of these is called. */
export interface OpHandle {
  ok(value?: unknown): Op;
  fail(error: unknown, value?: unknown): Op;
  info(error: unknown, value?: unknown): Op;
}

export class History {
  readonly ops: Op[] = [];
  readonly observations: Observation[] = [];
  readonly faults: FaultRecord[] = [];
  private readonly t0: number;
  private readonly listeners: ((op: Op) => void)[] = [];

  constructor(t0 = Date.now()) {
    this.t0 = t0;
  }

  now(): number {
    return Date.now() - this.t0;
  }

  onOp(fn: (op: Op) => void): void {
    this.listeners.push(fn);
  }

  private add(op: Omit<Op, 'index' | 'time'>): Op {
    const full: Op = { index: this.ops.length, time: this.now(), ...op };
    this.ops.push(full);
    for (const l of this.listeners) l(full);
    return full;
  }

  invoke(process: string, f: string, value?: unknown, node?: string): OpHandle {
    this.add({ process, type: 'invoke', f, value, node });
    let done = false;
    const complete = (type: OpType, v: unknown, error?: unknown): Op => {
      if (done) throw new Error(`operation ${f} by ${process} completed twice`);
      done = true;
      return this.add({ process, type, f, value: v, node, error: error === undefined ? undefined : errorText(error) });
    };
    return {
      ok: (v = value) => complete('ok', v),
      fail: (e, v = value) => complete('fail', v, e),
      info: (e, v = value) => complete('info', v, e),
    };
  }

  /**
   * Runs one operation and records it. `classify` decides whether an error means the
   * operation certainly did not happen (`fail`) or may have (`info`).
   */
  async record<T>(
    process: string,
    f: string,
    value: unknown,
    node: string | undefined,
    fn: () => Promise<T>,
    classify: (err: unknown) => 'fail' | 'info',
  ): Promise<{ ok: true; result: T; op: Op } | { ok: false; error: unknown; op: Op }> {
    const h = this.invoke(process, f, value, node);
    try {
      const result = await fn();
      return { ok: true, result, op: h.ok(f.startsWith('read') || f === 'receive' ? result : value) };
    } catch (error) {
      const op = classify(error) === 'fail' ? h.fail(error) : h.info(error);
      return { ok: false, error, op };
    }
  }

  observe(name: string, value: unknown): Observation {
    const o = { time: this.now(), name, value };
    this.observations.push(o);
    return o;
  }

  /** The last observation of that name. */
  last(name: string): unknown {
    for (let i = this.observations.length - 1; i >= 0; i--) {
      if (this.observations[i]?.name === name) return this.observations[i]?.value;
    }
    return undefined;
  }

  evidence(): Evidence {
    return { ops: this.ops, observations: this.observations, faults: this.faults };
  }
}

export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}

/** Completions only (invocations dropped), optionally of one function. */
export function completions(ops: Op[], f?: string): Op[] {
  return ops.filter((o) => o.type !== 'invoke' && (f === undefined || o.f === f));
}

/** The last observation of a name in a piece of evidence. */
export function lastObservation(ev: Evidence, name: string): unknown {
  for (let i = ev.observations.length - 1; i >= 0; i--) {
    if (ev.observations[i]?.name === name) return ev.observations[i]?.value;
  }
  return undefined;
}
