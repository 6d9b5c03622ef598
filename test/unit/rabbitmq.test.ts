import { describe, expect, it } from 'vitest';
import { resolveParams } from '../../src/params.ts';
import { parseNodes, parsePolicies, parseQueue } from '../../stacks/rabbitmq/admin.ts';
import {
  autohealLog,
  autohealRound,
  describeAutoheal,
  explainJoinFailure,
  loggedAt,
  parseClusterStatus,
  parsePartitionSettings,
  parseQuorumStatus,
  promotionLines,
  raftSettled,
  rejectedConnections,
  stripLogPrefix,
  takeoverLines,
} from '../../stacks/rabbitmq/cli.ts';

import {
  CONF_PATH,
  COOKIE_PATH,
  hostOf,
  memberNames,
  passwordOf,
  rabbitmqConf,
  secret,
} from '../../stacks/rabbitmq/config.ts';
import { describeQueue, liveRole, rabbitmq } from '../../stacks/rabbitmq/stack.ts';
import { describeTally, messageIds, outcomeType, tally } from '../../stacks/rabbitmq/workload.ts';

const params = (given: Record<string, string | number | boolean> = {}) =>
  resolveParams(rabbitmq.params, given, 'rabbitmq');

const fileOf = (spec: { files?: { path: string; content: string | Buffer }[] }, path: string) =>
  String(spec.files?.find((f) => f.path === path)?.content ?? '');

describe('rabbitmq config', () => {
  const layout = {
    members: memberNames(3),
    clusterName: 'midlab-test',
    password: 'Secret123',
    netTicktime: 10,
    partitionHandling: 'ignore' as const,
  };

  it('lists every member for classic-config peer discovery, with lab-sized timing', () => {
    const conf = rabbitmqConf(layout);
    expect(conf).toContain('cluster_formation.peer_discovery_backend = rabbit_peer_discovery_classic_config\n');
    for (const [i, m] of ['rabbit1', 'rabbit2', 'rabbit3'].entries()) {
      expect(conf).toContain(`cluster_formation.classic_config.nodes.${i + 1} = rabbit@${m}\n`);
    }
    expect(conf).toContain('net_ticktime = 10\n');
    expect(conf).toContain('cluster_partition_handling = ignore\n');
    expect(conf).toContain('default_user = midlab\n');
    expect(passwordOf(conf)).toBe('Secret123');
  });

  it('puts comments on their own lines only', () => {
    for (const line of rabbitmqConf(layout).split('\n')) {
      if (!line.startsWith('#')) expect(line).not.toContain('#');
    }
  });

  it('a standalone node has no peer discovery', () => {
    const conf = rabbitmqConf(layout, { standalone: true });
    expect(conf).not.toMatch(/cluster_formation/);
    expect(passwordOf(conf)).toBe('Secret123');
  });

  it('makes random [A-Za-z0-9] secrets', () => {
    const a = secret(32);
    expect(a).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(secret(32)).not.toBe(a);
  });

  it('gives every member the same config and cookie, the intruder its own cookie and no peers', () => {
    const nodes = rabbitmq.nodes(params({ intruder: true }));
    expect(nodes.map((n) => n.name)).toEqual(['rabbit1', 'rabbit2', 'rabbit3', 'intruder']);
    const members = nodes.slice(0, 3);
    const intruder = nodes[3]!;
    expect(new Set(members.map((n) => fileOf(n, CONF_PATH))).size).toBe(1);
    expect(new Set(members.map((n) => fileOf(n, COOKIE_PATH))).size).toBe(1);
    expect(fileOf(members[0]!, COOKIE_PATH).trim()).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(fileOf(intruder, COOKIE_PATH)).not.toBe(fileOf(members[0]!, COOKIE_PATH));
    expect(fileOf(members[0]!, CONF_PATH)).not.toContain('rabbit@intruder');
    expect(fileOf(intruder, CONF_PATH)).not.toMatch(/cluster_formation/);
    expect(passwordOf(fileOf(intruder, CONF_PATH))).toBe(passwordOf(fileOf(members[0]!, CONF_PATH)));
    for (const n of nodes) expect(n.ports).toEqual({ amqp: 5672, http: 15672 });
  });

  it('makes new secrets for every cluster', () => {
    const a = rabbitmq.nodes(params())[0]!;
    const b = rabbitmq.nodes(params())[0]!;
    expect(fileOf(a, COOKIE_PATH)).not.toBe(fileOf(b, COOKIE_PATH));
    expect(passwordOf(fileOf(a, CONF_PATH))).not.toBe(passwordOf(fileOf(b, CONF_PATH)));
  });
});

describe('rabbitmq validation', () => {
  it('refuses a cluster without nodes', () => {
    expect(() => params({ nodes: 0 })).toThrow(/out of range/);
    expect(() => rabbitmq.validate({ ...params(), nodes: 0 })).toThrow(/at least one node/);
  });
  it('warns that two nodes leave quorum queues no failure to tolerate', () => {
    expect(rabbitmq.validate(params({ nodes: 2 }))[0]).toMatch(/tolerates no failure/);
    expect(rabbitmq.validate(params({ nodes: 3 }))).toEqual([]);
    expect(rabbitmq.validate(params({ nodes: 1 }))).toEqual([]);
    expect(rabbitmq.validate(params({ nodes: 4 }))[0]).toMatch(/tolerate 1 failure/);
  });
  it('parses intruder as a boolean', () => {
    expect(params({ intruder: 'true' }).intruder).toBe(true);
    expect(params().intruder).toBe(false);
  });
});

describe('rabbitmq HTTP API parsers', () => {
  it('reads /api/nodes', () => {
    const nodes = parseNodes([
      { name: 'rabbit@rabbit1', running: true, type: 'disc', partitions: [] },
      { name: 'rabbit@rabbit2', running: false, type: 'disc' },
    ]);
    expect(nodes).toEqual([
      { name: 'rabbit@rabbit1', running: true, type: 'disc', partitions: [] },
      { name: 'rabbit@rabbit2', running: false, type: 'disc', partitions: [] },
    ]);
    expect(() => parseNodes({ error: 'not_authorised' })).toThrow(/not a list/);
  });

  it('reads a mirrored classic queue', () => {
    const q = parseQueue({
      name: 'ha.orders',
      type: 'classic',
      durable: true,
      node: 'rabbit@rabbit1',
      state: 'running',
      policy: 'ha-all',
      slave_nodes: ['rabbit@rabbit3', 'rabbit@rabbit2'],
      synchronised_slave_nodes: ['rabbit@rabbit2'],
      messages: 3000,
    });
    expect(q).toMatchObject({ node: 'rabbit@rabbit1', policy: 'ha-all', messages: 3000 });
    expect(q.mirrors).toEqual(['rabbit@rabbit3', 'rabbit@rabbit2']);
    expect(q.synchronisedMirrors).toEqual(['rabbit@rabbit2']);
    expect(describeQueue(q)).toBe(
      'ha.orders (classic, durable), on rabbit1, policy ha-all, mirrors rabbit3,rabbit2, synchronised rabbit2',
    );
  });

  it('reads a quorum queue (a fresh one has no statistics yet)', () => {
    const q = parseQueue({
      name: 'qq.orders',
      type: 'quorum',
      durable: true,
      leader: 'rabbit@rabbit2',
      members: ['rabbit@rabbit1', 'rabbit@rabbit2', 'rabbit@rabbit3'],
      online: ['rabbit@rabbit2', 'rabbit@rabbit3'],
    });
    expect(q).toMatchObject({ type: 'quorum', leader: 'rabbit@rabbit2', messages: undefined, policy: undefined });
    expect(q.online).toHaveLength(2);
    expect(describeQueue(q)).toBe(
      'qq.orders (quorum, durable), leader rabbit2, members rabbit1,rabbit2,rabbit3, online rabbit2,rabbit3',
    );
  });

  it('reads policies', () => {
    expect(
      parsePolicies([
        { name: 'ha-all', pattern: '^ha\\.', 'apply-to': 'queues', definition: { 'ha-mode': 'all' }, priority: 0 },
      ]),
    ).toEqual([
      { name: 'ha-all', pattern: '^ha\\.', applyTo: 'queues', definition: { 'ha-mode': 'all' }, priority: 0 },
    ]);
  });

  it('maps node names to hosts', () => {
    expect(hostOf('rabbit@rabbit2')).toBe('rabbit2');
    expect(hostOf(undefined)).toBeUndefined();
  });
});

describe('rabbitmq CLI and log readers', () => {
  it('reads cluster_status --formatter json', () => {
    const s = parseClusterStatus(
      JSON.stringify({
        alarms: [],
        cluster_name: 'midlab-x',
        disk_nodes: ['rabbit@rabbit2', 'rabbit@rabbit1', 'rabbit@rabbit3'],
        ram_nodes: [],
        running_nodes: ['rabbit@rabbit2', 'rabbit@rabbit3', 'rabbit@rabbit1'],
        partitions: {},
        versions: { 'rabbit@rabbit1': { erlang_version: '25.2.3', rabbitmq_version: '3.10.8' } },
      }),
    );
    expect(s.runningNodes).toEqual(['rabbit@rabbit1', 'rabbit@rabbit2', 'rabbit@rabbit3']);
    expect(s.diskNodes).toEqual(['rabbit@rabbit1', 'rabbit@rabbit2', 'rabbit@rabbit3']);
    expect(s.ramNodes).toEqual([]);
    expect(s.versions['rabbit@rabbit1']).toBe('3.10.8');
    expect(() => parseClusterStatus('Error: not running')).toThrow(/no JSON/);
  });

  it('explains a wrong-cookie join in plain words', () => {
    const output = [
      "Error: unable to perform an operation on node 'rabbit@rabbit1'. Please see diagnostics information and suggestions below.",
      'rabbit@rabbit1:',
      '  * connected to epmd (port 4369) on rabbit1',
      '  * TCP connection succeeded but Erlang distribution failed ',
      '  * suggestion: check if the Erlang cookie is identical for all server nodes and CLI tools',
    ].join('\n');
    const why = explainJoinFailure(output);
    expect(why.cause).toBe('cookie');
    expect(why.plain).toMatch(/do not share the same Erlang cookie/);
    expect(explainJoinFailure('* unable to connect to epmd (port 4369) on rabbit9: nxdomain').cause).toBe(
      'unreachable',
    );
    expect(explainJoinFailure('something else\nmore').plain).toBe('something else');
  });

  it('finds rejected handshakes and promotions in a docker log', () => {
    const log = [
      '2026-11-22T01:45:33.964Z 2026-11-22 01:45:33.964140+00:00 [error] <0.1175.0> ** Connection attempt from node rabbit@intruder rejected. Invalid challenge reply. **',
      '2026-11-22T01:45:33.965Z 2026-11-22 01:45:33.964140+00:00 [error] <0.1175.0> ',
      "2026-11-22T01:53:41.354Z 2026-11-22 01:53:41.353852+00:00 [info] <0.704.0> Mirrored queue 'ha.orders' in vhost '/': Promoting mirror <rabbit@rabbit3.1795312402.704.0> to leader",
    ].join('\n');
    expect(rejectedConnections(log)).toEqual([
      'Connection attempt from node rabbit@intruder rejected. Invalid challenge reply.',
    ]);
    expect(promotionLines(log, 'ha.orders')).toEqual([
      "Mirrored queue 'ha.orders' in vhost '/': Promoting mirror <rabbit@rabbit3.1795312402.704.0> to leader",
    ]);
    expect(promotionLines(log, 'other')).toEqual([]);
    const qq =
      "2026-11-30T00:23:42.0650Z 2026-11-30 00:23:42.064756+00:00 [notice] <0.1168.0> queue 'qq.orders' in vhost '/': " +
      'candidate -> leader in term: 2 machine version: 2';
    expect(takeoverLines(`x\n${qq}\n`, 'qq.orders', 'leader')).toEqual([qq]);
    expect(takeoverLines(qq, 'qq', 'leader')).toEqual([]);
    expect(takeoverLines(log, 'ha.orders', 'node').map(loggedAt)[0]).toBe(Date.parse('2026-11-22T01:53:41.353Z'));
    expect(loggedAt(qq)).toBe(Date.parse('2026-11-30T00:23:42.064Z'));
    expect(loggedAt('no time here')).toBeUndefined();
    expect(stripLogPrefix('2026-11-22 01:00:00.1+00:00 [info] <0.1.0> hello')).toBe('hello');
  });
});

describe('rabbitmq quorum_status', () => {
  // What 3.10 printed a second after two killed members were started again, then once settled.
  const row = (node: string, state: string, index: number, term: number) =>
    `{"Node Name":"rabbit@${node}","Raft State":"${state}","Log Index":${index},"Commit Index":${index},` +
    `"Snapshot Index":"undefined","Term":${term},"Machine Version":2}`;
  const recovering = `[\n${row('rabbit1', 'follower', 0, 0)}\n,${row('rabbit3', 'follower', 0, 0)}\n,${row('rabbit2', 'pre_vote', 2507, 2)}\n]\n`;
  const settled = `[\n${row('rabbit1', 'follower', 2811, 3)}\n,${row('rabbit2', 'leader', 2811, 3)}\n,${row('rabbit3', 'follower', 2811, 3)}\n]\n`;

  it('reads each member row', () => {
    expect(parseQuorumStatus(recovering)[2]).toEqual({
      node: 'rabbit@rabbit2',
      state: 'pre_vote',
      logIndex: 2507,
      commitIndex: 2507,
      term: 2,
    });
    expect(() => parseQuorumStatus('Error: queue not found')).toThrow(/no JSON/);
  });

  it('is settled only with one leader and every member a follower in its term at its commit index', () => {
    expect(raftSettled(parseQuorumStatus(settled), 3).settled).toBe(true);
    const r = raftSettled(parseQuorumStatus(recovering), 3);
    expect(r.settled).toBe(false);
    expect(r.seen).toContain('rabbit@rabbit2 pre_vote term 2');
    expect(raftSettled(parseQuorumStatus(settled), 5).settled).toBe(false);
    const lagging = parseQuorumStatus(settled).map((m) => (m.node.endsWith('3') ? { ...m, commitIndex: 2800 } : m));
    expect(raftSettled(lagging, 3).settled).toBe(false);
    const twoLeaders = parseQuorumStatus(settled).map((m) => ({ ...m, state: 'leader' }));
    expect(raftSettled(twoLeaders, 3).settled).toBe(false);
  });
});

describe('rabbitmq publishing outcomes', () => {
  it('maps what the publisher knows to the history', () => {
    expect(outcomeType('confirmed')).toBe('ok');
    for (const o of ['nacked', 'returned', 'refused'] as const) expect(outcomeType(o)).toBe('fail');
    for (const o of ['unknown', 'sent'] as const) expect(outcomeType(o)).toBe('info');
  });
  it('counts outcomes and names messages', () => {
    const t = tally(['confirmed', 'confirmed', 'unknown']);
    expect(t.confirmed).toBe(2);
    expect(describeTally(t)).toBe('2 confirmed, 1 unknown');
    expect(messageIds('m', 9, 2)).toEqual(['m000009', 'm000010']);
  });
});

describe('rabbitmq live roles', () => {
  const node = (n: string, running = true, partitions: string[] = []) => ({
    name: `rabbit@${n}`,
    running,
    type: 'disc',
    partitions: partitions.map((p) => `rabbit@${p}`),
  });
  const queue = (name: string, type: string, on: string) =>
    parseQueue({ name, type, node: `rabbit@${on}`, leader: type === 'quorum' ? `rabbit@${on}` : undefined });
  const all = [node('rabbit1'), node('rabbit2'), node('rabbit3')];
  const queues = [queue('ha.orders', 'classic', 'rabbit1'), queue('qq.orders', 'quorum', 'rabbit1')];

  it('names the queues a member runs, per queue type', () => {
    expect(liveRole('rabbit1', all, queues)).toBe('master of ha.orders; leads qq.orders');
    expect(liveRole('rabbit2', all, queues)).toBe('running');
  });
  it('says what a member sees of the others: down while cut off, partitioned once it has recorded the split', () => {
    const cut = [node('rabbit1', false), node('rabbit2', false), node('rabbit3')];
    expect(liveRole('rabbit3', cut, [queue('ha.orders', 'classic', 'rabbit3')])).toBe(
      'sees rabbit1, rabbit2 down; master of ha.orders',
    );
    const split = [node('rabbit1', true, ['rabbit3']), node('rabbit2', true, ['rabbit3']), node('rabbit3')];
    expect(liveRole('rabbit1', split, queues)).toBe('partitioned from rabbit3; master of ha.orders; leads qq.orders');
  });
  it('shortens a long list of queues', () => {
    const many = ['a', 'b', 'c', 'd'].map((n) => queue(n, 'classic', 'rabbit2'));
    expect(liveRole('rabbit2', all, many)).toBe('master of a, b +2');
  });
});

describe('rabbitmq partition settings', () => {
  it('reads what rabbitmqctl eval prints', () => {
    expect(parsePartitionSettings('{{ok,pause_minority},4}\n')).toEqual({ handling: 'pause_minority', netTicktime: 4 });
    expect(() => parsePartitionSettings('Error: unable to perform an operation')).toThrow(/cannot read/);
  });
});

describe('rabbitmq autoheal log', () => {
  const at = (t: string) => `2026-11-30T05:48:52.0Z 2026-11-30 05:48:${t}+00:00 [info] <0.568.0> `;
  const leader = [
    `${at('50.766891')}Autoheal request denied: Remote nodes disconnected:`,
    `${at('52.078175')}Autoheal decision`,
    `${at('52.078175')}  * Partitions: [[rabbit@rabbit2,rabbit@rabbit1],[rabbit@rabbit3]]`,
    `${at('52.078175')}  * Winner:     rabbit@rabbit2`,
    `${at('52.078175')}  * Losers:     [rabbit@rabbit3]`,
  ].join('\n');
  const loser = `${at('52.078846')}Autoheal: we were selected to restart; winner is rabbit@rabbit2`;
  it('reads a boot stuck in global:sync ("Global hang workaround") and says why', () => {
    const hung = `${at('39.903319')}Global hang workaround: global state on rabbit@rabbit2 seems broken`;
    const l = autohealLog([loser, hung].join('\n'));
    expect(l.globalHang).toEqual([Date.parse('2026-11-30T05:48:39.903Z')]);
    expect(describeAutoheal(l)).toMatch(/boot stuck in global:sync \(.*#6034/);
    expect(autohealLog(leader).globalHang).toEqual([]);
  });

  it('reads the decision, the restart and the denied requests', () => {
    const l = autohealLog(leader);
    expect(l.decisions).toEqual([
      {
        at: Date.parse('2026-11-30T05:48:52.078Z'),
        partitions: [['rabbit1', 'rabbit2'], ['rabbit3']],
        winner: 'rabbit2',
        losers: ['rabbit3'],
      },
    ]);
    expect(l.denied).toBe(1);
    expect(autohealLog(loser).restarts).toEqual([{ winner: 'rabbit2', at: Date.parse('2026-11-30T05:48:52.078Z') }]);
    const round = autohealRound({ rabbit1: l, rabbit2: autohealLog(''), rabbit3: autohealLog(loser) });
    expect(round).toMatchObject({ named: ['rabbit3'], restarted: ['rabbit3'], last: { winner: 'rabbit2' } });
    expect(round.again).toEqual([]);
  });
  it('finds a decision that names a loser again after its restart, and the winner telling it again', () => {
    const decision = (t: string) => [
      `${at(t)}Autoheal decision`,
      `${at(t)}  * Partitions: [[rabbit@rabbit2,rabbit@rabbit1],[rabbit@rabbit3]]`,
      `${at(t)}  * Winner:     rabbit@rabbit2`,
      `${at(t)}  * Losers:     [rabbit@rabbit3]`,
    ];
    const leaderLog = autohealLog([...decision('34.554722'), ...decision('40.619788')].join('\n'));
    const winnerLog = autohealLog(
      [
        `${at('40.620525')}Autoheal: aborting - [rabbit@rabbit3] down`,
        `${at('59.624159')}Autoheal: mnesia in nodes [rabbit@rabbit3] is still up, sending winner notification again to these `,
      ].join('\n'),
    );
    expect(winnerLog).toMatchObject({ aborted: 1, resent: [{ loser: 'rabbit3' }] });
    const restarts = [`${at('34.555687')}`, `${at('59.625434')}`].map(
      (p) => `${p}Autoheal: we were selected to restart; winner is rabbit@rabbit2`,
    );
    const round = autohealRound({ rabbit1: leaderLog, rabbit2: winnerLog, rabbit3: autohealLog(restarts.join('\n')) });
    expect(round.again.map((d) => d.at)).toEqual([Date.parse('2026-11-30T05:48:40.619Z')]);
    expect(round.resent).toHaveLength(1);
    const once = autohealRound({ rabbit1: leaderLog, rabbit2: winnerLog, rabbit3: autohealLog(restarts[1] ?? '') });
    expect(once.again).toEqual([]);
  });
});
