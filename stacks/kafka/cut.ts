import type { LabContext } from '../../src/engine/lab.ts';
import { HOST } from '../../src/faults/nemesis.ts';
import { KafkaReader } from './admin-reads.ts';
import { INTERNAL_PORT, nodeName, ZK_CLIENT_PORT } from './config.ts';
import { sameSet, untilPartition } from './partitions.ts';
import type { StartedKafka } from './stack.ts';
import { frameRequest, Reader, request, Writer } from './wire.ts';

/**
 * Reads for a lab that cuts a node off (a partition, not a death): what a node can still
 * reach, and a partition as the side without the host records it, read from inside a node
 * (the host's clients cannot reach that side).
 */

/** The nodes among `peers` that `from` opens a TCP connection to within 2 s (Kafka or ZooKeeper port). */
export async function reachableFrom(k: StartedKafka, from: string, peers: string[]): Promise<string[]> {
  const port = (n: string) => (k.zookeepers.includes(n) ? ZK_CLIENT_PORT : INTERNAL_PORT);
  const script = peers
    .map((n) => `timeout 2 bash -c 'exec 3<>/dev/tcp/${n}/${port(n)}' 2>/dev/null && echo ${n} &`)
    .join('\n');
  const r = await k.cluster.node(from).exec(['bash', '-c', `${script}\nwait`]);
  return r.stdout.split(/\s+/).filter((n) => peers.includes(n));
}

/** A partition's leader and ISR as a tool printed them; leader undefined when none (-1) or unreadable. */
export interface ToolPartition {
  leader: string | undefined;
  isr: string[];
  text: string;
}

/**
 * Reads the leader and ISR from kafka-topics.sh --describe ("Leader: 2 ... Isr: 2,3") or
 * from ZooKeeper's partition state znode ({"leader":2,...,"isr":[2,3]}).
 */
export function parseToolPartition(out: string): ToolPartition {
  const leader = /"?leader"?\s*:\s*(-?\d+)/i.exec(out)?.[1];
  const isr = /"?isr"?\s*:\s*\[?\s*([\d,\s]*\d)/i.exec(out)?.[1] ?? '';
  const ids = isr
    .split(/[,\s]+/)
    .filter(Boolean)
    .map(Number);
  const l = leader === undefined || Number(leader) < 0 ? undefined : nodeName(Number(leader));
  return { leader: l, isr: ids.map(nodeName), text: `leader ${l ?? 'none'}, isr ${ids.map(nodeName).join(',')}` };
}

/**
 * Partition 0 of `topic` as recorded on `node`'s side of a cut: ZooKeeper mode reads the
 * state znode the controller writes; KRaft asks `node`'s own broker from inside (see
 * `viewInside`: kafka-topics.sh there hung for up to 47 s on the cut-off broker, which its
 * first metadata still listed).
 */
export async function partitionOnSide(k: StartedKafka, node: string, topic: string): Promise<ToolPartition> {
  if (k.mode === 'zookeeper') {
    const r = await k.tool(node, 'zookeeper-shell.sh', 'get', `/brokers/topics/${topic}/partitions/0/state`);
    return parseToolPartition(r.stdout);
  }
  const v = await viewInside(k, node, topic);
  return {
    leader: v.leader,
    isr: v.isr,
    text: `leader ${v.leader ?? 'none'}, isr ${v.isr}${v.error ? ` (${v.error})` : ''}`,
  };
}

/**
 * The cut as both sides see it: the peers `node` still reaches from inside, and those of
 * `others` (brokers cut off from this machine) that still answer a metadata request from here.
 */
export async function cutSeen(
  k: StartedKafka,
  node: string,
  peers: string[],
  others: string[],
): Promise<{ leaderReaches: string[]; hostReaches: string[] }> {
  const [leaderReaches, answers] = await Promise.all([
    reachableFrom(k, node, peers),
    Promise.all(others.map((o) => KafkaReader.brokersSeenBy(k.mode, k.broker(o)))),
  ]);
  return { leaderReaches, hostReaches: others.filter((_, i) => answers[i]?.length) };
}

/**
 * Polls `topic`-0 on `node`'s side (see `partitionOnSide`) until its leader is another
 * than `old`, at most `timeoutMs`; the partition then, or as last read.
 */
export async function untilLeaderOnSide(
  lab: Pick<LabContext<StartedKafka, unknown>, 'until'>,
  k: StartedKafka,
  node: string,
  topic: string,
  old: string,
  timeoutMs: number,
): Promise<ToolPartition> {
  let last: ToolPartition = { leader: old, isr: [], text: 'not read' };
  const moved = await lab.until(
    `${node}'s side to record a leader other than ${old}`,
    async () => {
      last = await partitionOnSide(k, node, topic);
      return last.leader && last.leader !== old ? { done: true, value: last } : { done: false, seen: last.text };
    },
    { timeoutMs, intervalMs: 500 },
  );
  return moved ?? last;
}

/**
 * Cuts `node` off from `peers`, and `others` off from this machine, so this machine's
 * clients sit on `node`'s side; observes `cutAt` (History time) and `cut` (see `cutSeen`).
 * Returns the wall-clock time of the cut.
 */
export async function cutWithClients(
  lab: Pick<LabContext<StartedKafka, unknown>, 'faults' | 'observe' | 'history' | 'stack'>,
  node: string,
  peers: string[],
  others: string[],
): Promise<number> {
  const c = await lab.stack.admin.controller().catch(() => undefined);
  lab.observe('controllerBefore', c, `active controller ${c?.node ?? 'unknown'}, epoch ${c?.epoch ?? '?'}`);
  await lab.faults.partition(node, peers);
  for (const o of others) await lab.faults.partition(o, [HOST]);
  lab.observe('cutAt', lab.history.now());
  const t = Date.now();
  const cut = await cutSeen(lab.stack, node, peers, others);
  const none = (xs: string[]) => xs.join(', ') || 'none';
  const text = `${node} reaches: ${none(cut.leaderReaches)}; this machine reaches: ${none(cut.hostReaches)}`;
  lab.observe('cut', cut, `${text} of ${others.join(', ')}`);
  return t;
}

/** Partition 0 of a topic as one broker's own metadata names it (its leader epoch too), or why it did not say. */
export interface BrokerView {
  leader: string | undefined;
  leaderEpoch?: number;
  isr: string[];
  error?: string;
}

const METADATA = 3;

/** A Metadata v9 request body for one topic (no auto-creation, no authorized operations). */
function metadataBody(topic: string): Buffer {
  return Buffer.concat([new Writer().uvarint(2).compactString(topic).uvarint(0).bytes(), Buffer.from([0, 0, 0, 0])]);
}

/** Partition 0 in a Metadata v9 answer (the body after the response header). */
function parseMetadata(body: Buffer): BrokerView {
  const r = new Reader(body);
  r.int32(); // throttle
  for (let n = r.compactArrayLength(); n > 0; n--) {
    r.int32();
    r.compactString();
    r.int32();
    r.compactString();
    r.skipTags();
  }
  r.compactString(); // cluster id
  r.int32(); // controller
  if (r.compactArrayLength() < 1) return { leader: undefined, isr: [], error: 'no topic in the answer' };
  const topicError = r.int16();
  r.compactString();
  r.offset += 1; // is_internal
  if (topicError !== 0 || r.compactArrayLength() < 1)
    return { leader: undefined, isr: [], error: `Kafka error ${topicError}` };
  r.int16();
  r.int32();
  const leader = r.int32();
  const leaderEpoch = r.int32();
  const ids = () => Array.from({ length: r.compactArrayLength() }, () => r.int32());
  ids();
  const isr = ids().map(nodeName);
  return { leader: leader >= 0 ? nodeName(leader) : undefined, leaderEpoch, isr };
}

/**
 * Asks the broker at `endpoint` alone for `topic`'s metadata (Metadata v9 on one socket):
 * what a client that reaches only this broker is told. A client would send the request to
 * any broker it knows, and hang on those it cannot reach.
 */
export async function viewOf(endpoint: string, topic: string, timeoutMs = 3000): Promise<BrokerView> {
  try {
    return parseMetadata(await request(endpoint, METADATA, 9, metadataBody(topic), timeoutMs));
  } catch (e) {
    return { leader: undefined, isr: [], error: (e as Error).message };
  }
}

/**
 * The same question asked from inside `node`, of its own broker (127.0.0.1:9092, bash's
 * /dev/tcp): its metadata as its side of a cut has it, with no client library that might
 * try a broker it cannot reach.
 */
export async function viewInside(k: StartedKafka, node: string, topic: string): Promise<BrokerView> {
  const request = frameRequest(METADATA, 9, 1, metadataBody(topic));
  const bytes = [...request].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
  const script = `exec 3<>/dev/tcp/127.0.0.1/${INTERNAL_PORT}; printf '%b' '${bytes}' >&3; timeout 2 cat <&3 | base64 -w0`;
  const r = await k.cluster.node(node).exec(['bash', '-c', script]);
  const answer = Buffer.from(r.stdout.trim(), 'base64');
  if (answer.length < 9) return { leader: undefined, isr: [], error: `no answer (${r.stderr.trim() || 'empty'})` };
  const rest = new Reader(answer.subarray(8));
  rest.skipTags(); // response header v1
  try {
    return parseMetadata(answer.subarray(8 + rest.offset));
  } catch (e) {
    return { leader: undefined, isr: [], error: (e as Error).message };
  }
}

/**
 * Heals each of `nodes`, then waits (60 s at most) until `topic`-0 has all of them in its
 * ISR; observes `rejoined`, and `controllerAfter` (`cutWithClients` observed `controllerBefore`).
 */
export async function healAndRejoin(
  lab: Pick<LabContext<StartedKafka, unknown>, 'faults' | 'observe' | 'until' | 'stack'>,
  nodes: string[],
  topic: string,
): Promise<void> {
  for (const n of nodes) await lab.faults.heal(n);
  const what = `every replica back in the ISR of ${topic}-0`;
  const back = await untilPartition(lab, lab.stack.admin, topic, (x) => sameSet(x.isr, nodes), {
    what,
    timeoutMs: 60_000,
  });
  const { leader, isr } = back.part;
  const c = await lab.stack.admin.controller().catch(() => undefined);
  lab.observe('controllerAfter', c, `active controller ${c?.node ?? 'unknown'}, epoch ${c?.epoch ?? '?'}`);
  lab.observe('rejoined', { leader, isr, ms: back.ms }, `leader ${leader}, isr ${isr} (${back.ms} ms after the heal)`);
}
