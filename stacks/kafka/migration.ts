import type { NodeSpec } from '../../src/runtime/node.ts';
import {
  CONFIG_PATH,
  CONTROLLER_PORT,
  IMAGES,
  type KafkaParams,
  nodeId,
  serverProperties,
  ZK_CLIENT_PORT,
  zkNames,
} from './config.ts';
import type { StartedKafka } from './stack.ts';

/**
 * ZooKeeper to KRaft migration (Kafka 3.9 docs, "ZooKeeper to KRaft Migration"; KIP-866).
 * With `migration=true` a ZooKeeper-mode cluster also gets KRaft controllers controller1..3
 * (ids 101..103) that idle until `provisionControllers` gives them a configuration and the
 * ZooKeeper cluster's id. The phases of a node's configuration:
 *
 *   controller 'migrating'  process.roles=controller + zookeeper.metadata.migration.enable=true,
 *                           zookeeper.connect, inter.broker.listener.name (it sends RPCs to ZK brokers)
 *   broker     'migrating'  its ZooKeeper-mode config + the migration flag, controller.quorum.voters,
 *                           controller.listener.names and CONTROLLER in the security protocol map
 *   broker     'kraft'      process.roles=broker, node.id = its broker.id, no zookeeper.connect
 *   controller 'kraft'      the migration flag and zookeeper.connect removed: migration finalised
 *
 * Every KRaft rendering is the stack's own isolated-layout one (config.ts), so a migrated
 * cluster is configured like a cluster made in KRaft mode. Kafka 4.x cannot migrate: the
 * migration must be done on 3.x before upgrading.
 */
export const MIGRATION_CONTROLLERS = ['controller1', 'controller2', 'controller3'];
export type MigrationPhase = 'migrating' | 'kraft';
/** Written by the lab: the id the KRaft controllers are formatted with (the entrypoint reads KAFKA_CLUSTER_ID). */
const CLUSTER_ID_FILE = '/etc/kafka/cluster.id';
/** Logged by the active controller once ZooKeeper's metadata is in the KRaft log. */
export const MIGRATED_LINE = 'Completed migration of metadata from ZooKeeper to KRaft';

/** The container command: (controllers) wait for the cluster id, export it, start as the image does. */
function launcher(waitForId: boolean): string[] {
  const script = [
    waitForId ? `while [ ! -s ${CLUSTER_ID_FILE} ]; do sleep 0.5; done` : ':',
    `if [ -s ${CLUSTER_ID_FILE} ]; then export KAFKA_CLUSTER_ID="$(cat ${CLUSTER_ID_FILE})"; fi`,
    'exec /opt/kafka/bin/kafka-entrypoint.sh',
  ].join('\n');
  return ['sh', '-c', script];
}

/** The stack's nodes, with the idle controllers and the brokers' launcher when `migration` is on. */
export function withMigration(p: KafkaParams, nodes: NodeSpec[]): NodeSpec[] {
  if (!p.migration) return nodes;
  const controllers = MIGRATION_CONTROLLERS.map(
    (name): NodeSpec => ({
      name,
      image: IMAGES['3.9'],
      cmd: launcher(true),
      ports: { controller: CONTROLLER_PORT },
      env: { KAFKA_HEAP_OPTS: `-Xms64m -Xmx${Math.min(192, p.heapMb)}m` },
      memoryMb: Math.min(192, p.heapMb) + 320,
    }),
  );
  const brokers = nodes.map((n) => (n.name.startsWith('kafka') ? { ...n, cmd: launcher(false) } : n));
  return [...brokers, ...controllers];
}

/** A node's server.properties in a phase of the migration (the header's table). */
export function migrationConfig(p: KafkaParams, node: string, phase: MigrationPhase): string {
  const kraft = serverProperties({ ...p, mode: 'kraft', layout: 'isolated' }, node);
  if (phase === 'kraft') return kraft;
  const zk = zkNames(p)
    .map((z) => `${z}:${ZK_CLIENT_PORT}`)
    .join(',');
  const voters = MIGRATION_CONTROLLERS.map((n) => `${nodeId(n)}@${n}:${CONTROLLER_PORT}`).join(',');
  const extra = node.startsWith('controller')
    ? ['zookeeper.metadata.migration.enable=true', `zookeeper.connect=${zk}`, 'inter.broker.listener.name=INTERNAL']
    : [
        'zookeeper.metadata.migration.enable=true',
        `controller.quorum.voters=${voters}`,
        'controller.listener.names=CONTROLLER',
        'listener.security.protocol.map=INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,EXTERNAL:PLAINTEXT',
      ];
  const base = node.startsWith('controller') ? kraft : serverProperties(p, node);
  return `${base}# ZooKeeper to KRaft migration\n${extra.join('\n')}\n`;
}

/** The ZooKeeper cluster's id (/cluster/id), which the KRaft controllers must be formatted with. */
export async function zkClusterId(k: StartedKafka): Promise<string> {
  const raw = await k.admin.znode('/cluster/id');
  const id = raw ? (JSON.parse(raw) as { id?: string }).id : undefined;
  if (!id) throw new Error(`no cluster id in /cluster/id (${raw ?? 'absent'})`);
  return id;
}

/** Writes a node's configuration for `phase` (and the cluster id) into its container. */
export async function writeConfig(
  k: StartedKafka,
  node: string,
  phase: MigrationPhase,
  clusterId: string,
): Promise<void> {
  const n = k.cluster.node(node);
  const config = migrationConfig(k.params, node, phase).replace(/@HOSTPORT:external@/g, () =>
    String(n.hostPort('external')),
  );
  await n.writeFiles([
    { path: CONFIG_PATH, content: config },
    { path: CLUSTER_ID_FILE, content: `${clusterId}\n` },
  ]);
}

/** Restarts a node with its configuration for `phase` (SIGTERM: a controlled shutdown first). */
export async function rollNode(k: StartedKafka, node: string, phase: MigrationPhase, clusterId: string) {
  await writeConfig(k, node, phase, clusterId);
  await k.cluster.node(node).restart(60);
}
