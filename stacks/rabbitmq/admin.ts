import { MidlabError } from '../../src/errors.ts';

/**
 * The management plugin's HTTP API, for probes: which nodes run, where a queue lives,
 * its mirrors and whether they are synchronised, a quorum queue's leader and members,
 * policies. Cheap from the host (a CLI call inside a node costs about 0.9 s of CPU).
 *
 * Queue figures (message counts, and some mirror fields) come from statistics that are
 * refreshed every `collect_statistics_interval`: labs count messages by draining, never
 * by these numbers. Where a queue runs (`node`, `leader`) is read live.
 */
export class AdminError extends MidlabError {
  /** The HTTP status. */
  readonly status: number;
  constructor(status: number, message: string) {
    super('RABBITMQ_HTTP', message, {
      hint: 'the management API refused the request: the node log in the run folder says why',
    });
    this.name = 'AdminError';
    this.status = status;
  }
}

export interface NodeInfo {
  /** rabbit@rabbit1 */
  name: string;
  running: boolean;
  /** disc or ram (RAM nodes are deprecated, and removed in RabbitMQ 4.3). */
  type: string;
  /** Nodes this one has seen on the other side of a partition. */
  partitions: string[];
}

export interface QueueInfo {
  name: string;
  /** classic, quorum or stream. */
  type: string;
  durable: boolean;
  /** A classic queue's home (its master, when mirrored); for quorum queues the leader. */
  node: string | undefined;
  state: string | undefined;
  policy: string | undefined;
  /** Classic mirroring: the nodes holding a mirror, and those whose mirror is synchronised. */
  mirrors: string[];
  synchronisedMirrors: string[];
  /** Quorum queues: the leader, all members, and those members online. */
  leader: string | undefined;
  members: string[];
  online: string[];
  /** From statistics: a few seconds late. */
  messages: number | undefined;
}

export interface Policy {
  name: string;
  pattern: string;
  applyTo: string;
  definition: Record<string, unknown>;
  priority: number;
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Parses /api/nodes. */
export function parseNodes(json: unknown): NodeInfo[] {
  if (!Array.isArray(json)) throw new AdminError(200, `/api/nodes: not a list: ${JSON.stringify(json).slice(0, 200)}`);
  return json.map((n: Record<string, unknown>) => ({
    name: String(n.name),
    running: n.running === true,
    type: String(n.type ?? 'disc'),
    partitions: strings(n.partitions),
  }));
}

/** Parses /api/queues/<vhost>/<name>: classic (mirrored or not) and quorum queues alike. */
export function parseQueue(json: Record<string, unknown>): QueueInfo {
  return {
    name: String(json.name),
    type: String(json.type ?? 'classic'),
    durable: json.durable === true,
    node: str(json.node),
    state: str(json.state),
    policy: str(json.policy) || undefined,
    mirrors: strings(json.slave_nodes),
    synchronisedMirrors: strings(json.synchronised_slave_nodes),
    leader: str(json.leader),
    members: strings(json.members),
    online: strings(json.online),
    messages: typeof json.messages === 'number' ? json.messages : undefined,
  };
}

export function parsePolicies(json: unknown): Policy[] {
  if (!Array.isArray(json)) return [];
  return json.map((p: Record<string, unknown>) => ({
    name: String(p.name),
    pattern: String(p.pattern),
    applyTo: String(p['apply-to'] ?? 'all'),
    definition: (p.definition ?? {}) as Record<string, unknown>,
    priority: Number(p.priority ?? 0),
  }));
}

/** One node's management API (each node answers for the whole cluster). */
export class Admin {
  readonly baseUrl: string;
  private readonly auth: string;
  private readonly timeoutMs: number;

  constructor(baseUrl: string, user: string, password: string, timeoutMs = 3000) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
    this.auth = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    this.timeoutMs = timeoutMs;
  }

  private async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { authorization: this.auth, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    if (!res.ok) throw new AdminError(res.status, `${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
    return text ? JSON.parse(text) : undefined;
  }

  async nodes(): Promise<NodeInfo[]> {
    return parseNodes(await this.request('GET', '/api/nodes'));
  }

  /** The queue, or undefined when it does not exist. */
  async queue(name: string, vhost = '/'): Promise<QueueInfo | undefined> {
    try {
      const q = await this.request('GET', `/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`);
      return parseQueue(q as Record<string, unknown>);
    } catch (err) {
      if (err instanceof AdminError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** Every queue of a vhost, with where it runs (no statistics: cheap enough to poll). */
  async queues(vhost = '/'): Promise<QueueInfo[]> {
    const path = `/api/queues/${encodeURIComponent(vhost)}?disable_stats=true&columns=name,type,durable,node,leader`;
    const list = await this.request('GET', path);
    return Array.isArray(list) ? list.map((q: Record<string, unknown>) => parseQueue(q)) : [];
  }

  async setPolicy(name: string, policy: Omit<Policy, 'name'>, vhost = '/'): Promise<void> {
    await this.request('PUT', `/api/policies/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`, {
      pattern: policy.pattern,
      definition: policy.definition,
      priority: policy.priority,
      'apply-to': policy.applyTo,
    });
  }

  async policies(vhost = '/'): Promise<Policy[]> {
    return parsePolicies(await this.request('GET', `/api/policies/${encodeURIComponent(vhost)}`));
  }

  /** Whether this node accepts connections on `port` (its AMQP listener opens last at boot). */
  async listening(port: number): Promise<boolean> {
    try {
      await this.request('GET', `/api/health/checks/port-listener/${port}`);
      return true;
    } catch (err) {
      if (err instanceof AdminError && err.status === 503) return false;
      throw err;
    }
  }

  async overview(): Promise<{ clusterName: string; version: string; node: string }> {
    const o = (await this.request('GET', '/api/overview')) as Record<string, unknown>;
    return { clusterName: String(o.cluster_name), version: String(o.rabbitmq_version), node: String(o.node) };
  }
}
