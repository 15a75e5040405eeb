// The dashboard at GET /: one page, no build step, live from the event stream. It asks for a token once.
// It runs under a content policy that lets in only its own <script> and <style> blocks, by hash
// (src/api/headers.ts): no inline handlers or style attributes, here or in the HTML it writes.

const STYLE = `
:root{--bg:#f6f7f9;--card:#fff;--ink:#1d2433;--muted:#6b7385;--line:#e4e7ee;--accent:#3b5bdb;--ok:#2f9e44;--bad:#e03131;--warn:#e8590c;--wait:#868e96}
*{box-sizing:border-box}body{margin:0;font:14px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;background:var(--bg);color:var(--ink)}
header{display:flex;align-items:center;gap:1rem;padding:.9rem 1.5rem;background:var(--card);border-bottom:1px solid var(--line)}
header h1{font-size:18px;margin:0;letter-spacing:.02em}header .live{font-size:12px;color:var(--muted)}header .live b{color:var(--ok)}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(420px,100%),1fr));gap:1rem;padding:1rem 1.5rem}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:1rem 1.1rem;min-width:0;overflow-x:auto}section.wide{grid-column:1/-1}
.grow{flex:1}
h2{font-size:13px;text-transform:uppercase;letter-spacing:.08em;color:var(--muted);margin:0 0 .7rem}
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:.35rem .4rem;border-bottom:1px solid var(--line);font-variant-numeric:tabular-nums}
th{font-weight:500;color:var(--muted);font-size:12px}td.n{text-align:right}
button{font:inherit;font-size:12px;border:1px solid var(--line);background:#fff;border-radius:6px;padding:.2rem .6rem;cursor:pointer}button:hover{border-color:var(--accent);color:var(--accent)}
input,select{font:inherit;border:1px solid var(--line);border-radius:6px;padding:.3rem .5rem}
.pill{display:inline-block;border-radius:999px;padding:0 .5rem;font-size:12px;background:#eef1f6}
.succeeded{color:var(--ok)}.failed{color:var(--bad)}.running{color:var(--accent)}.delayed{color:var(--warn)}.queued{color:var(--wait)}
.muted{color:var(--muted)}pre{background:#f6f8fb;border-radius:6px;padding:.6rem;overflow:auto;max-height:16rem;font-size:12px}
#login{max-width:420px;margin:15vh auto;background:var(--card);border:1px solid var(--line);border-radius:12px;padding:1.5rem}
#login input{width:100%;margin:.6rem 0}canvas{width:100%;height:180px}
.legend span{margin-right:1rem;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:.3rem;vertical-align:-1px}
.legend i.succeeded{background:var(--ok)}.legend i.failed{background:var(--bad)}
`;

const SCRIPT = `
var token = localStorage.getItem('drover.token');
var $ = function (id) { return document.getElementById(id); };
var esc = function (v) { return String(v == null ? '' : v).replace(/[&<>"]/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; }); };
function api(method, path, body) {
  return fetch(path, { method: method, headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })
    .then(function (r) { if (r.status === 401) { logout(); throw new Error('token refused'); } return r.json(); });
}
function logout() { localStorage.removeItem('drover.token'); location.reload(); }
function ago(iso) { if (!iso) return ''; var s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000); return s < 60 ? Math.round(s) + ' s ago' : s < 3600 ? Math.round(s / 60) + ' min ago' : Math.round(s / 3600) + ' h ago'; }

// Throughput: succeeded and failed per second over the last five minutes, from the event stream.
var WINDOW = 300, series = { succeeded: {}, failed: {} };
function tick(state) { var sec = Math.floor(Date.now() / 1000); series[state][sec] = (series[state][sec] || 0) + 1; }
function draw() {
  var c = $('chart'), ctx = c.getContext('2d'), w = c.width = c.clientWidth * 2, h = c.height = c.clientHeight * 2, now = Math.floor(Date.now() / 1000);
  ctx.clearRect(0, 0, w, h);
  var max = 4; ['succeeded', 'failed'].forEach(function (k) { for (var s = now - WINDOW; s <= now; s++) max = Math.max(max, series[k][s] || 0); });
  max = Math.ceil(max / 4) * 4; // four even steps, whole numbers
  ctx.strokeStyle = '#e4e7ee'; ctx.lineWidth = 1; ctx.fillStyle = '#6b7385'; ctx.font = '20px system-ui';
  for (var g = 0; g <= 4; g++) { var y = h - 24 - (h - 40) * g / 4; ctx.beginPath(); ctx.moveTo(50, y); ctx.lineTo(w, y); ctx.stroke(); ctx.fillText(String(max * g / 4), 4, y + 6); }
  [['succeeded', '#2f9e44'], ['failed', '#e03131']].forEach(function (pair) {
    ctx.strokeStyle = pair[1]; ctx.lineWidth = 3; ctx.beginPath();
    for (var s = now - WINDOW, i = 0; s <= now; s++, i++) { var x = 50 + (w - 50) * i / WINDOW, y = h - 24 - (h - 40) * (series[pair[0]][s] || 0) / max; i ? ctx.lineTo(x, y) : ctx.moveTo(x, y); }
    ctx.stroke();
  });
  var total = function (k) { var n = 0; for (var s = now - 60; s <= now; s++) n += series[k][s] || 0; return n; };
  $('rate').textContent = (total('succeeded') / 60).toFixed(1) + '/s succeeded, ' + (total('failed') / 60).toFixed(1) + '/s failed (last minute)';
}

function queues() {
  return api('GET', '/v1/queues').then(function (d) {
    $('queues').innerHTML = d.queues.length ? d.queues.map(function (q) {
      // Task names and regions come from clients: escaped like every other value.
      var waiting = (q.unserved || []).map(function (u) { return '<div class="muted">waiting for a worker that runs ' + esc(u.task) + (u.region ? ' in ' + esc(u.region) : '') + ' (' + Number(u.ready) + ' ready)</div>'; }).join('');
      var regions = Object.keys(q.regions).map(function (r) { return '<span class="pill">' + esc(r) + ' ' + q.regions[r].ready + '/' + q.regions[r].running + '</span>'; }).join(' ');
      return '<tr data-queue="' + esc(q.name) + '"><td><b>' + esc(q.name) + '</b>' + (q.paused ? ' <span class="pill">paused</span>' : '') + waiting + '</td>' +
        '<td class="n ready">' + q.ready + '</td><td class="n delayed">' + q.delayed + '</td><td class="n running">' + q.running + '</td><td class="n failed">' + q.failed + '</td>' +
        '<td>' + regions + '</td><td><button data-act="' + (q.paused ? 'resume' : 'pause') + '" data-q="' + esc(q.name) + '">' + (q.paused ? 'Resume' : 'Pause') + '</button> ' +
        '<button data-act="dead" data-q="' + esc(q.name) + '">Dead letters</button></td></tr>';
    }).join('') : '<tr><td class="muted" colspan="7">No queues yet: enqueue a task.</td></tr>';
  });
}
function workers() {
  return api('GET', '/v1/workers').then(function (d) {
    // Gone workers (stopped, or silent for minutes) are left out: 'drover workers --all' lists them.
    var live = d.workers.filter(function (w) { return w.state !== 'gone'; });
    $('workers').innerHTML = live.length ? live.map(function (w) {
      return '<tr><td>' + esc(w.name) + '</td><td>' + esc(w.state) + '</td><td>' + esc(w.region || 'any') + '</td><td>' + esc(w.queues.join(', ')) + '</td><td class="n">' + w.inHand + '</td><td class="muted">' + ago(w.lastSeen) + '</td></tr>';
    }).join('') : '<tr><td class="muted" colspan="6">No worker is alive.</td></tr>';
  });
}
function schedules() {
  return api('GET', '/v1/schedules').then(function (d) {
    $('schedules').innerHTML = (d.schedules || []).length ? d.schedules.map(function (s) {
      return '<tr><td>' + esc(s.id) + '</td><td><code>' + esc(s.cron || ('every ' + s.every + ' s')) + '</code> ' + esc(s.timezone) + '</td><td>' + esc(s.task) + '</td><td>' + (s.enabled ? esc(s.nextRunAt || '') : '<span class="pill">disabled</span>') + '</td></tr>';
    }).join('') : '<tr><td class="muted" colspan="4">No schedules.</td></tr>';
  }).catch(function () { $('schedules').innerHTML = '<tr><td class="muted">Schedules need an admin token.</td></tr>'; });
}
function dead(queue) {
  return api('GET', '/v1/queues/' + encodeURIComponent(queue) + '/dead').then(function (d) {
    $('dead-title').textContent = 'Dead letters: ' + queue;
    $('dead').innerHTML = d.tasks.length ? d.tasks.map(function (t) {
      return '<tr data-dead="' + esc(t.id) + '"><td><a href="#" data-task="' + esc(t.id) + '">' + esc(t.id) + '</a></td><td>' + esc(t.task) + '</td><td>' + t.attempts + '</td><td class="failed">' + esc(t.error && t.error.type) + '</td>' +
        '<td><button data-act="replay" data-q="' + esc(queue) + '" data-id="' + esc(t.id) + '">Replay</button></td></tr>';
    }).join('') : '<tr><td class="muted" colspan="5">None.</td></tr>';
  });
}
function search(ev) {
  if (ev) ev.preventDefault();
  var q = new URLSearchParams(); ['queue', 'task', 'state'].forEach(function (k) { var v = $('f-' + k).value.trim(); if (v) q.set(k, v); }); q.set('limit', '25');
  return api('GET', '/v1/tasks?' + q).then(function (d) {
    $('tasks').innerHTML = (d.tasks || []).map(function (t) {
      return '<tr><td><a href="#" data-task="' + esc(t.id) + '">' + esc(t.id) + '</a></td><td>' + esc(t.task) + '</td><td>' + esc(t.queue) + '</td><td class="' + esc(t.state) + '">' + esc(t.state) + '</td><td class="n">' + t.attempts + '</td></tr>';
    }).join('') || '<tr><td class="muted" colspan="5">' + esc(d.error ? d.error.message : 'No tasks match.') + '</td></tr>';
  });
}
function detail(id) {
  return api('GET', '/v1/tasks/' + encodeURIComponent(id)).then(function (t) {
    var row = function (k, v) { return '<tr><th>' + k + '</th><td>' + v + '</td></tr>'; };
    $('detail').innerHTML = '<table>' + row('id', esc(t.id)) + row('task', esc(t.task)) + row('state', '<span class="' + esc(t.state) + '">' + esc(t.state) + '</span>') +
      row('queue / region', esc(t.queue) + ' / ' + esc(t.region || 'any')) + row('attempts', t.attempts + ' of ' + (t.maxRetries + 1)) + row('worker', esc(t.worker)) +
      row('created', esc(t.createdAt)) + row('started', esc(t.startedAt)) + row('finished', esc(t.finishedAt)) +
      (t.workflowId ? row('workflow', esc(t.workflowId) + (t.parentId ? ', after ' + esc(t.parentId) : '')) : '') + '</table>' +
      '<h2>arguments</h2><pre>' + esc(JSON.stringify({ args: t.args, kwargs: t.kwargs }, null, 2)) + '</pre>' +
      (t.result != null ? '<h2>result</h2><pre>' + esc(JSON.stringify(t.result, null, 2)) + '</pre>' : '') +
      (t.error ? '<h2>error</h2><pre class="failed">' + esc(t.error.type + ': ' + t.error.message + (t.error.stack ? '\\n' + t.error.stack : '')) + '</pre>' : '');
  });
}

// Live: the event stream redraws the chart and refreshes the numbers (at most once a second).
var refreshing = null;
function refreshSoon() { if (!refreshing) refreshing = setTimeout(function () { refreshing = null; queues(); workers(); }, 1000); }
function listen() {
  fetch('/v1/events', { headers: { authorization: 'Bearer ' + token } }).then(function (res) {
    $('live').innerHTML = '<b>live</b>';
    var reader = res.body.getReader(), decoder = new TextDecoder(), buf = '';
    function read() {
      return reader.read().then(function (r) {
        if (r.done) throw new Error('closed');
        buf += decoder.decode(r.value, { stream: true });
        var blocks = buf.split('\\n\\n'); buf = blocks.pop();
        blocks.forEach(function (b) {
          if (b.indexOf('event: task') === 0) { var e = JSON.parse(b.slice(b.indexOf('data: ') + 6)); if (e.state === 'succeeded' || e.state === 'failed') tick(e.state); refreshSoon(); }
          else if (b.indexOf('event: worker') === 0) refreshSoon();
        });
        return read();
      });
    }
    return read();
  }).catch(function () { $('live').textContent = 'reconnecting'; setTimeout(listen, 2000); });
}

document.addEventListener('click', function (ev) {
  var el = ev.target.closest('[data-act],[data-task]'); if (!el) return; ev.preventDefault();
  if (el.dataset.task) return detail(el.dataset.task);
  var q = el.dataset.q, act = el.dataset.act;
  if (act === 'pause' || act === 'resume') api('POST', '/v1/queues/' + encodeURIComponent(q) + '/' + act).then(queues);
  if (act === 'dead') dead(q);
  if (act === 'replay') api('POST', '/v1/queues/' + encodeURIComponent(q) + '/dead/replay', { ids: [el.dataset.id] }).then(function () { dead(q); queues(); });
});

if (!token) {
  $('app').hidden = true; $('login').hidden = false;
  $('login').addEventListener('submit', function (ev) { ev.preventDefault(); localStorage.setItem('drover.token', $('token').value.trim()); location.reload(); });
} else {
  $('search').addEventListener('submit', search);
  $('logout').addEventListener('click', logout);
  queues(); workers(); schedules(); search(); listen();
  setInterval(function () { queues(); workers(); }, 5000);
  setInterval(schedules, 30000);
  setInterval(draw, 1000); draw();
}
`;

/** The dashboard page. */
export function dashboardPage(): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>drover</title><style>${STYLE}</style></head><body>
<form id="login" hidden><h1>drover</h1><p class="muted">Paste an access token: admin to act, enqueue to watch. It stays in this browser.</p>
<input id="token" type="password" placeholder="token" autocomplete="off" required><button>Open the dashboard</button></form>
<div id="app">
<header><h1>drover</h1><span id="live" class="live">connecting</span><span class="grow"></span><a href="/docs" class="muted">API</a><button id="logout">Forget token</button></header>
<main>
<section class="wide"><h2>Throughput</h2><div class="legend"><span><i class="succeeded"></i>succeeded</span><span><i class="failed"></i>failed</span><span id="rate" class="muted"></span></div><canvas id="chart"></canvas></section>
<section class="wide"><h2>Queues</h2><table><thead><tr><th>queue</th><th class="n">ready</th><th class="n">delayed</th><th class="n">running</th><th class="n">failed</th><th>regions (ready/running)</th><th></th></tr></thead><tbody id="queues"></tbody></table></section>
<section><h2>Workers</h2><table><thead><tr><th>worker</th><th>state</th><th>region</th><th>queues</th><th class="n">in hand</th><th>last seen</th></tr></thead><tbody id="workers"></tbody></table></section>
<section><h2>Schedules</h2><table><thead><tr><th>id</th><th>when</th><th>task</th><th>next run</th></tr></thead><tbody id="schedules"></tbody></table></section>
<section><h2>Tasks</h2><form id="search"><input id="f-queue" placeholder="queue" size="10"> <input id="f-task" placeholder="task" size="12"> <select id="f-state"><option value="">any state</option><option>queued</option><option>delayed</option><option>running</option><option>succeeded</option><option>failed</option><option>revoked</option><option>expired</option></select> <button>Search</button></form>
<table><thead><tr><th>id</th><th>task</th><th>queue</th><th>state</th><th class="n">attempts</th></tr></thead><tbody id="tasks"></tbody></table></section>
<section><h2>Task</h2><div id="detail" class="muted">Pick a task to see its arguments, result, error and timings.</div></section>
<section class="wide"><h2 id="dead-title">Dead letters</h2><table><thead><tr><th>id</th><th>task</th><th>attempts</th><th>error</th><th></th></tr></thead><tbody id="dead"><tr><td class="muted">Pick a queue's dead letters above.</td></tr></tbody></table></section>
</main></div>
<script>${SCRIPT}</script></body></html>`;
}
