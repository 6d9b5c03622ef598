import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { summarize } from '../checkers/latency.ts';
import { type Evidence, faultLabel, pairs } from '../engine/history.ts';
import type { RunResult, RunStory } from '../engine/result.ts';

/**
 * A self-contained HTML report of one run, for the trainee to keep: verdict, the lab's
 * notes, checks, predictions, the story as told (steps, narration, commands), the fault
 * timeline, plots (operations per second by outcome, latency quantiles per second, the lab's own
 * when the lab sampled it) with fault windows shaded, and links to every node's log.
 * Chart.js is inlined, so it opens offline.
 */
const chartJs = (() => {
  let cached: string | undefined;
  return () => {
    // The UMD build is not in the package's exports map: find it beside the main entry.
    const main = createRequire(import.meta.url).resolve('chart.js');
    cached ??= readFileSync(join(dirname(main), 'chart.umd.min.js'), 'utf8');
    return cached;
  };
})();

export interface PlotData {
  /** Seconds since start, one bucket per entry. */
  buckets: number[];
  ok: number[];
  fail: number[];
  info: number[];
  /** Latency (ms) per bucket of completions: quantiles and maximum (a busy lab has too many points to draw each). */
  latency: { p50: (number | null)[]; p95: (number | null)[]; p99: (number | null)[]; max: (number | null)[] };
  faults: { label: string; start: number; end: number }[];
}

/** Pure: what the plots show, from the evidence alone. */
export function plotData(ev: Evidence, bucketMs = 1000): PlotData {
  // A loop, not Math.max(...spread): a busy lab records hundreds of thousands of operations.
  let end = 1;
  for (const o of ev.ops) end = Math.max(end, o.time);
  for (const o of ev.observations) end = Math.max(end, o.time);
  const n = Math.ceil(end / bucketMs) + 1;
  const ok = new Array<number>(n).fill(0);
  const fail = new Array<number>(n).fill(0);
  const info = new Array<number>(n).fill(0);
  const samples: number[][] = Array.from({ length: n }, () => []);
  for (const { invoke, done } of pairs(ev.ops)) {
    if (!done || done.type === 'invoke') continue;
    const i = Math.floor(done.time / bucketMs);
    ({ ok, fail, info })[done.type][i] = ({ ok, fail, info }[done.type][i] ?? 0) + 1;
    samples[i]?.push(done.time - invoke.time);
  }
  const per = samples.map((xs) => (xs.length ? summarize(xs) : null));
  const q = (k: 'p50' | 'p95' | 'p99' | 'max') => per.map((s) => s?.[k] ?? null);
  const latency = { p50: q('p50'), p95: q('p95'), p99: q('p99'), max: q('max') };
  return {
    buckets: Array.from({ length: n }, (_, i) => (i * bucketMs) / 1000),
    ok,
    fail,
    info,
    latency,
    faults: ev.faults.map((f) => ({
      label: faultLabel(f),
      start: f.start / 1000,
      end: (f.end ?? end) / 1000,
    })),
  };
}

/** The story as the trainee was told it: steps with their narration and commands, faults, findings. */
function storyHtml(story: RunStory, esc: (s: unknown) => string): string {
  const at = (t: number) => `<span class="at">+${(t / 1000).toFixed(1)} s</span>`;
  const mark = { say: '', observe: '• ', fault: '⚡ ', heal: '↺ ', warning: '⚠ ' } as const;
  return story.lines
    .map((l) =>
      l.kind === 'step'
        ? `<h3>Step ${l.index}. ${esc(l.title)} ${at(l.time)}</h3><p>${esc(l.narration)}</p>${l.commands
            .map((c) => `<pre class="try">try: ${esc(c)}</pre>`)
            .join('')}`
        : `<p class="${l.kind}">${mark[l.kind]}${esc(l.text)} ${at(l.time)}</p>`,
    )
    .join('\n');
}

export function htmlReport(result: RunResult, ev: Evidence, story: RunStory = { nodes: [], lines: [] }): string {
  const series = (story.series ?? []).filter((x) => x.points.length);
  const data = { ...plotData(ev), series };
  const plotted = new Set(series.map((x) => x.observation));
  const esc = (s: unknown) =>
    String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
  const mark = (ok: boolean | 'unknown') => (ok === true ? '✓' : ok === false ? '✗' : '?');
  const rows = result.checks
    .map(
      (c) =>
        `<tr class="${c.ok === true ? 'ok' : c.ok === false ? 'bad' : 'unk'}"><td>${mark(c.ok)}</td><td>${esc(c.name)}</td><td>${esc(c.expected)}</td><td>${esc(c.observed)}</td></tr>`,
    )
    .join('');
  const faults = ev.faults
    .map(
      (f) =>
        `<tr><td>${esc(f.kind)}</td><td>${esc(faultLabel(f))}</td><td>${(f.start / 1000).toFixed(1)} s</td><td>${f.end === undefined ? 'open' : `${(f.end / 1000).toFixed(1)} s`}</td></tr>`,
    )
    .join('');
  const predictions = (result.predictions ?? [])
    .map(
      (p) =>
        `<tr><td>${p.right === true ? '✓' : p.right === false ? '✗' : '-'}</td><td>${esc(p.question)}</td><td>${esc(p.chosen ?? 'skipped')}</td><td>${esc(p.correct ?? 'unknown')}</td></tr>`,
    )
    .join('');
  const observations = ev.observations
    .filter((o) => !plotted.has(o.name))
    .map(
      (o) =>
        `<tr><td>${(o.time / 1000).toFixed(1)} s</td><td>${esc(o.name)}</td><td><code>${esc(JSON.stringify(o.value))}</code></td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(result.lab)}: ${result.verdict}</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#222}
h1{font-size:1.6rem;margin:0}.verdict{display:inline-block;padding:.1rem .6rem;border-radius:.3rem;color:#fff;font-weight:700}
.pass{background:#1a7f37}.fail{background:#cf222e}.unknown{background:#9a6700}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
tr.bad td{background:#ffebe9}tr.unk td{background:#fff8c5}code{font-size:.85em;word-break:break-all}
.chart{height:300px;margin-bottom:1.5rem}.meta{color:#555}.at{color:#777;font-size:.8em}
.notes{background:#f6f8fa;padding:.5rem .8rem;border-left:3px solid #8250df}.fault{color:#cf222e}.heal{color:#1a7f37}
.warning{color:#9a6700}pre.try{background:#f6f8fa;padding:.3rem .6rem;margin:.2rem 0;white-space:pre-wrap}
</style></head><body>
<h1>${esc(result.lab)} <span class="verdict ${result.verdict}">${result.verdict.toUpperCase()}</span></h1>
<p>${esc(result.reason)}</p>
<p class="meta">${esc(result.title)}</p>
<p class="notes">${esc(result.notes)}</p>
<p class="meta">seed ${result.seed} · params <code>${esc(JSON.stringify(result.params))}</code> · ${result.seconds.toFixed(1)} s</p>
<h2>Checks</h2><table><tr><th></th><th>check</th><th>expected</th><th>observed</th></tr>${rows}</table>
${story.lines.length ? `<h2>The story</h2>${storyHtml(story, esc)}` : ''}
${predictions ? `<h2>Predictions</h2><table><tr><th></th><th>question</th><th>you said</th><th>what happened</th></tr>${predictions}</table>` : ''}
<h2>Operations per second</h2><div class="chart"><canvas id="ops"></canvas></div>
<h2>Latency</h2><div class="chart"><canvas id="latency"></canvas></div>
${series.map((x, i) => `<h2>${esc(x.label)}</h2><div class="chart"><canvas id="series${i}"></canvas></div>`).join('\n')}
<h2>Faults</h2><table><tr><th>fault</th><th>what (for a cut: who could not see whom)</th><th>from</th><th>to</th></tr>${faults || '<tr><td colspan="4">none</td></tr>'}</table>
<h2>Observations</h2><table><tr><th>at</th><th>what</th><th>value</th></tr>${observations}</table>
${story.nodes.length ? `<h2>Node logs</h2><p>${story.nodes.map((n) => `<a href="logs/${esc(n)}.log">${esc(n)}</a>`).join(' · ')}</p>` : ''}
<script>${chartJs()}</script>
<script>
const data = ${JSON.stringify(data)};
// Fault windows drawn behind every chart, so cause and effect line up.
const shade = { id: 'faults', beforeDatasetsDraw(chart) {
  const { ctx, chartArea: a, scales: { x } } = chart;
  ctx.save();
  for (const f of data.faults) {
    const x0 = x.getPixelForValue(f.start), x1 = x.getPixelForValue(f.end);
    ctx.fillStyle = 'rgba(207,34,46,0.10)'; ctx.fillRect(x0, a.top, Math.max(2, x1 - x0), a.bottom - a.top);
    ctx.fillStyle = '#cf222e'; ctx.font = '12px system-ui'; ctx.fillText(f.label, x0 + 3, a.top + 12);
  }
  ctx.restore();
} };
const linear = (title) => ({ type: 'linear', title: { display: true, text: title } });
const common = { animation: false, maintainAspectRatio: false, plugins: { legend: { position: 'bottom' } } };
const pts = (ys) => data.buckets.map((x, i) => ({ x, y: ys[i] }));
new Chart(document.getElementById('ops'), { type: 'bar', plugins: [shade], data: { datasets: [
  { label: 'ok', data: pts(data.ok), backgroundColor: '#1a7f37', stack: 's' },
  { label: 'fail', data: pts(data.fail), backgroundColor: '#cf222e', stack: 's' },
  { label: 'unknown (info)', data: pts(data.info), backgroundColor: '#bf8700', stack: 's' } ] },
  options: { ...common, scales: { x: linear('seconds since start'), y: { ...linear('operations'), stacked: true } } } });
new Chart(document.getElementById('latency'), { type: 'line', plugins: [shade],
  data: { datasets: [['p50', '#0969da'], ['p95', '#bf8700'], ['p99', '#cf222e'], ['max', '#6e7781']].map(([k, c]) =>
    ({ label: k, data: pts(data.latency[k]), borderColor: c, pointRadius: 1, spanGaps: false })) },
  options: { ...common, scales: { x: linear('seconds since start'), y: linear('ms (per second of completions)') } } });
data.series.forEach((s, i) => new Chart(document.getElementById('series' + i), { type: 'line', plugins: [shade],
  data: { datasets: [{ label: s.label, data: s.points, borderColor: '#8250df' }] },
  options: { ...common, scales: { x: linear('seconds since start'), y: linear(s.label) } } }));
</script></body></html>
`;
}

/** The index of several runs (`run --all`): every lab's verdict, time and a link to its report. */
export function indexPage(results: RunResult[], linkOf: (r: RunResult) => string): string {
  const esc = (s: unknown) =>
    String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
  const rows = results
    .map(
      (r) =>
        `<tr><td><span class="verdict ${r.verdict}">${r.verdict.toUpperCase()}</span></td><td><a href="${esc(linkOf(r))}">${esc(r.lab)}</a></td><td>${esc(JSON.stringify(r.params))}</td><td>${r.seconds.toFixed(0)} s</td><td>${esc(r.reason)}</td></tr>`,
    )
    .join('');
  const count = (v: string) => results.filter((r) => r.verdict === v).length;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>midlab: ${results.length} labs</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left}
.verdict{display:inline-block;padding:0 .5rem;border-radius:.3rem;color:#fff;font-weight:700}
.pass{background:#1a7f37}.fail{background:#cf222e}.unknown{background:#9a6700}</style></head><body>
<h1>${results.length} labs: ${count('pass')} passed, ${count('fail')} failed, ${count('unknown')} unknown</h1>
<table><tr><th></th><th>lab</th><th>params</th><th>time</th><th>why</th></tr>${rows}</table>
</body></html>
`;
}
