import type { LabContext } from '../../src/engine/lab.ts';
import type { ControllerInfo, PartitionState } from './admin.ts';
import type { StartedKafka } from './stack.ts';

/**
 * Who leads in a Kafka cluster, waited for: partition leaders (elections after a broker
 * dies, preferred-leader elections) and the active controller. Each wait gives up
 * without throwing: undefined when `timeoutMs` passes, and the lab's check decides.
 */
type Waiter = Pick<LabContext<StartedKafka, unknown>, 'until' | 'stack'>;

/** Waits until `topic`-`partition` has a leader that `wanted` accepts; returns it. */
export function untilLeader(
  lab: Waiter,
  topic: string,
  partition: number,
  what: string,
  wanted: (leader: string) => boolean,
  timeoutMs: number,
  intervalMs = 100,
): Promise<string | undefined> {
  return lab.until(
    `${what} leading ${topic}-${partition}`,
    async () => {
      const p = await lab.stack.admin.partition(topic, partition);
      return p.leader && wanted(p.leader)
        ? { done: true, value: p.leader }
        : { done: false, seen: `leader ${p.leader ?? 'none'}, isr ${p.isr.join(',')}` };
    },
    { timeoutMs, intervalMs },
  );
}

/** Waits until some partition is under-replicated (a replica out of the ISR); their names, [] if none was. */
export async function untilUnderReplicated(lab: Waiter, timeoutMs: number): Promise<string[]> {
  const urp = await lab.until(
    'under-replicated partitions',
    async () => {
      const u = await lab.stack.admin.underReplicated();
      return u.length ? { done: true, value: u } : { done: false, seen: 'none yet' };
    },
    { timeoutMs, intervalMs: 200 },
  );
  return (urp ?? []).map((x) => `${x.topic}-${x.partition}`);
}

/** Waits until a node other than `old` is the active controller (polled every 50 ms, for timing). */
export function untilNewController(lab: Waiter, old: string, timeoutMs: number): Promise<ControllerInfo | undefined> {
  return lab.until(
    `an active controller other than ${old}`,
    async () => {
      const c = await lab.stack.admin.controller();
      return c.node && c.node !== old
        ? { done: true, value: c }
        : { done: false, seen: `controller ${c.node ?? 'none'} (epoch ${c.epoch ?? '?'})` };
    },
    { timeoutMs, intervalMs: 50 },
  );
}

/**
 * Why another node could not take over as controller now (empty when it could): in
 * ZooKeeper mode every broker registered and one holding /controller; in KRaft mode 3
 * voters, a leader, and every voter caught up (an election needs a majority of them).
 */
export async function successionReady(k: StartedKafka): Promise<string[]> {
  if (k.mode === 'zookeeper') {
    const registered = await k.admin.registeredBrokers();
    const c = await k.admin.controller();
    return [
      ...(registered.length === k.brokers.length
        ? []
        : [`only ${registered.join(',')} registered in /brokers/ids: another broker could not take over`]),
      ...(c.node ? [] : ['no broker holds /controller']),
    ];
  }
  const q = await k.admin.quorum();
  const lagging = q.voters.filter((v) => v.logEndOffset < q.highWatermark - 100);
  return q.voters.length === 3 && lagging.length === 0 && q.leaderId >= 0
    ? []
    : [`the quorum must have 3 caught-up voters: ${JSON.stringify(q.voters)} (high watermark ${q.highWatermark})`];
}

/** A partition leader to kill, and who would follow it by Kafka's rule and by the smallest-id rule. */
export interface LeaderToKill {
  partition: number;
  victim: string;
  replicas: string[];
  /** Kafka's rule: the first live ISR member in assignment order. */
  expected: string;
  /** The rule some notes give: the smallest broker id in the ISR. */
  smallest: string;
}

/** The first of `parts` not led by `spare` (the active controller, say), with its two possible successors. */
export function leaderToKill(parts: PartitionState[], spare: string | undefined): LeaderToKill {
  const { partition, leader, replicas } = parts.find((x) => x.leader !== spare) ?? (parts[0] as PartitionState);
  const others = replicas.filter((r) => r !== leader);
  const expected = others[0] as string;
  return { partition, victim: leader as string, replicas, expected, smallest: [...others].sort()[0] as string };
}

/**
 * Reads the active controller and `topic`'s partitions now, and picks the leader to kill
 * (`leaderToKill`, sparing the controller); observes both (`controller`, `choice`).
 */
export async function chooseLeaderToKill(
  lab: Waiter & Pick<LabContext<StartedKafka, unknown>, 'observe'>,
  topic: string,
): Promise<LeaderToKill> {
  const controller = (await lab.stack.admin.controller()).node;
  const c = leaderToKill(await lab.stack.admin.partitions([topic]), controller);
  lab.observe('controller', controller, `active controller: ${controller ?? 'none'}`);
  lab.observe('choice', c, `${topic}-${c.partition}: replicas ${c.replicas.join(',')}, leader ${c.victim}`);
  return c;
}

/**
 * Waits until the cluster metadata no longer lists `broker` among the live brokers (KRaft:
 * the controller fenced it after broker.session.timeout.ms without a heartbeat; ZooKeeper
 * mode: its /brokers/ids znode went with its session). How many ms that took, or undefined
 * when `timeoutMs` passed first.
 */
export async function untilFenced(lab: Waiter, broker: string, timeoutMs: number): Promise<number | undefined> {
  const t0 = Date.now();
  const gone = await lab.until(
    `${broker} gone from the live brokers`,
    async () => {
      const live = await lab.stack.admin.liveBrokers();
      return live.includes(broker) ? { done: false, seen: `live: ${live.join(',')}` } : { done: true, value: true };
    },
    { timeoutMs, intervalMs: 100 },
  );
  return gone ? Date.now() - t0 : undefined;
}
