/// <reference lib="dom" />
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findLab, runLab } from '../../src/index.ts';
import { startLiveView } from '../../src/report/live.ts';
import { hasChromium, launchBrowser } from '../helpers/browser.ts';
import { tempDir } from '../helpers/temp.ts';

/** The presenter's page, in a real headless browser, following a real lab. */
describe.runIf(hasChromium)('live view', () => {
  it('shows the leader killed, another elected, every node back, and a throughput chart', async () => {
    const live = await startLiveView();
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
      await page.goto(live.url);
      const seen = new Set<string>();
      const leaders = new Set<string>();
      const run = runLab(findLab('zookeeper/leader-failover'), {
        listeners: [live.listener],
        outDir: tempDir('live'),
        watchRoles: true,
      });
      // Poll the page while the lab runs: a killed node must show, a new leader, then every node up again.
      let done = false;
      void run.finally(() => {
        done = true;
      });
      while (!done) {
        for (const [state, role, node] of await page
          .locator('.node')
          .evaluateAll((els) =>
            els.map((e) => [
              (e as HTMLElement).dataset.state,
              (e as HTMLElement).dataset.role,
              (e as HTMLElement).dataset.node,
            ]),
          )) {
          seen.add(state ?? '');
          if (role === 'leader') leaders.add(node ?? '');
        }
        await page.waitForTimeout(150);
      }
      const result = await run;
      expect(result.verdict).toBe('pass');
      expect(seen).toContain('killed');
      // The tiles named the first leader, then the one the survivors elected.
      expect(leaders.size).toBeGreaterThanOrEqual(2);
      await expect.poll(() => page.locator('#verdict').textContent()).toBe('PASS');
      const states = await page.locator('.node').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.state));
      expect(states).toEqual(['up', 'up', 'up']);
      // The throughput chart has bars: its canvas is not blank.
      const inked = await page.locator('#throughput').evaluate((c) => {
        const canvas = c as HTMLCanvasElement;
        const d = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? [];
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if ((d[i] ?? 0) > 40 && (d[i + 1] ?? 0) > 150) n++; // green "ok" bars
        return n;
      });
      expect(inked).toBeGreaterThan(100);
      await page.screenshot({ path: join(result.outDir, 'live-view.png') });
    } finally {
      await browser.close();
      await live.close();
    }
  });
});
