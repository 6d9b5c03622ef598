import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { check } from '../../src/checkers/check.ts';
import { lastObservation } from '../../src/engine/history.ts';
import { defineLab } from '../../src/engine/lab.ts';
import { waitUntil, withTimeout } from '../../src/runtime/poll.ts';
import { ZkClient } from '../../stacks/zookeeper/client.ts';
import { fourLetter } from '../../stacks/zookeeper/four-letter.ts';
import type { StartedZooKeeper } from '../../stacks/zookeeper/stack.ts';
import { zookeeper } from '../../stacks/zookeeper/stack.ts';
import { zkCli } from './commands.ts';

const PATH = '/services/demo/instance-1';
const SERVICE = fileURLToPath(new URL('../../stacks/zookeeper/service.ts', import.meta.url));

interface ServiceEvent {
  t: number;
  event: 'registered' | 'connected';
  sessionId: string;
  timeoutMs?: number;
}

/** The server a session is connected to, from each server's `cons`. */
async function serverOf(zk: StartedZooKeeper, sessionId: string): Promise<string | undefined> {
  for (const n of zk.names) {
    const cons = await fourLetter('127.0.0.1', zk.cluster.node(n).hostPort('client'), 'cons').catch(() => '');
    if (cons.includes(`sid=${sessionId}`)) return n;
  }
  return undefined;
}

export default defineLab({
  id: 'zookeeper/ephemeral-session',
  title: 'Service registry: ephemeral znodes live as long as the session',
  teaches:
    'a client survives its server dying by moving to another within the session timeout; once the service stops heartbeating, its ephemeral znode is removed after the timeout and watchers are told',
  notes:
    'Notes, ZooKeeper chapter: "Zookeeper解决的问题" / "Zookeeper的功能" - services register their address in the tree ' +
    '(服务注册, 服务发现). The registration is an ephemeral znode: it lives exactly as long as the session of the ' +
    'service that created it.',
  params: {
    sessionTimeoutMs: {
      type: 'int',
      default: 4000,
      min: 1000,
      max: 10_000,
      describe: 'session timeout asked for (production: often 30000-40000)',
    },
    service: {
      type: 'enum',
      default: 'freeze',
      choices: ['freeze', 'kill'],
      describe: 'how the service stops: SIGSTOP or SIGKILL',
    },
  },
  stack: zookeeper,
  topology: () => ({ nodes: 3 }),
  async run(lab) {
    const zk = lab.stack;
    const p = lab.params;
    let child: ChildProcess | undefined;
    const events: ServiceEvent[] = [];
    let nextEvent: ((e: ServiceEvent) => void) | undefined;
    try {
      const registered = await lab.step(
        'A service registers itself',
        `A separate process (the "service") opens a session with a ${p.sessionTimeoutMs} ms timeout and creates the ` +
          `ephemeral znode ${PATH}. It pings its server every third of the timeout to keep the session alive.`,
        async () => {
          child = spawn(process.execPath, [SERVICE, zk.connectString(), PATH, String(p.sessionTimeoutMs)], {
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
            try {
              const e = JSON.parse(line) as ServiceEvent;
              events.push(e);
              nextEvent?.(e);
            } catch {
              /* not an event line */
            }
          });
          const e = await waitUntil(
            'the service to register',
            async () => {
              const r = events.find((x) => x.event === 'registered');
              return r ? { done: true, value: r } : { done: false, seen: 'not yet' };
            },
            { timeoutMs: 15_000, intervalMs: 50 },
          );
          lab.observe(
            'sessionTimeoutMs',
            e.timeoutMs,
            `registered with session ${e.sessionId}, timeout ${e.timeoutMs} ms`,
          );
          lab.observe('sessionId', e.sessionId);
          return e;
        },
        [zkCli(zk, 'zk1', `stat ${PATH}`)],
      );
      const server = await waitUntil(
        "the service's server",
        async () => {
          const s = await serverOf(zk, registered.sessionId);
          return s ? { done: true, value: s } : { done: false, seen: 'session not in any cons' };
        },
        { timeoutMs: 5000 },
      );
      const other = zk.names.find((n) => n !== server) as string;
      const watcher = await ZkClient.connect(zk.endpoint(other), { sessionTimeoutMs: 10_000 });
      try {
        await lab.step(
          `Kill the service's server (${server})`,
          `The service is connected to ${server}. Killing that server closes the connection; the client library ` +
            'reconnects to another server with the same session, so the registration stays. Only the session ' +
            'timeout matters, not which server holds the connection.',
          async () => {
            const moved = new Promise<ServiceEvent>((resolve) => {
              nextEvent = (e) => {
                if (e.event === 'connected') resolve(e);
              };
            });
            const killedAt = Date.now();
            await lab.faults.kill(server);
            const e = await withTimeout(p.sessionTimeoutMs + 5000, 'the service reconnecting', () => moved);
            const to = await serverOf(zk, e.sessionId);
            lab.observe(
              'reconnectMs',
              e.t - killedAt,
              `the service reconnected to ${to ?? '?'} after ${e.t - killedAt} ms`,
            );
            lab.observe('sessionAfterMove', e.sessionId);
            const present = await watcher.exists(PATH);
            lab.observe('presentAfterMove', present, `${PATH} ${present ? 'is still registered' : 'is gone'}`);
            await lab.faults.start(server);
            await zk.waitHealthy(30_000);
          },
        );
        await lab.step(
          `${p.service === 'freeze' ? 'Freeze' : 'Kill'} the service itself`,
          'Now the service stops heartbeating (a frozen or crashed process). The servers cannot tell "slow" from ' +
            '"dead": they wait out the session timeout, counted from the last ping (which may be up to a third of ' +
            'the timeout before the fault), then expire the session, delete its ephemeral znodes and notify watchers.',
          async () => {
            const { deleted } = await watcher.watchDeleted(PATH);
            const stoppedAt = Date.now();
            child?.kill(p.service === 'freeze' ? 'SIGSTOP' : 'SIGKILL');
            lab.faults.note(
              p.service === 'freeze' ? 'pause' : 'kill',
              ['service'],
              `${p.service === 'freeze' ? 'froze (SIGSTOP)' : 'killed (SIGKILL)'} the service process`,
            );
            const half = (p.sessionTimeoutMs * 2) / 3 - 300;
            await new Promise((r) => setTimeout(r, Math.max(0, half)));
            const stillThere = await watcher.exists(PATH);
            lab.observe(
              'presentBeforeTimeout',
              stillThere,
              `${Math.round(half)} ms after: ${stillThere ? 'still registered' : 'already gone'}`,
            );
            await withTimeout(p.sessionTimeoutMs * 3, 'the watcher notification', () => deleted);
            const ms = Date.now() - stoppedAt;
            lab.observe(
              'deletedAfterMs',
              ms,
              `watcher on ${other} notified: ${PATH} deleted ${ms} ms after the service stopped`,
            );
          },
          [zkCli(zk, other, `ls /services/demo`)],
        );
      } finally {
        watcher.close();
      }
    } finally {
      child?.kill('SIGKILL');
    }
  },
  predictions: [
    {
      beforeStep: 2,
      question: "The server the service is connected to is about to die. What happens to the service's registration?",
      choices: [
        'it disappears at once',
        'it stays: the client moves to another server with the same session',
        'it disappears after the session timeout',
      ],
      answer: (ev) => (lastObservation(ev, 'presentAfterMove') === true ? 1 : 0),
    },
    {
      beforeStep: 3,
      question: 'The service itself is about to stop heartbeating. When does its ephemeral znode disappear?',
      choices: ['at once', 'after about the session timeout', 'never, until someone deletes it'],
      answer: (ev) => {
        const ms = Number(lastObservation(ev, 'deletedAfterMs'));
        return Number.isNaN(ms) ? 2 : ms < 500 ? 0 : 1;
      },
    },
  ],
  check(ev) {
    const timeout = Number(lastObservation(ev, 'sessionTimeoutMs'));
    const reconnect = Number(lastObservation(ev, 'reconnectMs'));
    const deletedAfter = Number(lastObservation(ev, 'deletedAfterMs'));
    const tick = 500;
    const earliest = (timeout * 2) / 3 - 100;
    const latest = timeout + 2 * tick + 1500;
    return [
      check(
        'the client moved to another server within the session timeout',
        reconnect > 0 && reconnect < timeout,
        `< ${timeout} ms`,
        `${reconnect} ms`,
      ),
      check(
        'the session survived the move',
        lastObservation(ev, 'sessionAfterMove') === lastObservation(ev, 'sessionId'),
        'same session id',
        `${String(lastObservation(ev, 'sessionAfterMove'))} (was ${String(lastObservation(ev, 'sessionId'))})`,
      ),
      check(
        'the registration stayed while only its server was gone',
        lastObservation(ev, 'presentAfterMove') === true,
        'znode present',
        String(lastObservation(ev, 'presentAfterMove')),
      ),
      check(
        'not removed before the session timeout',
        lastObservation(ev, 'presentBeforeTimeout') === true && deletedAfter >= earliest,
        `present until at least 2/3 of ${timeout} ms after the last ping`,
        `deleted after ${deletedAfter} ms`,
      ),
      check(
        'removed once the session timed out, and the watcher told',
        deletedAfter > 0 && deletedAfter <= latest,
        `deleted and notified within ${latest} ms`,
        `${deletedAfter} ms`,
      ),
    ];
  },
});
