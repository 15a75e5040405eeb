// The dashboard's schedules page: each schedule's timing, next and last runs, run now, and pause or resume
// (a PUT of the same definition with `enabled` flipped). Schedules are admin-only: other tokens see a notice.

export const schedules = String.raw`
// The fields of a schedule's definition (PUT takes the whole definition again; the rest are the hub's).
var SCHEDULE_FIELDS = ['cron', 'every', 'timezone', 'task', 'args', 'kwargs', 'queue', 'region', 'priority', 'maxRetries', 'retryDelay', 'timeout', 'catchUp'];
pages.schedules = function (main) {
  var box = h('div'), status = h('p', { role: 'status', class: 'muted' });
  add(main, h('h1', {}, 'Schedules'), status, box);
  function load() {
    return api('GET', '/v1/schedules').then(function (res) {
      clear(box);
      if (res.status === 403) return box.appendChild(card('', notice('Schedules are admin-only: open the dashboard with an admin token to see and run them.')));
      if (res.status !== 200) return box.appendChild(notice(errorText(res)));
      box.appendChild(card('', table('Schedules', ['id', 'when', 'task', 'queue', 'next run', 'last run', 'state', ''], res.body.schedules.map(function (s) {
        var run = h('button', { 'data-act': 'run', onclick: function () {
          api('POST', '/v1/schedules/' + encodeURIComponent(s.id) + '/run').then(function (r) {
            if (r.status === 202) { clear(status); add(status, 'Ran ' + s.id + ' now: ', taskLink(r.body.id)); } else status.textContent = errorText(r);
          });
        } }, 'Run now');
        var flip = h('button', { 'data-act': s.enabled ? 'pause' : 'resume', onclick: function () {
          var body = { enabled: !s.enabled };
          SCHEDULE_FIELDS.forEach(function (k) { if (s[k] !== undefined && s[k] !== null) body[k] = s[k]; });
          api('PUT', '/v1/schedules/' + encodeURIComponent(s.id), body).then(function (r) {
            status.textContent = r.status === 200 ? s.id + (body.enabled ? ' resumed.' : ' paused.') : errorText(r); load();
          });
        } }, s.enabled ? 'Pause' : 'Resume');
        return { tr: h('tr', { 'data-schedule': s.id }), cells: [s.id, h('span', {}, h('code', {}, s.cron || 'every ' + s.every + ' s'), ' ', h('span', { class: 'muted' }, s.timezone || '')),
          s.task, queueLink(s.queue), s.enabled ? when(s.nextRunAt) : '—', s.lastTaskId ? h('span', {}, when(s.lastRunAt), ' ', taskLink(s.lastTaskId)) : when(s.lastRunAt),
          s.enabled ? state('enabled') : state('paused'), h('span', { class: 'actions' }, run, flip)] };
      }), 'No schedules.')));
    });
  }
  load();
  return { reset: load };
};
`;
