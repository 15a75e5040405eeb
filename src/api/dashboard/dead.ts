// The dashboard's dead letters page: a queue's failed tasks with their error (traceback on open), and replay or
// purge of one, a selection, or all of them (purge asks to be confirmed first).

export const dead = String.raw`
pages.dead = function (main, path, query) {
  var queue = query.get('queue') || '', box = h('div'), picker = h('select', { id: 'dead-queue' });
  picker.addEventListener('change', function () { go('#/dead?queue=' + encodeURIComponent(picker.value)); });
  add(main, h('h1', {}, 'Dead letters'), card('', h('div', { class: 'actions' }, h('label', { for: 'dead-queue' }, 'Queue'), picker)), box);
  api('GET', '/v1/queues').then(function (res) {
    var qs = res.status === 200 ? res.body.queues : [];
    qs.sort(function (a, b) { return b.failed - a.failed || (a.name < b.name ? -1 : 1); });
    if (!queue && qs.length) queue = qs[0].name;
    add(picker, h('option', { value: '' }, 'pick a queue'), qs.map(function (q) { return h('option', { value: q.name, selected: q.name === queue }, q.name + ' (' + q.failed + ' dead)'); }));
    load();
  });
  function load() {
    clear(box);
    if (!queue) return box.appendChild(card('', notice('No queues yet.')));
    var path = '/v1/queues/' + encodeURIComponent(queue) + '/dead';
    return api('GET', path + '?limit=1000').then(function (res) {
      clear(box);
      if (res.status === 403) return box.appendChild(card('', notice('Dead letters need an admin token.')));
      if (res.status !== 200) return box.appendChild(card('', notice(errorText(res))));
      var list = res.body.tasks, status = h('p', { role: 'status', class: 'muted' });
      var all = h('input', { type: 'checkbox', id: 'dead-all', onchange: function () { box.querySelectorAll('input[data-id]').forEach(function (c) { c.checked = all.checked; }); } });
      function chosen() { return Array.prototype.map.call(box.querySelectorAll('input[data-id]:checked'), function (c) { return c.getAttribute('data-id'); }); }
      function run(verb, ids) {
        var body = ids ? { ids: ids } : undefined;
        return api(verb === 'replay' ? 'POST' : 'DELETE', path + (verb === 'replay' ? '/replay' : ''), body).then(function (r) {
          if (r.status !== 200) { status.textContent = errorText(r); return; }
          load().then(function () { box.querySelector('[role=status]').textContent = verb === 'replay' ? r.body.replayed + ' replayed.' : r.body.purged + ' purged.'; });
        });
      }
      function purgeAsk(ids) {
        var n = ids ? ids.length : list.length;
        var ask = h('div', { class: 'confirm', role: 'group', 'aria-label': 'Confirm purge' },
          h('p', {}, 'Purge ' + n + ' dead letter' + (n === 1 ? '' : 's') + ' of ' + queue + '? Their task records stay (failed).'),
          h('button', { class: 'danger', 'data-act': 'confirm-purge', onclick: function () { run('purge', ids); } }, 'Purge'), ' ',
          h('button', { onclick: function () { ask.remove(); } }, 'Cancel'));
        actions.after(ask); ask.querySelector('button').focus();
      }
      var actions = h('div', { class: 'actions' },
        h('button', { 'data-act': 'replay-selected', onclick: function () { var ids = chosen(); if (ids.length) run('replay', ids); else status.textContent = 'Select dead letters first.'; } }, 'Replay selected'),
        h('button', { class: 'danger', 'data-act': 'purge-selected', onclick: function () { var ids = chosen(); if (ids.length) purgeAsk(ids); else status.textContent = 'Select dead letters first.'; } }, 'Purge selected'),
        h('button', { 'data-act': 'replay-all', onclick: function () { run('replay'); } }, 'Replay all'),
        h('button', { class: 'danger', 'data-act': 'purge-all', onclick: function () { purgeAsk(null); } }, 'Purge all'));
      var rows = list.map(function (t) {
        var err = t.error || {}, box2 = h('input', { type: 'checkbox', 'data-id': t.id, id: 'dead-' + t.id, 'aria-label': 'Select ' + t.id });
        var detail = h('details', {}, h('summary', {}, h('span', { class: 'error' }, err.type || 'Error'), ': ', err.message || ''),
          err.stack ? pre('Traceback of ' + t.id, err.stack) : notice('No traceback was sent.'));
        return { tr: h('tr', { 'data-dead': t.id }), cells: [box2, taskLink(t.id), t.task, t.attempts, detail, when(t.finishedAt),
          h('button', { 'data-act': 'replay', onclick: function () { run('replay', [t.id]); } }, 'Replay')] };
      });
      add(box, card(list.length + ' dead in ' + queue, list.length ? h('div', { class: 'actions' }, all, h('label', { for: 'dead-all' }, 'Select all')) : null,
        list.length ? actions : null, status,
        table('Dead letters of ' + queue, ['', 'id', 'name', '#attempts', 'error', 'failed', ''], rows, 'No dead letters: every task of ' + queue + ' that failed was replayed or purged.')));
    });
  }
  return { refresh: function () { if (!busy(box)) load(); }, reset: load };
};
`;
