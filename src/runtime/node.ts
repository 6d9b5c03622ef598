import type Docker from 'dockerode';
import { demux, docker } from './docker.ts';
import { HOST_IP } from './ports.ts';
import { type TarEntry, tar } from './tar.ts';

/** What one container of a cluster is: a stack's node, before it exists. */
export interface NodeSpec {
  /** Host name on the lab's network (zk1, kafka2, ...): what peers and trainees call it. */
  name: string;
  image: string;
  cmd?: string[];
  env?: Record<string, string>;
  /** Ports published on 127.0.0.1, by the name a stack gives them: { client: 2181 }. */
  ports?: Record<string, number>;
  /**
   * Files copied in before the first start (configuration, ids). In file contents and
   * env values, `@HOSTPORT:<name>@` becomes the host port published for that named port
   * (ports are chosen at start), e.g. for Kafka's advertised listener.
   */
  files?: TarEntry[];
  /** Memory limit in MiB (a safety net; heaps are set by each stack). */
  memoryMb?: number;
  /** Writable tmpfs mounts (fast data directories). */
  tmpfs?: Record<string, string>;
}

const CRASHED = '/tmp/midlab-crashed';
const SERVER_PID = '/tmp/midlab-server.pid';

/**
 * Wraps a node's command so that `crash` can kill the server process alone: a shell as
 * the first process runs `cmd`, notes its pid, and when the server dies after `crash`
 * waits for `relaunch` before running it again; any other exit of the server ends the
 * container as it would without the shell. The container and its address stay while
 * the server is dead, so peers are refused at once instead of timing out (a process
 * crash, where `kill` is a machine crash).
 */
export function crashable(cmd: string[]): string[] {
  const script = [
    `rm -f ${CRASHED}`,
    'trap \'kill -TERM "$pid" 2>/dev/null\' TERM INT',
    'while :; do',
    `  "$@" & pid=$!; echo "$pid" > ${SERVER_PID}`,
    // A trapped signal ends `wait` early: wait again until the server has really exited.
    '  wait "$pid"; rc=$?; while kill -0 "$pid" 2>/dev/null; do wait "$pid"; rc=$?; done',
    `  [ -e ${CRASHED} ] || exit "$rc"`,
    `  while [ -e ${CRASHED} ]; do sleep 0.1; done`,
    'done',
  ].join('\n');
  return ['sh', '-c', script, 'midlab-crashable', ...cmd];
}

export type NodeState = 'running' | 'paused' | 'exited' | 'created' | 'restarting' | 'dead' | 'removing';

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * A started container with the fault primitives every lab uses. Faults here are raw;
 * `src/faults` records them in the run's ledger.
 */
export class StartedNode {
  readonly name: string;
  readonly spec: NodeSpec;
  readonly container: Docker.Container;
  /** The container's name, for `docker exec -it <name> ...`. */
  readonly containerName: string;
  readonly network: string;
  private readonly hostPorts: Record<string, number>;

  constructor(
    spec: NodeSpec,
    container: Docker.Container,
    containerName: string,
    network: string,
    hostPorts: Record<string, number>,
  ) {
    this.name = spec.name;
    this.spec = spec;
    this.container = container;
    this.containerName = containerName;
    this.network = network;
    this.hostPorts = hostPorts;
  }

  /** The host port (on 127.0.0.1) published for a named port. */
  hostPort(port: string): number {
    const p = this.hostPorts[port];
    if (p === undefined) throw new Error(`${this.name} publishes no port named ${port}`);
    return p;
  }

  /** `127.0.0.1:PORT` for a host client. */
  endpoint(port: string): string {
    return `${HOST_IP}:${this.hostPort(port)}`;
  }

  async state(): Promise<NodeState> {
    const info = await this.container.inspect();
    return info.State.Status as NodeState;
  }

  /** When the node's main process last exited, by the engine's clock (undefined: never). */
  async diedAt(): Promise<number | undefined> {
    const info = await this.container.inspect();
    const t = Date.parse(info.State.FinishedAt);
    return Number.isNaN(t) || t <= 0 ? undefined : t;
  }

  /** The node's address on the lab network (fixed for the life of the lab). */
  async ip(): Promise<string> {
    const info = await this.container.inspect();
    return info.NetworkSettings.Networks[this.network]?.IPAddress ?? '';
  }

  async exec(cmd: string[], opts: { user?: string; env?: string[] } = {}): Promise<ExecResult> {
    const ex = await this.container.exec({
      Cmd: cmd,
      AttachStdout: true,
      AttachStderr: true,
      User: opts.user,
      Env: opts.env,
    });
    const stream = await ex.start({ hijack: true, stdin: false });
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    const { stdout, stderr } = demux(Buffer.concat(chunks));
    const info = await ex.inspect();
    return { exitCode: info.ExitCode ?? -1, stdout, stderr };
  }

  /** exec that throws with the command's own output when it fails. */
  async run(cmd: string[], opts: { user?: string } = {}): Promise<string> {
    const r = await this.exec(cmd, opts);
    if (r.exitCode !== 0) {
      throw new Error(`${this.name}: \`${cmd.join(' ')}\` exited ${r.exitCode}: ${(r.stderr || r.stdout).trim()}`);
    }
    return r.stdout;
  }

  async writeFiles(files: TarEntry[]): Promise<void> {
    await this.container.putArchive(tar(files), { path: '/' });
  }

  // Fault primitives. Each is idempotent where Docker allows, so "heal everything"
  // can call them without knowing the exact state.
  async kill(): Promise<void> {
    await this.container.kill({ signal: 'SIGKILL' });
  }
  async stop(timeoutSec = 10): Promise<void> {
    await this.container.stop({ t: timeoutSec }).catch(ignoreNotModified);
  }
  async start(): Promise<void> {
    await this.container.start().catch(ignoreNotModified);
  }
  async restart(timeoutSec = 10): Promise<void> {
    await this.container.restart({ t: timeoutSec });
  }
  /** SIGKILL of the server process only (the node runs a `crashable` command). */
  async crash(): Promise<void> {
    await this.run(['sh', '-c', `touch ${CRASHED} && kill -KILL "$(cat ${SERVER_PID})"`]);
  }
  /** Runs the server of a crashed `crashable` node again. */
  async relaunch(): Promise<void> {
    await this.run(['rm', '-f', CRASHED]);
  }
  async pause(): Promise<void> {
    await this.container.pause();
  }
  async resume(): Promise<void> {
    await this.container.unpause();
  }

  /**
   * Cuts this node off from `peerIps` in both directions with iptables rules in a chain
   * of its own, so `heal` removes exactly what was added and nothing else.
   */
  async cutOff(peerIps: string[]): Promise<void> {
    const rules = peerIps.flatMap((ip) => [
      `iptables -A MIDLAB -s ${ip} -j DROP`,
      `iptables -A MIDLAB -d ${ip} -j DROP`,
    ]);
    await this.run([
      'sh',
      '-ec',
      [
        'iptables -N MIDLAB 2>/dev/null || true',
        'iptables -C INPUT -j MIDLAB 2>/dev/null || iptables -I INPUT -j MIDLAB',
        'iptables -C OUTPUT -j MIDLAB 2>/dev/null || iptables -I OUTPUT -j MIDLAB',
        ...rules,
      ].join('\n'),
    ]);
  }

  /** Removes the rules `cutOff` added for `peerIps` only: the cut from the other peers stays. */
  async healFrom(peerIps: string[]): Promise<void> {
    const rules = peerIps.flatMap((ip) => [
      `iptables -D MIDLAB -s ${ip} -j DROP 2>/dev/null || true`,
      `iptables -D MIDLAB -d ${ip} -j DROP 2>/dev/null || true`,
    ]);
    await this.run(['sh', '-c', rules.join('\n')]);
  }

  /** Removes every partition rule this node carries. */
  async heal(): Promise<void> {
    await this.run(['sh', '-c', 'iptables -F MIDLAB 2>/dev/null || true']);
  }

  /** The container's whole log (stdout and stderr) since it was created. */
  async logs(): Promise<string> {
    const buf = (await this.container.logs({ stdout: true, stderr: true, timestamps: true })) as unknown as Buffer;
    const { stdout, stderr } = demux(buf);
    return stdout + (stderr ? `\n--- stderr ---\n${stderr}` : '');
  }

  /** Resident memory in bytes, from the engine's stats. */
  async memoryBytes(): Promise<number> {
    const s = await this.container.stats({ stream: false });
    const usage = s.memory_stats.usage ?? 0;
    const cache = (s.memory_stats.stats as Record<string, number> | undefined)?.cache ?? 0;
    return Math.max(0, usage - cache);
  }
}

function ignoreNotModified(err: { statusCode?: number }): void {
  if (err.statusCode !== 304) throw err;
}

export async function containerExists(name: string): Promise<boolean> {
  try {
    await docker().getContainer(name).inspect();
    return true;
  } catch {
    return false;
  }
}
