import { describe, expect, it } from 'vitest';
import replicationLab, { READONLY_ERROR } from '../../scenarios/redis/replication.ts';
import failoverLab from '../../scenarios/redis/sentinel-failover.ts';
import { sentinelProblems } from '../../stacks/redis/health.ts';
import { followProblems, type LinkView, linkProblems } from '../../stacks/redis/replication.ts';
import { type SentinelView, sentinelViewsProblems } from '../../stacks/redis/sentinel.ts';
import { expectCheck, expectVerdict, Story } from '../helpers/evidence.ts';

const primaryLink = (offset: number, lagging = offset): LinkView => ({
  role: 'master',
  offset,
  connectedSlaves: 2,
  replicas: [
    { name: 'redis2', state: 'online', offset, lag: 0 },
    { name: 'redis3', state: 'online', offset: lagging, lag: 1 },
  ],
});
const replicaLink = (offset: number, link = 'up'): LinkView => ({
  role: 'slave',
  masterHost: 'redis1',
  masterLinkStatus: link,
  offset,
  connectedSlaves: 0,
  replicas: [],
});
const links = (over: Partial<Record<string, LinkView>> = {}): Record<string, LinkView> => ({
  redis1: primaryLink(1240),
  redis2: replicaLink(1240),
  redis3: replicaLink(1240),
  ...over,
});

describe('redis/replication', () => {
  /** As a real run records it: the refused write, the reads that show it nowhere, the write and the reads. */
  function story(
    o: {
      views?: Record<string, LinkView>;
      refusal?: 'fail' | 'ok';
      refusedOnPrimary?: string | null;
      redis3?: (string | null)[];
      delays?: Record<string, number | null>;
    } = {},
  ) {
    const s = new Story()
      .observe('links', links())
      .observe('replication', o.views ?? links())
      .observe('replicaReadOnly', 'yes')
      .at(100)
      .op(
        'client-redis2',
        'write',
        o.refusal ?? 'fail',
        { key: 'midlab:written-to-a-replica', value: 'nope' },
        {
          node: 'redis2',
          error: (o.refusal ?? 'fail') === 'fail' ? READONLY_ERROR : undefined,
        },
      )
      .op('client-redis2', 'read-refused', 'ok', null, { node: 'redis2' })
      .op('client-redis1', 'read-refused', 'ok', o.refusedOnPrimary ?? null, { node: 'redis1' })
      .at(200)
      .op('client-redis1', 'write', 'ok', { key: 'midlab:replicated', value: 'v-42' }, { node: 'redis1' })
      .observe('written', 'v-42')
      .op('client-redis2', 'read', 'ok', 'v-42', { node: 'redis2' });
    for (const v of o.redis3 ?? [null, 'v-42']) s.op('client-redis3', 'read', 'ok', v, { node: 'redis3', ms: 20 });
    return s.observe('replicationMs', o.delays ?? { redis2: 1, redis3: 22 }).evidence();
  }

  it('passes on the story it teaches', () => {
    expectVerdict(replicationLab, story(), 'pass');
  });
  it('fails when a replica does not follow the primary with its link up', () => {
    const checks = expectVerdict(replicationLab, story({ views: links({ redis3: replicaLink(900, 'down') }) }), 'fail');
    expectCheck(checks, 'the replicas report the primary', false);
  });
  it('fails when a replica accepts a write', () => {
    const checks = expectVerdict(replicationLab, story({ refusal: 'ok' }), 'fail');
    expectCheck(checks, 'a write to a replica is refused with READONLY', false);
  });
  it('fails when the refused write shows up anywhere', () => {
    const checks = expectVerdict(replicationLab, story({ refusedOnPrimary: 'nope' }), 'fail');
    expectCheck(checks, 'the refused write exists nowhere', false);
  });
  it('fails when a replica never returns the write', () => {
    const checks = expectVerdict(
      replicationLab,
      story({ redis3: [null, null, null], delays: { redis2: 1, redis3: null } }),
      'fail',
    );
    expectCheck(checks, 'data written to the primary is read from every replica', false);
  });
  it('fails when a replica returns it later than the bound', () => {
    const checks = expectVerdict(replicationLab, story({ delays: { redis2: 1, redis3: 101 } }), 'fail');
    expectCheck(checks, 'data written to the primary is read from every replica', false);
    expectVerdict(replicationLab, story({ delays: { redis2: 1, redis3: 100 } }), 'pass');
  });

  describe('the replicas report the primary: followProblems', () => {
    it('holds for one master followed by both replicas, link up, whatever their offsets', () => {
      expect(followProblems(links({ redis3: replicaLink(900) }), 2)).toEqual([]);
    });
    it('names two masters, a replica following another node, a master missing a connection', () => {
      expect(followProblems(links({ redis2: primaryLink(1240) }), 2)).toEqual([
        '2 masters',
        '1 of 1 replicas follow redis1 with the link up',
      ]);
      expect(followProblems(links({ redis3: { ...replicaLink(1240), masterHost: 'redis2' } }), 2)).toEqual([
        '1 of 2 replicas follow redis1 with the link up',
      ]);
      expect(followProblems(links({ redis1: { ...primaryLink(1240), connectedSlaves: 1 } }), 2)).toEqual([
        'redis1 has 1 connected replicas',
      ]);
    });
  });

  describe('mechanism: the links', () => {
    it('holds when every replica is up and caught up', () => {
      expect(linkProblems(links(), 'redis1', ['redis2', 'redis3'])).toEqual([]);
    });
    it('names a replica whose acknowledged offset lags, a link down, a replica not listed', () => {
      expect(linkProblems(links({ redis1: primaryLink(1240, 1100) }), 'redis1', ['redis2', 'redis3'])).toEqual([
        'redis1 has redis3 at offset 1100 of 1240',
      ]);
      expect(linkProblems(links({ redis2: replicaLink(1240, 'down') }), 'redis1', ['redis2', 'redis3'])).toEqual([
        'redis2: role slave, master redis1, link down',
      ]);
      const one = { ...primaryLink(1240), replicas: primaryLink(1240).replicas.slice(0, 1) };
      expect(linkProblems(links({ redis1: one }), 'redis1', ['redis2', 'redis3'])).toEqual([
        'redis1 does not list redis3 as a replica',
      ]);
    });
  });
});

const ids = (prefix: string, n: number, width: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}-${String(i + 1).padStart(width, '0')}`);

describe('redis/sentinel-failover', () => {
  const before = ids('before', 10, 2);
  const cut = ids('cut', 3, 4);
  const cutView = {
    primary: 'redis1',
    primaryDbsize: 14,
    primaryOffset: 5000,
    replicas: {
      redis2: { dbsize: 11, offset: 900, link: 'up', lagSeenByPrimary: 2 },
      redis3: { dbsize: 11, offset: 900, link: 'up', lagSeenByPrimary: 2 },
    },
  };
  interface Plot {
    variant?: 'acks' | 'wait';
    beforeReplicas?: number;
    cutType?: 'ok' | 'info' | 'fail';
    survivors?: string[] | null;
    failoverMs?: number | null;
    primaryAfter?: string | null;
    cut?: typeof cutView;
    landed?: { endpointNode?: string; announced?: string; write: string };
    duplicate?: boolean;
  }
  const params = (p: Plot) => ({ variant: p.variant ?? 'acks', writes: 3 });
  /** A run as the lab records it (ids, nodes, outcomes and observations of a real one, fewer writes). */
  function story(p: Plot = {}) {
    const wait = p.variant === 'wait';
    const s = new Story().observe('primaryBefore', 'redis1').observe('probeWait', 2);
    s.at(100);
    for (const id of before) {
      s.op('app', 'write', 'ok', wait ? { id, replicas: p.beforeReplicas ?? 2 } : { id }, { node: 'redis1' });
    }
    s.fault('partition', ['redis2', 'redis3']);
    for (const id of cut) {
      const type = p.cutType ?? (wait ? 'info' : 'ok');
      s.op('app', 'write', type, wait ? { id, replicas: 0 } : { id }, {
        node: 'redis1',
        error: type === 'info' ? 'WAIT 1 200 returned 0: no replica confirmed it' : undefined,
        ms: wait ? 200 : 1,
      });
    }
    s.observe('cutWrites', { ok: 0, info: 3, fail: 0 }).observe('cut', p.cut ?? cutView);
    s.at(5000).fault('kill', ['redis1']);
    const after = p.primaryAfter === undefined ? 'redis2' : p.primaryAfter;
    s.at(8000)
      .observe('primaryAfter', after)
      .observe('failoverMs', p.failoverMs === undefined ? 2600 : p.failoverMs);
    s.op('app', 'write', 'ok', wait ? { id: 'after-1', replicas: 1 } : { id: 'after-1' }, { node: 'redis2', ms: 400 });
    s.observe('clientNodeAfter', p.landed ?? { endpointNode: 'redis2', announced: 'redis2', write: 'ok' });
    const survivors = p.survivors === undefined ? [...before, 'after-1'] : p.survivors;
    if (survivors) {
      const all = p.duplicate ? [...survivors, survivors[0] as string] : survivors;
      s.at(20_000).op('final-reader', 'read-all', 'ok', { ids: all }, { node: 'redis2' });
    }
    return s.evidence();
  }

  describe('acks', () => {
    it('passes when exactly the writes of the cut are lost, and names them', () => {
      const checks = expectVerdict(failoverLab, story(), 'pass', params({}));
      const loss = checks.find((c) => c.name === 'acknowledged writes are lost');
      expect(loss?.observed).toContain('3 of 14 acknowledged writes lost (cut-0001, cut-0002, cut-0003)');
    });
    it('fails when nothing was lost (the cut did not cut)', () => {
      const checks = expectVerdict(
        failoverLab,
        story({ survivors: [...before, ...cut, 'after-1'] }),
        'fail',
        params({}),
      );
      expectCheck(checks, 'acknowledged writes are lost', false);
      expectCheck(checks, 'exactly the writes made during the cut are lost', false);
    });
    it('fails when a write made before the cut is lost too', () => {
      const checks = expectVerdict(failoverLab, story({ survivors: [...before.slice(1), 'after-1'] }), 'fail', {
        writes: 3,
      });
      expectCheck(checks, 'acknowledged writes are lost', true);
      expectCheck(checks, 'exactly the writes made during the cut are lost', false);
    });
    it('fails when a write is read twice', () => {
      const checks = expectVerdict(failoverLab, story({ duplicate: true }), 'fail', { writes: 3 });
      expectCheck(checks, 'no writes duplicated', false);
    });
    it('fails when the final read holds a write never made', () => {
      const checks = expectVerdict(failoverLab, story({ survivors: [...before, 'after-1', 'ghost'] }), 'fail', {
        writes: 3,
      });
      expectCheck(checks, 'no unexpected writes', false);
    });
  });

  describe('both variants', () => {
    for (const variant of ['acks', 'wait'] as const) {
      it(`${variant}: fails when the Sentinels took longer than the bound`, () => {
        const checks = expectVerdict(failoverLab, story({ variant, failoverMs: 6001 }), 'fail', params({ variant }));
        expectCheck(checks, 'the Sentinels agree on a new primary within 6000 ms', false);
        expect(
          expectVerdict(failoverLab, story({ variant, failoverMs: 6000 }), 'pass', params({ variant })),
        ).toBeDefined();
      });
      it(`${variant}: fails when no new primary was agreed on`, () => {
        const checks = expectVerdict(
          failoverLab,
          story({ variant, failoverMs: null, primaryAfter: null }),
          'fail',
          params({ variant }),
        );
        expectCheck(checks, 'the Sentinels agree on a new primary within 6000 ms', false);
      });
      it(`${variant}: fails when the Sentinels named the old primary again`, () => {
        const checks = expectVerdict(
          failoverLab,
          story({ variant, primaryAfter: 'redis1' }),
          'fail',
          params({ variant }),
        );
        expectCheck(checks, 'the Sentinels agree on a new primary within 6000 ms', false);
      });
      it(`${variant}: fails when a replica had received the writes of the cut`, () => {
        const leaky = {
          ...cutView,
          replicas: { ...cutView.replicas, redis3: { dbsize: 14, offset: 5000, link: 'up', lagSeenByPrimary: 0 } },
        };
        const checks = expectVerdict(failoverLab, story({ variant, cut: leaky }), 'fail', params({ variant }));
        expectCheck(checks, 'the replicas did not receive the writes made during the cut', false);
      });
      it(`${variant}: fails when the client's write lands elsewhere than the new primary`, () => {
        const landed = { endpointNode: 'redis3', announced: 'redis3', write: 'ok' };
        const checks = expectVerdict(failoverLab, story({ variant, landed }), 'fail', params({ variant }));
        expectCheck(checks, 'the Sentinel-aware client follows the new primary', false);
        const lost = { endpointNode: 'redis2', announced: 'redis2', write: 'info' };
        if (variant === 'acks') {
          expectCheck(
            expectVerdict(failoverLab, story({ variant, landed: lost }), 'fail', params({ variant })),
            'the Sentinel-aware client follows the new primary',
            false,
          );
        }
      });
      it(`${variant}: unknown without the final read`, () => {
        const checks = expectVerdict(failoverLab, story({ variant, survivors: null }), 'unknown', params({ variant }));
        expectCheck(checks, 'the final read shows which writes survived', 'unknown');
      });
    }
  });

  describe('wait', () => {
    const p = params({ variant: 'wait' });
    it('passes when no confirmed write is lost and the unconfirmed ones are reported', () => {
      const checks = expectVerdict(failoverLab, story({ variant: 'wait' }), 'pass', p);
      expect(checks.find((c) => c.name === 'writes WAIT did not confirm are reported as unconfirmed')?.observed).toBe(
        '3 unconfirmed, 0 confirmed; of the unconfirmed, 0 survived',
      );
    });
    it('fails when a write WAIT confirmed is lost', () => {
      const checks = expectVerdict(
        failoverLab,
        story({ variant: 'wait', survivors: [...before.slice(1), 'after-1'] }),
        'fail',
        p,
      );
      expectCheck(checks, 'no write WAIT confirmed is lost', false);
    });
    it('fails when WAIT confirmed the writes before the cut on fewer replicas than all', () => {
      const checks = expectVerdict(failoverLab, story({ variant: 'wait', beforeReplicas: 1 }), 'fail', p);
      expectCheck(checks, 'WAIT confirmed the writes made before the cut on every replica', false);
    });
    it('fails when WAIT confirmed a write of the cut', () => {
      const checks = expectVerdict(
        failoverLab,
        story({ variant: 'wait', cutType: 'ok', survivors: [...before, ...cut, 'after-1'] }),
        'fail',
        p,
      );
      expectCheck(checks, 'writes WAIT did not confirm are reported as unconfirmed', false);
    });
    it('fails when a write is read twice', () => {
      const checks = expectVerdict(failoverLab, story({ variant: 'wait', duplicate: true }), 'fail', p);
      expectCheck(checks, 'no writes duplicated', false);
    });
  });

  describe('mechanism: each Sentinel view', () => {
    const view = (over: Partial<SentinelView> = {}): SentinelView => ({
      sentinel: 'sentinel1',
      primary: 'redis1',
      flags: 'master',
      quorum: 2,
      configEpoch: 0,
      replicas: [
        { name: 'redis2', flags: 'slave', link: 'ok', following: 'redis1' },
        { name: 'redis3', flags: 'slave', link: 'ok', following: 'redis1' },
      ],
      sentinels: [
        { name: 'sentinel2', flags: 'sentinel' },
        { name: 'sentinel3', flags: 'sentinel' },
      ],
      ...over,
    });
    const problems = (v: SentinelView) => sentinelProblems(v, 'redis1', ['redis2', 'redis3'], 2);
    it('holds when the Sentinel sees the primary, both replicas and the two other Sentinels', () => {
      expect(problems(view())).toEqual([]);
    });
    it('all three views: each must also use the quorum the lab configured', () => {
      const three = [view(), view({ sentinel: 'sentinel2' }), view({ sentinel: 'sentinel3', quorum: 1 })];
      expect(sentinelViewsProblems(three.slice(0, 2), 'redis1', ['redis2', 'redis3'], 2)).toEqual([
        'sentinel1 knows 2 other Sentinels, not 1',
        'sentinel2 knows 2 other Sentinels, not 1',
      ]);
      expect(sentinelViewsProblems(three, 'redis1', ['redis2', 'redis3'], 2)).toEqual([
        'sentinel3 uses quorum 1, not 2',
      ]);
    });
    it('names a down primary, a missing replica, a replica link down, a Sentinel it never heard of', () => {
      expect(problems(view({ flags: 'master,s_down' }))).toEqual(['sentinel1 sees redis1 with flags master,s_down']);
      expect(problems(view({ replicas: view().replicas.slice(1) }))).toEqual([
        'sentinel1 lists replicas redis3, not redis2,redis3',
      ]);
      expect(
        problems(
          view({
            replicas: [
              view().replicas[0] as SentinelView['replicas'][0],
              { name: 'redis3', flags: 'slave', link: 'err' },
            ],
          }),
        ),
      ).toEqual(['sentinel1 sees replica redis3 slave, link err']);
      expect(problems(view({ sentinels: view().sentinels.slice(1) }))).toEqual([
        'sentinel1 knows 1 other Sentinels, not 2',
      ]);
    });
  });
});
