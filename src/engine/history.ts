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
  /** For partitions: the peers cut off (`HOST`: this machine's clients). */
  peers?: string[];
}

export type FaultKind = 'kill' | 'crash' | 'stop' | 'pause' | 'partition' | 'restart' | 'wipe' | 'corrupt';

/** A partition peer that stands for the clients on this machine (the lab's host clients). */
export const HOST = 'host';

/**
 * A fault as the timelines show it: who could not see whom for a partition ("zk3 cut off
 * from zk1, zk2 and this machine's clients"), else the kind and its targets ("kill zk2").
 */
export function faultLabel(f: Pick<FaultRecord, 'kind' | 'targets' | 'peers'>): string {
  const who = f.targets.join(', ');
  if (f.kind !== 'partition' || !f.peers?.length) return `${f.kind} ${who}`;
  const nodes = f.peers.filter((p) => p !== HOST).join(', ');
  const host = f.peers.includes(HOST) ? "this machine's clients" : '';
  return `${who} cut off from ${[nodes, host].filter(Boolean).join(' and ')}`;
}

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

/** The outcome of a recorded operation: its result when it succeeded, and the op either way. */
export type Recorded<T> = { ok: true; result: T; op: Op } | { ok: false; error: unknown; op: Op };

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
  ): Promise<Recorded<T>> {
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

/**
 * The last value of every observation, typed by the lab that declares `T` once (the
 * names and types it observes): `const seen = observed<Seen>(ev); seen.leader`.
 * Anything may be missing (a run cut short), hence `Partial`.
 */
export function observed<T extends object>(ev: Evidence): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const o of ev.observations) out[o.name] = o.value;
  return out as Partial<T>;
}

/** Every value an observation took, in order (a series: lag samples, leaders over time). */
export function observedSeries<V>(ev: Evidence, name: string): { time: number; value: V }[] {
  return ev.observations.filter((o) => o.name === name).map((o) => ({ time: o.time, value: o.value as V }));
}

/** An invocation and its completion (absent when the run ended first). */
export interface OpPair {
  invoke: Op;
  done: Op | undefined;
}

/**
 * Pairs each invocation with its completion. A process runs one operation at a time, so
 * the next completion of the same process and function completes the open invocation.
 * The one place this pairing is written: checkers, reports and labs use it.
 */
export function pairs(ops: Op[], f?: string | ((f: string) => boolean)): OpPair[] {
  const keep = f === undefined ? () => true : typeof f === 'string' ? (x: string) => x === f : f;
  const out: OpPair[] = [];
  const open = new Map<string, OpPair>();
  for (const op of ops) {
    if (!keep(op.f)) continue;
    const key = `${op.process}\u0000${op.f}`;
    if (op.type === 'invoke') {
      const p: OpPair = { invoke: op, done: undefined };
      open.set(key, p);
      out.push(p);
    } else {
      const p = open.get(key);
      if (p) {
        p.done = op;
        open.delete(key);
      } else out.push({ invoke: { ...op, type: 'invoke' }, done: op });
    }
  }
  return out;
}

/**
 * Completions of `f` invoked from `from` on and answered by `until`: what was asked and
 * answered inside one window (a fault's, say). Filter `ops` by process first for one client's.
 */
export function answeredBetween(ops: Op[], f: string, from: number, until = Number.POSITIVE_INFINITY): Op[] {
  return pairs(ops, f)
    .filter((p) => p.invoke.time >= from && p.done !== undefined && p.done.time <= until)
    .map((p) => p.done as Op);
}

/** Completed operations whose invocation fell in [from, until] (ms since the start). */
export function invokedBetween(ops: Op[], f: string, from: number, until: number): Op[] {
  return pairs(ops, f)
    .filter((p) => p.done && p.invoke.time >= from && p.invoke.time <= until)
    .map((p) => p.done as Op);
}

/** Counts of completions by outcome. */
export function outcomes(done: Op[]): { ok: number; fail: number; info: number; total: number } {
  const c = { ok: 0, fail: 0, info: 0, total: done.length };
  for (const o of done) if (o.type !== 'invoke') c[o.type] += 1;
  return c;
}
