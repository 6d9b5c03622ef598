import { describe, expect, it } from 'vitest';
import type { RunResult, RunStory } from '../../src/engine/result.ts';
import { htmlReport, plotData } from '../../src/report/html.ts';
import { Story } from '../helpers/evidence.ts';

const result: RunResult = {
  lab: 'zookeeper/leader-failover',
  title: 'The leader dies',
  notes: 'Notes, ZooKeeper chapter: 选举机制.',
  params: {},
  seed: 1,
  verdict: 'pass',
  reason: 'all 1 checks held',
  checks: [{ name: 'a new leader', ok: true, expected: '< 2 s', observed: '0.4 s' }],
  seconds: 12,
  phases: {},
  outDir: 'runs/x',
};
const story: RunStory = {
  nodes: ['zk1', 'zk2', 'zk3'],
  lines: [
    {
      kind: 'step',
      time: 10,
      index: 1,
      title: 'Kill the leader',
      narration: 'zk2 leads; it dies.',
      commands: ['srvr'],
    },
    { kind: 'fault', time: 20, text: 'kill zk2' },
  ],
};

describe('report', () => {
  it('draws latency as quantiles per second, not a point per operation', () => {
    const s = new Story();
    for (let i = 0; i < 100; i++) s.at(i * 5).op('p', 'write', 'ok', { id: i }, { ms: i < 99 ? 2 : 400 });
    const d = plotData(s.evidence());
    expect(d.latency.p50[0]).toBe(2);
    expect(d.latency.max[0]).toBe(400);
    expect(d.ok.reduce((a, b) => a + b, 0)).toBe(100);
  });

  it('tells the story, the notes and links every node log', () => {
    const html = htmlReport(result, new Story().evidence(), story);
    expect(html).toContain('Step 1. Kill the leader');
    expect(html).toContain('zk2 leads; it dies.');
    expect(html).toContain('选举机制');
    for (const n of story.nodes) expect(html).toContain(`href="logs/${n}.log"`);
  });

  it("draws the lab's declared plots, by label, and leaves their observations out of the table", () => {
    const s = new Story();
    s.at(1000).observe('lag', { total: 7 });
    const series = [{ label: 'consumer lag (messages)', observation: 'lag', points: [{ x: 1, y: 7 }] }];
    const html = htmlReport(result, s.evidence(), { ...story, series });
    expect(html).toContain('<h2>consumer lag (messages)</h2>');
    expect(html).toContain('"points":[{"x":1,"y":7}]');
    expect(html).not.toContain('{&quot;total&quot;:7}');
    expect(htmlReport(result, s.evidence(), story)).not.toContain('consumer lag');
  });

  it('shows a cut as who could not see whom, on the chart and in the fault table', () => {
    const ev = new Story().at(1000).fault('kill', ['zk2'], 500).evidence();
    ev.faults.push({
      id: 2,
      kind: 'partition',
      targets: ['zk3'],
      peers: ['zk1', 'zk2', 'host'],
      start: 2000,
      end: 4000,
    });
    ev.faults.push({ id: 3, kind: 'partition', targets: ['zk1'], peers: ['zk2'], start: 5000 });
    expect(plotData(ev).faults.map((f) => f.label)).toEqual([
      'kill zk2',
      "zk3 cut off from zk1, zk2 and this machine's clients",
      'zk1 cut off from zk2',
    ]);
    const html = htmlReport(result, ev, story);
    expect(html).toContain("<td>partition</td><td>zk3 cut off from zk1, zk2 and this machine's clients</td>");
    expect(html).toContain('<td>zk1 cut off from zk2</td><td>5.0 s</td><td>open</td>');
  });

  it('stays small on a busy lab', () => {
    const s = new Story();
    for (let i = 0; i < 100_000; i++) s.at(i).op(`p${i % 8}`, 'send', 'ok', { id: i });
    const html = htmlReport(result, s.evidence(), story);
    // Chart.js itself is ~200 KB; the data of 100k operations must not add megabytes.
    expect(html.length).toBeLessThan(600_000);
  });
});
