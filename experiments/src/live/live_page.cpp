#include "live/live_page.hpp"

namespace surge::experiments {

const std::string& live_page_html() {
  static const std::string html = R"(<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>surge: live study</title>
<style>
body{font-family:sans-serif;margin:1em;color:#222}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:1em}
.card{border:1px solid #ccc;border-radius:6px;padding:.6em}
table{border-collapse:collapse;font-size:90%}td,th{padding:2px 8px;border-bottom:1px solid #eee}
.figures span{display:inline-block;margin-right:1.5em}.failed{color:#b00}
#images figure{display:inline-block;margin:0 1em 1em 0;text-align:center;font-size:85%}
#images canvas{width:192px;height:192px;image-rendering:pixelated;border:1px solid #ccc}
</style></head><body>
<h2>surge <span id="command"></span>: <span id="study"></span> <small id="status"></small></h2>
<div class="figures card">
<span>batches <b id="batches">0</b><span id="max-batches"></span></span>
<span>wall <b id="wall">0</b> s</span><span>ETA <b id="eta">-</b></span>
<span>loss <b id="final-loss">-</b></span>
<span>samples/s in <b id="samples-per-s">0</b></span>
<span>batches/s <b id="batches-per-s">0</b></span>
<span>samples received <b id="samples-in">0</b><small class="scope"></small></span>
<span>buffer <b id="buffer-size">0</b> samples, <b id="buffer-mb">0</b> MB</span>
<span>stop reason <b id="stop-reason">-</b></span>
</div>
<div class="grid">
<div class="card"><canvas id="loss-chart"></canvas></div>
<div class="card"><canvas id="validation-chart"></canvas></div>
<div class="card"><canvas id="members-chart"></canvas></div>
<div class="card" id="rollout-card" hidden><canvas id="rollout-chart"></canvas></div>
<div class="card" id="space-card" hidden><canvas id="space-chart"></canvas></div>
</div>
<div class="card" id="image-card" hidden><h3>validation member <span id="image-member"></span>
at t = <span id="image-time"></span> (<span id="image-label"></span>)</h3>
<div id="images"></div></div>
<div class="card"><h3>members (<span id="member-count">0</span>)</h3>
<table id="member-table"><thead><tr><th>id</th><th>role</th><th>status</th><th>attempts</th>
<th>samples<small class="scope"></small></th><th>last error</th></tr></thead><tbody></tbody></table></div>
<script src="chart.js?token=TOKEN"></script><script src="page.js?token=TOKEN"></script>
</body></html>
)";
  return html;
}

const std::string& live_page_script() {
  static const std::string script = R"JS('use strict';
const token = new URLSearchParams(location.search).get('token') || '';
const colours = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const statuses = ['pending', 'running', 'done', 'failed', 'redrawn', 'stopped'];
function chart(id, type, title, ylog) {
  return new Chart(document.getElementById(id), {
    type: type, data: {labels: [], datasets: []},
    options: {animation: false, parsing: type === 'bar',
      plugins: {title: {display: true, text: title}},
      scales: type === 'bar' ? {} : {x: {type: 'linear'}, y: {type: ylog ? 'logarithmic' : 'linear'}}}
  });
}
const charts = {
  loss: chart('loss-chart', 'line', 'training loss (normalised MSE) against batch', true),
  validation: chart('validation-chart', 'line', 'validation relative L2 error against batch', true),
  members: chart('members-chart', 'bar', 'members by status', false),
  rollout: chart('rollout-chart', 'line', 'rollout relative L2 error against horizon', true),
  space: chart('space-chart', 'scatter', 'members over the parameter space', false)
};
function xy(xs, ys) { return xs.map((x, i) => ({x: x, y: ys[i]})); }
// The numbers a chart holds, written onto its canvas for whoever reads the DOM.
function mark(c) {
  const sets = c.data.datasets;
  const canvas = c.canvas;
  canvas.dataset.series = sets.length;
  if (!sets.length) return;
  const d = sets[0].data;
  canvas.dataset.count = d.length;
  const last = d.length ? d[d.length - 1] : null;
  canvas.dataset.last = last === null ? '' : String(typeof last === 'object' ? last.y : last);
  if (typeof last === 'object' && last) canvas.dataset.lastX = String(last.x);
  canvas.dataset.values = JSON.stringify(d.map(p => (typeof p === 'object' ? p.y : p)).slice(0, 16));
}
function lines(c, xs, rows, names, radius) {
  c.data.datasets = rows.map((ys, i) => ({label: names[i], data: xy(xs, ys), pointRadius: radius,
    borderColor: colours[i % colours.length], borderWidth: 1.5}));
  c.update('none');
  mark(c);
}
function text(id, v) { document.getElementById(id).textContent = v; }
function members(s) {
  const m = s.members;
  charts.members.data.labels = statuses;
  charts.members.data.datasets = [{label: 'members', data: statuses.map(k => m[k]),
    backgroundColor: ['#999', '#1f77b4', '#2ca02c', '#d62728', '#ff7f0e', '#8c564b']}];
  charts.members.update('none');
  mark(charts.members);
  statuses.forEach(k => { charts.members.canvas.dataset[k] = m[k]; });
  text('member-count', m.rows.length);
  document.querySelectorAll('.scope').forEach(e => {
    e.textContent = m.samples_scope ? ' (' + m.samples_scope + ')' : '';
  });
  const body = document.querySelector('#member-table tbody');
  body.replaceChildren(...m.rows.slice(0, 500).map(r => {
    const tr = document.createElement('tr');
    if (r.status === 'failed') tr.className = 'failed';
    [r.id, r.role, r.status, r.attempts, r.samples, r.last_error].forEach(v => {
      const td = document.createElement('td');
      td.textContent = v;
      tr.appendChild(td);
    });
    return tr;
  }));
}
// The members drawn, over the first two parameters that vary between them, by role.
function space(m) {
  const names = m.parameter_names || [];
  const varying = names.map((n, k) => k).filter(k =>
    m.rows.some(r => r.parameters.length > k && r.parameters[k] !== m.rows[0].parameters[k]));
  const card = document.getElementById('space-card');
  card.hidden = varying.length < 1;
  if (card.hidden) return;
  const kx = varying[0], ky = varying.length > 1 ? varying[1] : varying[0];
  const c = charts.space;
  c.data.datasets = ['train', 'validation'].map((role, i) => ({label: role + ' members',
    data: m.rows.filter(r => r.role === role && r.parameters.length > Math.max(kx, ky))
      .map(r => ({x: r.parameters[kx], y: r.parameters[ky]}))
      .sort((a, b) => a.x - b.x),  // unparsed data must come sorted by x (Chart.js)
    backgroundColor: colours[i], pointRadius: 3}));
  c.options.scales.x.title = {display: true, text: names[kx]};
  c.options.scales.y.title = {display: true, text: names[ky]};
  c.update('none');
  c.canvas.dataset.xName = names[kx];
  c.canvas.dataset.yName = names[ky];
  c.canvas.dataset.points = c.data.datasets.reduce((n, d) => n + d.data.length, 0);
}
// A channel as an image: axis 0 across, axis 1 up; values from lo (dark) to hi (yellow).
function draw(canvas, grid, values, lo, hi) {
  const [n0, n1] = grid;
  canvas.width = n0; canvas.height = n1;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(n0, n1);
  const span = hi > lo ? hi - lo : 1;
  for (let i = 0; i < n0; ++i) {
    for (let j = 0; j < n1; ++j) {
      const v = values[i * n1 + j];
      const t = v === null ? 0 : Math.min(1, Math.max(0, (v - lo) / span));
      const p = 4 * ((n1 - 1 - j) * n0 + i);
      img.data[p] = 255 * Math.min(1, 1.6 * t); img.data[p + 1] = 255 * t * t;
      img.data[p + 2] = 255 * Math.max(0, 0.6 - t); img.data[p + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  canvas.dataset.min = String(lo); canvas.dataset.max = String(hi);
}
function extent(v) {
  let lo = Infinity, hi = -Infinity;
  for (const x of v) if (x !== null) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
  return [lo, hi];
}
function images(s) {
  const im = s.image;
  const card = document.getElementById('image-card');
  card.hidden = im.simulation_id < 0;
  if (card.hidden) return;
  text('image-member', im.simulation_id); text('image-label', im.label);
  text('image-time', im.time.toPrecision(4));
  const box = document.getElementById('images');
  box.replaceChildren();
  im.truth.forEach((truth, c) => {
    const prediction = im.prediction[c];
    const error = truth.map((v, k) => (v === null || prediction[k] === null ? null : prediction[k] - v));
    const [tlo, thi] = extent(truth), [plo, phi] = extent(prediction);
    const lo = Math.min(tlo, plo), hi = Math.max(thi, phi);
    const emax = Math.max(...error.map(e => Math.abs(e || 0)));
    [['truth', truth, lo, hi], ['prediction', prediction, lo, hi], ['error', error, -emax, emax]]
      .forEach(([what, values, a, b]) => {
        const fig = document.createElement('figure');
        const canvas = document.createElement('canvas');
        canvas.id = 'image-' + c + '-' + what;
        draw(canvas, im.grid, values, a, b);
        const [vlo, vhi] = extent(values);
        canvas.dataset.valueMin = String(vlo); canvas.dataset.valueMax = String(vhi);
        const cap = document.createElement('figcaption');
        cap.textContent = (s.channels[c] || 'channel ' + c) + ' ' + what + ' [' +
          a.toPrecision(3) + ', ' + b.toPrecision(3) + ']';
        fig.append(canvas, cap);
        box.appendChild(fig);
      });
  });
  card.dataset.member = im.simulation_id;
  card.dataset.channels = im.truth.length;
}
function show(s) {
  text('command', s.command); text('study', s.study);
  text('status', s.from_checkpoint ? 'ended without results: its latest checkpoint'
    : s.finished ? 'finished' : 'running');
  document.body.dataset.finished = s.finished;
  text('batches', s.batch);
  text('max-batches', s.max_batches > 0 ? ' / ' + s.max_batches : '');
  text('wall', s.wall_s.toFixed(1));
  const left = s.max_batches - s.batch;
  text('eta', !s.finished && s.batches_per_s > 0 && left > 0 ? (left / s.batches_per_s).toFixed(0) + ' s' : '-');
  text('final-loss', s.loss.length ? s.loss[s.loss.length - 1].toExponential(4) : '-');
  text('samples-per-s', s.samples_per_s.toFixed(0));
  text('batches-per-s', s.batches_per_s.toFixed(2));
  text('samples-in', s.members.samples_in);
  text('buffer-size', s.buffer_size);
  text('buffer-mb', (s.buffer_bytes / 1e6).toFixed(2));
  text('stop-reason', s.finished ? s.stop_reason : '-');
  lines(charts.loss, s.loss_batch, [s.loss], ['loss'], 0);
  lines(charts.validation, s.validation_batch, s.validation_rel_l2, s.channels, 2);
  lines(charts.rollout, s.rollout_horizon, s.rollout_rel_l2, s.channels, 2);
  document.getElementById('rollout-card').hidden = !s.rollout_horizon.length;
  members(s);
  space(s.members);
  images(s);
  document.body.dataset.updated = (Number(document.body.dataset.updated || 0) + 1);
}
async function poll() {
  try {
    const r = await fetch('state.json?token=' + encodeURIComponent(token), {cache: 'no-store'});
    if (r.ok) show(await r.json());
    else text('status', 'the study answered ' + r.status);
  } catch (e) {
    text('status', 'the study is not answering (ended?)');
  }
  setTimeout(poll, 1000);
}
poll();
)JS";
  return script;
}

}  // namespace surge::experiments
