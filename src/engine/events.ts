import type { Check, Verdict } from '../checkers/check.ts';
import type { FaultRecord, Op } from './history.ts';

/**
 * What a run tells the world as it happens. The console prints these; a live view or
 * a test can consume the same stream.
 */
export type RunEvent =
  | {
      kind: 'start';
      lab: string;
      title: string;
      notes: string;
      params: Record<string, unknown>;
      /** Absent when the lab makes no random choice. */
      seed?: number;
      outDir: string;
    }
  | { kind: 'phase'; phase: Phase; detail?: string }
  | { kind: 'cluster'; nodes: string[] }
  | { kind: 'step'; index: number; title: string; narration: string; commands: string[]; key?: string }
  | { kind: 'say'; text: string }
  | { kind: 'observe'; name: string; value: unknown; text?: string; time: number }
  /** A point of a series the lab plots (its `plots`), read from an observation. */
  | { kind: 'point'; label: string; time: number; y: number }
  | { kind: 'fault'; fault: FaultRecord; text: string }
  | { kind: 'heal'; fault: FaultRecord; text: string }
  | { kind: 'op'; op: Op }
  /** Each node's role, when it changed (only while roles are watched: the live view). */
  | { kind: 'roles'; roles: Record<string, string>; time: number }
  | { kind: 'warning'; text: string }
  /** A wait still going: what for, what it last saw, for how long. */
  | { kind: 'progress'; what: string; seen: string; ms: number }
  | { kind: 'check'; check: Check }
  | { kind: 'verdict'; verdict: Verdict; reason: string; seconds: number };

export type Phase =
  | 'provision'
  | 'health'
  | 'mechanism'
  | 'workload'
  | 'heal'
  | 'converge'
  | 'final'
  | 'check'
  | 'evidence'
  | 'teardown';

export type RunListener = (e: RunEvent) => void;

export class EventStream {
  private readonly listeners: RunListener[] = [];
  on(fn: RunListener): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }
  emit(e: RunEvent): void {
    for (const l of this.listeners) l(e);
  }
}
