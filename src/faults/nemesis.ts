import { EventStream } from '../engine/events.ts';
import { type FaultKind, type FaultRecord, faultLabel, type History, HOST } from '../engine/history.ts';
import type { StartedCluster } from '../runtime/cluster.ts';

export { HOST };

/**
 * Faults with a ledger. Each fault is a start/stop pair: `kill`, `crash`, `stop` and `pause`
 * end when the node is started or resumed again, `partition` when healed. `healAll`
 * undoes whatever is still open, in the final phase of every run.
 */
export class Nemesis {
  private readonly cluster: StartedCluster;
  private readonly history: History;
  private readonly events: EventStream;
  private nextId = 1;

  constructor(cluster: StartedCluster, history: History, events: EventStream = new EventStream()) {
    this.cluster = cluster;
    this.history = history;
    this.events = events;
  }

  private open(kind: FaultKind, targets: string[], text: string, peers?: string[]): FaultRecord {
    const fault: FaultRecord = { id: this.nextId++, kind, targets, start: this.history.now(), peers };
    this.history.faults.push(fault);
    this.events.emit({ kind: 'fault', fault, text });
    return fault;
  }

  private close(kinds: FaultKind[], node: string, text: string): void {
    for (const f of this.history.faults) {
      if (f.end === undefined && kinds.includes(f.kind) && f.targets.includes(node)) {
        f.end = this.history.now();
        this.events.emit({ kind: 'heal', fault: f, text });
      }
    }
  }

  /** SIGKILL: the process dies at once, sockets close, nothing is flushed. */
  async kill(node: string): Promise<FaultRecord> {
    await this.cluster.node(node).kill();
    return this.open('kill', [node], `killed ${node} (SIGKILL)`);
  }

  /**
   * SIGKILL of the server process alone, the container and its address kept: peers are
   * refused at once (a process crash; `kill` is a machine crash, found only by time-outs).
   * The node must run a `crashable` command.
   */
  async crash(node: string): Promise<FaultRecord> {
    await this.cluster.node(node).crash();
    return this.open('crash', [node], `crashed ${node}'s server process (SIGKILL, the container stays up)`);
  }

  /** SIGTERM, then SIGKILL after the grace period: a clean shutdown. */
  async stop(node: string): Promise<FaultRecord> {
    await this.cluster.node(node).stop();
    return this.open('stop', [node], `stopped ${node}`);
  }

  /** Starts a killed, stopped or crashed node again (the same container, its data kept). */
  async start(node: string): Promise<void> {
    const n = this.cluster.node(node);
    const crashed = this.openFaults().some((f) => f.kind === 'crash' && f.targets.includes(node));
    if (crashed && (await n.state()) === 'running') await n.relaunch();
    else await n.start();
    this.close(['kill', 'stop', 'crash'], node, `started ${node} again`);
  }

  /** Freezes every process of the node: no crash, no closed socket, only silence. */
  async pause(node: string): Promise<FaultRecord> {
    await this.cluster.node(node).pause();
    return this.open('pause', [node], `paused ${node} (frozen, sockets stay open)`);
  }

  async resume(node: string): Promise<void> {
    await this.cluster.node(node).resume();
    this.close(['pause'], node, `resumed ${node}`);
  }

  async restart(node: string): Promise<void> {
    const f = this.open('restart', [node], `restarting ${node}`);
    await this.cluster.node(node).restart();
    f.end = this.history.now();
    this.events.emit({ kind: 'heal', fault: f, text: `${node} restarted` });
  }

  /**
   * Cuts `node` off from `peers` (both directions). Clients on this machine still reach
   * it unless `peers` names `HOST`: then they are cut off too, so a host client sits on
   * the other side of the cut (it talks only to the nodes it can reach).
   */
  async partition(node: string, peers: string[]): Promise<FaultRecord> {
    await this.cluster.node(node).cutOff(await this.addresses(peers));
    return this.open('partition', [node], faultLabel({ kind: 'partition', targets: [node], peers }), peers);
  }

  async heal(node: string): Promise<void> {
    await this.cluster.node(node).heal();
    this.close(['partition'], node, `healed ${node}'s network`);
  }

  /**
   * Heals `node`'s cut from `peers` only (a network that heals link by link): the open
   * partition is closed and, if peers remain cut, a new one opens with them.
   */
  async healFrom(node: string, peers: string[]): Promise<FaultRecord | undefined> {
    const open = this.history.faults.find(
      (f) => f.kind === 'partition' && f.end === undefined && f.targets.includes(node),
    );
    await this.cluster.node(node).healFrom(await this.addresses(peers));
    this.close(['partition'], node, `healed ${node}'s link to ${peers.join(', ')}`);
    const rest = (open?.peers ?? []).filter((p) => !peers.includes(p));
    if (rest.length === 0) return undefined;
    return this.open('partition', [node], faultLabel({ kind: 'partition', targets: [node], peers: rest }), rest);
  }

  /** The addresses of `peers` on the lab network (`HOST`: this machine's). */
  private async addresses(peers: string[]): Promise<string[]> {
    const ips = await Promise.all(
      peers.map((p) => (p === HOST ? this.cluster.hostAddress() : this.cluster.node(p).ip())),
    );
    return ips.filter(Boolean);
  }

  /** Records a fault done by other means (a wiped drive, a corrupted file). */
  note(kind: FaultKind, targets: string[], text: string): FaultRecord {
    return this.open(kind, targets, text);
  }

  endNote(fault: FaultRecord, text: string): void {
    fault.end = this.history.now();
    this.events.emit({ kind: 'heal', fault, text });
  }

  /** Whatever is still open: resume, start, heal. */
  async healAll(): Promise<void> {
    const open = this.history.faults.filter((f) => f.end === undefined);
    for (const f of open) {
      for (const node of f.targets) {
        const isNode = this.cluster.nodes.some((n) => n.name === node);
        if (!isNode) this.endNote(f, `${f.kind} on ${node} ended`);
        else if (f.kind === 'pause') await this.resume(node);
        else if (f.kind === 'kill' || f.kind === 'stop' || f.kind === 'crash') await this.start(node);
        else if (f.kind === 'partition') await this.heal(node);
        else this.endNote(f, `${f.kind} on ${node} ended`);
      }
    }
  }

  openFaults(): FaultRecord[] {
    return this.history.faults.filter((f) => f.end === undefined);
  }
}
