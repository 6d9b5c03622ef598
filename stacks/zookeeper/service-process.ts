import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { waitUntil } from '../../src/runtime/poll.ts';
import type { StartedZooKeeper } from './stack.ts';

const SERVICE = fileURLToPath(new URL('./service.ts', import.meta.url));

/** One line the service printed: it registered, or its client (re)connected. */
export interface ServiceEvent {
  t: number;
  event: 'registered' | 'connected';
  sessionId: string;
  timeoutMs?: number;
}

/**
 * The registry lesson's service (service.ts) as its own process: it registers the
 * ephemeral znode `path` with a session of `sessionTimeoutMs` and keeps it alive until
 * frozen (SIGSTOP) or killed.
 */
export class ServiceProcess {
  private readonly child: ChildProcess;
  private readonly events: ServiceEvent[] = [];
  private next: ((e: ServiceEvent) => void) | undefined;

  private readonly zk: StartedZooKeeper;

  constructor(zk: StartedZooKeeper, path: string, sessionTimeoutMs: number) {
    this.zk = zk;
    this.child = spawn(process.execPath, [SERVICE, zk.connectString(), path, String(sessionTimeoutMs)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      try {
        const e = JSON.parse(line) as ServiceEvent;
        this.events.push(e);
        this.next?.(e);
      } catch {
        /* not an event line */
      }
    });
  }

  /**
   * The registration, and the server its session is on (from `cons`); throws when there is
   * none in `timeoutMs` (on a healthy ensemble: a broken run, not a lesson).
   */
  async registered(timeoutMs = 15_000): Promise<ServiceEvent & { server: string }> {
    const e = await waitUntil(
      'the service to register',
      async () => {
        const r = this.events.find((x) => x.event === 'registered');
        return r ? { done: true, value: r } : { done: false, seen: 'not yet' };
      },
      { timeoutMs, intervalMs: 50 },
    );
    return { ...e, server: await this.zk.waitServerOf(e.sessionId) };
  }

  /**
   * The next reconnection of the service's client, counted from now: its session id and
   * the ms it took, or undefined when none comes within `withinMs`.
   */
  reconnection(withinMs: number): Promise<{ sessionId: string; ms: number } | undefined> {
    const from = Date.now();
    let timer: NodeJS.Timeout | undefined;
    return new Promise<{ sessionId: string; ms: number } | undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), withinMs);
      this.next = (e) => {
        if (e.event === 'connected') resolve({ sessionId: e.sessionId, ms: e.t - from });
      };
    }).finally(() => clearTimeout(timer));
  }

  signal(sig: 'SIGSTOP' | 'SIGKILL'): void {
    this.child.kill(sig);
  }
}
