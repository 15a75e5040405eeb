// The dashboard's workers page: alive, stale and gone by last heartbeat (gone ones behind a toggle), each with its
// region, queues, the tasks it runs now, and its processed and failed counts.

export const workers = String.raw`
pages.workers = function (main, path, query) {
  var only = query.get('name'), showGone = query.get('gone') === '1' || !!only, box = h('div');
  var toggle = h('input', { type: 'checkbox', id: 'show-gone', checked: showGone, onchange: function () { showGone = toggle.checked; draw(); } });
  add(main, h('h1', {}, only ? 'Worker ' + only : 'Workers'),
    h('p', { class: 'muted' }, 'Alive: a heartbeat in the last 30 s; stale: within 5 minutes; gone: older, or it said it was leaving.'),
    h('div', { class: 'actions' }, toggle, h('label', { for: 'show-gone' }, 'Show gone workers'), only ? link('#/workers', 'All workers') : null), box);
  var list = [];
  function draw() {
    clear(box);
    var shown = list.filter(function (w) { return (!only || w.name === only) && (showGone || w.state !== 'gone'); });
    var gone = list.filter(function (w) { return w.state === 'gone'; }).length;
    box.appendChild(card(shown.length + ' shown' + (gone && !showGone ? ', ' + gone + ' gone hidden' : ''),
      table('Workers', ['worker', 'state', 'region', 'queues', 'runs now', '#processed', '#failed', 'last seen'], shown.map(function (w) {
        var active = (w.active || []).map(function (a) { return h('div', {}, taskLink(a.id), ' ', h('span', { class: 'muted' }, a.task + ', ' + ago(a.startedAt))); });
        if (w.activeCount > (w.active || []).length) active.push(h('div', { class: 'muted' }, 'and ' + (w.activeCount - w.active.length) + ' more'));
        if (!active.length) active = w.inHand ? [w.inHand + ' in hand'] : ['idle'];
        return { tr: h('tr', { 'data-worker': w.name }), cells: [w.name, state(w.state), w.region || 'any',
          (w.queues || []).map(function (q, i) { return [i ? ', ' : '', queueLink(q)]; }), active,
          w.processed == null ? '—' : w.processed, w.failed == null ? '—' : w.failed, when(w.lastSeen)] };
      }), only ? 'No worker named ' + only + ' was seen in the last day.' : 'No worker is alive.')));
  }
  function load() {
    return api('GET', '/v1/workers').then(function (res) {
      if (res.status !== 200) { clear(box); return box.appendChild(notice(errorText(res))); }
      list = res.body.workers || []; draw();
    });
  }
  load();
  return { refresh: function () { if (!busy(box)) load(); }, reset: load };
};
`;
