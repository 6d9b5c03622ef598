import { describe, expect, it } from 'vitest';
import clusterFormation from '../../scenarios/rabbitmq/cluster-formation.ts';
import confirms from '../../scenarios/rabbitmq/confirms.ts';
import homeNodeLoss from '../../scenarios/rabbitmq/home-node-loss.ts';
import {
  allKept,
  backOn,
  copies,
  onQueue,
  redeliveries,
  refused,
  sentBy,
  tookOver,
} from '../../scenarios/rabbitmq/kit.ts';
import mirrored from '../../scenarios/rabbitmq/mirrored-queue-failover.ts';
import partition from '../../scenarios/rabbitmq/partition-handling.ts';
import queueDurability from '../../scenarios/rabbitmq/queue-durability.ts';
import quorum from '../../scenarios/rabbitmq/quorum-queue-failover.ts';
import { expectCheck, expectVerdict, Story } from '../helpers/evidence.ts';

// Fixtures follow what real runs record: one `send` per message id with its queue, one
// `receive` per delivery, and the observations each lab makes, named as it names them.

const MEMBERS = ['rabbit@rabbit1', 'rabbit@rabbit2', 'rabbit@rabbit3'];
const ids = (prefix: string, n: number, from = 1) =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(from + i).padStart(6, '0')}`);

function sends(s: Story, process: string, list: string[], type: 'ok' | 'fail' | 'info', extra = {}, f = 'send') {
  for (const id of list) s.op(process, f, type, { id, ...extra }, { error: type === 'ok' ? undefined : 'unknown' });
  return s;
}
function receives(s: Story, process: string, list: string[], extra = {}) {
  for (const id of list) s.op(process, 'receive', 'ok', { id, redelivered: false, ...extra });
  return s;
}

describe('rabbitmq/cluster-formation', () => {
  const views = Object.fromEntries(
    ['rabbit1', 'rabbit2', 'rabbit3'].map((n) => [n, MEMBERS.map((m) => `${m} (disc)`)]),
  );
  const after = Object.fromEntries(['rabbit1', 'rabbit2', 'rabbit3'].map((n) => [n, MEMBERS]));
  const story = (
    o: { ram?: boolean; formationMs?: number; join?: 'ok' | 'fail'; cause?: string; log?: boolean } = {},
  ) => {
    const s = new Story()
      .observe('formationMs', o.formationMs ?? 9800)
      .observe('clusterStatus', {
        runningNodes: MEMBERS,
        diskNodes: o.ram ? MEMBERS.slice(0, 1) : MEMBERS,
        ramNodes: o.ram ? MEMBERS.slice(1) : [],
      })
      .observe('apiViews', views)
      .at(1000)
      .op('intruder', 'join', o.join ?? 'fail', { target: 'rabbit@rabbit1' }, { error: 'exit 69: cookie' })
      .observe('joinFailure', { exitCode: 69, cause: o.cause ?? 'cookie', said: [] })
      .observe(
        'rejectedInLog',
        o.log === false
          ? []
          : ['** Connection attempt from node rabbit@intruder rejected. Invalid challenge reply. **'],
      )
      .observe('membersAfter', after);
    return s.evidence();
  };

  it('passes on three disc nodes and a refused intruder', () => {
    expectVerdict(clusterFormation, story(), 'pass');
  });
  it('fails with RAM nodes in the cluster', () => {
    expectCheck(
      expectVerdict(clusterFormation, story({ ram: true }), 'fail'),
      'cluster status: 3 running disc nodes',
      false,
    );
  });
  it('fails when the API views disagree', () => {
    const ev = story();
    ev.observations.push({ time: 2000, name: 'apiViews', value: { ...views, rabbit3: [`${MEMBERS[2]} (disc)`] } });
    expectCheck(
      expectVerdict(clusterFormation, ev, 'fail'),
      "every member's API lists the same 3 running disc nodes",
      false,
    );
  });
  it('fails when formation took longer than the bound', () => {
    const checks = expectVerdict(clusterFormation, story({ formationMs: 300_000 }), 'fail');
    expectCheck(checks, checks.find((c) => c.name.startsWith('formed within'))?.name ?? 'formed within', false);
  });
  it('fails when the intruder joins, or fails for another reason', () => {
    const name = 'the wrong-cookie join fails, as a cookie (authentication) error';
    expectCheck(expectVerdict(clusterFormation, story({ join: 'ok' }), 'fail'), name, false);
    expectCheck(expectVerdict(clusterFormation, story({ cause: 'unreachable' }), 'fail'), name, false);
  });
  it('fails when the target logged no refused handshake', () => {
    expectCheck(
      expectVerdict(clusterFormation, story({ log: false }), 'fail'),
      'rabbit1 logged the refused handshake',
      false,
    );
  });
  it('fails when a member sees a fourth node', () => {
    const ev = story();
    ev.observations.push({
      time: 3000,
      name: 'membersAfter',
      value: { ...after, rabbit1: [...MEMBERS, 'rabbit@intruder'] },
    });
    expectCheck(expectVerdict(clusterFormation, ev, 'fail'), 'the cluster still has exactly its 3 members', false);
  });
});

describe('rabbitmq/queue-durability', () => {
  const N = 10;
  const story = (
    o: { transientSurvives?: boolean; lose?: number; transientMsgsKept?: boolean; short?: boolean } = {},
  ) => {
    const s = new Story();
    sends(s, 'publisher', ids('t', N), 'ok', { queue: 'transient-queue' });
    sends(s, 'publisher', ids('p', N), 'ok', { queue: 'durable-queue-persistent-msgs' });
    sends(s, 'publisher', ids('n', N), 'ok', { queue: 'durable-queue-transient-msgs' });
    for (const q of ['transient-queue', 'durable-queue-persistent-msgs', 'durable-queue-transient-msgs']) {
      s.observe(`before:${q}`, o.short && q === 'transient-queue' ? N - 1 : N);
    }
    s.at(5000).fault('restart', ['rabbit1'], 8000).at(14_000);
    if (o.transientSurvives) s.op('inspector', 'exists', 'ok', { queue: 'transient-queue' });
    else s.op('inspector', 'exists', 'fail', { queue: 'transient-queue' }, { error: '404 NOT_FOUND - no queue' });
    s.op('inspector', 'exists', 'ok', { queue: 'durable-queue-persistent-msgs' });
    s.op('inspector', 'exists', 'ok', { queue: 'durable-queue-transient-msgs' });
    receives(s, 'drainer', ids('p', N - (o.lose ?? 0)), { queue: 'durable-queue-persistent-msgs' });
    if (o.transientMsgsKept) receives(s, 'drainer', ids('n', 1), { queue: 'durable-queue-transient-msgs' });
    return s.evidence();
  };
  const p = { messages: N };

  it('passes when only persistent messages in the durable queue survive', () => {
    expectVerdict(queueDurability, story(), 'pass', p);
  });
  it('fails when a queue held fewer messages than confirmed before the restart', () => {
    expectCheck(
      expectVerdict(queueDurability, story({ short: true }), 'fail', p),
      'every message was confirmed before the restart',
      false,
    );
  });
  it('fails when the transient queue survives', () => {
    expectCheck(
      expectVerdict(queueDurability, story({ transientSurvives: true }), 'fail', p),
      'the transient queue is gone after the restart',
      false,
    );
  });
  it('fails when a persistent message is lost', () => {
    expectCheck(
      expectVerdict(queueDurability, story({ lose: 1 }), 'fail', p),
      'no acknowledged persistent messages in the durable queue lost',
      false,
    );
  });
  it('fails when a transient message survives', () => {
    expectCheck(
      expectVerdict(queueDurability, story({ transientMsgsKept: true }), 'fail', p),
      'the durable queue with transient messages survives, empty',
      false,
    );
  });
});

describe('rabbitmq/home-node-loss', () => {
  const N = 10;
  const story = (
    o: {
      served?: boolean;
      lose?: number;
      plainArrives?: boolean;
      notReturned?: boolean;
      back?: boolean;
      before?: number;
    } = {},
  ) => {
    const s = new Story().observe('home', 'rabbit1');
    sends(s, 'publisher', ids('m', N), 'ok', { queue: 'orders' });
    s.observe('before', o.before ?? N)
      .at(3000)
      .fault('stop', ['rabbit1'])
      .at(10_000);
    for (const how of ['get', 'consume', 'passive declare']) {
      if (o.served) s.op('consumer', 'consume-attempt', 'ok', { how });
      else
        s.op(
          'consumer',
          'consume-attempt',
          'fail',
          { how },
          {
            error:
              "404 NOT_FOUND - home node 'rabbit@rabbit1' of durable queue 'orders' in vhost '/' is down or inaccessible",
          },
        );
    }
    for (const id of ids('x', 20))
      s.op('outage-publisher', 'send-outage', 'ok', { id, queue: 'orders', mandatory: false });
    for (const id of ids('y', 20)) {
      if (o.notReturned) s.op('outage-publisher', 'send-outage', 'ok', { id, queue: 'orders', mandatory: true });
      else
        s.op(
          'outage-publisher',
          'send-outage',
          'fail',
          { id, queue: 'orders', mandatory: true },
          {
            error: 'returned by the broker (basic.return, mandatory): no queue took it',
          },
        );
    }
    if (o.back !== false) s.observe('homeBack', 'rabbit1');
    receives(s, 'drainer', ids('m', N - (o.lose ?? 0)), { queue: 'orders' });
    if (o.plainArrives) receives(s, 'drainer', ids('x', 20), { queue: 'orders' });
    return s.evidence();
  };
  const p = { messages: N };

  it('passes: unreachable while down, everything back afterwards', () => {
    expectVerdict(homeNodeLoss, story(), 'pass', p);
  });
  it('fails when the queue did not hold every message before the stop', () => {
    expectCheck(
      expectVerdict(homeNodeLoss, story({ before: N - 1 }), 'fail', p),
      `the queue holds ${N} messages before the stop`,
      false,
    );
  });
  it('fails when another node serves the queue', () => {
    expectCheck(
      expectVerdict(homeNodeLoss, story({ served: true }), 'fail', p),
      'consuming through rabbit2 fails while rabbit1 is down',
      false,
    );
  });
  it('fails when the queue never runs again', () => {
    expectCheck(
      expectVerdict(homeNodeLoss, story({ back: false }), 'fail', p),
      'the queue runs again once rabbit1 is back',
      false,
    );
  });
  it('fails when a persistent message is lost', () => {
    expectCheck(
      expectVerdict(homeNodeLoss, story({ lose: 2 }), 'fail', p),
      'no acknowledged persistent messages lost',
      false,
    );
  });
  it('fails when the outage publishes without mandatory arrive after all', () => {
    expectCheck(
      expectVerdict(homeNodeLoss, story({ plainArrives: true }), 'fail', p),
      'during the outage, a confirm without mandatory did not mean stored',
      false,
    );
  });
  it('fails when mandatory publishes are not returned', () => {
    expectCheck(
      expectVerdict(homeNodeLoss, story({ notReturned: true }), 'fail', p),
      'with mandatory, the broker returned them instead',
      false,
    );
  });
});

describe('rabbitmq/confirms', () => {
  const W = 'confirms.with';
  const U = 'confirms.without';
  const story = (
    o: {
      loseConfirmed?: boolean;
      strayDup?: boolean;
      allConfirmed?: boolean;
      blindLoses?: boolean;
      writtenWhileFrozen?: boolean;
      blindOk?: boolean;
      frozen?: boolean;
    } = {},
  ) => {
    const s = new Story();
    sends(s, 'with-confirms', ids('c', 8), 'ok', { queue: W });
    sends(s, 'without-confirms', ids('u', 6), o.blindOk ? 'ok' : 'info', { queue: U });
    s.at(2000)
      .fault('pause', ['rabbit1'], 1000)
      .observe('frozen', o.frozen ?? true);
    if (o.writtenWhileFrozen !== false) {
      sends(s, 'without-confirms', ids('u', 4, 7), 'info', { queue: U });
    }
    sends(s, 'with-confirms', ids('c', 2, 9), o.allConfirmed ? 'ok' : 'info', { queue: W });
    s.at(3000).fault('kill', ['rabbit1'], 15_000).at(4000);
    if (!o.allConfirmed) sends(s, 'republisher', ids('c', 2, 9), 'ok', { queue: W });
    s.at(20_000);
    receives(s, 'drainer', ids('c', o.loseConfirmed ? 7 : 8), { queue: W });
    receives(s, 'drainer', ids('c', 2, 9), { queue: W });
    receives(s, 'drainer', ids('c', 1, 9), { queue: W });
    if (o.strayDup) receives(s, 'drainer', ids('c', 1, 1), { queue: W });
    receives(s, 'drainer', ids('u', o.blindLoses === false ? 10 : 6), { queue: U });
    return s.evidence();
  };

  it('passes: confirmed all kept, blind messages lost and indistinguishable', () => {
    expectVerdict(confirms, story(), 'pass');
  });
  it('fails when a confirmed message is lost', () => {
    expectCheck(
      expectVerdict(confirms, story({ loseConfirmed: true }), 'fail'),
      'no acknowledged confirmed messages lost',
      false,
    );
  });
  it('fails on a duplicate that was never republished', () => {
    expectCheck(
      expectVerdict(confirms, story({ strayDup: true }), 'fail'),
      'duplicates come only from republishing unconfirmed messages',
      false,
    );
  });
  it('fails when nothing was left unconfirmed', () => {
    expectCheck(
      expectVerdict(confirms, story({ allConfirmed: true }), 'fail'),
      'the confirming publisher reports its unconfirmed messages as indeterminate',
      false,
    );
  });
  it('fails when nothing written to the frozen node was lost', () => {
    const checks = expectVerdict(confirms, story({ blindLoses: false }), 'fail');
    expectCheck(checks, 'without confirms, messages were really lost', false);
    expectCheck(checks, 'without confirms the publisher cannot tell the lost from the arrived', false);
  });
  it('is unknown when nothing was written during the freeze and nothing lost', () => {
    const checks = expectVerdict(confirms, story({ blindLoses: false, writtenWhileFrozen: false }), 'unknown');
    expectCheck(checks, 'without confirms, messages were really lost', 'unknown');
  });
  it('is unknown when the node could not be frozen and nothing was lost', () => {
    const checks = expectVerdict(confirms, story({ blindLoses: false, frozen: false }), 'unknown');
    expectCheck(checks, 'without confirms, messages were really lost', 'unknown');
  });
  it('fails when the blind publisher could tell (a send known safe)', () => {
    expectCheck(
      expectVerdict(confirms, story({ blindOk: true }), 'fail'),
      'without confirms the publisher cannot tell the lost from the arrived',
      false,
    );
  });
});

describe('rabbitmq/mirrored-queue-failover', () => {
  const synced = { master: 'rabbit1', mirrors: ['rabbit2', 'rabbit3'], synchronised: ['rabbit2', 'rabbit3'] };
  const unsynced = { ...synced, synchronised: [] as string[] };

  describe('policy=automatic', () => {
    const story = (
      o: {
        before?: object;
        failoverMs?: number;
        lose?: boolean;
        cancelled?: string[];
        redelivered?: 'flagged' | 'none' | 'unflagged' | 'flaggedOnce';
        unacked?: number;
      } = {},
    ) => {
      const s = new Story().observe('mirrorsBefore', o.before ?? synced);
      sends(s, 'publisher', ids('m', 10), 'ok', { queue: 'ha.orders' });
      receives(s, 'consumer', ids('m', 5), { queue: 'ha.orders' });
      s.at(5000)
        .observe('unackedAtKill', o.unacked ?? 3)
        .fault('kill', ['rabbit1'], 20_000);
      s.at(5000 + (o.failoverMs ?? 450))
        .observe('masterAfter', 'rabbit2')
        .observe('failoverMs', o.failoverMs ?? 450);
      s.observe('consumerCancelled', o.cancelled ?? ['cancelled by the broker']).at(6000);
      if (o.redelivered === 'flaggedOnce') {
        // Flagged (the promoted mirror flags all it holds) but delivered only once.
        s.op('consumer', 'receive', 'ok', { id: 'm000006', queue: 'ha.orders', redelivered: true });
        receives(s, 'consumer', ids('m', 4, 7), { queue: 'ha.orders' });
        return s.evidence();
      }
      if (o.redelivered !== 'none') {
        s.op('consumer', 'receive', 'ok', {
          id: 'm000005',
          queue: 'ha.orders',
          redelivered: o.redelivered !== 'unflagged',
        });
      }
      receives(s, 'consumer', ids('m', o.lose ? 4 : 5, 6), { queue: 'ha.orders' });
      return s.evidence();
    };

    it('passes: synchronised mirror promoted, nothing lost, unacked redelivered', () => {
      expectVerdict(mirrored, story(), 'pass');
    });
    it('fails when the mirrors were not synchronised', () => {
      expectCheck(
        expectVerdict(mirrored, story({ before: unsynced }), 'fail'),
        'before the kill, both mirrors were synchronised',
        false,
      );
    });
    it('fails when the promotion took longer than the bound', () => {
      expectCheck(
        expectVerdict(mirrored, story({ failoverMs: 1500 }), 'fail'),
        'a mirror was promoted within 1000 ms',
        false,
      );
    });
    it('fails when a confirmed message is lost', () => {
      expectCheck(
        expectVerdict(mirrored, story({ lose: true }), 'fail'),
        'no acknowledged confirmed messages lost',
        false,
      );
    });
    it('fails when the consumer was never told', () => {
      expectCheck(
        expectVerdict(mirrored, story({ cancelled: [] }), 'fail'),
        'the consumer was told of the failover and consumed on',
        false,
      );
    });
    it('fails when nothing was redelivered although deliveries were outstanding', () => {
      expectCheck(
        expectVerdict(mirrored, story({ redelivered: 'none' }), 'fail'),
        'unacked deliveries came again, flagged redelivered',
        false,
      );
    });
    it('fails when deliveries are only flagged, none delivered twice', () => {
      expectCheck(
        expectVerdict(mirrored, story({ redelivered: 'flaggedOnce' }), 'fail'),
        'unacked deliveries came again, flagged redelivered',
        false,
      );
    });
    it('fails when a second copy is not flagged', () => {
      expectCheck(
        expectVerdict(mirrored, story({ redelivered: 'unflagged' }), 'fail'),
        'unacked deliveries came again, flagged redelivered',
        false,
      );
    });
    it('is unknown when no delivery was outstanding at the kill', () => {
      expectCheck(
        expectVerdict(mirrored, story({ redelivered: 'none', unacked: 0 }), 'unknown'),
        'unacked deliveries came again, flagged redelivered',
        'unknown',
      );
    });
  });

  describe('policy=notes', () => {
    const p = { policy: 'notes' };
    const story = (o: { before?: object; promoted?: boolean; keep?: boolean; lateLost?: boolean } = {}) => {
      const s = new Story().observe('mirrorsBefore', o.before ?? unsynced);
      sends(s, 'publisher', ids('m', 10), 'ok', { queue: 'ha.orders' });
      s.at(20_000).fault('stop', ['rabbit2'], 9000).fault('stop', ['rabbit3'], 9000);
      s.at(40_000).fault('kill', ['rabbit1'], 15_000).at(40_300);
      if (o.promoted !== false) s.observe('masterAfter', 'rabbit3').observe('failoverMs', 300);
      else s.observe('masterDuringOutage', 'rabbit1');
      sends(s, 'publisher-after', ids('n', 5), 'ok', { queue: 'ha.orders' });
      s.at(60_000);
      if (o.keep) receives(s, 'drainer', ids('m', 10), { queue: 'ha.orders' });
      receives(s, 'drainer', ids('n', o.lateLost ? 4 : 5), { queue: 'ha.orders' });
      return s.evidence();
    };

    it('passes: the unsynchronised mirror is promoted and the confirmed messages are gone', () => {
      expectVerdict(mirrored, story(), 'pass', p);
    });
    it('fails when a mirror was synchronised before the kill', () => {
      expectCheck(
        expectVerdict(mirrored, story({ before: { ...unsynced, synchronised: ['rabbit2'] } }), 'fail', p),
        'before the kill, both mirrors were present and unsynchronised',
        false,
      );
    });
    it('fails when no mirror was promoted', () => {
      expectCheck(
        expectVerdict(mirrored, story({ promoted: false }), 'fail', p),
        'a mirror was promoted within 1000 ms',
        false,
      );
    });
    it('fails when nothing was lost', () => {
      expectCheck(
        expectVerdict(mirrored, story({ keep: true }), 'fail', p),
        'confirmed messages were lost with the old master',
        false,
      );
    });
    it('fails when the promoted queue loses new messages too', () => {
      expectCheck(
        expectVerdict(mirrored, story({ lateLost: true }), 'fail', p),
        'the promoted queue took new messages and served them',
        false,
      );
    });
  });

  describe('policy=when-synced', () => {
    const p = { policy: 'when-synced' };
    const story = (
      o: { before?: object; promoted?: boolean; served?: boolean; back?: boolean; lose?: boolean } = {},
    ) => {
      const s = new Story().observe('mirrorsBefore', o.before ?? unsynced);
      sends(s, 'publisher', ids('m', 10), 'ok', { queue: 'ha.orders' });
      s.at(40_000).fault('kill', ['rabbit1'], 25_000).at(50_000);
      if (o.promoted) s.observe('masterAfter', 'rabbit2').observe('failoverMs', 400);
      else s.observe('masterDuringOutage', 'rabbit1');
      if (o.served) s.op('consumer', 'get-during-outage', 'ok', { queue: 'ha.orders' });
      else
        s.op(
          'consumer',
          'get-during-outage',
          'fail',
          { queue: 'ha.orders' },
          { error: 'get from ha.orders: timed out' },
        );
      s.at(70_000);
      if (o.back !== false) s.observe('masterBack', 'rabbit1');
      receives(s, 'drainer', ids('m', o.lose ? 9 : 10), { queue: 'ha.orders' });
      return s.evidence();
    };

    it('passes: no promotion, unavailable, everything back with the master', () => {
      expectVerdict(mirrored, story(), 'pass', p);
    });
    it('fails when a mirror was synchronised before the kill', () => {
      expectCheck(
        expectVerdict(mirrored, story({ before: synced }), 'fail', p),
        'before the kill, both mirrors were present and unsynchronised',
        false,
      );
    });
    it('fails when an unsynchronised mirror was promoted', () => {
      expectCheck(
        expectVerdict(mirrored, story({ promoted: true }), 'fail', p),
        'no unsynchronised mirror was promoted while the master was down',
        false,
      );
    });
    it('fails when the queue was served during the outage', () => {
      expectCheck(
        expectVerdict(mirrored, story({ served: true }), 'fail', p),
        'the queue was unavailable while the master was down',
        false,
      );
    });
    it('fails when the queue never came back', () => {
      expectCheck(
        expectVerdict(mirrored, story({ back: false }), 'fail', p),
        'the queue came back with rabbit1',
        false,
      );
    });
    it('fails when a confirmed message is lost', () => {
      expectCheck(
        expectVerdict(mirrored, story({ lose: true }), 'fail', p),
        'no acknowledged confirmed messages lost',
        false,
      );
    });
  });
});

describe('rabbitmq/quorum-queue-failover', () => {
  const all = ['rabbit1', 'rabbit2', 'rabbit3'];
  const story = (
    o: {
      before?: object;
      electionMs?: number;
      logMs?: number | null;
      elected?: boolean;
      majorityFails?: boolean;
      minorityOk?: boolean;
      getServed?: boolean;
      lose?: boolean;
      dup?: boolean;
    } = {},
  ) => {
    const s = new Story().observe('membersBefore', o.before ?? { leader: 'rabbit1', members: all, online: all });
    sends(s, 'publisher', ids('a', 10), 'ok', { queue: 'qq.orders' });
    s.at(5000)
      .fault('kill', ['rabbit1'], 30_000)
      .at(5000 + (o.electionMs ?? 200));
    if (o.elected !== false) s.observe('leaderAfter', 'rabbit2').observe('electionMs', o.electionMs ?? 200);
    if (o.elected !== false && o.logMs !== null)
      s.observe('electionLog', { line: 'leader', msAfterKill: o.logMs ?? 150 });
    sends(s, 'publisher-majority', ids('b', 5), o.majorityFails ? 'info' : 'ok', { queue: 'qq.orders' });
    s.at(10_000).fault('kill', ['rabbit2'], 25_000);
    sends(s, 'publisher-minority', ids('c', 5), o.minorityOk ? 'ok' : 'fail', { queue: 'qq.orders' });
    if (o.getServed) s.op('consumer', 'consume-attempt', 'ok', {});
    else s.op('consumer', 'consume-attempt', 'fail', {}, { error: '541 INTERNAL_ERROR' });
    s.at(40_000);
    receives(s, 'drainer', ids('a', o.lose ? 9 : 10), { queue: 'qq.orders' });
    receives(s, 'drainer', ids('b', 5), { queue: 'qq.orders' });
    if (o.minorityOk) receives(s, 'drainer', ids('c', 5), { queue: 'qq.orders' });
    if (o.dup) receives(s, 'drainer', ids('a', 1), { queue: 'qq.orders' });
    return s.evidence();
  };

  it('passes: new leader fast, majority confirms, minority refuses, nothing lost', () => {
    expectVerdict(quorum, story(), 'pass');
  });
  it('fails when a member was offline before the kill', () => {
    expectCheck(
      expectVerdict(quorum, story({ before: { leader: 'rabbit1', members: all, online: all.slice(0, 2) } }), 'fail'),
      'three members online, one leader, before any fault',
      false,
    );
  });
  it("fails when the election (by the new leader's log) is slower than the bound, or never seen", () => {
    expectCheck(expectVerdict(quorum, story({ logMs: 1500 }), 'fail'), 'a new leader within 1000 ms', false);
    expectCheck(expectVerdict(quorum, story({ elected: false }), 'fail'), 'a new leader within 1000 ms', false);
  });
  it("judges the election by Raft's log, not by the management API's late view", () => {
    expectCheck(
      expectVerdict(quorum, story({ electionMs: 6900, logMs: 200 }), 'pass'),
      'a new leader within 1000 ms',
      true,
    );
    expectCheck(expectVerdict(quorum, story({ logMs: null }), 'unknown'), 'a new leader within 1000 ms', 'unknown');
  });
  it('fails when the majority does not confirm', () => {
    expectCheck(
      expectVerdict(quorum, story({ majorityFails: true }), 'fail'),
      'with 2 of 3 members, publishes are confirmed',
      false,
    );
  });
  it('fails when the minority confirms', () => {
    expectCheck(
      expectVerdict(quorum, story({ minorityOk: true }), 'fail'),
      'with 1 of 3 members, no publish is confirmed',
      false,
    );
  });
  it('fails when the minority serves reads', () => {
    expectCheck(expectVerdict(quorum, story({ getServed: true }), 'fail'), 'with 1 of 3 members, reading fails', false);
  });
  it('fails on loss or duplication', () => {
    expectCheck(expectVerdict(quorum, story({ lose: true }), 'fail'), 'no acknowledged confirmed messages lost', false);
    expectCheck(expectVerdict(quorum, story({ dup: true }), 'fail'), 'no confirmed messages duplicated', false);
  });
});

/** Each node's autoheal log: the leader (rabbit1) took `decisions` ([winning partition, losing one]). */
function autohealLogs(decisions: [string[], string[]][], restarted: string[]) {
  const logs = (n: string) => ({
    decisions:
      n === 'rabbit1'
        ? decisions.map(([w, l], i) => ({ at: 1000 + i, partitions: [w, l], winner: w[0], losers: l }))
        : [],
    restarts: restarted.includes(n) ? [{ winner: decisions.at(-1)?.[0][0] ?? '', at: 2000 }] : [],
    denied: 0,
    aborted: 0,
  });
  return Object.fromEntries(['rabbit1', 'rabbit2', 'rabbit3'].map((n) => [n, logs(n)]));
}

describe('rabbitmq/partition-handling', () => {
  type Mode = 'ignore' | 'pause_minority' | 'autoheal';
  const send = (s: Story, process: string, n: number, type: 'ok' | 'fail' | 'info') =>
    sends(s, process, ids(`${process}-`, n), type, { queue: process.startsWith('ha') ? 'ha.orders' : 'qq.orders' });
  const read = (s: Story, process: string, n: number) =>
    receives(s, 'drainer', ids(`${process}-`, n), { queue: process.startsWith('ha') ? 'ha.orders' : 'qq.orders' });
  const story = (
    mode: Mode,
    o: {
      minorityHa?: 'ok' | 'fail';
      minorityKept?: boolean;
      qqMinority?: 'ok' | 'info';
      qqMajority?: 'ok' | 'info';
      lose?: 'ha-majority' | 'qq-majority';
      split?: string[];
      log?: string[];
      /** autoheal: the leader's decisions (winner first in each), and the nodes that logged a restart. */
      decisions?: [string[], string[]][];
      restarted?: string[];
      /** pause_minority: confirmed by the minority before it paused, and lost. */
      window?: boolean;
      pausedAt?: number | null;
    } = {},
  ) => {
    const loses = mode !== 'pause_minority';
    const s = new Story().at(1000).fault('partition', ['rabbit3'], 16_000);
    if (o.window) sends(s, 'ha-minority', ids('ha-minority-w', 3), 'ok', { queue: 'ha.orders' });
    if (!loses && o.pausedAt !== null) s.observe('pausedAt', o.pausedAt ?? 1500);
    s.at(2000);
    send(s, 'ha-majority', 10, 'ok');
    send(s, 'qq-majority', 10, o.qqMajority ?? 'ok');
    send(s, 'ha-minority', 10, o.minorityHa ?? (loses ? 'ok' : 'fail'));
    send(s, 'qq-minority', 5, o.qqMinority ?? 'info');
    s.at(20_000);
    const split = o.split ?? ['rabbit1', 'rabbit3'];
    const partitions = {
      rabbit1: { 'rabbit@rabbit1': ['rabbit@rabbit3'] },
      rabbit3: { 'rabbit@rabbit3': ['rabbit@rabbit1'] },
    };
    if (mode === 'ignore') {
      s.observe(
        'partitionsAfterHeal',
        Object.fromEntries(['rabbit1', 'rabbit3'].map((n) => [n, split.includes(n) ? partitions[n as 'rabbit1'] : {}])),
      );
    } else if (mode === 'autoheal') {
      const decisions = o.decisions ?? [[['rabbit1', 'rabbit2'], ['rabbit3']]];
      s.observe('autoheal', autohealLogs(decisions, o.restarted ?? decisions.flatMap(([, l]) => l)));
    } else {
      s.observe('minorityLog', o.log ?? ['Cluster minority/secondary status detected - awaiting recovery']);
    }
    s.at(40_000);
    read(s, 'ha-majority', o.lose === 'ha-majority' ? 9 : 10);
    read(s, 'qq-majority', o.lose === 'qq-majority' ? 9 : 10);
    if (o.minorityKept) read(s, 'ha-minority', 10);
    return s.evidence();
  };
  const modes = ['ignore', 'pause_minority', 'autoheal'] as const;

  it.each(modes)('passes in mode %s', (mode) => {
    expectVerdict(partition, story(mode), 'pass', { mode });
  });
  it.each(modes)('%s: fails when the quorum queue confirms on the minority, or not on the majority', (mode) => {
    const qq = 'the quorum queue confirms nothing through the minority';
    expectCheck(expectVerdict(partition, story(mode, { qqMinority: 'ok' }), 'fail', { mode }), qq, false);
    const maj = 'the quorum queue confirms through the majority';
    expectCheck(expectVerdict(partition, story(mode, { qqMajority: 'info' }), 'fail', { mode }), maj, false);
  });
  it.each(modes)('%s: fails when a message the majority confirmed is lost', (mode) => {
    const qq = 'no acknowledged quorum-queue messages lost';
    expectCheck(expectVerdict(partition, story(mode, { lose: 'qq-majority' }), 'fail', { mode }), qq, false);
    const ha =
      mode === 'autoheal'
        ? 'the mirrored queue keeps what the winning side confirmed'
        : 'the mirrored queue keeps every message the majority confirmed';
    expectCheck(expectVerdict(partition, story(mode, { lose: 'ha-majority' }), 'fail', { mode }), ha, false);
  });
  it.each(['ignore', 'autoheal'] as const)(
    '%s: fails when the minority confirms nothing, or loses nothing it confirmed',
    (mode) => {
      const both = 'the minority confirms publishes to the mirrored queue';
      expectCheck(expectVerdict(partition, story(mode, { minorityHa: 'fail' }), 'fail', { mode }), both, false);
      const lost =
        mode === 'autoheal'
          ? "the losing side's confirmed messages are thrown away"
          : "the minority's confirmed messages are thrown away";
      expectCheck(expectVerdict(partition, story(mode, { minorityKept: true }), 'fail', { mode }), lost, false);
    },
  );
  it('ignore: fails when either side does not list the partition after the heal', () => {
    const name = 'after the heal, cluster_status lists the partition on both sides';
    expectCheck(expectVerdict(partition, story('ignore', { split: ['rabbit1'] }), 'fail'), name, false);
    expectCheck(expectVerdict(partition, story('ignore', { split: [] }), 'fail'), name, false);
  });
  describe('autoheal', () => {
    const params = { mode: 'autoheal' };
    const once = "autoheal's last decision split the cluster as the cut did";
    const restarted = 'the nodes the decision named losers restarted, and no other';
    const kept = 'the mirrored queue keeps what the winning side confirmed';
    const gone = "the losing side's confirmed messages are thrown away";
    const minorityWins: [string[], string[]][] = [[['rabbit3'], ['rabbit1', 'rabbit2']]];
    it('passes when the minority wins and the majority loses what it confirmed', () => {
      const ev = story('autoheal', { decisions: minorityWins, minorityKept: true, lose: 'ha-majority' });
      // The majority lost 1 of 10 here; all of it in a real run: what matters is that the losing side lost some.
      const checks = expectVerdict(partition, ev, 'pass', params);
      expectCheck(checks, gone, true);
      expectCheck(checks, kept, true);
    });
    it('fails when the winning side lost confirmed messages, or the losing side kept them', () => {
      const ev = story('autoheal', { decisions: minorityWins, lose: 'ha-majority' });
      expectCheck(expectVerdict(partition, ev, 'fail', params), kept, false);
      expectCheck(expectVerdict(partition, story('autoheal', { minorityKept: true }), 'fail', params), gone, false);
    });
    const twice: [string[], string[]][] = [
      [['rabbit3', 'rabbit1'], ['rabbit2']],
      [['rabbit2', 'rabbit1'], ['rabbit3']],
    ];
    it('passes when a first round on a partial view restarted rabbit2, and the last one rabbit3', () => {
      const checks = expectVerdict(partition, story('autoheal', { decisions: twice }), 'pass', params);
      expectCheck(checks, once, true);
      expectCheck(checks, restarted, true);
    });
    it('fails when the last decision is not the cut, or there is none', () => {
      const odd = story('autoheal', { decisions: twice.slice(0, 1) });
      expectCheck(expectVerdict(partition, odd, 'fail', params), once, false);
      const none = expectVerdict(partition, story('autoheal', { decisions: [] }), 'fail', params);
      expectCheck(none, once, false);
      expectCheck(none, restarted, false);
    });
    it('fails when a node restarted that the decision did not name, or a loser did not restart', () => {
      const extra = story('autoheal', { restarted: ['rabbit2', 'rabbit3'] });
      expectCheck(expectVerdict(partition, extra, 'fail', params), restarted, false);
      expectCheck(expectVerdict(partition, story('autoheal', { restarted: [] }), 'fail', params), restarted, false);
    });
  });
  describe('pause_minority', () => {
    const params = { mode: 'pause_minority' };
    const bound = 'only what the minority confirmed before it paused is lost';
    it('passes when what is lost was confirmed in the moment before the pause', () => {
      expectCheck(expectVerdict(partition, story('pause_minority', { window: true }), 'pass', params), bound, true);
    });
    it('fails when the paused minority confirms, and when what it confirmed then is lost', () => {
      const checks = expectVerdict(partition, story('pause_minority', { minorityHa: 'ok' }), 'fail', params);
      expectCheck(checks, 'once paused, the minority refuses publishes', false);
      expectCheck(checks, bound, false);
    });
    it('fails when the minority never says it paused, or no pause time was read', () => {
      const paused = 'rabbit3 says it paused itself';
      expectCheck(expectVerdict(partition, story('pause_minority', { log: [] }), 'fail', params), paused, false);
      const refuses = 'once paused, the minority refuses publishes';
      const never = story('pause_minority', { pausedAt: null });
      expectCheck(expectVerdict(partition, never, 'fail', params), refuses, false);
    });
  });
});

describe('rabbitmq lab kit: shared check builders', () => {
  it('tookOver: an eligible host within the bound, and nothing else', () => {
    const took = (host: string | undefined, ms: number | undefined) =>
      tookOver('moved', 'x', host, ms, 1000, (h) => h !== 'rabbit1').ok;
    expect(took('rabbit2', 400)).toBe(true);
    expect(took('rabbit2', 1500)).toBe(false);
    expect(took('rabbit1', 10)).toBe(false);
    expect(took(undefined, undefined)).toBe(false);
    // The API showed it late; the new leader's log says when it really took over: told, not counted.
    const late = tookOver('moved', 'x', 'rabbit2', 5964, 1000, () => true, { msAfterDown: 290 });
    expect(late.ok).toBe(false);
    expect(late.observed).toBe('rabbit2 after 5964 ms in the API (its log: 290 ms after it saw the node down)');
  });
  it('backOn: the queue runs on its home again', () => {
    expect(backOn('back', 'rabbit1', 'rabbit1', 'q').ok).toBe(true);
    expect(backOn('back', 'rabbit2', 'rabbit1', 'q').ok).toBe(false);
    expect(backOn('back', undefined, 'rabbit1', 'q').ok).toBe(false);
  });
  it('refused: a read tried and not served', () => {
    const ev = new Story()
      .op('consumer', 'get', 'fail', {}, { error: '404' })
      .op('consumer', 'peek', 'ok', {})
      .evidence();
    const first = (f: string) => ev.ops.find((o) => o.f === f && o.type !== 'invoke');
    expect(refused('r', first('get'), 'x').ok).toBe(true);
    expect(refused('r', first('peek'), 'x').ok).toBe(false);
    expect(refused('r', undefined, 'x').ok).toBe(false);
  });
  it('allKept: every acknowledged message received once', () => {
    const s = sends(new Story(), 'p', ids('m', 3), 'ok', { queue: 'a' });
    const kept = receives(sends(new Story(), 'p', ids('m', 3), 'ok', { queue: 'a' }), 'c', ids('m', 3));
    expect(allKept(kept.evidence().ops, 'm').every((c) => c.ok === true)).toBe(true);
    expect(allKept(receives(s, 'c', ids('m', 2)).evidence().ops, 'm').some((c) => c.ok === false)).toBe(true);
    const twice = receives(receives(sends(new Story(), 'p', ids('m', 1), 'ok'), 'c', ids('m', 1)), 'c', ids('m', 1));
    expect(allKept(twice.evidence().ops, 'm').some((c) => c.ok === false)).toBe(true);
  });
  it('readers: ops on a queue, outcomes by process, copies and redeliveries', () => {
    const s = sends(new Story(), 'p', ids('m', 2), 'ok', { queue: 'a' });
    sends(s, 'q', ids('n', 1), 'info', { queue: 'b' });
    receives(s, 'c', ids('m', 2), { queue: 'a' });
    s.op('c', 'receive', 'ok', { id: 'm000001', queue: 'a', redelivered: true });
    s.op('c', 'receive', 'ok', { id: 'm000002', queue: 'a', redelivered: false });
    const ev = s.evidence();
    expect(onQueue(ev, 'b').length).toBe(2);
    expect(sentBy(ev, 'q')).toEqual({ ok: 0, fail: 0, info: 1, total: 1 });
    expect(copies(ev.ops).get('m000001')).toBe(2);
    expect(redeliveries(ev.ops)).toEqual({ flagged: 1, duplicated: 2, unflaggedCopies: ['m000002'] });
  });
});
