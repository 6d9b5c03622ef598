import { createHash } from 'node:crypto';
import { check } from '../../src/checkers/check.ts';
import { completions, observed } from '../../src/engine/history.ts';
import { defineLab } from '../../src/engine/lab.ts';
import {
  type ClusterStatus,
  explainJoinFailure,
  parseClusterStatus,
  rejectedConnections,
} from '../../stacks/rabbitmq/cli.ts';
import { COOKIE_PATH } from '../../stacks/rabbitmq/config.ts';
import { INTRUDER, rabbitmq } from '../../stacks/rabbitmq/stack.ts';
import { apiCommand, rabbitmqctl } from './commands.ts';

const TARGET = 'rabbit1';

interface Seen {
  cookieFingerprints: Record<string, string>;
  cookieModes: Record<string, string>;
  formationMs: number;
  clusterStatus: ClusterStatus;
  apiViews: Record<string, string[]>;
  joinFailure: { cause?: string; exitCode?: number; said?: string[] };
  rejectedInLog: string[];
  membersAfter: Record<string, string[]>;
}

/** The first 12 hex digits of a cookie's SHA-256: enough to compare, nothing to reuse. */
const fingerprint = (cookie: string) => createHash('sha256').update(cookie).digest('hex').slice(0, 12);

export default defineLab({
  id: 'rabbitmq/cluster-formation',
  title: 'Three nodes, one Erlang cookie: a cluster; a node with another cookie stays out',
  teaches:
    'nodes sharing an Erlang cookie form one cluster of disc nodes; a node with another cookie cannot join: the handshake is refused, and the lab says so in plain words',
  notes:
    'Notes, RabbitMQ chapter: "同步 cookie 文件" (节点之间通过 magic cookie 通信, 必须保证各节点cookie 保持一致) and "创建集群" ' +
    '(stop_app, reset, join_cluster, start_app), and the "可能出现的报错" under "创建新用户" (Erlang Cookie不一致). ' +
    'The nodes here join by classic-config peer discovery at first boot instead of by hand. OUTDATED: the notes ' +
    'join with --ram and recommend one disc node with RAM nodes around it; RAM nodes are deprecated and removed in ' +
    'RabbitMQ 4.3, so every node here is a disc node. WRONG in the notes ("内存节点：只将数据保存到内存", line 2505, ' +
    'and line 2510: all data lost if only RAM nodes stop): a RAM node keeps only the metadata (the schema: queues, ' +
    'exchanges, bindings, users) in RAM; persistent messages in durable queues go to its disk like on any node. ' +
    'IMPRECISE (line 2571, "文件是 400的权限"): the cookie file must be readable by its owner only; 0400 is what the ' +
    'package writes, 0600 works as well, and a file readable by group or others makes the node refuse to start.',
  params: {
    maxFormationS: {
      type: 'int',
      // Measured 16.6-27.5 s (median 18.5 s, 5 runs) with other clusters running on 2 cores.
      default: 60,
      min: 5,
      describe: 'bound on the time from container start to a formed cluster',
    },
  },
  stack: rabbitmq,
  topology: () => ({ nodes: 3, intruder: true }),
  async mechanism(lab) {
    const r = lab.stack;
    const reasons: string[] = [];
    await lab.step(
      'One cookie for the members, another for the intruder',
      `Each node was given ${COOKIE_PATH}, installed as /var/lib/rabbitmq/.erlang.cookie (owner rabbitmq, mode ` +
        `0400). rabbit1..3 got the same random cookie; "${INTRUDER}" got another. The Erlang distribution uses the ` +
        'cookie as a shared secret in a challenge-response handshake: it is never sent, so comparing fingerprints ' +
        'is all anyone can do from outside.',
      async () => {
        const prints: Record<string, string> = {};
        for (const n of [...r.members, INTRUDER]) {
          const installed = (await r.cluster.node(n).run(['cat', '/var/lib/rabbitmq/.erlang.cookie'])).trim();
          prints[n] = fingerprint(installed);
          if (installed !== r.cookieOf(n)) reasons.push(`${n}'s installed cookie is not the one it was given`);
        }
        lab.observe(
          'cookieFingerprints',
          prints,
          Object.entries(prints)
            .map(([n, f]) => `${n} ${f}`)
            .join(', '),
        );
        const memberPrints = new Set(r.members.map((m) => prints[m]));
        if (memberPrints.size !== 1) reasons.push('the members do not share one cookie');
        if (memberPrints.has(prints[INTRUDER])) reasons.push(`${INTRUDER} has the members' cookie`);
        const modes: Record<string, string> = {};
        for (const n of [...r.members, INTRUDER]) {
          modes[n] = (await r.cluster.node(n).run(['stat', '-c', '%a %U', '/var/lib/rabbitmq/.erlang.cookie'])).trim();
        }
        lab.observe(
          'cookieModes',
          modes,
          `cookie file mode and owner: ${Object.entries(modes)
            .map(([n, m]) => `${n} ${m}`)
            .join(', ')}`,
        );
      },
      [
        `docker exec ${r.containerName(TARGET)} ls -l /var/lib/rabbitmq/.erlang.cookie`,
        `docker exec ${r.containerName(TARGET)} sha256sum /var/lib/rabbitmq/.erlang.cookie`,
      ],
    );
    return reasons;
  },
  async run(lab) {
    const r = lab.stack;
    await lab.step(
      'Three nodes formed one cluster',
      'All three started together. Each lists all three in cluster_formation.classic_config.nodes; one of them won ' +
        'the formation lock and started a new cluster, the others found it and joined (expected within ' +
        `${lab.params.maxFormationS} s of the start on a busy machine). \`cluster_status\` lists the disc nodes and ` +
        'which of them run.',
      async () => {
        lab.observe(
          'formationMs',
          r.formationMs,
          `the cluster was formed ${(r.formationMs / 1000).toFixed(1)} s after start`,
        );
        const out = await r.rabbitmqctl(TARGET, ['cluster_status', '--formatter', 'json']);
        const status = parseClusterStatus(out.stdout);
        lab.observe(
          'clusterStatus',
          status,
          `running: ${status.runningNodes.join(', ')}; disc: ${status.diskNodes.join(', ')}; ` +
            `ram: ${status.ramNodes.join(', ') || 'none'}`,
        );
        const views = await r.views();
        const seen = Object.fromEntries(
          views.map((v) => [v.node, (v.nodes ?? []).filter((n) => n.running).map((n) => `${n.name} (${n.type})`)]),
        );
        lab.observe('apiViews', seen, `each member's API agrees: ${seen[TARGET]?.join(', ')}`);
      },
      [rabbitmqctl(r, TARGET, 'cluster_status'), apiCommand(r, 'rabbit2', '/api/nodes')],
    );
    await lab.step(
      `The intruder tries to join ${TARGET}`,
      `"${INTRUDER}" runs alone (a cluster of one). As in the notes it stops its app and asks to join: ` +
        `\`rabbitmqctl join_cluster rabbit@${TARGET}\`. The CLI must first talk to rabbit@${TARGET} over Erlang ` +
        "distribution, with the intruder's cookie.",
      async () => {
        const alone = await r.waitAnswers(INTRUDER);
        lab.observe(
          'intruderAlone',
          alone.map((n) => n.name),
          `${INTRUDER} sees: ${alone.map((n) => n.name).join(', ')}`,
        );
        await r.cluster.node(INTRUDER).run(['rabbitmqctl', 'stop_app']);
        const h = lab.history.invoke('intruder', 'join', { target: `rabbit@${TARGET}` }, INTRUDER);
        const res = await r.rabbitmqctl(INTRUDER, ['join_cluster', `rabbit@${TARGET}`]);
        const output = `${res.stdout}\n${res.stderr}`;
        if (res.exitCode === 0) {
          h.ok();
          lab.observe('joinFailure', undefined, 'the join worked');
        } else {
          const why = explainJoinFailure(output);
          h.fail(`exit ${res.exitCode}: ${why.plain}`);
          const said = output
            .split('\n')
            .map((l) => l.trim())
            .filter((l) => /^Error:|distribution failed|cookie is identical/.test(l));
          lab.observe(
            'joinFailure',
            { exitCode: res.exitCode, cause: why.cause, said },
            `exit ${res.exitCode}: ${said.join(' / ')}`,
          );
          lab.say(`In plain words: ${why.plain}.`);
        }
        const rejected =
          (await lab.until(
            `${TARGET}'s log to record the rejected handshake`,
            async () => {
              const lines = rejectedConnections(await r.cluster.node(TARGET).logs());
              return lines.length ? { done: true, value: lines } : { done: false, seen: 'no rejection logged' };
            },
            { timeoutMs: 10_000, intervalMs: 500 },
          )) ?? [];
        lab.observe(
          'rejectedInLog',
          rejected,
          rejected[0] ? `${TARGET}'s log: ${rejected[0]}` : `${TARGET} logged nothing`,
        );
        const views = await r.views();
        const seen = Object.fromEntries(views.map((v) => [v.node, (v.nodes ?? []).map((n) => n.name).sort()]));
        lab.observe('membersAfter', seen, `the members never let it in: ${TARGET} sees ${seen[TARGET]?.join(', ')}`);
      },
      {
        key: 'join',
        commands: [
          rabbitmqctl(r, INTRUDER, 'join_cluster rabbit@rabbit1'),
          `docker logs ${r.containerName(TARGET)} 2>&1 | grep -i rejected`,
        ],
      },
    );
    await lab.step(
      'Your turn: fix the intruder (optional)',
      'The fix the notes give: the same cookie on every node, then a restart (the cookie is read at boot) and the ' +
        'join. In step mode, run the two commands below before going on; this step then shows the cluster as it ' +
        'is. (join_cluster resets the joining node first: whatever it held alone is gone.)',
      async () => {
        const views = await r.views([TARGET]);
        const now = (views[0]?.nodes ?? []).filter((n) => n.running).map((n) => n.name);
        lab.observe(
          'membersFinal',
          now,
          now.includes(`rabbit@${INTRUDER}`)
            ? `fixed: ${TARGET} now sees ${now.join(', ')}`
            : `${TARGET} sees ${now.join(', ')}: the intruder is still out`,
        );
      },
      [
        `docker exec ${r.containerName(INTRUDER)} sh -c 'echo ${r.cookieOf(TARGET)} > ${COOKIE_PATH}' && ` +
          `docker restart ${r.containerName(INTRUDER)}`,
        [
          rabbitmqctl(r, INTRUDER, 'await_startup'),
          rabbitmqctl(r, INTRUDER, 'stop_app'),
          rabbitmqctl(r, INTRUDER, `join_cluster rabbit@${TARGET}`),
          rabbitmqctl(r, INTRUDER, 'start_app'),
        ].join(' && '),
      ],
    );
  },
  predictions: [
    {
      before: 'join',
      question: `A node with a different Erlang cookie runs \`join_cluster rabbit@${TARGET}\`. What happens?`,
      choices: [
        'it joins: the cookie only matters for the CLI',
        'the join fails: the Erlang handshake is refused',
        'it hangs until a timeout',
        "the cluster adopts the newcomer's cookie",
      ],
      answer: (ev) => {
        const join = completions(ev.ops, 'join')[0];
        if (!join) return undefined;
        if (join.type === 'ok') return 0;
        return observed<Seen>(ev).joinFailure?.cause === 'cookie' ? 1 : undefined;
      },
    },
  ],
  check(ev, p) {
    const seen = observed<Seen>(ev);
    const status = seen.clusterStatus;
    const members = ['rabbit@rabbit1', 'rabbit@rabbit2', 'rabbit@rabbit3'];
    const formationMs = seen.formationMs ?? 0;
    const join = completions(ev.ops, 'join')[0];
    const failure = seen.joinFailure;
    const rejected = seen.rejectedInLog ?? [];
    const after = seen.membersAfter ?? {};
    const views = seen.apiViews ?? {};
    return [
      check(
        'cluster status: 3 running disc nodes',
        status?.runningNodes.join() === members.join() &&
          status.diskNodes.join() === members.join() &&
          status.ramNodes.length === 0,
        `running and disc: ${members.join(', ')}; no RAM node`,
        status
          ? `running ${status.runningNodes.join(', ')}; disc ${status.diskNodes.join(', ')}; ram ${status.ramNodes.join(', ') || 'none'}`
          : 'no status',
      ),
      check(
        "every member's API lists the same 3 running disc nodes",
        Object.keys(views).length === 3 &&
          Object.values(views).every((v) => v.length === 3 && v.every((n) => n.endsWith('(disc)'))),
        '3 views of 3 disc nodes',
        JSON.stringify(views),
      ),
      check(
        `formed within ${p.maxFormationS} s`,
        formationMs > 0 && formationMs <= p.maxFormationS * 1000,
        `<= ${p.maxFormationS} s`,
        `${(formationMs / 1000).toFixed(1)} s`,
      ),
      check(
        'the wrong-cookie join fails, as a cookie (authentication) error',
        join?.type === 'fail' && failure?.cause === 'cookie',
        'join_cluster exits non-zero: TCP connected, Erlang distribution (cookie) handshake failed',
        join ? `${join.type}: ${join.error ?? 'joined'}` : 'not tried',
      ),
      check(
        `${TARGET} logged the refused handshake`,
        rejected.some((l) => /rabbit@intruder rejected/i.test(l)),
        'Connection attempt from node rabbit@intruder rejected',
        rejected[0] ?? 'nothing logged',
      ),
      check(
        'the cluster still has exactly its 3 members',
        Object.values(after).length === 3 && Object.values(after).every((v) => v.join() === members.join()),
        members.join(', '),
        JSON.stringify(after),
      ),
    ];
  },
});
