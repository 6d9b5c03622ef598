import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, MidlabError, NotReadyError } from '../errors.ts';

export interface PollOptions {
  /** Give up after this long. */
  timeoutMs: number;
  /** Time between probes; readiness is polled, never slept. */
  intervalMs?: number;
  signal?: AbortSignal;
}

/** One probe's answer: `done` with a value, or not yet with what was seen. */
export type Probe<T> = { done: true; value: T } | { done: false; seen: string };

/** What a wait is doing, for whoever shows progress (the console's status line). */
export interface WaitProgress {
  what: string;
  seen: string;
  ms: number;
}

/**
 * Progress of every wait in the current async context goes to this listener: a run sets
 * it once, and every readiness wait below it (stacks included) reports without being told.
 */
export const waitProgress = new AsyncLocalStorage<(p: WaitProgress) => void>();

/**
 * Polls `probe` until it says done. A probe that throws counts as "not yet" and its
 * error becomes the last observation, so a timeout says what was wrong.
 */
export async function waitUntil<T>(what: string, probe: () => Promise<Probe<T>>, opts: PollOptions): Promise<T> {
  const start = Date.now();
  const interval = opts.intervalMs ?? 200;
  let seen = 'nothing yet';
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      const r = await probe();
      if (r.done) return r.value;
      seen = r.seen;
    } catch (err) {
      seen = describe(err);
    }
    waitProgress.getStore()?.({ what, seen, ms: Date.now() - start });
    const left = opts.timeoutMs - (Date.now() - start);
    if (left <= 0) throw new NotReadyError(what, Date.now() - start, seen);
    await sleep(Math.min(interval, left), opts.signal);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs `fn` but gives up after `ms`, rejecting with a TimeoutError. */
export async function withTimeout<T>(ms: number, what: string, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([fn(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** An operation that did not answer in time: its outcome is unknown (`info` in a history). */
export class TimeoutError extends MidlabError {
  constructor(message: string) {
    super('TIMEOUT', message, {
      hint: 'the node may be down, paused or cut off; its log in the run folder says which',
    });
    this.name = 'TimeoutError';
  }
}
