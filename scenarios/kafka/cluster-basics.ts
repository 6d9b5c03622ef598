import * as kit from './kit.ts';

/** kafka-configs.sh arguments showing every config broker 1 runs with, defaults included. */
const CONFIGS = '--describe --entity-type brokers --entity-name 1 --all'.split(' ');
/** SCRATCH is created and deleted to show that deletion needs no setting. */
const [TOPIC, MESSAGES, SCRATCH] = ['basics', 30, 'scratch'] as const;
const BROKERS = ['kafka1', 'kafka2', 'kafka3'];
/** What kafka-topics.sh (3.0 and later) says when given the removed option, and nothing else does. */
const REMOVED = /zookeeper is not a recognized option/;

interface Seen {
  registered: string[];
  controller: string;
  quorum: { leader: number; epoch: number; voters: number[] };
  partitions: kit.PartitionState[];
  zookeeperFlag: { exitCode: number; line: string };
  brokerDefaults: { 'delete.topic.enable'?: string; 'log.retention.bytes'?: string };
  scratchDeleted: boolean;
}

export default kit.defineLab({
  id: 'kafka/cluster-basics',
  title: 'Three brokers, one topic of three partitions, three replicas each',
  teaches:
    'every broker registers (in ZooKeeper or the KRaft quorum), one controller leads, every partition of an RF-3 ' +
    'topic has 3 replicas in sync; two defaults the notes get wrong (delete.topic.enable=true, log.retention.bytes=-1)',
  notes:
    'Notes, Kafka chapter: "Kafka角色和流程" (broker, controller, topic, partition, replication, AR/ISR/OSR), ' +
    '"集群部署" and "Kafka 读写数据" (创建Topic, 查看Topic详情, 生产/消费 Topic). ' +
    kit.OUTDATED +
    ' The notes describe the controller as "using ZooKeeper"; in KRaft mode the controllers are a Raft quorum ' +
    "inside Kafka. The notes' server.properties comments are wrong (lines 1142, 1158): log.retention.bytes " +
    'defaults to -1 (no size limit; not 1G), delete.topic.enable to true since Kafka 1.0 (not false; line 1384 ' +
    'asks to set it and restart). Followers fetch from the leader, as consumers do; the leader pushes nothing ' +
    '(line 1585 says the leader "passes" the message to the ISR).',
  variants: kit.bothModes([], [{ layout: 'isolated' }]),
  params: { mode: kit.modeParam, layout: kit.layoutParam },
  stack: kit.kafka,
  topology: (p) => ({ mode: p.mode, layout: p.layout }),
  steps: {
    register: {
      title: 'The brokers register',
      narration: (p) =>
        p.mode === 'zookeeper'
          ? 'In ZooKeeper mode each broker creates an ephemeral znode /brokers/ids/<broker.id> when it starts, and ' +
            "the first to create the ephemeral /controller becomes the controller (the notes' zooInspector " +
            "screenshots show the same tree). Both vanish when the broker's ZooKeeper session ends."
          : `In KRaft mode there is no ZooKeeper: ${kit.kraftRoles(p.layout)}. The controllers form a Raft quorum over ` +
            'the __cluster_metadata log; its leader, the active controller, is where brokers register and heartbeat.',
      commands: (p) => [...kit.controllerCommands(p.mode), kit.KCAT_LIST],
    },
    create: {
      title: `Create topic "${TOPIC}": 3 partitions, replication factor 3`,
      narration:
        'The notes\' "创建Topic" step, with --bootstrap-server. Each partition gets 3 replicas on 3 brokers; the first ' +
        'listed is the preferred leader, and the assignment rotates so each broker leads one. The followers fetch ' +
        'from the leader and stay in the ISR (in-sync replicas) while they keep up; the lab waits for full ISRs.',
      commands: [kit.describeTopicCommand(TOPIC)],
    },
    'zookeeper-flag': {
      title: "The notes' old command: kafka-topics.sh --zookeeper",
      narration:
        'The notes\' "旧版命令" with --zookeeper, run inside kafka1. Kafka 3.0 removed that option (tools talk to ' +
        'brokers, never to ZooKeeper), so it fails even in ZooKeeper mode.',
      commands: ['docker exec {@kafka1} kafka-topics.sh --zookeeper zk1:2181 --list'],
    },
    defaults: {
      title: 'Two defaults the notes get wrong, read from a broker',
      narration:
        "The notes' server.properties says log.retention.bytes defaults to 1G and delete.topic.enable to false. " +
        'kafka-configs.sh --all shows what this broker runs with (the lab set neither); then a scratch topic is ' +
        'deleted, nothing changed or restarted first.',
      commands: [
        kit.kafkaTool('kafka1', 'kafka-configs.sh', ...CONFIGS),
        kit.kafkaTool('kafka1', 'kafka-topics.sh', '--delete', '--topic', SCRATCH),
      ],
    },
    produce: {
      title: `Produce ${MESSAGES} messages (acks=all), consume them in a group`,
      narration:
        'Identified, keyed messages from the host through the published listeners (acks=all, the default since ' +
        'Kafka 3.0, set explicitly); a consumer group reads them back from the beginning.',
      commands: [`kcat -b {bootstrap} -C -t ${TOPIC} -e -f '%p:%o %k %s\\n'`, kit.groupCommand('basics-readers')],
    },
  },
  async mechanism(lab) {
    const k = kit.observeMode(lab);
    // The brokers the metadata names, before the lab asks anything else.
    const live = lab.observe('liveBefore', await k.admin.liveBrokers());
    if (kit.sameSet(live, BROKERS)) return [];
    return [`3 replicas need brokers ${BROKERS} in the metadata: ${live.join(',') || 'none'}`];
  },
  async run(lab) {
    const k = lab.stack;
    const step = kit.stepsWith(lab, { bootstrap: k.bootstrapServers() });
    await step('register', async () => {
      const registered = await k.admin.registeredBrokers();
      const c = await k.admin.controller();
      lab.observe('registered', registered, `registered brokers: ${registered.join(', ')}`);
      lab.observe('controller', c.node, `active controller: ${kit.named(c.node)}`);
      if (k.mode === 'zookeeper') {
        const text = await k.admin.znode('/controller');
        lab.observe('controllerZnode', text, `/controller = ${text}`);
      } else {
        const q = await k.admin.quorum();
        const voters = q.voters.map((v) => v.id);
        const text = `quorum: leader ${q.leaderId}, epoch ${q.leaderEpoch}, voters ${voters.join(',')}`;
        lab.observe('quorum', { leader: q.leaderId, epoch: q.leaderEpoch, voters }, text);
      }
      const md = await k.admin.metadataController();
      const named = `the Metadata answer (kcat -L) names ${kit.named(md)} as controller`;
      const who = 'in KRaft some live broker (clients never talk to controllers), not necessarily the quorum leader';
      lab.observe('metadataController', md, `${named}: ${k.mode === 'zookeeper' ? 'the real one' : who}`);
    });
    await step('create', () => kit.createdHealthy(lab, 'partitions', { [TOPIC]: 3 }));
    await step('zookeeper-flag', async () => {
      const r = await k.cluster.node('kafka1').exec(['kafka-topics.sh', '--zookeeper', 'zk1:2181', '--list']);
      const lines = `${r.stderr}\n${r.stdout}`.split('\n').map((l) => l.trim());
      const line = lines.find((l) => REMOVED.test(l)) ?? lines.find((l) => l) ?? '(no output)';
      lab.observe('zookeeperFlag', { exitCode: r.exitCode, line }, `exit ${r.exitCode}: ${line}`);
    });
    await step('defaults', async () => {
      const r = await k.tool('kafka1', 'kafka-configs.sh', ...CONFIGS);
      const value = (name: string) => new RegExp(`^\\s*${name.replace(/\./g, '\\.')}=(\\S*)`, 'm').exec(r.stdout)?.[1];
      const defaults = Object.fromEntries(['delete.topic.enable', 'log.retention.bytes'].map((n) => [n, value(n)]));
      const text = Object.entries(defaults).map(([n, v]) => `${n}=${v ?? '(not shown)'}`);
      lab.observe('brokerDefaults', defaults, text.join(', '));
      await k.admin.createTopic(SCRATCH, { partitions: 1, replicationFactor: 3 });
      await k.admin.deleteTopic(SCRATCH);
      const listed = async () => (await k.admin.listTopics()).includes(SCRATCH);
      const gone = await lab.until(
        `${SCRATCH} gone from the topic list`,
        async () => ((await listed()) ? { done: false, seen: 'still listed' } : { done: true, value: true }),
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      lab.observe('scratchDeleted', gone === true, `${SCRATCH} ${gone ? 'deleted' : 'still listed'}`);
    });
    await step('produce', async () => {
      const route = (seq: number) => ({ key: `k${seq % 10}` });
      await kit.produceSaid(lab, k.bootstrap, TOPIC, MESSAGES, { name: 'producer', acks: 'all', route });
      const group = { name: 'consumer', groupId: 'basics-readers', topics: [TOPIC], commit: 'manual' as const };
      lab.say(`${await kit.readGroup(lab, MESSAGES, group)} received by the group`);
    });
  },
  check(ev, p) {
    const seen = kit.observed<Seen>(ev);
    const { registered = [], controller, partitions: parts = [], zookeeperFlag: flag } = seen;
    const [q, isolated, ids] = [seen.quorum, p.layout === 'isolated', BROKERS.map((b) => Number(b.slice(5)))];
    // Combined: the voters are the brokers 1..3; isolated: controllers of their own, none a broker.
    const votersOk = isolated
      ? q?.voters.every((v) => !ids.includes(v))
      : kit.sameSet((q?.voters ?? []).map(String), ids.map(String));
    const quorumOk = q !== undefined && q.voters.length === 3 && votersOk === true && q.voters.includes(q.leader);
    const [del, bytes] = [seen.brokerDefaults?.['delete.topic.enable'], seen.brokerDefaults?.['log.retention.bytes']];
    return [
      p.mode === 'zookeeper'
        ? kit.check(
            '3 brokers in /brokers/ids and a /controller',
            kit.sameSet(registered, BROKERS) && BROKERS.includes(controller ?? ''),
            '/brokers/ids = 1,2,3; /controller names one of them',
            `/brokers/ids = ${registered.map((b) => b.replace('kafka', '')).join(',')}; /controller: ${kit.named(controller)}`,
          )
        : kit.check(
            'a metadata quorum of 3 voters with a leader, 3 brokers registered',
            quorumOk && kit.sameSet(registered, BROKERS),
            `3 voters (${isolated ? 'controllers apart from the brokers' : 'the brokers 1,2,3'}), a leader, brokers 1,2,3 registered`,
            `voters ${q?.voters.join(',') ?? 'none'}, leader ${q?.leader ?? 'none'}, registered ${registered.join(',')}`,
          ),
      kit.allInSync('every partition has ISR = replicas (3 of 3)', parts, 3, 3),
      kit.check(
        'each broker leads one partition',
        new Set(parts.map((x) => x.leader)).size === 3 && parts.every((x) => x.leader === x.replicas[0]),
        'leaders are the preferred (first) replicas, one per broker',
        parts.map((x) => `${x.partition}:${x.leader ?? '-'}`).join(' '),
      ),
      kit.check(
        'kafka-topics.sh --zookeeper is refused (removed in Kafka 3.0)',
        flag !== undefined && flag.exitCode !== 0 && REMOVED.test(flag.line),
        'a non-zero exit and the tool\'s own error: "zookeeper is not a recognized option"',
        flag ? `exit ${flag.exitCode}: ${flag.line}` : 'not run',
      ),
      kit.check(
        'delete.topic.enable defaults to true, log.retention.bytes to -1, and a topic deletes as is',
        del === 'true' && bytes === '-1' && seen.scratchDeleted === true,
        `delete.topic.enable=true, log.retention.bytes=-1 (no size limit) on a broker the lab set neither on; ${SCRATCH} deleted`,
        `delete.topic.enable=${del ?? '?'}, log.retention.bytes=${bytes ?? '?'}; ` +
          `${SCRATCH} ${seen.scratchDeleted ? 'deleted' : 'not deleted'}`,
      ),
      ...kit.nothingLost(ev.ops, 'receive', 'forbidden'),
    ];
  },
});
