import { describe, expect, it } from 'vitest';
import replicationLab, { READONLY_ERROR } from '../../scenarios/redis/replication.ts';
import restartLab from '../../scenarios/redis/restart-without-persistence.ts';
import failoverLab from '../../scenarios/redis/sentinel-failover.ts';
import splitBrainLab from '../../scenarios/redis/split-brain.ts';
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
    epochs?: number[];
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
      .observe('failoverMs', p.failoverMs === undefined ? 2600 : p.failoverMs)
      .observe('failoverEpochs', p.epochs ?? [1]);
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
      it(`${variant}: a split vote in the Sentinels' logs adds 2 x failover-timeout to the bound, no more`, () => {
        const split = { variant, epochs: [1, 2] };
        expectVerdict(failoverLab, story({ ...split, failoverMs: 23_800 }), 'pass', params({ variant }));
        const checks = expectVerdict(failoverLab, story({ ...split, failoverMs: 26_001 }), 'fail', params({ variant }));
        expectCheck(checks, 'the Sentinels agree on a new primary within 26000 ms', false);
        expectVerdict(failoverLab, story({ variant, failoverMs: 23_800 }), 'fail', params({ variant }));
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

describe('redis/split-brain', () => {
  const NOREPLICAS = 'NOREPLICAS Not enough good replicas to write.';
  const follower = { ...replicaLink(4586), masterHost: 'redis2' };
  interface Plot {
    minReplicas?: boolean;
    /** Until when (ms) the old primary acknowledges writes in the cut (default: the heal, or cut + 2.5 s). */
    acksUntil?: number;
    lateError?: string;
    primaryAfter?: string | null;
    oldRole?: string;
    oldAfter?: LinkView | null;
    survivors?: (before: string[], cut: string[]) => string[];
    noFinal?: boolean;
  }
  /** As a real run records it: writes every 100 ms, the cut at 1 s, the promotion at 4 s, the heal at 7 s. */
  function story(p: Plot = {}) {
    const s = new Story().observe('primaryBefore', 'redis1');
    const before: string[] = [];
    const cut: string[] = [];
    let n = 0;
    const id = () => `w-${String(++n).padStart(4, '0')}`;
    for (let t = 100; t < 1000; t += 100) {
      before.push(id());
      s.at(t).op('app', 'write', 'ok', { id: before.at(-1) }, { node: 'redis1' });
    }
    s.at(1000).observe('cutAskedAt', 1000).at(1010).fault('partition', ['redis1'], 6000);
    const acksUntil = p.acksUntil ?? (p.minReplicas ? 3510 : 7010);
    for (let t = 1050; t < 7000; t += 100) {
      if (t === 4050) {
        s.at(4000)
          .observe('promotedAt', 4000)
          .observe('primaryAfter', p.primaryAfter === undefined ? 'redis2' : p.primaryAfter);
        s.observe('failoverMs', 2990).observe('oldRoleInCut', p.oldRole ?? 'master');
      }
      const w = id();
      if (t < acksUntil) cut.push(w);
      if (t < acksUntil) s.at(t).op('app', 'write', 'ok', { id: w }, { node: 'redis1' });
      else
        s.at(t).op(
          'app',
          'write',
          p.lateError ? 'info' : 'fail',
          { id: w },
          { node: 'redis1', error: p.lateError ?? NOREPLICAS },
        );
    }
    s.at(15_000).observe('oldAfterHeal', p.oldAfter === undefined ? follower : p.oldAfter);
    if (!p.noFinal) {
      const ids = p.survivors ? p.survivors(before, cut) : before;
      s.at(16_000).op('final-reader', 'read-all', 'ok', { ids }, { node: 'redis2' });
    }
    return s.evidence();
  }
  const variant = { minReplicasToWrite: 1 };

  it('passes: the old primary acknowledges writes after the promotion, and every write of the cut is lost', () => {
    const checks = expectVerdict(splitBrainLab, story(), 'pass');
    expect(checks.find((c) => c.name.startsWith('two primaries'))?.observed).toContain(
      'redis1: master; of those acknowledged after the promotion 30 of 30 lost (w-0040,',
    );
  });
  it('minReplicasToWrite=1 passes: loss only in the lag window, refusals after it', () => {
    const checks = expectVerdict(splitBrainLab, story({ minReplicas: true }), 'pass', variant);
    expect(checks.find((c) => c.name.startsWith('only writes'))?.name).toBe(
      'only writes acknowledged within 4 s of the cut are lost',
    );
  });
  for (const v of [{}, variant]) {
    const minReplicas = v === variant;
    it(`${JSON.stringify(v)}: fails when no replica was promoted`, () => {
      const checks = expectVerdict(splitBrainLab, story({ minReplicas, primaryAfter: null }), 'fail', v);
      expectCheck(checks, 'the Sentinels promote a replica while the old primary is cut off', false);
    });
    it(`${JSON.stringify(v)}: fails when the old primary does not follow the new one after the heal`, () => {
      const checks = expectVerdict(splitBrainLab, story({ minReplicas, oldAfter: primaryLink(4700) }), 'fail', v);
      expectCheck(checks, 'after the heal the old primary follows the new one', false);
    });
    it(`${JSON.stringify(v)}: fails when a write acknowledged before the cut is lost`, () => {
      const checks = expectVerdict(splitBrainLab, story({ minReplicas, survivors: (b) => b.slice(1) }), 'fail', v);
      expectCheck(checks, 'writes acknowledged before the cut are kept', false);
    });
    it(`${JSON.stringify(v)}: fails when a write of the cut survived`, () => {
      const checks = expectVerdict(
        splitBrainLab,
        story({ minReplicas, survivors: (b, c) => [...b, c[0] as string] }),
        'fail',
        v,
      );
      expectCheck(checks, 'every write the old primary acknowledged during the cut is lost', false);
    });
    it(`${JSON.stringify(v)}: fails when a write is read twice`, () => {
      const checks = expectVerdict(
        splitBrainLab,
        story({ minReplicas, survivors: (b) => [...b, b[0] as string] }),
        'fail',
        v,
      );
      expectCheck(checks, 'no writes duplicated', false);
    });
    it(`${JSON.stringify(v)}: unknown without the final read, or without the cut`, () => {
      expectCheck(
        expectVerdict(splitBrainLab, story({ minReplicas, noFinal: true }), 'unknown', v),
        'the final read shows which writes survived',
        'unknown',
      );
      const ev = story({ minReplicas });
      expectVerdict(splitBrainLab, { ...ev, faults: [] }, 'unknown', v);
    });
  }
  it('fails when the old primary was no longer master after the promotion', () => {
    const checks = expectVerdict(splitBrainLab, story({ oldRole: 'slave' }), 'fail');
    expectCheck(checks, 'two primaries: the old one acknowledges writes after the promotion, all lost', false);
  });
  it('fails when it acknowledged nothing after the promotion', () => {
    const checks = expectVerdict(splitBrainLab, story({ acksUntil: 3900, lateError: 'READONLY' }), 'fail');
    expectCheck(checks, 'two primaries: the old one acknowledges writes after the promotion, all lost', false);
  });
  it('minReplicasToWrite=1: fails when a write acknowledged after the bound is lost', () => {
    const checks = expectVerdict(splitBrainLab, story({ minReplicas: true, acksUntil: 5510 }), 'fail', variant);
    expectCheck(checks, 'only writes acknowledged within 4 s of the cut are lost', false);
    expectCheck(checks, 'after that the old primary refuses writes (NOREPLICAS)', false);
  });
  it('minReplicasToWrite=1: fails when the late writes were not refused with NOREPLICAS', () => {
    const checks = expectVerdict(
      splitBrainLab,
      story({ minReplicas: true, lateError: 'Command timed out' }),
      'fail',
      variant,
    );
    expectCheck(checks, 'only writes acknowledged within 4 s of the cut are lost', true);
    expectCheck(checks, 'after that the old primary refuses writes (NOREPLICAS)', false);
  });
});

describe('redis/restart-without-persistence', () => {
  const keys = ['k-0001', 'k-0002', 'k-0003'];
  const all = (n: number) => ({ redis1: n, redis2: n, redis3: n });
  interface Plot {
    aof?: boolean;
    before?: Record<string, number>;
    after?: Record<string, number>;
    runIds?: { before: string; after: string | null };
    downMs?: number | null;
    primaryAfter?: string | null;
    linksAfter?: Record<string, LinkView>;
    survivors?: string[] | null;
  }
  /** As a real run records it: three keys, a restart in 300 ms, the replicas resynced. */
  function story(p: Plot = {}) {
    const s = new Story().observe('primaryBefore', 'redis1');
    for (const id of keys) s.at(100).op('app', 'write', 'ok', { id }, { node: 'redis1' });
    s.observe('keysBefore', p.before ?? all(4))
      .at(2000)
      .fault('crash', ['redis1'], 50);
    s.at(2300).observe('downMs', p.downMs === undefined ? 300 : p.downMs);
    s.observe('runIds', p.runIds ?? { before: 'aaa', after: 'bbb' });
    s.observe('linksAfter', p.linksAfter ?? links()).observe(
      'primaryAfter',
      p.primaryAfter === undefined ? 'redis1' : p.primaryAfter,
    );
    s.observe('keysAfter', p.after ?? (p.aof ? all(4) : all(0)));
    const survivors = p.survivors === undefined ? (p.aof ? keys : []) : p.survivors;
    if (survivors) s.at(3000).op('final-reader', 'read-all', 'ok', { ids: survivors }, { node: 'redis1' });
    return s.evidence();
  }
  const params = (aof?: boolean) => ({ persistence: aof ? 'aof' : 'off', keys: 3 });

  it('off: passes when every key is gone from every node', () => {
    expectVerdict(restartLab, story(), 'pass', params());
  });
  it('aof: passes when every node keeps every key', () => {
    expectVerdict(restartLab, story({ aof: true }), 'pass', params(true));
  });
  for (const aof of [false, true]) {
    const v = params(aof);
    const restarted = 'the primary restarted within 5000 ms and Sentinel did not fail over';
    it(`${v.persistence}: fails when Sentinel failed over, the restart was slow, or no restart happened`, () => {
      expectCheck(expectVerdict(restartLab, story({ aof, primaryAfter: 'redis2' }), 'fail', v), restarted, false);
      expectCheck(expectVerdict(restartLab, story({ aof, downMs: 5000 }), 'fail', v), restarted, false);
      expectCheck(
        expectVerdict(restartLab, story({ aof, runIds: { before: 'aaa', after: 'aaa' } }), 'fail', v),
        restarted,
        false,
      );
    });
    it(`${v.persistence}: fails when a replica does not follow the restarted primary`, () => {
      const checks = expectVerdict(
        restartLab,
        story({ aof, linksAfter: links({ redis3: replicaLink(1240, 'down') }) }),
        'fail',
        v,
      );
      expectCheck(checks, 'the replicas resynchronised from the restarted primary', false);
    });
    it(`${v.persistence}: fails when a node did not hold the keys before the restart`, () => {
      const checks = expectVerdict(restartLab, story({ aof, before: { ...all(4), redis3: 1 } }), 'fail', v);
      expectCheck(checks, 'every node held the keys before the restart', false);
    });
    it(`${v.persistence}: unknown without the final read`, () => {
      expectVerdict(restartLab, story({ aof, survivors: null }), 'unknown', v);
    });
  }
  it('off: fails when a replica kept its keys', () => {
    const checks = expectVerdict(restartLab, story({ after: { ...all(0), redis2: 4 } }), 'fail', params());
    expectCheck(checks, 'every key is gone from every node', false);
  });
  it('off: fails when the final read still finds a write', () => {
    const checks = expectVerdict(restartLab, story({ survivors: ['k-0002'] }), 'fail', params());
    expectCheck(checks, 'every acknowledged write is lost', false);
  });
  it('aof: fails when a node lost keys', () => {
    const checks = expectVerdict(
      restartLab,
      story({ aof: true, after: { ...all(4), redis2: 0 } }),
      'fail',
      params(true),
    );
    expectCheck(checks, 'every node still holds every key', false);
  });
  it('aof: fails when an acknowledged write is lost', () => {
    const checks = expectVerdict(restartLab, story({ aof: true, survivors: keys.slice(1) }), 'fail', params(true));
    expectCheck(checks, 'no acknowledged writes lost', false);
  });
});
