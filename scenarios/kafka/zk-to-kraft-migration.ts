import * as kit from './kit.ts';

const TOPIC = 'orders';
const AFTER = 'after-zookeeper';
/** Topic overrides set in ZooKeeper mode, which the migration must carry into the KRaft metadata. */
const OVERRIDES = { 'retention.ms': '3600000', 'min.insync.replicas': '2', 'max.message.bytes': '500000' };
/** The migration state (ZkMigrationState) after each phase, as the Kafka 3.9 docs and KIP-866 describe it. */
const EXPECTED_STATES: Record<string, string> = {
  controllers: 'PRE_MIGRATION',
  'brokers-migrating': 'MIGRATION',
  'brokers-kraft': 'MIGRATION',
  finalise: 'POST_MIGRATION',
};

/** "controllers PRE_MIGRATION, brokers-migrating MIGRATION, ..." with the state `of` each phase. */
function statesText(of: (phase: string) => string | undefined): string {
  return Object.keys(EXPECTED_STATES)
    .map((ph) => `${ph} ${of(ph)}`)
    .join(', ');
}

const zkGet = (path: string) => kit.kafkaTool('kafka1', 'zookeeper-shell.sh', 'get', path);

type Seen = Record<'rollsFrom' | 'rollsTo', number> &
  Record<'partsBefore' | 'partsAfter', kit.PartitionState[]> &
  Record<'topicsBefore' | 'topicsAfter', string[]> & {
    configAfter: Record<string, string>;
    zkStopped: string[];
    createdAfter: true | string;
  };

export default kit.defineLab({
  id: 'kafka/zk-to-kraft-migration',
  title: 'Migrate a ZooKeeper-mode cluster to KRaft, under load',
  teaches:
    'the documented migration (KRaft controllers in migration mode, brokers rolled twice, migration finalised) ' +
    'keeps every acknowledged record and the topic metadata, serves throughout, and leaves ZooKeeper unneeded',
  notes:
    'Notes, Kafka chapter: line 734 says KRaft arrived in 2.8.0 and needs no ZooKeeper; it was early access ' +
    'then (production-ready in 3.3), and a running ZooKeeper-mode cluster is moved over only by this migration ' +
    '(early access in 3.4, production in 3.6; KIP-866). Lines 1172 and 1177 (broker.id kept in meta.properties, ' +
    'zookeeper.connect) are the two settings the migration turns into node.id and a controller quorum. Kafka 4.x ' +
    'cannot migrate (4.0 removed ZooKeeper mode): migrate on 3.x first, so --param version=4.4 is refused.',
  variants: [{}],
  params: {
    // 13 runs: writes 0.6..2.4 s, reads 1.2..4.2 s (longest when the rolled broker was the group coordinator).
    maxWriteGapMs: kit.boundParam(6000, 'longest time without an acknowledged write, first phase to end of run'),
    maxReadGapMs: kit.boundParam(8000, 'longest time the consumer group receives nothing (6 s session + rejoin)'),
  },
  stack: kit.kafka,
  topology: () => ({ mode: 'zookeeper', migration: true }),
  steps: {
    zookeeper: {
      title: 'A ZooKeeper-mode cluster under a producer and a consumer',
      narration:
        `Topic "${TOPIC}" (3 partitions, 3 replicas, overrides ${JSON.stringify(OVERRIDES)}); a producer ` +
        '(acks=all) every 100 ms and a consumer group read it throughout. controller1..3 exist but run nothing yet.',
      commands: [zkGet('/cluster/id'), zkGet('/controller')],
    },
    controllers: {
      title: 'Start KRaft controllers in migration mode',
      narration:
        "controller1..3 are formatted with ZooKeeper's cluster id (/cluster/id) and started with " +
        'zookeeper.metadata.migration.enable=true and zookeeper.connect. They elect a Raft leader and wait for ' +
        'every broker to register before migrating.',
      commands: [kit.quorumCommand()],
    },
    'brokers-migrating': {
      title: 'Roll the brokers with the migration flag',
      narration:
        'Each broker in turn gets zookeeper.metadata.migration.enable=true, controller.quorum.voters and ' +
        'controller.listener.names, and restarts (controlled shutdown first); the next waits until every partition ' +
        'is fully in sync again, as in production. Once all three registered, the active controller copies the ' +
        `metadata ("${kit.MIGRATED_LINE}"), writes /migration and takes /controller: dual-write mode, ZooKeeper ` +
        "still updated. The lab's ZooKeeper session is 6 s (production 18 s).",
      commands: [zkGet('/migration'), zkGet('/controller')],
    },
    'brokers-kraft': {
      title: 'Roll the brokers to KRaft',
      narration:
        'Each broker again: process.roles=broker, node.id = its broker.id, no zookeeper.connect, no migration ' +
        'flag. Until the controllers are rolled too the migration can still be reverted.',
    },
    finalise: {
      title: 'Finalise: roll the controllers without the migration flag',
      narration:
        'Each controller without zookeeper.metadata.migration.enable and zookeeper.connect. The state becomes ' +
        'POST_MIGRATION: the controllers no longer write to ZooKeeper, and there is no way back.',
      commands: [kit.quorumCommand('controller2')],
    },
    'zookeeper-off': {
      title: 'Stop ZooKeeper; the cluster still serves',
      narration:
        `zk1..3 stopped. A new topic "${AFTER}" is created (a metadata write), 20 messages written (acks=all) ` +
        'and read back, while the continuous producer and consumer go on.',
    },
  },
  async mechanism(lab) {
    const k = lab.stack;
    await k.admin.createTopic(TOPIC, { partitions: 3, replicationFactor: 3, config: OVERRIDES });
    const wrong = await kit.topicsHealthy(lab, 'partsBefore', { [TOPIC]: 3 }, 3);
    lab.observe('topicsBefore', await k.admin.listTopics());
    const ctl = (await k.admin.controller()).node;
    lab.observe('zkController', ctl, `ZooKeeper mode: /controller names ${ctl ?? 'nobody'}`);
    if (!ctl?.startsWith('kafka')) wrong.push(`a broker must be the controller in /controller, not ${ctl}`);
    const id = await kit.zkClusterId(k).catch(() => undefined);
    lab.observe('clusterId', id, `cluster id in /cluster/id: ${id}`);
    if (!id) wrong.push('/cluster/id must hold the cluster id');
    if (await kit.migrationZnode(k)) wrong.push('/migration must not exist before the migration');
    return wrong;
  },
  async run(lab) {
    const k = lab.stack;
    const id = lab.history.last('clusterId') as string;
    const opts = { name: 'producer', acks: 'all', intervalMs: 100 } as const;
    const loop = await kit.ProducerLoop.start(k.bootstrap, lab.history, TOPIC, opts);
    const group = { name: 'consumer', groupId: 'g', topics: [TOPIC] };
    const consumer = new kit.KafkaGroupConsumer(k.bootstrap, lab.history, group);
    // Each phase's step ends by recording the migration state it reached.
    const phase = (key: Parameters<typeof lab.step>[0], act: () => Promise<unknown>) =>
      lab.step(key, () => act().then(() => kit.observeMigration(lab, key)));
    try {
      await phase('zookeeper', async () => {
        await consumer.start();
        lab.observe('rollsFrom', lab.history.now());
      });
      await phase('controllers', () => kit.provisionControllers(lab, id));
      await phase('brokers-migrating', async () => {
        await kit.rollBrokers(lab, 'migrating', id);
        await kit.untilMigrationState(lab, 'MIGRATION');
      });
      await phase('brokers-kraft', () => kit.rollBrokers(lab, 'kraft', id));
      await phase('finalise', async () => {
        await kit.rollControllers(lab, id);
        await kit.untilMigrationState(lab, 'POST_MIGRATION');
      });
      await lab.step('zookeeper-off', async () => {
        const zks = await kit.stopZooKeeper(k);
        lab.observe('zkStopped', zks, `${zks.join(', ')} stopped`);
        await k.admin.createTopic(AFTER, { partitions: 3, replicationFactor: 3 }).then(
          () => lab.observe('createdAfter', true, `created ${AFTER} without ZooKeeper`),
          (e: unknown) => lab.observe('createdAfter', String(e), `creating ${AFTER} failed: ${e}`),
        );
        const reader = { process: 'after-reader', f: 'read-after' };
        await kit
          .produce(k.bootstrap, lab.history, AFTER, 20, { name: 'after', acks: 'all' })
          .then(() => kit.readAll(k.bootstrap, k.admin, lab.history, AFTER, reader))
          .catch((e: unknown) => lab.warn(`writing and reading ${AFTER}: ${e}`));
      });
    } finally {
      lab.observe('rollsTo', lab.history.now());
      await loop.stop();
      await consumer.stop();
    }
    lab.observe('partsAfter', await k.admin.partitions([TOPIC]));
    lab.observe('configAfter', await k.admin.topicConfig(TOPIC));
    lab.observe('topicsAfter', await k.admin.listTopics());
  },
  final: (lab) => kit.finalRead(lab, TOPIC),
  check(ev, p) {
    const seen = kit.observed<Seen>(ev);
    const phases = ev.observations.filter((o) => o.name === 'migration').map((o) => o.value as kit.PhaseState);
    if (!phases.some((s) => s.phase === 'controllers'))
      return kit.faultNotReached('the migration', 'controllers started');
    const stateOf = (phase: string) => phases.find((s) => s.phase === phase)?.state ?? 'not reached';
    const copied = phases.find((s) => s.phase === 'brokers-migrating')?.znode?.kraft_controller_id;
    const gap = (xs: kit.Op[]) => kit.longestGap(xs, seen.rollsFrom, seen.rollsTo);
    const writes = gap(kit.sendsOf(ev.ops, 'producer').filter((o) => o.type === 'ok'));
    const reads = gap(ev.ops.filter((o) => o.f === 'receive' && o.process === 'consumer' && o.type === 'ok'));
    const after = kit.sendsOf(ev.ops, 'after');
    const readBack = new Set(kit.completions(ev.ops, 'read-after').flatMap((o) => kit.idsOf(o.value)));
    const afterOk =
      after.length === 20 && after.every((o) => o.type === 'ok' && readBack.has(kit.idsOf(o.value)[0] ?? ''));
    const placed = (ps: kit.PartitionState[] = []) => ps.map((x) => `${x.partition}:${x.replicas}`);
    const moved = placed(seen.partsBefore).filter((x) => !placed(seen.partsAfter).includes(x));
    const lostCfg = Object.entries(OVERRIDES).filter(([key, v]) => seen.configAfter?.[key] !== v);
    const gone = (seen.topicsBefore ?? []).filter((t) => !seen.topicsAfter?.includes(t));
    return [
      kit.check(
        'the migration went through its states',
        Object.entries(EXPECTED_STATES).every(([ph, st]) => stateOf(ph) === st) && Number(copied) > 100,
        `${statesText((ph) => EXPECTED_STATES[ph])}; /migration names a KRaft controller`,
        `${statesText(stateOf)}; /migration kraft_controller_id ${copied ?? 'absent'}`,
      ),
      kit.check(
        'the topic metadata carried over',
        !moved.length && !lostCfg.length && !gone.length && (seen.partsAfter ?? []).length === 3,
        `every topic still listed; ${TOPIC}: 3 partitions with the same replicas, overrides ${JSON.stringify(OVERRIDES)}`,
        `${gone.length ? `gone: ${gone.join(', ')}` : `${seen.topicsAfter?.length} topics`}; ` +
          `${(seen.partsAfter ?? []).length} partitions, ${moved.length} with other replicas; ` +
          `${lostCfg.length ? `lost ${lostCfg.map(([key]) => `${key}=${seen.configAfter?.[key]}`).join(', ')}` : 'overrides kept'}`,
      ),
      kit.gapCheck('acknowledged writes', writes, p.maxWriteGapMs, `(${kit.tally(kit.sendsOf(ev.ops, 'producer'))})`),
      kit.gapCheck('reads', reads, p.maxReadGapMs, '(the consumer group)'),
      kit.check(
        'ZooKeeper no longer needed',
        Array.isArray(seen.zkStopped) && seen.createdAfter === true && afterOk,
        `with zk1..3 stopped: ${AFTER} created, 20 acks=all writes acknowledged and read back`,
        `${seen.zkStopped ? 'stopped' : 'not stopped'}; create ${seen.createdAfter ?? 'not tried'}; ` +
          `${kit.tally(after)}, ${readBack.size} read back`,
      ),
      ...kit.finalReadChecks(kit.ofProducer(ev.ops, 'producer'), 'acks=all messages'),
    ];
  },
});
