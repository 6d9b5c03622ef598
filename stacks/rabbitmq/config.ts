import { secret } from '../../src/runtime/secrets.ts';

/**
 * Rendering of rabbitmq.conf and the per-lab secrets. Pure functions, unit-tested.
 *
 * The image's contract (image/entrypoint.sh): before the first start the runtime copies
 * in /etc/midlab/erlang.cookie (one line of [A-Za-z0-9], the same on every member; the
 * entrypoint installs it as /var/lib/rabbitmq/.erlang.cookie, rabbitmq:rabbitmq 0400, and
 * exits 64 with a FATAL line when it is missing) and /etc/rabbitmq/rabbitmq.conf (the
 * SAME file on every member). The node name is rabbit@<hostname>; the runtime sets the
 * hostname and a network alias to the node name.
 */
export const AMQP_PORT = 5672;
export const HTTP_PORT = 15672;
export const USER = 'midlab';
export const COOKIE_PATH = '/etc/midlab/erlang.cookie';
export const CONF_PATH = '/etc/rabbitmq/rabbitmq.conf';
/** The node that tries to join with the wrong cookie (cluster-formation). */
export const INTRUDER = 'intruder';
/** Memory RabbitMQ is told it has (and the container's limit): its alarms follow from it. */
export const NODE_MEMORY_MB = 512;

export interface RabbitLayout {
  /** Cluster members: rabbit1..rabbitN. */
  members: string[];
  clusterName: string;
  password: string;
  netTicktime: number;
  /** cluster_partition_handling: what a node does once it finds the cluster split. */
  partitionHandling: PartitionHandling;
}

export const PARTITION_HANDLING = ['ignore', 'pause_minority', 'autoheal'] as const;
export type PartitionHandling = (typeof PARTITION_HANDLING)[number];

export function memberNames(nodes: number): string[] {
  return Array.from({ length: nodes }, (_, i) => `rabbit${i + 1}`);
}

export function nodeName(host: string): string {
  return `rabbit@${host}`;
}

/** The host (container) name of an Erlang node name: rabbit@rabbit2 -> rabbit2. */
export function hostOf(erlangNode: string | undefined): string | undefined {
  return erlangNode?.split('@')[1];
}

/** Crypto-random [A-Za-z0-9] cookies and passwords, one per lab (fixed when compose files are generated). */
export { secret };

/**
 * rabbitmq.conf for a member (the same text for every member) or, with `standalone`,
 * for a node outside the cluster (no peer discovery: it forms a cluster of its own).
 * Comments go on their own lines: the new-style format has no inline comments.
 */
export function rabbitmqConf(layout: RabbitLayout, opts: { standalone?: boolean } = {}): string {
  const lines = ['# Rendered by midlab: the same file on every member of this cluster.'];
  if (!opts.standalone) {
    lines.push(
      '# Classic config peer discovery, used on the first boot of a blank node only. Every node lists',
      '# every member: a node given a shorter list can win the formation lock and split the cluster.',
      'cluster_formation.peer_discovery_backend = rabbit_peer_discovery_classic_config',
      ...layout.members.map((m, i) => `cluster_formation.classic_config.nodes.${i + 1} = ${nodeName(m)}`),
      '# The lock winner waits limit x interval for a peer that already has a database, then starts',
      '# alone and the others join it (60 x 1000 ms made formation take ~80 s).',
      'cluster_formation.discovery_retry_limit = 2',
      'cluster_formation.discovery_retry_interval = 500',
    );
  } else {
    lines.push('# Outside the cluster: no peer discovery, so this node starts as a cluster of its own.');
  }
  lines.push(
    `cluster_name = ${layout.clusterName}`,
    '# ignore (the default) leaves a split cluster split; pause_minority and autoheal act on it.',
    `cluster_partition_handling = ${layout.partitionHandling}`,
    `# Lab timing: a silent peer is declared down after ${layout.netTicktime}-${layout.netTicktime * 1.25} s. Production default: 60.`,
    `net_ticktime = ${layout.netTicktime}`,
    `listeners.tcp.default = ${AMQP_PORT}`,
    `management.tcp.port = ${HTTP_PORT}`,
    '# Queue and node figures in the HTTP API refresh every 2 s (default 5 s).',
    'collect_statistics_interval = 2000',
    `# RabbitMQ 3.10 does not read the container's limit: tell it, so its memory alarm means something.`,
    `total_memory_available_override_value = ${NODE_MEMORY_MB}MB`,
    'vm_memory_high_watermark.relative = 0.6',
    '# One administrator per lab, created when the cluster is first initialised (so no guest user).',
    `default_user = ${USER}`,
    `default_pass = ${layout.password}`,
    'default_vhost = /',
    'default_user_tags.administrator = true',
    'default_permissions.configure = .*',
    'default_permissions.read = .*',
    'default_permissions.write = .*',
  );
  return `${lines.join('\n')}\n`;
}

/** The `default_pass` of a rendered rabbitmq.conf. */
export function passwordOf(conf: string): string | undefined {
  return /^default_pass = (\S+)$/m.exec(conf)?.[1];
}
