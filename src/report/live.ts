import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { RunEvent } from '../engine/events.ts';
import { faultLabel } from '../engine/history.ts';

/**
 * The live view for presenters: a page on 127.0.0.1 that follows the run's event stream
 * (server-sent events): nodes and their state, counters, throughput and the lab's plots with fault
 * windows shaded, and the story so far. A page opened late replays what it missed.
 */
export interface LiveView {
  url: string;
  listener: (e: RunEvent) => void;
  /** Ends every page's stream, as a network blip would: the pages reconnect and resume. */
  dropPages(): void;
  close(): Promise<void>;
}

/**
 * `host` is loopback unless the presenter asks for another address (then anyone who can
 * reach it sees the run: the CLI says so out loud). `port` 0 picks a free one.
 */
export async function startLiveView(opts: { port?: number; host?: string } = {}): Promise<LiveView> {
  const port = opts.port ?? 0;
  const host = opts.host ?? '127.0.0.1';
  const history: string[] = [];
  const clients = new Set<import('node:http').ServerResponse>();
  const chartJs = readFileSync(join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js'));
  const server: Server = createServer((req, res) => {
    if (req.url === '/events') {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      // A reconnecting page says what it has (Last-Event-ID): it gets only the rest, so
      // nothing is counted twice.
      res.write('retry: 500\n\n');
      const last = Number(req.headers['last-event-id'] ?? -1);
      for (const line of history.slice(Number.isInteger(last) ? last + 1 : 0)) res.write(line);
      clients.add(res);
      req.on('close', () => clients.delete(res));
    } else if (req.url === '/chart.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(chartJs);
    } else if (req.url === '/' || req.url === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const addr = server.address();
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${typeof addr === 'object' && addr ? addr.port : port}/`;
  return {
    url,
    listener(e) {
      // A wait's progress is for the console's status line; the page shows steps and faults.
      if (e.kind === 'progress') return;
      // Operations are many: the page needs their outcome and time, not their values. A fault
      // comes with its label (for a cut: who could not see whom).
      const slim =
        e.kind === 'op'
          ? { kind: 'op', op: { type: e.op.type, f: e.op.f, time: e.op.time } }
          : e.kind === 'fault'
            ? { ...e, label: faultLabel(e.fault) }
            : e;
      const line = `id: ${history.length}\ndata: ${JSON.stringify(slim)}\n\n`;
      history.push(line);
      for (const c of clients) c.write(line);
    },
    dropPages() {
      for (const c of clients) c.end();
      clients.clear();
    },
    async close() {
      for (const c of clients) c.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>midlab live</title>
<style>
body{font:20px/1.4 system-ui,sans-serif;margin:0;background:#0d1117;color:#e6edf3}
header{padding:.6rem 1.2rem;background:#161b22;display:flex;gap:1.5rem;align-items:baseline}
h1{font-size:1.5rem;margin:0}#verdict{font-weight:700}
main{display:grid;grid-template-columns:22rem 1fr;gap:1rem;padding:1rem}
.node .role{font-weight:400;font-style:italic}.node[data-role=leader] .role,.node[data-role=controller] .role,.node[data-role=primary] .role{font-weight:800;font-style:normal}
.node{display:flex;justify-content:space-between;padding:.4rem .7rem;margin:.3rem 0;border-radius:.4rem;background:#238636;font-weight:600}
.node.killed,.node.crashed,.node.stopped{background:#da3633}.node.paused{background:#9e6a03}.node.cut{background:#8957e5}
.counters div{display:flex;justify-content:space-between;font-size:1.1rem}
#story{height:14rem;overflow:auto;font-size:.95rem;background:#161b22;padding:.5rem;border-radius:.4rem}
.chart{height:15rem;background:#161b22;border-radius:.4rem;padding:.4rem;margin-bottom:.8rem}
.pass{color:#3fb950}.fail{color:#f85149}.unknown{color:#d29922}
</style></head><body>
<header><h1 id="lab">waiting for a run...</h1><span id="step"></span><span id="verdict"></span></header>
<main><section>
<h2>Nodes</h2><div id="nodes"></div>
<h2>Operations</h2><div class="counters">
<div><span>acknowledged (ok)</span><b id="ok">0</b></div>
<div><span>failed</span><b id="fail">0</b></div>
<div><span>unknown (info)</span><b id="info">0</b></div>
<div><span>received</span><b id="received">0</b></div>
</div>
<h2>Checks</h2><div id="checks"></div>
</section><section>
<div class="chart"><canvas id="throughput"></canvas></div>
<div id="plots"></div>
<div id="story"></div>
</section></main>
<script src="/chart.js"></script>
<script>
const $ = (id) => document.getElementById(id);
const state = {}; const counts = { ok: 0, fail: 0, info: 0, received: 0 };
const faults = []; const buckets = new Map(); const plots = new Map();
const shade = { id: 'faults', beforeDatasetsDraw(chart) {
  const { ctx, chartArea: a, scales: { x } } = chart; ctx.save();
  for (const f of faults) { const x0 = x.getPixelForValue(f.start), x1 = x.getPixelForValue(f.end ?? x.max);
    ctx.fillStyle = 'rgba(248,81,73,0.18)'; ctx.fillRect(x0, a.top, Math.max(2, x1 - x0), a.bottom - a.top);
    ctx.fillStyle = '#f85149'; ctx.font = '14px system-ui'; ctx.fillText(f.label, x0 + 4, a.top + 14); }
  ctx.restore(); } };
Chart.defaults.color = '#e6edf3';
const axis = (t) => ({ type: 'linear', title: { display: true, text: t }, grid: { color: '#30363d' } });
const tp = new Chart($('throughput'), { type: 'bar', plugins: [shade], data: { datasets: [
  { label: 'ok / s', data: [], backgroundColor: '#3fb950', stack: 's' },
  { label: 'fail / s', data: [], backgroundColor: '#f85149', stack: 's' },
  { label: 'unknown / s', data: [], backgroundColor: '#d29922', stack: 's' }] },
  options: { animation: false, maintainAspectRatio: false, scales: { x: axis('seconds'), y: { ...axis('operations'), stacked: true } } } });
function plotOf(label) { if (plots.has(label)) return plots.get(label);
  const box = document.createElement('div'); box.className = 'chart'; const cv = document.createElement('canvas'); box.appendChild(cv); $('plots').appendChild(box);
  const ch = new Chart(cv, { type: 'line', plugins: [shade], data: { datasets: [{ label, data: [], borderColor: '#a371f7' }] },
    options: { animation: false, maintainAspectRatio: false, scales: { x: axis('seconds'), y: axis(label) } } });
  plots.set(label, ch); return ch; }
const roles = {};
const cuts = {};
function renderNodes() { $('nodes').innerHTML = Object.entries(state).map(([n, s]) =>
  '<div class="node ' + s + '" data-node="' + n + '" data-state="' + s + '" data-role="' + (roles[n] ?? '') + '"><span>' + n +
  '</span><span class="role">' + (roles[n] ?? '') + '</span><span class="state">' + (s === 'cut' && cuts[n] ? cuts[n] : s) + '</span></div>').join(''); }
function say(t) { const p = document.createElement('div'); p.textContent = t; $('story').appendChild(p); $('story').scrollTop = 1e9; }
let dirty = false;
setInterval(() => { if (!dirty) return; dirty = false;
  const keys = [...buckets.keys()].sort((a, b) => a - b);
  ['ok', 'fail', 'info'].forEach((k, i) => tp.data.datasets[i].data = keys.map((x) => ({ x, y: buckets.get(x)[k] })));
  tp.update(); for (const ch of plots.values()) ch.update(); for (const k in counts) $(k).textContent = counts[k]; }, 500);
const FAULT_STATE = { kill: 'killed', crash: 'crashed', stop: 'stopped', pause: 'paused', partition: 'cut' };
new EventSource('/events').onmessage = (m) => { const e = JSON.parse(m.data);
  if (e.kind === 'start') { $('lab').textContent = e.lab; say(e.title); say(e.notes); }
  if (e.kind === 'cluster') { for (const n of e.nodes) state[n] = 'up'; renderNodes(); }
  if (e.kind === 'roles') { for (const n in roles) delete roles[n]; Object.assign(roles, e.roles); renderNodes(); }
  if (e.kind === 'step') { $('step').textContent = 'Step ' + e.index + ': ' + e.title; say('Step ' + e.index + '. ' + e.title); say(e.narration); }
  if (e.kind === 'fault') { for (const n of e.fault.targets) if (n in state) state[n] = FAULT_STATE[e.fault.kind] ?? 'up';
    if (e.fault.kind === 'partition') for (const n of e.fault.targets) cuts[n] = e.label.replace(/^.*? (?=cut off)/, '');
    faults.push({ id: e.fault.id, label: e.label, start: e.fault.start / 1000 });
    renderNodes(); say('⚡ ' + e.text); dirty = true; }
  if (e.kind === 'heal') { for (const n of e.fault.targets) if (n in state) state[n] = 'up';
    const f = faults.find((x) => x.id === e.fault.id); if (f) f.end = e.fault.end / 1000; renderNodes(); say('↺ ' + e.text); dirty = true; }
  if (e.kind === 'observe' && e.text) say('• ' + e.text);
  if (e.kind === 'point') { plotOf(e.label).data.datasets[0].data.push({ x: e.time / 1000, y: e.y }); dirty = true; }
  if (e.kind === 'op' && e.op.type !== 'invoke') { const x = Math.floor(e.op.time / 1000);
    if (!buckets.has(x)) buckets.set(x, { ok: 0, fail: 0, info: 0 }); buckets.get(x)[e.op.type]++;
    if (/^(receive|read)/.test(e.op.f) && e.op.type === 'ok') counts.received++; else counts[e.op.type]++; dirty = true; }
  if (e.kind === 'check') { const d = document.createElement('div'); d.className = e.check.ok === true ? 'pass' : e.check.ok === false ? 'fail' : 'unknown';
    d.textContent = (e.check.ok === true ? '✓ ' : e.check.ok === false ? '✗ ' : '? ') + e.check.name; $('checks').appendChild(d); }
  if (e.kind === 'verdict') { $('verdict').textContent = e.verdict.toUpperCase(); $('verdict').className = e.verdict; say(e.reason); }
};
</script></body></html>`;
