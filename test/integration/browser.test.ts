/// <reference lib="dom" />
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/engine/events.ts';
import type { RunResult, RunStory } from '../../src/engine/result.ts';
import { htmlReport } from '../../src/report/html.ts';
import { startLiveView } from '../../src/report/live.ts';
import { hasChromium, launchBrowser } from '../helpers/browser.ts';
import { Story } from '../helpers/evidence.ts';
import { tempDir } from '../helpers/temp.ts';

// The presenter's page and the trainee's report, rendered by a real browser from a run's
// events and evidence written here by hand (no cluster needed: the real-lab live view test
// is in test/scenarios/live-view.test.ts).
const inked = (c: Element) => {
  const canvas = c as HTMLCanvasElement;
  const d = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? [];
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if ((d[i] ?? 0) > 0) n++;
  return n;
};

describe.runIf(hasChromium)('in a browser', () => {
  it('the live view narrates each step, shows roles changing, and counts nothing twice after a reconnect', async () => {
    const live = await startLiveView();
    const browser = await launchBrowser();
    const emit = (e: RunEvent) => live.listener(e);
    const ok = (time: number) => emit({ kind: 'op', op: { index: 0, time, process: 'w', type: 'ok', f: 'write' } });
    try {
      const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
      await page.goto(live.url);
      const role = (n: string) => page.locator(`.node[data-node=${n}]`).getAttribute('data-role');
      emit({
        kind: 'start',
        lab: 'zookeeper/leader-failover',
        title: 'The leader dies',
        notes: '',
        params: {},
        outDir: 'x',
      });
      emit({ kind: 'cluster', nodes: ['zk1', 'zk2', 'zk3'] });
      emit({ kind: 'roles', roles: { zk1: 'leader', zk2: 'follower', zk3: 'follower' }, time: 0 });
      emit({ kind: 'step', index: 1, title: 'Writes', narration: 'A client writes.', commands: [] });
      emit({ kind: 'step', index: 2, title: 'Kill the leader', narration: 'SIGKILL to zk1: watch zk2.', commands: [] });
      for (let i = 0; i < 10; i++) ok(100 * i);
      await expect.poll(() => page.locator('#story').textContent()).toContain('SIGKILL to zk1: watch zk2.');
      await expect.poll(() => page.locator('#step').textContent()).toBe('Step 2: Kill the leader');
      await expect.poll(() => role('zk1')).toBe('leader');
      const fault = { id: 1, kind: 'kill' as const, targets: ['zk1'], start: 1000 };
      emit({ kind: 'fault', fault, text: 'killed zk1' });
      emit({ kind: 'roles', roles: { zk2: 'leader', zk3: 'follower' }, time: 1500 });
      await expect.poll(() => role('zk2')).toBe('leader');
      expect(await role('zk1')).toBe('');
      expect(await page.locator('.node[data-node=zk1]').getAttribute('data-state')).toBe('killed');
      const cut = { id: 2, kind: 'partition' as const, targets: ['zk3'], peers: ['zk2', 'host'], start: 1600 };
      emit({ kind: 'fault', fault: cut, text: "zk3 cut off from zk2 and this machine's clients" });
      await expect
        .poll(() => page.locator('.node[data-node=zk3] .state').textContent())
        .toBe("cut off from zk2 and this machine's clients");
      await expect.poll(() => page.locator('#ok').textContent()).toBe('10');
      // A network blip: the page reconnects with Last-Event-ID and gets only what it missed.
      live.dropPages();
      for (let i = 0; i < 5; i++) ok(2000 + 100 * i);
      emit({ kind: 'point', label: 'consumer lag (messages)', time: 2500, y: 7 });
      await expect.poll(() => page.locator('#ok').textContent(), { timeout: 10_000 }).toBe('15');
      await page.waitForTimeout(1500);
      expect(await page.locator('#ok').textContent()).toBe('15');
      expect(await page.locator('#story').textContent()).not.toMatch(
        /SIGKILL to zk1: watch zk2\.[\s\S]*SIGKILL to zk1/,
      );
      expect(await page.locator('#plots canvas').count()).toBe(1);
    } finally {
      await browser.close();
      await live.close();
    }
  });

  it("the report renders the story, the charts and the lab's plot, with no script error", async () => {
    const dir = tempDir('report');
    const s = new Story();
    for (let i = 0; i < 200; i++) s.at(i * 50).op('w', 'write', i % 20 === 0 ? 'fail' : 'ok', { id: i }, { ms: 5 });
    s.at(4000).fault('kill', ['zk1'], 2000);
    const result: RunResult = {
      lab: 'zookeeper/leader-failover',
      title: 'The leader dies',
      notes: 'Notes, ZooKeeper chapter: 选举机制 (seed line 353).',
      params: {},
      seed: 1,
      verdict: 'pass',
      reason: 'all 1 checks held',
      checks: [{ name: 'a new leader', ok: true, expected: '< 2 s', observed: '0.4 s' }],
      seconds: 12,
      phases: {},
      outDir: dir,
      predictions: [{ question: 'Who leads next?', chosen: 'zk2', correct: 'zk2', right: true }],
    };
    const story: RunStory = {
      nodes: ['zk1', 'zk2', 'zk3'],
      lines: [
        { kind: 'step', time: 10, index: 1, title: 'Kill the leader', narration: 'zk1 dies.', commands: ['srvr'] },
      ],
      series: [
        { label: 'consumer lag (messages)', observation: 'lag', points: [1, 2, 3].map((x) => ({ x, y: x * 4 })) },
      ],
    };
    const file = join(dir, 'report.html');
    writeFileSync(file, htmlReport(result, s.evidence(), story));
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(pathToFileURL(file).href);
      await expect.poll(() => page.locator('h3').first().textContent()).toContain('Step 1. Kill the leader');
      expect(await page.locator('body').textContent()).toContain('选举机制');
      expect(await page.locator('body').textContent()).toContain('Who leads next?');
      for (const id of ['#ops', '#latency', '#series0'])
        expect(await page.locator(id).evaluate(inked), id).toBeGreaterThan(500);
      expect(await page.locator('a[href="logs/zk2.log"]').count()).toBe(1);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
