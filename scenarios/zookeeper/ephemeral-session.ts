import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { check } from '../../src/checkers/check.ts';
import { observed } from '../../src/engine/history.ts';
import { defineLab } from '../../src/engine/lab.ts';
import { sleep, waitUntil } from '../../src/runtime/poll.ts';
import { HOST_IP } from '../../src/runtime/ports.ts';
import { ZkClient } from '../../stacks/zookeeper/client.ts';
import { fourLetter } from '../../stacks/zookeeper/four-letter.ts';
import type { StartedZooKeeper } from '../../stacks/zookeeper/stack.ts';
import { zookeeper } from '../../stacks/zookeeper/stack.ts';
import { zkCli } from './commands.ts';
import { unobserved } from './evidence.ts';
import { proveRoles } from './roles.ts';

const PATH = '/services/demo/instance-1';
const SERVICE = fileURLToPath(new URL('../../stacks/zookeeper/service.ts', import.meta.url));

/**
 * The window, after the service stops, in which its ephemeral znode must go. The session
 * times out T after the last packet the servers got from it, and the client pings after
 * T/3 of silence, so that packet is at most T/3 old when it stops: not before 2T/3. The
 * leader expires sessions in buckets one tick wide and learns of pings to a follower
 * every half tick, so by T + 1.5 ticks; the slack covers the host's own latency.
 */
export function expiryWindow(timeoutMs: number, tickMs: number): { earliest: number; latest: number } {
  return { earliest: Math.round((timeoutMs * 2) / 3) - EARLY_SLACK_MS, latest: timeoutMs + 2 * tickMs + LATE_SLACK_MS };
}
const EARLY_SLACK_MS = 100;
const LATE_SLACK_MS = 500;

interface Seen {
  /** The timeout the servers granted the lab's own probe session in the mechanism. */
  negotiatedTimeoutMs: number;
  tickMs: number;
  /** The timeout the service's own session got. */
  sessionTimeoutMs: number;
  sessionId: string;
  sessionAfterMove: string;
  /** From the kill of the service's server to the service's reconnection. */
  reconnectMs: number;
  presentAfterMove: boolean;
  presentBeforeTimeout: boolean;
  /** From the service stopping to the watcher's deletion event; absent if none came. */
  deletedAfterMs: number;
}

/** Resolves with the value, or undefined after `ms`: a wait that does not decide. */
function within<T>(ms: number, p: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

interface ServiceEvent {
  t: number;
  event: 'registered' | 'connected';
  sessionId: string;
  timeoutMs?: number;
}

/** The server a session is connected to, from each server's `cons`. */
async function serverOf(zk: StartedZooKeeper, sessionId: string): Promise<string | undefined> {
  for (const n of zk.names) {
    const cons = await fourLetter(HOST_IP, zk.cluster.node(n).hostPort('client'), 'cons').catch(() => '');
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
    'Notes, ZooKeeper chapter: "Zookeeper解决的问题" / "Zookeeper的功能" (seed lines 164-184) - services register ' +
    'their address in the tree (服务注册, 服务发现). The registration is an ephemeral znode: it lives exactly as long as the session of the ' +
    "service that created it. The notes do not say when it goes: ZooKeeper's programmer's guide (\"ZooKeeper " +
    'Sessions") has the server grant a timeout between 2 and 20 ticks, and expire the session once it has heard ' +
    "nothing for that long; the client pings after a third of it. The notes' zoo.cfg (lines 264-268) calls " +
    'tickTime the heartbeat unit; it is also the unit of the granted timeout. The lab checks the granted timeout is the one ' +
    "asked for before anything else. It finds the service's server with `cons`, a four-letter word that since 3.5.3 " +
    'answers only when whitelisted (seed lines 524-537; the stack lists it in 4lw.commands.whitelist).',
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
  variants: [{ service: 'freeze' }, { service: 'kill' }],
  stack: zookeeper,
  topology: () => ({ nodes: 3 }),
  async mechanism(lab) {
    const zk = lab.stack;
    const problems = await proveRoles(lab);
    const conf = await fourLetter(HOST_IP, zk.cluster.node('zk1').hostPort('client'), 'conf');
    const tick = Number(/^tickTime=(\d+)/m.exec(conf)?.[1]);
    lab.observe('tickMs', tick, `tickTime ${tick} ms`);
    const probe = await ZkClient.connect(zk.connectString(), { sessionTimeoutMs: lab.params.sessionTimeoutMs });
    const granted = probe.sessionTimeoutMs;
    probe.close();
    lab.observe(
      'negotiatedTimeoutMs',
      granted,
      `asked for a ${lab.params.sessionTimeoutMs} ms session timeout, granted ${granted} ms`,
    );
    if (granted !== lab.params.sessionTimeoutMs)
      problems.push(
        `the servers granted a ${granted} ms session timeout, not the ${lab.params.sessionTimeoutMs} ms asked for ` +
          `(allowed: 2..20 ticks of ${tick} ms)`,
      );
    if (!(tick > 0)) problems.push('conf did not say the tickTime');
    return problems;
  },
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
          // Plumbing: a service that cannot register on a healthy ensemble means the run broke, not the lesson.
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
      // Plumbing too: which server holds the session only names the node to kill.
      const server = await waitUntil(
        "the service's server",
        async () => {
          const s = await serverOf(zk, registered.sessionId);
          return s ? { done: true, value: s } : { done: false, seen: 'session not in any cons' };
        },
        { timeoutMs: 5000 },
      );
      const other = zk.names.find((n) => n !== server) as string;
      const window = expiryWindow(p.sessionTimeoutMs, zk.params.tickMs);
      const watcher = await ZkClient.connect(zk.endpoint(other), { sessionTimeoutMs: 10_000 });
      try {
        await lab.step(
          `Kill the service's server (${server})`,
          `The service is connected to ${server}. Killing that server closes the connection; the client library ` +
            'reconnects to another server with the same session, so the registration stays. Only the session ' +
            'timeout matters, not which server holds the connection. (Seen here: usually within 0.2 s, but in some ' +
            'runs about 1.4 s, a third of the timeout: most likely the close did not reach the client through the port proxy, ' +
            'and it noticed only when its next ping failed.)',
          async () => {
            const moved = new Promise<ServiceEvent>((resolve) => {
              nextEvent = (e) => {
                if (e.event === 'connected') resolve(e);
              };
            });
            const killedAt = Date.now();
            await lab.faults.kill(server);
            const e = await within(p.sessionTimeoutMs + 5000, moved);
            if (e) {
              const to = await serverOf(zk, e.sessionId);
              lab.observe(
                'reconnectMs',
                e.t - killedAt,
                `the service reconnected to ${to ?? '?'} after ${e.t - killedAt} ms`,
              );
              lab.observe('sessionAfterMove', e.sessionId);
            } else lab.warn(`the service did not reconnect within ${p.sessionTimeoutMs + 5000} ms`);
            const present = await watcher.exists(PATH);
            lab.observe('presentAfterMove', present, `${PATH} ${present ? 'is still registered' : 'is gone'}`);
            await lab.faults.start(server);
            await zk.waitHealthy(30_000);
          },
          { key: 'kill-server' },
        );
        await lab.step(
          `${p.service === 'freeze' ? 'Freeze' : 'Kill'} the service itself`,
          'Now the service stops heartbeating (a frozen or crashed process). The servers cannot tell "slow" from ' +
            '"dead": they wait out the session timeout, counted from the last ping (which may be up to a third of ' +
            'the timeout before the fault), then expire the session, delete its ephemeral znodes and notify watchers: ' +
            `here between ${window.earliest} and ${window.latest} ms after it stops (2/3 of ${p.sessionTimeoutMs} ms ` +
            `at the earliest; at the latest the timeout, two ticks of ${zk.params.tickMs} ms and ` +
            `${LATE_SLACK_MS} ms of slack).`,
          async () => {
            const { deleted } = await watcher.watchDeleted(PATH);
            // Stamped when the event arrives, not when the lab next looks: an early deletion must show.
            const deletedAt = deleted.then(() => Date.now());
            const stoppedAt = Date.now();
            child?.kill(p.service === 'freeze' ? 'SIGSTOP' : 'SIGKILL');
            lab.faults.note(
              p.service === 'freeze' ? 'pause' : 'kill',
              ['service'],
              `${p.service === 'freeze' ? 'froze (SIGSTOP)' : 'killed (SIGKILL)'} the service process`,
            );
            const half = (p.sessionTimeoutMs * 2) / 3 - 300;
            await sleep(Math.max(0, half));
            const stillThere = await watcher.exists(PATH);
            lab.observe(
              'presentBeforeTimeout',
              stillThere,
              `${Math.round(half)} ms after: ${stillThere ? 'still registered' : 'already gone'}`,
            );
            const at = await within(p.sessionTimeoutMs * 3, deletedAt);
            if (at !== undefined)
              lab.observe(
                'deletedAfterMs',
                at - stoppedAt,
                `watcher on ${other} notified: ${PATH} deleted ${at - stoppedAt} ms after the service stopped`,
              );
            else lab.warn(`no deletion event in ${p.sessionTimeoutMs * 3} ms: ${PATH} is still registered`);
          },
          { key: 'stop-service', commands: [zkCli(zk, other, `ls /services/demo`)] },
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
      before: 'kill-server',
      question: "The server the service is connected to is about to die. What happens to the service's registration?",
      choices: [
        'it disappears at once',
        'it stays: the client moves to another server with the same session',
        'it disappears after the session timeout',
      ],
      answer: (ev) => (observed<Seen>(ev).presentAfterMove === true ? 1 : 0),
    },
    {
      before: 'stop-service',
      question: 'The service itself is about to stop heartbeating. When does its ephemeral znode disappear?',
      choices: ['at once', 'after about the session timeout', 'never, until someone deletes it'],
      answer: (ev) => {
        const ms = observed<Seen>(ev).deletedAfterMs;
        return ms === undefined ? 2 : ms < 500 ? 0 : 1;
      },
    },
  ],
  check(ev, p) {
    const seen = observed<Seen>(ev);
    const timeout = seen.sessionTimeoutMs;
    const reconnect = seen.reconnectMs;
    const deleted = seen.deletedAfterMs;
    if (seen.tickMs === undefined || seen.presentBeforeTimeout === undefined)
      return [
        unobserved(
          'the registration went after the session timeout, not before',
          'the service stopped, the znode watched',
          seen.tickMs === undefined ? 'the tickTime' : 'the stop of the service',
        ),
      ];
    const { earliest, latest } = expiryWindow(p.sessionTimeoutMs, seen.tickMs);
    return [
      check(
        'the service was granted the session timeout asked for',
        timeout === p.sessionTimeoutMs,
        `${p.sessionTimeoutMs} ms`,
        `${String(timeout)} ms`,
      ),
      check(
        'the client moved to another server within the session timeout',
        reconnect !== undefined && reconnect > 0 && reconnect < p.sessionTimeoutMs,
        `< ${p.sessionTimeoutMs} ms`,
        reconnect === undefined ? 'no reconnection' : `${reconnect} ms`,
      ),
      check(
        'the session survived the move',
        seen.sessionAfterMove !== undefined && seen.sessionAfterMove === seen.sessionId,
        'same session id',
        `${String(seen.sessionAfterMove)} (was ${String(seen.sessionId)})`,
      ),
      check(
        'the registration stayed while only its server was gone',
        seen.presentAfterMove === true,
        'znode present',
        String(seen.presentAfterMove),
      ),
      check(
        'not removed before the session timeout',
        seen.presentBeforeTimeout === true && (deleted === undefined || deleted >= earliest),
        `still registered ${earliest} ms after the service stopped (2/3 of the timeout: its last ping may be T/3 old)`,
        `${seen.presentBeforeTimeout ? 'present' : 'gone'} shortly before; deleted after ${deleted ?? '-'} ms`,
      ),
      check(
        'removed once the session timed out, and the watcher told',
        deleted !== undefined && deleted <= latest,
        `deleted and notified within ${latest} ms`,
        deleted === undefined ? 'no deletion event' : `${deleted} ms`,
      ),
    ];
  },
});
