import { createHash } from 'node:crypto';
import * as kit from './kit.ts';

const TARGET = 'rabbit1';
const MEMBERS = ['rabbit@rabbit1', 'rabbit@rabbit2', 'rabbit@rabbit3'];
const INSTALLED = '/var/lib/rabbitmq/.erlang.cookie';

interface Seen {
  formationMs: number;
  clusterStatus: kit.ClusterStatus;
  apiViews: Record<string, string[]>;
  joinFailure: { cause?: string; exitCode?: number; said?: string[] };
  rejectedInLog: string[];
  membersAfter: Record<string, string[]>;
}

/** The first 12 hex digits of a cookie's SHA-256: enough to compare, nothing to reuse. */
const fingerprint = (cookie: string) => createHash('sha256').update(cookie).digest('hex').slice(0, 12);
const listed = (o: Record<string, string>) => Array.from(Object.entries(o), (e) => e.join(' ')).join(', ');

export default kit.defineLab({
  id: 'rabbitmq/cluster-formation',
  title: 'Three nodes, one Erlang cookie: a cluster; a node with another cookie stays out',
  teaches:
    'nodes sharing an Erlang cookie form one cluster of disc nodes; a node with another cookie cannot join: the handshake is refused, and the lab says so in plain words',
  notes:
    `Notes, RabbitMQ chapter: "同步 cookie 文件" (节点之间通过 magic cookie 通信, 必须保证各节点cookie 保持一致) and "创建集群" (stop_app, ` +
    `reset, join_cluster, start_app), and the "可能出现的报错" under "创建新用户" (Erlang Cookie不一致). Here the nodes join by ` +
    `classic-config peer discovery at first boot. OUTDATED: the notes join with --ram and recommend one disc node ` +
    `among RAM nodes; RAM nodes are deprecated and removed in RabbitMQ 4.3, so every node here is a disc node. WRONG ` +
    `in the notes ("内存节点：只将数据保存到内存", line 2505, and line 2510: all data lost if only RAM nodes stop): a RAM node ` +
    `keeps only the metadata (queues, exchanges, bindings, users) in RAM; persistent messages in durable queues go ` +
    `to its disk like on any node. IMPRECISE (line 2571, "文件是 400的权限"): the cookie file must be readable by its ` +
    `owner only: 0400 (what the package writes) or 0600; a file readable by group or others makes the node refuse to ` +
    `start.`,
  params: {
    // Measured 16.6-27.5 s (median 18.5 s, 5 runs) with other clusters running on 2 cores.
    maxFormationS: { type: 'int', default: 60, min: 5, describe: 'bound on the time from start to a formed cluster' },
  },
  stack: kit.rabbitmq,
  topology: () => ({ nodes: 3, intruder: true }),
  steps: {
    cookies: {
      title: 'One cookie for the members, another for the intruder',
      narration:
        `Each node was given ${kit.COOKIE_PATH}, installed as ${INSTALLED} (owner rabbitmq, mode 0400): one random ` +
        `cookie for rabbit1..3, another for "${kit.INTRUDER}". Erlang distribution uses it as the shared secret of a ` +
        'challenge-response handshake and never sends it: from outside, only fingerprints can be compared.',
      commands: [`docker exec {@rabbit1} ls -l ${INSTALLED}`, `docker exec {@rabbit1} sha256sum ${INSTALLED}`],
    },
    formed: {
      title: 'Three nodes formed one cluster',
      narration:
        'All three started together, each listing all three in cluster_formation.classic_config.nodes: the one that ' +
        'won the formation lock started a cluster, the others joined it (within {maxFormationS} s on a busy machine).',
      commands: [
        kit.rabbitmqctl(TARGET, 'cluster_status'),
        kit.rabbitmqctl('rabbit2', 'cluster_status --formatter json'),
      ],
    },
    join: {
      title: `The intruder tries to join ${TARGET}`,
      narration:
        `"${kit.INTRUDER}" runs alone. As in the notes it stops its app and runs join_cluster, whose CLI must first ` +
        `talk to rabbit@${TARGET} over Erlang distribution, with the intruder's cookie.`,
      commands: [
        kit.rabbitmqctl(kit.INTRUDER, `join_cluster rabbit@${TARGET}`),
        `docker logs {@${TARGET}} 2>&1 | grep -i rejected`,
      ],
    },
    fix: {
      title: 'Your turn: fix the intruder (optional)',
      narration:
        "The notes' fix: the same cookie everywhere, a restart (it is read at boot), the join (which resets the node " +
        'first: what it held alone is gone). In step mode, run these before going on; the step then shows the cluster.',
      commands: [
        `docker exec {@${TARGET}} cat ${kit.COOKIE_PATH} | docker exec -i {@${kit.INTRUDER}} sh -c 'cat > ${kit.COOKIE_PATH}' && docker restart {@${kit.INTRUDER}}`,
        ['await_startup', 'stop_app', `join_cluster rabbit@${TARGET}`, 'start_app']
          .map((a) => kit.rabbitmqctl(kit.INTRUDER, a))
          .join(' && '),
      ],
    },
  },
  mechanism: (lab) =>
    kit.prove(lab, 'cookies', async (no) => {
      const r = lab.stack;
      const prints: Record<string, string> = {};
      const modes: Record<string, string> = {};
      for (const n of [...r.members, kit.INTRUDER]) {
        const installed = (await r.cluster.node(n).run(['cat', INSTALLED])).trim();
        prints[n] = fingerprint(installed);
        if (installed !== r.cookieOf(n)) no.push(`${n}'s installed cookie is not the one it was given`);
        modes[n] = (await r.cluster.node(n).run(['stat', '-c', '%a %U', INSTALLED])).trim();
      }
      lab.observe('cookieFingerprints', prints, listed(prints));
      const memberPrints = new Set(r.members.map((m) => prints[m]));
      if (memberPrints.size !== 1) no.push('the members do not share one cookie');
      if (memberPrints.has(prints[kit.INTRUDER])) no.push(`${kit.INTRUDER} has the members' cookie`);
      lab.observe('cookieModes', modes, `cookie file mode and owner: ${listed(modes)}`);
    }),
  async run(lab) {
    const r = lab.stack;
    /** Each member's API: the nodes it lists (`up`: only those running, with their type). */
    const named = (v: kit.MemberView, up: boolean) =>
      (v.nodes ?? []).filter((n) => !up || n.running).map((n) => (up ? `${n.name} (${n.type})` : n.name));
    const views = async (up: boolean) => Object.fromEntries((await r.views()).map((v) => [v.node, named(v, up)]));
    await lab.step('formed', async () => {
      const formed = `the cluster was formed ${(r.formationMs / 1000).toFixed(1)} s after start`;
      lab.observe('formationMs', r.formationMs, formed);
      const s = await r.clusterStatus(TARGET);
      lab.observe('clusterStatus', s, kit.describeStatus(s));
      const seen = await views(true);
      lab.observe('apiViews', seen, `each member's API agrees: ${seen[TARGET]?.join(', ')}`);
    });
    await lab.step('join', async () => {
      const alone = (await r.waitAnswers(kit.INTRUDER)).map((n) => n.name);
      lab.observe('intruderAlone', alone, `${kit.INTRUDER} sees: ${alone.join(', ')}`);
      await r.cluster.node(kit.INTRUDER).run(['rabbitmqctl', 'stop_app']);
      const h = lab.history.invoke('intruder', 'join', { target: `rabbit@${TARGET}` }, kit.INTRUDER);
      const res = await r.rabbitmqctl(kit.INTRUDER, ['join_cluster', `rabbit@${TARGET}`]);
      const output = `${res.stdout}\n${res.stderr}`;
      const why = kit.explainJoinFailure(output);
      const lines = output.split('\n').map((l) => l.trim());
      const said = lines.filter((l) => /^Error:|distribution failed|cookie is identical/.test(l));
      const failure = res.exitCode !== 0 ? { exitCode: res.exitCode, cause: why.cause, said } : undefined;
      if (failure) h.fail(`exit ${res.exitCode}: ${why.plain}`);
      else h.ok();
      lab.observe('joinFailure', failure, failure ? `exit ${res.exitCode}: ${said.join(' / ')}` : 'the join worked');
      if (failure) lab.say(`In plain words: ${why.plain}.`);
      const logged = async (): Promise<kit.Probe<string[]>> => {
        const lines = kit.rejectedConnections(await r.cluster.node(TARGET).logs());
        return lines.length ? { done: true, value: lines } : { done: false, seen: 'no rejection logged' };
      };
      const what = `${TARGET}'s log to record the rejected handshake`;
      const rejected = (await lab.until(what, logged, { timeoutMs: 10_000, intervalMs: 500 })) ?? [];
      const text = rejected[0] ? `${TARGET}'s log: ${rejected[0]}` : `${TARGET} logged nothing`;
      lab.observe('rejectedInLog', rejected, text);
      const after = await views(false);
      for (const v of Object.values(after)) v.sort();
      lab.observe('membersAfter', after, `the members never let it in: ${TARGET} sees ${after[TARGET]?.join(', ')}`);
    });
    await lab.step('fix', async () => {
      const now = ((await r.views([TARGET]))[0]?.nodes ?? []).filter((n) => n.running).map((n) => n.name);
      const fixed = now.includes(`rabbit@${kit.INTRUDER}`);
      const text = fixed ? `fixed: ${TARGET} now sees` : `${TARGET} sees`;
      lab.observe('membersFinal', now, `${text} ${now.join(', ')}${fixed ? '' : ': the intruder is still out'}`);
    });
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
        const join = kit.completions(ev.ops, 'join')[0]?.type;
        return join === 'ok' ? 0 : join && kit.observed<Seen>(ev).joinFailure?.cause === 'cookie' ? 1 : undefined;
      },
    },
  ],
  check(ev, { maxFormationS: max }) {
    const seen = kit.observed<Seen>(ev);
    const s = seen.clusterStatus;
    const secs = (seen.formationMs ?? 0) / 1000;
    const join = kit.completions(ev.ops, 'join')[0];
    const rejected = seen.rejectedInLog ?? [];
    const after = Object.values(seen.membersAfter ?? {});
    const views = Object.values(seen.apiViews ?? {});
    return [
      kit.check(
        'cluster status: 3 running disc nodes',
        s?.runningNodes.join() === MEMBERS.join() && s.diskNodes.join() === MEMBERS.join() && s.ramNodes.length === 0,
        `running and disc: ${MEMBERS.join(', ')}; no RAM node`,
        s ? kit.describeStatus(s) : 'no status',
      ),
      kit.check(
        "every member's API lists the same 3 running disc nodes",
        views.length === 3 && views.every((v) => v.length === 3 && v.every((n) => n.endsWith('(disc)'))),
        '3 views of 3 disc nodes',
        JSON.stringify(seen.apiViews ?? {}),
      ),
      kit.check(`formed within ${max} s`, secs > 0 && secs <= max, `<= ${max} s`, `${secs.toFixed(1)} s`),
      kit.check(
        'the wrong-cookie join fails, as a cookie (authentication) error',
        join?.type === 'fail' && seen.joinFailure?.cause === 'cookie',
        'join_cluster exits non-zero: TCP connected, Erlang distribution (cookie) handshake failed',
        join ? `${join.type}: ${join.error ?? 'joined'}` : 'not tried',
      ),
      kit.check(
        `${TARGET} logged the refused handshake`,
        rejected.some((l) => /rabbit@intruder rejected/i.test(l)),
        'Connection attempt from node rabbit@intruder rejected',
        rejected[0] ?? 'nothing logged',
      ),
      kit.check(
        'the cluster still has exactly its 3 members',
        after.length === 3 && after.every((v) => v.join() === MEMBERS.join()),
        MEMBERS.join(', '),
        JSON.stringify(seen.membersAfter ?? {}),
      ),
    ];
  },
});
