import { createHash } from 'node:crypto';
import { UsageError } from '../../src/errors.ts';
import type { ParamValues } from '../../src/params.ts';
import { HOST_IP } from '../../src/runtime/ports.ts';
import { secret } from '../../src/runtime/secrets.ts';
import { type ZooKeeperParams, zooCfg } from '../zookeeper/stack.ts';

/**
 * Kafka's configuration, rendered per mode. Kafka 3.9 (the last line with ZooKeeper mode:
 * Kafka 4.0 removed it) runs as either of the two below; Kafka 4.4 (`version=4.4`) in KRaft
 * mode only, with the same configuration (no key here was removed or renamed in 4.x):
 *
 *   - ZooKeeper mode: ZooKeeper nodes zk1..zkM (the ZooKeeper stack's image and zoo.cfg)
 *     and brokers kafka1..kafkaN (`broker.id=N`); the controller is whichever broker
 *     first creates the ephemeral znode /controller;
 *   - KRaft mode: kafka1..kafkaN with `node.id=N`; the first three are combined
 *     controller+broker nodes (`process.roles=broker,controller`) and form the Raft
 *     metadata quorum (`controller.quorum.voters`); with `layout=isolated` three
 *     controller-only nodes controller1..3 (ids 101..103) form it instead.
 *
 * Listener plan (both modes), the same as the hand-run recipe it replaces:
 *   INTERNAL   :9092  broker to broker and the in-container tools (`kafka1:9092`)
 *   CONTROLLER :9093  KRaft only: the Raft quorum and broker heartbeats
 *   EXTERNAL   :9094  published on 127.0.0.1 and advertised as 127.0.0.1:<host port>,
 *                     so host clients (the labs' client, kcat) get addresses they can reach.
 *
 * Java .properties files have no trailing comments (`a=1 # x` makes the value "1 # x"),
 * so every comment is on a line of its own.
 */

/** The Kafka lines midlab runs, each its own image (stacks/kafka/image: versions.env, versions-4.4.env). */
export const IMAGES = { '3.9': 'midlab/kafka:latest', '4.4': 'midlab/kafka:4.4' } as const;
export type KafkaVersion = keyof typeof IMAGES;
export const ZK_IMAGE = 'midlab/zookeeper:latest';
export const INTERNAL_PORT = 9092;
export const CONTROLLER_PORT = 9093;
export const EXTERNAL_PORT = 9094;
export const ZK_CLIENT_PORT = 2181;
export const CONFIG_PATH = '/etc/kafka/server.properties';
export const DATA_DIR = '/var/lib/kafka/data';
/** Node ids of isolated controllers (controller1 -> 101), apart from broker ids. */
export const CONTROLLER_ID_BASE = 100;

export const kafkaParams = {
  version: {
    type: 'enum',
    default: '3.9',
    choices: Object.keys(IMAGES) as KafkaVersion[],
    describe: 'Kafka 3.9.2 (the last line with ZooKeeper mode) or 4.4.0 (KRaft only)',
  },
  mode: {
    type: 'enum',
    default: 'kraft',
    choices: ['kraft', 'zookeeper'],
    describe: 'metadata mode: KRaft (Raft quorum of controllers) or ZooKeeper (removed in Kafka 4.0)',
  },
  brokers: { type: 'int', default: 3, min: 1, max: 7, describe: 'brokers kafka1..kafkaN' },
  layout: {
    type: 'enum',
    default: 'combined',
    choices: ['combined', 'isolated'],
    describe: 'KRaft only: controllers inside kafka1..3 (combined) or on controller1..3 (isolated)',
  },
  zookeepers: { type: 'int', default: 3, min: 1, max: 5, describe: 'ZooKeeper mode only: ensemble size zk1..zkM' },
  replicationFactor: {
    type: 'int',
    default: 0,
    min: 0,
    max: 7,
    describe: 'default.replication.factor and internal topics (0: min(3, brokers))',
  },
  minInsyncReplicas: {
    type: 'int',
    default: 1,
    min: 1,
    max: 7,
    describe: 'min.insync.replicas broker default (Kafka default 1)',
  },
  uncleanLeaderElection: {
    type: 'bool',
    default: false,
    describe: 'unclean.leader.election.enable broker default (Kafka default false)',
  },
  sessionTimeoutMs: {
    type: 'int',
    default: 6000,
    min: 2000,
    max: 60_000,
    describe:
      'a dead broker is noticed after this: zookeeper.session.timeout.ms (production 18000) or ' +
      'broker.session.timeout.ms (production 9000)',
  },
  replicaLagMs: {
    type: 'int',
    default: 10_000,
    min: 1000,
    max: 60_000,
    describe: 'replica.lag.time.max.ms: a silent follower leaves the ISR after this (production 30000)',
  },
  leaderRebalanceSec: {
    type: 'int',
    default: 30,
    min: 0,
    max: 3600,
    describe: 'auto leader rebalance check interval in s (production 300); 0 turns auto.leader.rebalance off',
  },
  migration: {
    type: 'bool',
    default: false,
    describe:
      'ZooKeeper mode only: also create KRaft controllers controller1..3 (ids 101..103), idle until a ' +
      'ZooKeeper to KRaft migration configures them (migration.ts)',
  },
  heapMb: { type: 'int', default: 256, min: 128, max: 2048, describe: 'each Kafka JVM heap (-Xmx) in MiB' },
} as const;
export type KafkaParams = ParamValues<typeof kafkaParams>;
export type KafkaMode = 'kraft' | 'zookeeper';

/** The replication factor in force: the parameter, or min(3, brokers) when it is 0. */
export function replicationOf(p: KafkaParams): number {
  return p.replicationFactor || Math.min(3, p.brokers);
}

export function brokerNames(p: Pick<KafkaParams, 'brokers'>): string[] {
  return Array.from({ length: p.brokers }, (_, i) => `kafka${i + 1}`);
}

export function zkNames(p: KafkaParams): string[] {
  return p.mode === 'zookeeper' ? Array.from({ length: p.zookeepers }, (_, i) => `zk${i + 1}`) : [];
}

/** The KRaft quorum's voters as [node name, node id], or none in ZooKeeper mode. */
export function voters(p: KafkaParams): [string, number][] {
  if (p.mode !== 'kraft') return [];
  if (p.layout === 'isolated') return [1, 2, 3].map((i) => [`controller${i}`, CONTROLLER_ID_BASE + i]);
  return brokerNames(p)
    .slice(0, 3)
    .map((n, i) => [n, i + 1]);
}

/** A node's Kafka id (broker.id / node.id) from its name: kafka2 -> 2, controller1 -> 101. */
export function nodeId(name: string): number {
  const c = /^controller(\d+)$/.exec(name);
  if (c) return CONTROLLER_ID_BASE + Number(c[1]);
  const k = /^kafka(\d+)$/.exec(name);
  if (k) return Number(k[1]);
  throw new Error(`${name} is not a Kafka node`);
}

/** The node name of a Kafka id: 2 -> kafka2, 101 -> controller1. */
export function nodeName(id: number): string {
  return id > CONTROLLER_ID_BASE ? `controller${id - CONTROLLER_ID_BASE}` : `kafka${id}`;
}

/** Refuses impossible topologies (UsageError, exit 2); returns warnings for unwise ones. */
export function validateKafka(p: KafkaParams): string[] {
  if (p.migration && p.version !== '3.9') {
    throw new UsageError(
      `Kafka ${p.version} cannot migrate from ZooKeeper: 4.0 removed ZooKeeper mode and the migration code with it. ` +
        'A ZooKeeper-mode cluster is migrated to KRaft on 3.x first (here 3.9, the last 3.x line), then upgraded',
      'use --param version=3.9',
    );
  }
  if (p.version !== '3.9' && p.mode === 'zookeeper') {
    throw new UsageError(
      `Kafka ${p.version} has no ZooKeeper mode: Kafka 4.0 removed it (KIP-500), so a 4.x cluster is KRaft only. ` +
        "The notes' commands map to KRaft like this: `--zookeeper zk:2181` (kafka-topics.sh, kafka-configs.sh) " +
        'and `--broker-list` (kafka-console-producer.sh, also removed in 4.0) become `--bootstrap-server ' +
        'kafka1:9092`; `zookeeper-shell.sh get ' +
        '/controller` becomes `kafka-metadata-quorum.sh --bootstrap-server kafka1:9092 describe --status`; ' +
        '`zookeeper.connect` in server.properties becomes `process.roles` and a controller quorum ' +
        "(`controller.quorum.voters`), and each node's log directory is formatted once with " +
        '`kafka-storage.sh format -t <cluster id> -c server.properties` before its first start',
      `use --param mode=kraft with --param version=${p.version}, or --param version=3.9 for ZooKeeper mode`,
    );
  }
  const rf = replicationOf(p);
  if (rf > p.brokers) {
    throw new UsageError(
      `impossible topology: replication factor ${rf} needs at least ${rf} brokers, there are ${p.brokers}`,
      `use --param replicationFactor=${p.brokers} or --param brokers=${rf}`,
    );
  }
  if (p.minInsyncReplicas > rf) {
    throw new UsageError(
      `impossible topology: min.insync.replicas ${p.minInsyncReplicas} exceeds the replication factor ${rf}, ` +
        'so every acks=all write would be refused',
      `use --param minInsyncReplicas=${Math.max(1, rf - 1)}`,
    );
  }
  if (p.migration && p.mode !== 'zookeeper') {
    throw new UsageError(
      'a migration to KRaft starts from a ZooKeeper-mode cluster',
      'use --param mode=zookeeper with --param migration=true',
    );
  }
  if (p.mode === 'zookeeper' && p.layout === 'isolated') {
    throw new UsageError(
      'isolated controllers exist only in KRaft mode (in ZooKeeper mode one broker is the controller)',
      'use --param mode=kraft, or leave layout at combined',
    );
  }
  const warnings: string[] = [];
  const quorum = p.mode === 'kraft' ? voters(p).length : p.zookeepers;
  const what = p.mode === 'kraft' ? 'KRaft controller quorum' : 'ZooKeeper ensemble';
  if (quorum % 2 === 0) {
    warnings.push(
      `a ${what} of ${quorum} tolerates ${Math.floor((quorum - 1) / 2)} failure(s), no more than ${quorum - 1} would; use an odd number`,
    );
  }
  if (p.minInsyncReplicas === rf && rf > 1) {
    warnings.push(
      `min.insync.replicas = replication factor = ${rf}: one broker down refuses every acks=all write; ` +
        `the usual choice is ${rf - 1}`,
    );
  }
  if (rf === 1 && p.brokers > 1) warnings.push('replication factor 1: a broker down makes its partitions offline');
  return warnings;
}

/**
 * The KRaft cluster id every node's storage is formatted with: a Kafka Uuid (16 bytes,
 * base64url without padding, 22 characters). Random per cluster; fixed when compose files
 * are generated (src/runtime/secrets.ts).
 */
export function clusterId(): string {
  let seed = secret(32);
  for (;;) {
    const id = createHash('sha256').update(seed).digest().subarray(0, 16).toString('base64url');
    // Kafka's own generator avoids a leading '-' (it reads as an option on a command line).
    if (!id.startsWith('-')) return id;
    seed += 'x';
  }
}

/** zoo.cfg for zkN of a ZooKeeper-mode cluster (the ZooKeeper stack's own rendering). */
export function kafkaZooCfg(p: KafkaParams, self: number): string {
  return zooCfg(zkParams(p), self);
}

/**
 * The ZooKeeper ensemble's settings: tickTime 500 ms (production 2000) so its session
 * bounds (2..20 ticks) admit the brokers' lab session timeout; raised for longer ones.
 */
export function zkParams(p: KafkaParams): ZooKeeperParams {
  return { nodes: p.zookeepers, observers: 0, tickMs: Math.max(500, Math.ceil(p.sessionTimeoutMs / 20)), syncLimit: 4 };
}

/** `key=value` lines with a comment line above each, when it has one. */
function props(entries: [string, string | number | boolean, string?][]): string[] {
  return entries.flatMap(([k, v, comment]) => [...(comment ? [`# ${comment}`] : []), `${k}=${v}`]);
}

/** server.properties for one Kafka node (broker, combined node or controller). */
export function serverProperties(p: KafkaParams, node: string): string {
  const id = nodeId(node);
  const rf = replicationOf(p);
  const isController = voters(p).some(([n]) => n === node);
  const isBroker = node.startsWith('kafka');
  const lines: string[] = [
    `# Rendered by midlab for ${node} (${p.mode} mode). Lab-sized timeouts; production defaults in comments.`,
  ];

  if (p.mode === 'zookeeper') {
    lines.push(
      ...props([
        ['broker.id', id],
        [
          'zookeeper.connect',
          zkNames(p)
            .map((z) => `${z}:${ZK_CLIENT_PORT}`)
            .join(','),
          'the notes\' "zookeeper.connect" line; no chroot',
        ],
        [
          'zookeeper.session.timeout.ms',
          p.sessionTimeoutMs,
          'production default 18000: a dead broker leaves /brokers/ids after this',
        ],
        [
          'zookeeper.connection.timeout.ms',
          60_000,
          'default = the session timeout; a broker that cannot reach ZooKeeper in time at start-up EXITS, and a ' +
            'freshly started ensemble may need longer than a few seconds to elect its leader',
        ],
        ['listeners', `INTERNAL://:${INTERNAL_PORT},EXTERNAL://:${EXTERNAL_PORT}`],
        ['advertised.listeners', `INTERNAL://${node}:${INTERNAL_PORT},EXTERNAL://${HOST_IP}:@HOSTPORT:external@`],
        ['listener.security.protocol.map', 'INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT'],
        ['inter.broker.listener.name', 'INTERNAL'],
      ]),
    );
  } else {
    const roles = [isBroker ? 'broker' : '', isController ? 'controller' : ''].filter(Boolean).join(',');
    const listeners = [
      isBroker ? `INTERNAL://:${INTERNAL_PORT}` : '',
      isController ? `CONTROLLER://:${CONTROLLER_PORT}` : '',
      isBroker ? `EXTERNAL://:${EXTERNAL_PORT}` : '',
    ].filter(Boolean);
    lines.push(
      ...props([
        ['node.id', id],
        ['process.roles', roles],
        [
          'controller.quorum.voters',
          voters(p)
            .map(([n, i]) => `${i}@${n}:${CONTROLLER_PORT}`)
            .join(','),
          'the static Raft quorum (a voter set fixed at format time)',
        ],
        ['controller.listener.names', 'CONTROLLER'],
        ['listeners', listeners.join(',')],
        ...(isBroker
          ? ([
              ['advertised.listeners', `INTERNAL://${node}:${INTERNAL_PORT},EXTERNAL://${HOST_IP}:@HOSTPORT:external@`],
              ['inter.broker.listener.name', 'INTERNAL'],
            ] as [string, string][])
          : []),
        ['listener.security.protocol.map', 'INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,EXTERNAL:PLAINTEXT'],
        [
          'broker.session.timeout.ms',
          p.sessionTimeoutMs,
          'production default 9000: a broker that stops heartbeating is fenced (its leaderships move) after this',
        ],
        ['broker.heartbeat.interval.ms', Math.min(1000, Math.floor(p.sessionTimeoutMs / 4)), 'production default 2000'],
        [
          'unclean.leader.election.interval.ms',
          10_000,
          'production default 300000: how often the controller looks for leaderless partitions it may elect an ' +
            'unclean leader for',
        ],
      ]),
      '# controller.quorum.fetch.timeout.ms (2000) and controller.quorum.election.timeout.ms (1000) keep their',
      '# production defaults: a Raft leader is replaced within a few seconds already.',
    );
  }

  lines.push(
    ...props([
      ['log.dirs', DATA_DIR],
      ['num.partitions', 3, 'default 1; the notes recommend as many as brokers'],
      ['default.replication.factor', rf, 'default 1'],
      ['min.insync.replicas', p.minInsyncReplicas, 'default 1; labs raise it per topic to show acks=all refusals'],
      ['offsets.topic.replication.factor', rf, 'default 3 (must not exceed the brokers)'],
      ['offsets.topic.num.partitions', 6, 'default 50: fewer partitions, faster start'],
      ['transaction.state.log.replication.factor', rf, 'default 3'],
      ['transaction.state.log.min.isr', Math.min(2, rf), 'default 2'],
      ['transaction.state.log.num.partitions', 6, 'default 50'],
      ['group.initial.rebalance.delay.ms', 0, 'default 3000: the first consumer of a group is not kept waiting'],
      ['replica.lag.time.max.ms', p.replicaLagMs, 'default 30000: a follower silent this long leaves the ISR'],
      ['unclean.leader.election.enable', p.uncleanLeaderElection, 'default false'],
      ['auto.leader.rebalance.enable', p.leaderRebalanceSec > 0, 'default true'],
      ['leader.imbalance.check.interval.seconds', Math.max(1, p.leaderRebalanceSec), 'default 300'],
      ['num.network.threads', 2, 'default 3'],
      ['num.io.threads', 4, 'default 8'],
      [
        'log.cleaner.dedupe.buffer.size',
        16_777_216,
        'default 134217728 (128 MiB) is taken from the heap when the log cleaner starts',
      ],
      ['log.segment.bytes', 16_777_216, 'default 1073741824'],
    ]),
  );
  return `${lines.join('\n')}\n`;
}

/** Environment of a Kafka node: cluster id (KRaft) and JVM heap. */
export function nodeEnv(p: KafkaParams, cluster: string | undefined): Record<string, string> {
  return {
    ...(cluster ? { KAFKA_CLUSTER_ID: cluster } : {}),
    KAFKA_HEAP_OPTS: `-Xms${Math.min(128, p.heapMb)}m -Xmx${p.heapMb}m`,
  };
}
