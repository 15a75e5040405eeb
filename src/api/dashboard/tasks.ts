// The dashboard's task pages: a search (by id, name, state, queue, region and time, paged with the cursor) and a
// task's page with its arguments, result, error, attempts on a timeline, its links, and revoke.

export const tasks = String.raw`
var STATES = ['queued', 'delayed', 'running', 'succeeded', 'failed', 'revoked', 'expired'];
var FINAL = { succeeded: 1, failed: 1, revoked: 1, expired: 1 };
function localInput(iso) { if (!iso) return ''; var d = new Date(Date.parse(iso) - new Date().getTimezoneOffset() * 60000); return d.toISOString().slice(0, 16); }
pages.tasks = function (main, path, query) {
  if (path[0]) return taskPage(main, path[0]);
  function field(key, label, input) { input.id = 'f-' + key; input.name = key; return h('label', { for: 'f-' + key }, label, input); }
  var form = h('form', { class: 'filters', id: 'search', role: 'search', 'aria-label': 'Search tasks' },
    field('id', 'task id (opens it)', h('input', { size: 16, autocomplete: 'off' })),
    field('task', 'name', h('input', { size: 14, value: query.get('task') || '' })),
    field('state', 'state', h('select', {}, h('option', { value: '' }, 'any state'), STATES.map(function (s) { return h('option', { value: s, selected: query.get('state') === s }, s); }))),
    field('queue', 'queue', h('input', { size: 12, value: query.get('queue') || '' })),
    field('region', 'region', h('input', { size: 8, value: query.get('region') || '' })),
    field('since', 'created since', h('input', { type: 'datetime-local', value: localInput(query.get('since')) })),
    field('until', 'created before', h('input', { type: 'datetime-local', value: localInput(query.get('until')) })),
    h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var id = $('f-id').value.trim();
    if (id) return go('#/tasks/' + encodeURIComponent(id));
    var q = new URLSearchParams();
    ['task', 'state', 'queue', 'region'].forEach(function (k) { var v = $('f-' + k).value.trim(); if (v) q.set(k, v); });
    ['since', 'until'].forEach(function (k) { var v = $('f-' + k).value; if (v) q.set(k, new Date(v).toISOString()); });
    go(hashWith('#/tasks', q));
  });
  var box = h('div');
  add(main, h('h1', {}, 'Tasks'), card('', form), card('', box));
  function load() {
    var q = new URLSearchParams(query); q.set('limit', '50');
    return api('GET', '/v1/tasks?' + q).then(function (res) {
      clear(box);
      if (res.status !== 200) return box.appendChild(notice(errorText(res)));
      box.appendChild(table('Tasks', ['id', 'name', 'queue', 'region', 'state', '#attempts', 'created'], res.body.tasks.map(function (t) {
        return { tr: h('tr', { 'data-task': t.id }), cells: [taskLink(t.id), t.task, queueLink(t.queue), t.region || 'any', state(t.state), t.attempts, when(t.createdAt)] };
      }), 'No tasks match.'));
      var pager = h('div', { class: 'actions' });
      if (query.get('cursor')) { var first = new URLSearchParams(query); first.delete('cursor'); pager.appendChild(link(hashWith('#/tasks', first), 'First page')); }
      if (res.body.cursor) { var next = new URLSearchParams(query); next.set('cursor', res.body.cursor); pager.appendChild(link(hashWith('#/tasks', next), 'Next page')); }
      box.appendChild(pager);
    });
  }
  load();
  return { refresh: function () { if (!busy(box)) load(); }, reset: load };
};
function timeline(log) {
  return h('ol', { class: 'timeline', 'aria-label': 'Attempts' }, log.map(function (a) {
    var outcome = a.outcome || 'running', took = a.finishedAt && a.startedAt ? ((Date.parse(a.finishedAt) - Date.parse(a.startedAt)) / 1000).toFixed(2) + ' s' : '';
    return h('li', { class: outcome }, h('span', { class: 'pill ' + outcome }, 'attempt ' + a.attempt + ': ' + outcome), ' ',
      h('span', { class: 'muted' }, 'on '), a.worker ? link('#/workers?name=' + encodeURIComponent(a.worker), a.worker) : 'unknown worker',
      ' ', when(a.startedAt), took ? ', took ' + took : '',
      a.error ? h('div', { class: 'error' }, a.error.type + ': ' + a.error.message) : null);
  }));
}
function taskPage(main, id) {
  var box = h('div');
  add(main, h('h1', {}, 'Task ', h('code', {}, id)), box);
  function load() {
    return api('GET', '/v1/tasks/' + encodeURIComponent(id)).then(function (res) {
      clear(box);
      if (res.status === 404) return box.appendChild(card('', notice('No task has the id ' + id + ' (or its record has passed its retention).')));
      if (res.status !== 200) return box.appendChild(notice(errorText(res)));
      var t = res.body, facts = h('dl', { class: 'facts' });
      function fact(k, v) { add(facts, [h('dt', {}, k), h('dd', {}, v === undefined || v === null || v === '' ? '—' : v)]); }
      fact('name', t.task); fact('state', state(t.state)); fact('queue', queueLink(t.queue)); fact('region', t.region || 'any');
      fact('attempts', t.attempts + ' of ' + (t.maxRetries + 1)); fact('worker', t.worker ? link('#/workers?name=' + encodeURIComponent(t.worker), t.worker) : null);
      fact('created', when(t.createdAt)); fact('started', when(t.startedAt)); fact('finished', when(t.finishedAt)); fact('eta', when(t.eta));
      fact('workflow', t.workflowId ? link('#/workflows/' + encodeURIComponent(t.workflowId), t.workflowId) : null);
      fact('after', t.parentId ? taskLink(t.parentId) : null);
      var actions = h('div', { class: 'actions' });
      if (!FINAL[t.state]) actions.appendChild(h('button', { class: 'danger', 'data-act': 'revoke', onclick: function () {
        api('POST', '/v1/tasks/' + encodeURIComponent(id) + '/revoke').then(function (r) { if (r.status !== 200) actions.appendChild(notice(errorText(r))); load(); });
      } }, t.revokeRequested ? 'Revoke requested' : 'Revoke'));
      var err = t.error ? card('Error', h('p', { class: 'error' }, h('b', {}, t.error.type), ': ', t.error.message), t.error.stack ? pre('Traceback', t.error.stack) : notice('No traceback was sent.')) : null;
      var attempts = t.attemptLog && t.attemptLog.length ? timeline(t.attemptLog) : notice('No attempt has started.');
      add(box, h('div', { class: 'grid' }, card('Task', facts, actions), card('Attempts', attempts)), err,
        h('div', { class: 'grid' }, card('Arguments', pre('args', t.args || []), pre('kwargs', t.kwargs || {})), card('Headers', pre('headers', t.headers || {})),
          card('Result', t.result === undefined || t.result === null ? notice('No result.') : pre('result', t.result))));
    });
  }
  load();
  return { live: function (kind, e) { if (kind === 'task' && e.id === id) load(); }, reset: load };
}
`;
