import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { ImageMissingError, MidlabError, UsageError } from '../errors.ts';
import { onShutdown } from './cleanup.ts';
import { docker } from './docker.ts';
import { labLabels, labSlug } from './labels.ts';
import { type NodeSpec, StartedNode } from './node.ts';
import { freePorts, HOST_IP, isIpLiteral } from './ports.ts';
import { listLabs, madeBy, ownerGone, reap } from './reaper.ts';

export interface ClusterSpec {
  /** The lab id that owns every object (the `dev.midlab.lab` label). */
  lab: string;
  stack: string;
  nodes: NodeSpec[];
  /** Kept after this process ends (`midlab up`), instead of being a leftover. */
  kept?: boolean;
  /** Containers someone else started and will remove (testcontainers): `stop` leaves them. */
  adopted?: boolean;
  /** This start's own label (set by startCluster). */
  run?: string;
}

/**
 * Live containers of one lab on a network of their own. Disposable: `await using`
 * removes everything, after saving every node's log when a log folder was given.
 */
export class StartedCluster {
  readonly lab: string;
  readonly stack: string;
  readonly network: string;
  readonly nodes: StartedNode[];
  private logDir: string | undefined;
  private disposed = false;
  private readonly unregister: () => void;

  private readonly adopted: boolean;
  private readonly run: string | undefined;

  constructor(spec: ClusterSpec, network: string, nodes: StartedNode[]) {
    this.adopted = spec.adopted ?? false;
    this.run = spec.run;
    this.lab = spec.lab;
    this.stack = spec.stack;
    this.network = network;
    this.nodes = nodes;
    this.unregister = onShutdown(() => this.stop());
  }

  node(name: string): StartedNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name} in ${this.lab} (nodes: ${this.nodes.map((x) => x.name).join(', ')})`);
    return n;
  }

  /**
   * The address host clients reach the nodes from: the lab network's gateway (published
   * ports are forwarded from it). Cutting a node off from it cuts this machine's clients.
   */
  async hostAddress(): Promise<string> {
    const info = await docker().getNetwork(this.network).inspect();
    const gateway = (info.IPAM?.Config?.[0] as { Gateway?: string } | undefined)?.Gateway;
    if (!gateway) throw new Error(`network ${this.network} has no gateway`);
    return gateway.split('/')[0] as string;
  }

  /** Where node logs go when the cluster is removed. */
  keepLogsIn(dir: string): void {
    this.logDir = dir;
  }

  async saveLogs(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    await Promise.all(
      this.nodes.map(async (n) => {
        const text = await n.logs().catch((e: Error) => `(log unavailable: ${e.message})`);
        await writeFile(join(dir, `${n.name}.log`), text);
      }),
    );
  }

  /** Saves logs (if asked) and removes every container and the network. Idempotent. */
  async stop(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.unregister();
    if (this.logDir) await this.saveLogs(this.logDir).catch(() => {});
    if (!this.adopted) await reap(this.lab, this.run ? madeBy(this.run) : () => true);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/**
 * Creates the lab network and every node, then starts them all in parallel. Leftovers
 * of the same lab are removed first, but a run of it still going is never touched; if
 * anything fails, whatever was made is removed before the error is rethrown.
 */
export async function startCluster(spec: ClusterSpec): Promise<StartedCluster> {
  if (!isIpLiteral(HOST_IP))
    throw new UsageError(
      `DOCKER_HOST names the engine's host as "${HOST_IP}": ports can be published on an IP address only`,
      'write DOCKER_HOST=tcp://<the engine host IP>:<port>',
    );
  const d = docker();
  await Promise.all([...new Set(spec.nodes.map((n) => n.image))].map((img) => requireImage(img, spec.stack)));
  const same = (await listLabs()).filter((l) => l.lab === spec.lab);
  const kept = same.find((l) => l.kept);
  if (kept && !spec.kept) {
    throw new MidlabError('LAB_BUSY', `${spec.lab} is a cluster kept by \`midlab up\``, {
      hint: `use it as it is, or remove it first with \`npx midlab down ${spec.lab}\``,
    });
  }
  const running = same.find((l) => l.alive && l.pid !== process.pid);
  if (running) {
    throw new MidlabError('LAB_BUSY', `${spec.lab} is already running (midlab process ${running.pid})`, {
      hint: `wait for it to end, or remove it with \`npx midlab down ${spec.lab}\``,
    });
  }
  // Leftovers of dead runs go (a kept cluster too, when `up` makes it again); a run that
  // starts at the same moment is never touched: whichever creates the network second
  // is refused, and removes only what it made itself.
  await reap(spec.lab, kept ? () => true : ownerGone);
  const run = randomBytes(6).toString('hex');
  spec = { ...spec, run };
  const slug = labSlug(spec.lab);
  const network = `midlab-${slug}`;
  const unregister = onShutdown(() => reap(spec.lab, madeBy(run)).then(() => undefined));
  try {
    const subnet = await createLabNetwork(network, labLabels(spec.lab, spec.stack, { run }));
    const portCount = spec.nodes.reduce((sum, n) => sum + Object.keys(n.ports ?? {}).length, 0);
    const ports = await freePorts(portCount);
    const nodes = await Promise.all(
      spec.nodes.map(async (n, i) => {
        const hostPorts: Record<string, number> = {};
        for (const name of Object.keys(n.ports ?? {})) hostPorts[name] = ports.pop() as number;
        const resolved = withHostPorts(n, hostPorts);
        const opts = createOptions(spec, resolved, network, slug, hostPorts, nthAddress(subnet, 10 + i));
        const container = await d.createContainer(opts);
        const node = new StartedNode(resolved, container, opts.name as string, network, hostPorts);
        if (resolved.files?.length) await node.writeFiles(resolved.files);
        return node;
      }),
    );
    await Promise.all(nodes.map((n) => n.container.start()));
    return new StartedCluster(spec, network, nodes);
  } catch (err) {
    await reap(spec.lab, madeBy(run)).catch(() => {});
    if ((err as { statusCode?: number }).statusCode === 409)
      throw new MidlabError('LAB_BUSY', `${spec.lab} is being started by another process at the same moment`, {
        hint: `wait for it to end, or remove it with \`npx midlab down ${spec.lab}\``,
        cause: err,
      });
    throw err;
  } finally {
    unregister();
  }
}

function createOptions(
  spec: ClusterSpec,
  n: NodeSpec,
  network: string,
  slug: string,
  hostPorts: Record<string, number>,
  ip: string,
): Docker.ContainerCreateOptions {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const [name, port] of Object.entries(n.ports ?? {})) {
    exposed[`${port}/tcp`] = {};
    // Never 0.0.0.0: lab clusters are reachable from this machine only.
    bindings[`${port}/tcp`] = [{ HostIp: HOST_IP, HostPort: String(hostPorts[name]) }];
  }
  return {
    name: `midlab-${slug}-${n.name}`,
    Hostname: n.name,
    Image: n.image,
    Cmd: n.cmd,
    Env: Object.entries(n.env ?? {}).map(([k, v]) => `${k}=${v}`),
    Labels: labLabels(spec.lab, spec.stack, { node: n.name, run: spec.run }),
    ExposedPorts: exposed,
    HostConfig: {
      NetworkMode: network,
      PortBindings: bindings,
      // iptables inside the node is how partitions cut chosen links.
      CapAdd: ['NET_ADMIN'],
      Init: true,
      Memory: n.memoryMb ? n.memoryMb * 1024 * 1024 : undefined,
      Tmpfs: n.tmpfs,
    },
    NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: [n.name], IPAMConfig: { IPv4Address: ip } } } },
  };
}

/** Replaces `@HOSTPORT:<name>@` in a node's files and env with its published ports. */
export function withHostPorts(n: NodeSpec, hostPorts: Record<string, number>): NodeSpec {
  const fill = (text: string) =>
    text.replace(/@HOSTPORT:([\w-]+)@/g, (m, name: string) =>
      hostPorts[name] === undefined ? m : String(hostPorts[name]),
    );
  return {
    ...n,
    env: n.env && Object.fromEntries(Object.entries(n.env).map(([k, v]) => [k, fill(v)])),
    files: n.files?.map((f) => (typeof f.content === 'string' ? { ...f, content: fill(f.content) } : f)),
  };
}

/**
 * A bridge network whose nodes keep their address across restarts, as servers do: a
 * killed and restarted node must not come back on a peer's old address (ZooKeeper,
 * for one, keeps talking to the address it resolved first). Fixed addresses need an
 * explicit subnet, so the engine picks a free one, and the network is made again with it.
 */
async function createLabNetwork(name: string, labels: Record<string, string>): Promise<string> {
  const d = docker();
  // CheckDuplicate: a second network of the same name is refused (409), not made beside it.
  const probe = await d.createNetwork({ Name: name, Driver: 'bridge', Labels: labels, CheckDuplicate: true });
  const info = await probe.inspect();
  const config = info.IPAM?.Config?.[0] as { Subnet?: string; Gateway?: string } | undefined;
  if (!config?.Subnet) throw new Error(`network ${name} has no IPv4 subnet`);
  await probe.remove();
  await d.createNetwork({
    Name: name,
    Driver: 'bridge',
    CheckDuplicate: true,
    Labels: labels,
    IPAM: { Driver: 'default', Config: [{ Subnet: config.Subnet, Gateway: config.Gateway }] },
  });
  return config.Subnet;
}

/** The n-th address of an IPv4 subnet ("192.168.16.0/20", 10 -> "192.168.16.10"). */
export function nthAddress(subnet: string, n: number): string {
  const [base] = subnet.split('/');
  const v = (base ?? '').split('.').reduce((acc, o) => acc * 256 + Number(o), 0) + n;
  return [24, 16, 8, 0].map((shift) => Math.floor(v / 2 ** shift) % 256).join('.');
}

async function requireImage(image: string, stack: string): Promise<void> {
  try {
    await docker().getImage(image).inspect();
  } catch {
    throw new ImageMissingError(image, stack);
  }
}
