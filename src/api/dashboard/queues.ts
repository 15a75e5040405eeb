// The dashboard's queue pages: every queue's waiting, delayed, active and dead counts per region, and one queue's
// page with pause, resume and purge (purge asks to be confirmed first), and its rate keys (keys.ts).

export const queues = String.raw`
function queueActions(q, done) {
  var box = h('div', { class: 'actions' });
  function act(verb) {
    return api('POST', '/v1/queues/' + encodeURIComponent(q.name) + '/' + verb).then(function (res) {
      if (res.status !== 200) box.appendChild(notice(isAdminRefusal(res) ? 'Pausing, resuming and purging need an admin token.' : errorText(res)));
      else done();
    });
  }
  var purge = h('button', { class: 'danger', 'data-act': 'purge', onclick: function () {
    purge.hidden = true;
    var ask = h('div', { class: 'confirm', role: 'group', 'aria-label': 'Confirm purge' },
      h('p', {}, 'Purge ' + (q.ready + q.delayed) + ' waiting tasks of ' + q.name + '? They end revoked; running tasks finish.'),
      h('button', { class: 'danger', 'data-act': 'confirm-purge', onclick: function () { act('purge'); } }, 'Purge them'), ' ',
      h('button', { onclick: function () { ask.remove(); purge.hidden = false; purge.focus(); } }, 'Cancel'));
    box.appendChild(ask); ask.querySelector('button').focus();
  } }, 'Purge');
  add(box, h('button', { 'data-act': q.paused ? 'resume' : 'pause', onclick: function () { act(q.paused ? 'resume' : 'pause'); } }, q.paused ? 'Resume' : 'Pause'), purge);
  return box;
}
function regionText(q) {
  return Object.keys(q.regions || {}).sort().map(function (r) { return (r === '_any' ? 'any' : r) + ' ' + q.regions[r].ready + '/' + q.regions[r].running; }).join(', ');
}
pages.queues = function (main, path) {
  if (path[0]) return queuePage(main, path[0]);
  var box = h('div');
  add(main, h('h1', {}, 'Queues'), card('', h('p', { class: 'muted' }, 'Waiting is ready to run now; regions show waiting/active.'), box));
  function load() {
    return api('GET', '/v1/queues').then(function (res) {
      clear(box);
      if (res.status !== 200) return box.appendChild(notice(errorText(res)));
      box.appendChild(table('Queues', ['queue', '#waiting', '#delayed', '#active', '#dead', 'regions', 'state', ''], res.body.queues.map(function (q) {
        return { tr: h('tr', { 'data-queue': q.name }), cells: [queueLink(q.name), q.ready, q.delayed, q.running,
          q.failed ? link('#/dead?queue=' + encodeURIComponent(q.name), String(q.failed)) : '0', regionText(q),
          q.paused ? state('paused') : 'running', queueActions(q, load)] };
      }), 'No queues yet: enqueue a task.'));
    });
  }
  load();
  return { refresh: function () { if (!busy(box)) load(); }, reset: load };
};
function queuePage(main, name) {
  var box = h('div');
  add(main, h('h1', {}, 'Queue ', name), h('p', {}, link('#/queues', 'All queues'), ' · ', link('#/tasks?queue=' + encodeURIComponent(name), 'Its tasks'), ' · ', link('#/dead?queue=' + encodeURIComponent(name), 'Its dead letters')), box);
  function load() {
    return api('GET', '/v1/queues/' + encodeURIComponent(name)).then(function (res) {
      clear(box);
      if (res.status !== 200) return box.appendChild(notice(errorText(res)));
      var q = res.body;
      add(box, h('div', { class: 'grid' },
        card('Counts', h('dl', { class: 'facts' },
          h('dt', {}, 'waiting'), h('dd', {}, q.ready), h('dt', {}, 'delayed'), h('dd', {}, q.delayed), h('dt', {}, 'active'), h('dd', {}, q.running),
          h('dt', {}, 'dead'), h('dd', {}, q.failed), h('dt', {}, 'state'), h('dd', {}, q.paused ? 'paused' : 'running')), queueActions(q, load)),
        card('Per region', table('Per region', ['region', '#waiting', '#active'], Object.keys(q.regions || {}).sort().map(function (r) {
          return { cells: [r === '_any' ? 'any region' : r, q.regions[r].ready, q.regions[r].running] };
        }), 'Nothing waiting or running.')),
        card('Waiting for a worker', table('Waiting for a worker', ['task', 'region', '#ready'], (q.unserved || []).map(function (u) {
          return { cells: [u.task, u.region || 'any', u.ready] };
        }), 'Every waiting task has a worker that runs it.')),
        keysCard(name),
        card('Config', pre('Config', q.config || {}))));
    });
  }
  load();
  return { refresh: function () { if (!busy(box)) load(); }, reset: load };
}
`;
