// The dashboard's overview page: throughput and failures per minute and latency percentiles from GET /v1/stats
// (history the hub keeps, so a reload draws the same chart), live counts on top, and depth per queue and region.

export const overview = String.raw`
var RANGES = { '1h': 60, '6h': 360, '24h': 1440 };
pages.overview = function (main, path, query) {
  var range = RANGES[query.get('range')] ? query.get('range') : '1h', minutes = RANGES[range];
  var select = h('select', { id: 'range', onchange: function () { go('#/overview?range=' + select.value); } },
    Object.keys(RANGES).map(function (r) { return h('option', { value: r, selected: r === range }, 'last ' + r.replace('h', ' h')); }));
  var thru = h('div', { id: 'throughput' }), lat = h('div', { id: 'latency' }), about = h('div'), depth = h('div'), regions = h('div'), feed = h('div', { id: 'feed' });
  add(main, h('h1', {}, 'Overview'),
    h('div', { class: 'actions' }, h('label', { for: 'range' }, 'Range '), select),
    h('div', { class: 'grid' },
      card('Finished tasks per minute', about, thru),
      card('Latency, due to finished (ms)', lat)),
    h('div', { class: 'grid' }, card('Depth per queue', depth), card('Depth per region', regions)),
    card('Live: the latest task changes', feed));

  var history = null, asked = false, until = 0, liveCounts = {};
  function minuteOf(ms) { return Math.floor(ms / 60000) * 60000; }
  function draw() {
    var end = minuteOf(Date.now()), start = end - (minutes - 1) * 60000, times = [], ok = [], bad = [], p50 = [], p95 = [], p99 = [], byMinute = {};
    (history || []).forEach(function (m) { if (m.queue === null) byMinute[minuteOf(Date.parse(m.at))] = m; });
    var total = { succeeded: 0, failed: 0 };
    for (var t = start; t <= end; t += 60000) {
      var m = byMinute[t], l = liveCounts[t] || { succeeded: 0, failed: 0 };
      var s = (m ? m.succeeded : 0) + l.succeeded, f = (m ? m.failed : 0) + l.failed;
      times.push(t); ok.push(s); bad.push(f); total.succeeded += s; total.failed += f;
      var p = m && m.latencyMs; p50.push(p ? p.p50 : null); p95.push(p ? p.p95 : null); p99.push(p ? p.p99 : null);
    }
    thru.setAttribute('data-totals', 'succeeded=' + total.succeeded + ' failed=' + total.failed);
    lineChart(thru, { label: 'Succeeded ' + total.succeeded + ' and failed ' + total.failed + ' in the last ' + range.replace('h', ' h') + ', per minute', times: times, whole: true,
      series: [{ key: 'succeeded', name: 'succeeded (' + total.succeeded + ')', values: ok }, { key: 'failed', name: 'failed (' + total.failed + ')', values: bad }] });
    if (!asked) return;
    if (history === null) { clear(lat); lat.appendChild(notice('Latency percentiles could not be read: the history did not load.')); return; }
    lineChart(lat, { label: 'Latency percentiles p50, p95 and p99 per minute, in milliseconds', times: times, unit: 'ms',
      series: [{ key: 'p50', name: 'p50', values: p50 }, { key: 'p95', name: 'p95', values: p95 }, { key: 'p99', name: 'p99', values: p99 }] });
  }
  function loadStats() {
    var since = new Date(minuteOf(Date.now()) - (minutes - 1) * 60000).toISOString();
    return api('GET', '/v1/stats?since=' + encodeURIComponent(since)).then(function (res) {
      clear(about); asked = true;
      if (res.status === 200) { history = res.body.minutes || []; until = Date.parse(res.body.until) || Date.now(); liveCounts = {}; }
      else { history = null; about.appendChild(notice('The history did not load (' + errorText(res) + '): the chart counts what finished since this page opened.')); }
      draw();
    });
  }
  function loadQueues() {
    return api('GET', '/v1/queues').then(function (res) {
      clear(depth); clear(regions);
      if (res.status !== 200) { depth.appendChild(notice(errorText(res))); return; }
      var qs = res.body.queues || [], byRegion = {};
      var max = Math.max(1, Math.max.apply(null, qs.map(function (q) { return q.ready + q.delayed + q.running; }).concat([0])));
      depth.appendChild(table('Depth per queue', ['queue', '#waiting', '#delayed', '#active', '#dead', 'load'], qs.map(function (q) {
        var bar = h('div', { class: 'bar', 'aria-hidden': 'true' }); bar.style.width = Math.round(100 * (q.ready + q.delayed + q.running) / max) + '%';
        Object.keys(q.regions || {}).forEach(function (r) { var g = byRegion[r] = byRegion[r] || { ready: 0, running: 0 }; g.ready += q.regions[r].ready; g.running += q.regions[r].running; });
        return { tr: h('tr', { 'data-queue': q.name }), cells: [queueLink(q.name), q.ready, q.delayed, q.running, q.failed, bar] };
      }), 'No queues yet: enqueue a task.'));
      regions.appendChild(table('Depth per region', ['region', '#waiting', '#active'], Object.keys(byRegion).sort().map(function (r) {
        return { cells: [r === '_any' ? 'any region' : r, byRegion[r].ready, byRegion[r].running] };
      }), 'No tasks waiting or running.'));
    });
  }
  // Only the stream fills the feed (a refresh never does): a change made while the page was offline shows here
  // once the stream resumes from its last id.
  function drawFeed() {
    clear(feed).appendChild(table('The latest task changes', ['when', 'task', 'name', 'queue', 'state'], recentEvents.map(function (e) {
      return { tr: h('tr', { 'data-event-task': e.id, 'data-state': e.state }), cells: [when(e.at), taskLink(e.id), e.task || '', queueLink(e.queue), state(e.state)] };
    }), 'No task has changed since this page opened.'));
  }
  loadStats(); loadQueues(); drawFeed();
  var timer = setInterval(loadStats, 60000), onResize = function () { draw(); };
  addEventListener('resize', onResize);
  return {
    refresh: loadQueues,
    reset: function () { loadStats(); loadQueues(); },
    redraw: draw,
    live: function (kind, e) {
      if (kind === 'task') drawFeed();
      if (kind !== 'task' || (e.state !== 'succeeded' && e.state !== 'failed')) return;
      var at = Date.parse(e.at) || Date.now();
      if (history !== null && at <= until) return; // the history already counts it
      var m = liveCounts[minuteOf(at)] = liveCounts[minuteOf(at)] || { succeeded: 0, failed: 0 };
      m[e.state]++; draw();
    },
    stop: function () { clearInterval(timer); removeEventListener('resize', onResize); },
  };
};
`;
