import * as kit from './kit.ts';

const PATH = '/services/demo/instance-1';

interface Seen {
  tickMs: number;
  /** The service's session (the mechanism's probe session: negotiatedTimeoutMs): timeout, id, id after the move. */
  sessionTimeoutMs: number;
  sessionId: string;
  sessionAfterMove: string;
  reconnectMs: number;
  presentAfterMove: boolean;
  presentBeforeTimeout: boolean;
  /** From the service stopping to the watcher's deletion event; absent if none came. */
  deletedAfterMs: number;
}

export default kit.defineLab({
  id: 'zookeeper/ephemeral-session',
  title: 'Service registry: ephemeral znodes live as long as the session',
  teaches:
    'a client survives its server dying by moving to another within the session timeout; once the service stops heartbeating, its ephemeral znode is removed after the timeout and watchers are told',
  notes:
    'Notes, ZooKeeper chapter: "Zookeeper解决的问题" / "Zookeeper的功能" (seed lines 164-184): services register their ' +
    'address (服务注册, 服务发现) as an ephemeral znode, which lives as long as its session. When it goes, the notes do not ' +
    'say: the programmer\'s guide ("ZooKeeper Sessions") has the server grant 2 to 20 ticks and expire a session silent ' +
    "that long; the client pings after a third of it. The notes' zoo.cfg (lines 264-268) calls tickTime the heartbeat " +
    "unit; it is the unit of the granted timeout too. `cons` finds the service's server: since 3.5.3 it answers only " +
    'when whitelisted (seed lines 524-537; the stack does).',
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
  stack: kit.zookeeper,
  topology: () => ({ nodes: 3 }),
  steps: {
    register: {
      title: 'A service registers itself',
      narration:
        'A separate process (the "service") opens a session with a {sessionTimeoutMs} ms timeout, creates the ' +
        `ephemeral znode ${PATH} and pings its server every third of the timeout to keep the session alive.`,
      commands: [kit.zkCli('zk1', `stat ${PATH}`)],
    },
    'kill-server': {
      title: "Kill the service's server ({server})",
      narration:
        'Killing {server} closes the connection; the client library reconnects to another server with the same ' +
        'session, so the registration stays: only the session timeout matters, not which server holds it. (Seen ' +
        'here: usually within 0.2 s, in some runs about 1.4 s, a third of the timeout: most likely the close did not ' +
        'reach the client through the port proxy, and it noticed only when its next ping failed.)',
    },
    'stop-service': {
      title: '{Stop} the service itself',
      narration:
        'The service stops heartbeating (frozen or crashed). The servers cannot tell "slow" from "dead": they wait ' +
        'out the session timeout from the last ping (up to a third of it before the fault), then expire the ' +
        'session, delete its ephemeral znodes and notify watchers: here {earliest} to {latest} ms after it stops ' +
        `(2/3 of {sessionTimeoutMs} ms; at the latest the timeout, two ticks of {tickMs} ms and ${kit.LATE_SLACK_MS} ms slack).`,
      commands: [kit.zkCli('other', 'ls /services/demo')],
    },
  },
  async mechanism(lab) {
    const asked = lab.params.sessionTimeoutMs;
    const problems = await kit.proveRoles(lab);
    const t = await lab.stack.sessionTerms(asked);
    lab.observe('tickMs', t.tickMs, `tickTime ${t.tickMs} ms`);
    lab.observe('negotiatedTimeoutMs', t.grantedMs, `session timeout: asked ${asked} ms, granted ${t.grantedMs} ms`);
    return [...problems, ...t.problems];
  },
  async run(lab) {
    const { stack: zk, params: p } = lab;
    const service = new kit.ServiceProcess(zk, PATH, p.sessionTimeoutMs);
    let w: kit.ZkClient | undefined;
    try {
      // Plumbing: the server that holds the session only names the node to kill.
      const { server } = await lab.step('register', async () => {
        const e = await service.registered();
        lab.observe('sessionTimeoutMs', e.timeoutMs, `registered: session ${e.sessionId}, timeout ${e.timeoutMs} ms`);
        lab.observe('sessionId', e.sessionId, `on ${e.server}`);
        return e;
      });
      const other = zk.names.find((n) => n !== server) as string;
      w = await zk.client(other, { sessionTimeoutMs: 10_000 });
      const watcher = w;
      await lab.step(
        'kill-server',
        async () => {
          const moved = service.reconnection(p.sessionTimeoutMs + 5000);
          await lab.faults.kill(server);
          const e = await moved;
          if (e) lab.observe('sessionAfterMove', e.sessionId, `reconnected to ${await zk.serverOf(e.sessionId)}`);
          if (e) lab.observe('reconnectMs', e.ms, `after ${e.ms} ms`);
          else lab.warn(`the service did not reconnect within ${p.sessionTimeoutMs + 5000} ms`);
          const present = await watcher.exists(PATH);
          lab.observe('presentAfterMove', present, `${PATH} ${present ? 'is still registered' : 'is gone'}`);
          await lab.faults.start(server);
          await zk.waitHealthy(30_000);
        },
        { vars: { server } },
      );
      const freeze = p.service === 'freeze';
      const tickMs = zk.params.tickMs;
      const vars = { Stop: freeze ? 'Freeze' : 'Kill', tickMs, ...kit.expiryWindow(p.sessionTimeoutMs, tickMs) };
      await lab.step(
        'stop-service',
        async () => {
          // Stamped when the event arrives, not when the lab next looks: an early deletion must show.
          const { deleted } = await watcher.watchDeleted(PATH);
          const stoppedAt = Date.now();
          service.signal(freeze ? 'SIGSTOP' : 'SIGKILL');
          lab.faults.note(freeze ? 'pause' : 'kill', ['service'], `${freeze ? 'froze' : 'killed'} the service`);
          const half = Math.max(0, (p.sessionTimeoutMs * 2) / 3 - 300);
          await kit.sleep(half);
          const still = await watcher.exists(PATH);
          lab.observe('presentBeforeTimeout', still, `${Math.round(half)} ms after: ${still ? 'still there' : 'gone'}`);
          const at = await kit.within(p.sessionTimeoutMs * 3, deleted);
          if (at === undefined) lab.warn(`no deletion event in ${p.sessionTimeoutMs * 3} ms: ${PATH} still there`);
          else lab.observe('deletedAfterMs', at - stoppedAt, `watcher on ${other}: deleted ${at - stoppedAt} ms after`);
        },
        { vars: { ...vars, other } },
      );
    } finally {
      w?.close();
      service.signal('SIGKILL');
    }
  },
  predictions: [
    {
      before: 'kill-server',
      question: "The server the service is connected to is about to die. What happens to the service's registration?",
      choices: ['gone at once', 'it stays: the client moves to another server, same session', 'gone after the timeout'],
      answer: (ev) => (kit.observed<Seen>(ev).presentAfterMove === true ? 1 : 0),
    },
    {
      before: 'stop-service',
      question: 'The service itself is about to stop heartbeating. When does its ephemeral znode disappear?',
      choices: ['at once', 'after about the session timeout', 'never, until someone deletes it'],
      answer: (ev) => {
        const ms = kit.observed<Seen>(ev).deletedAfterMs;
        return ms === undefined ? 2 : ms < 500 ? 0 : 1;
      },
    },
  ],
  check(ev, p) {
    const seen = kit.observed<Seen>(ev);
    const { reconnectMs: reconnect, deletedAfterMs: deleted } = seen;
    const what = seen.tickMs === undefined ? 'the tickTime' : 'the stop of the service';
    if (seen.tickMs === undefined || seen.presentBeforeTimeout === undefined)
      return [
        kit.unobserved('the registration went after the session timeout, not before', 'the service stopped', what),
      ];
    const { earliest, latest } = kit.expiryWindow(p.sessionTimeoutMs, seen.tickMs);
    return [
      kit.check(
        'the service was granted the session timeout asked for',
        seen.sessionTimeoutMs === p.sessionTimeoutMs,
        `${p.sessionTimeoutMs} ms`,
        `${String(seen.sessionTimeoutMs)} ms`,
      ),
      kit.check(
        'the client moved to another server within the session timeout',
        reconnect !== undefined && reconnect > 0 && reconnect < p.sessionTimeoutMs,
        `< ${p.sessionTimeoutMs} ms`,
        reconnect === undefined ? 'no reconnection' : `${reconnect} ms`,
      ),
      kit.check(
        'the session survived the move',
        seen.sessionAfterMove !== undefined && seen.sessionAfterMove === seen.sessionId,
        'same session id',
        `${String(seen.sessionAfterMove)} (was ${String(seen.sessionId)})`,
      ),
      kit.check(
        'the registration stayed while only its server was gone',
        seen.presentAfterMove === true,
        'znode present',
        String(seen.presentAfterMove),
      ),
      kit.check(
        'not removed before the session timeout',
        seen.presentBeforeTimeout === true && (deleted === undefined || deleted >= earliest),
        `still registered ${earliest} ms after the service stopped (2/3 of the timeout: its last ping may be T/3 old)`,
        `${seen.presentBeforeTimeout ? 'present' : 'gone'} shortly before; deleted after ${deleted ?? '-'} ms`,
      ),
      kit.check(
        'removed once the session timed out, and the watcher told',
        deleted !== undefined && deleted <= latest,
        `deleted and notified within ${latest} ms`,
        deleted === undefined ? 'no deletion event' : `${deleted} ms`,
      ),
    ];
  },
});
