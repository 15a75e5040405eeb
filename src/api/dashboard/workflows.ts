// The dashboard's workflow pages: the recent ones (GET /v1/workflows), and one drawn as a graph in SVG: steps left
// to right, a step's members (a group, a chord's header) stacked in one column, each node its task's state and link.

export const workflows = String.raw`
pages.workflows = function (main, path) {
  if (path[0]) return workflowPage(main, path[0]);
  var box = h('div'), idInput = h('input', { id: 'wf-id', size: 24, autocomplete: 'off' });
  var open = h('form', { class: 'filters', role: 'search', 'aria-label': 'Open a workflow' }, h('label', { for: 'wf-id' }, 'workflow id', idInput), h('button', { type: 'submit' }, 'Open'));
  open.addEventListener('submit', function (ev) { ev.preventDefault(); if (idInput.value.trim()) go('#/workflows/' + encodeURIComponent(idInput.value.trim())); });
  add(main, h('h1', {}, 'Workflows'), card('', open), box);
  function load(cursor) {
    return api('GET', '/v1/workflows?limit=50' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '')).then(function (res) {
      clear(box);
      if (res.status !== 200) return box.appendChild(card('', notice(errorText(res))));
      var more = res.body.cursor ? h('button', { onclick: function () { load(res.body.cursor); } }, 'Older') : null;
      box.appendChild(card('', table('Workflows', ['id', 'created', '#tasks', 'states'], res.body.workflows.map(function (w) {
        return { tr: h('tr', { 'data-workflow': w.id }), cells: [link('#/workflows/' + encodeURIComponent(w.id), w.id), when(w.createdAt), w.tasks,
          Object.keys(w.states || {}).map(function (s) { return [state(s), ' ' + w.states[s] + ' ']; })] };
      }), 'No workflows yet.'), more));
    });
  }
  load();
  return { reset: function () { load(); } };
};
// Columns by step; a chord is header (step 0) then body (step 1), a chain step that is a group is one column.
function graph(wf) {
  var steps = {};
  wf.tasks.forEach(function (t) { (steps[t.step] = steps[t.step] || []).push(t); });
  var cols = Object.keys(steps).map(Number).sort(function (a, b) { return a - b; }).map(function (k) { return steps[k]; });
  if (wf.shape === 'group') cols = [wf.tasks];
  var NW = 170, NH = 46, GX = 50, GY = 14, P = 10, tall = Math.max.apply(null, cols.map(function (c) { return c.length; }));
  var W = P * 2 + cols.length * NW + (cols.length - 1) * GX, H = P * 2 + tall * NH + (tall - 1) * GY;
  // Up to three columns shrink to fit a phone; a longer chain keeps its size and scrolls inside its card.
  var svg = h('svg:svg', { class: cols.length <= 3 ? 'graph fit' : 'graph', width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'group', 'aria-label': wf.shape + ' of ' + wf.tasks.length + ' tasks, ' + wf.state });
  var pos = cols.map(function (col, c) {
    var top = P + (H - 2 * P - (col.length * NH + (col.length - 1) * GY)) / 2;
    return col.map(function (t, r) { return { x: P + c * (NW + GX), y: top + r * (NH + GY), t: t }; });
  });
  for (var c = 1; c < pos.length; c++) pos[c - 1].forEach(function (a) { pos[c].forEach(function (b) {
    var x1 = a.x + NW, y1 = a.y + NH / 2, x2 = b.x, y2 = b.y + NH / 2, m = (x1 + x2) / 2;
    svg.appendChild(h('svg:path', { class: 'edge', d: 'M' + x1 + ' ' + y1 + ' C' + m + ' ' + y1 + ' ' + m + ' ' + y2 + ' ' + x2 + ' ' + y2 }));
  }); });
  pos.forEach(function (col) { col.forEach(function (p) {
    var label = p.t.task.length > 22 ? p.t.task.slice(0, 21) + '…' : p.t.task;
    var node = h('svg:g', { class: 'n-' + p.t.state }, h('svg:rect', { x: p.x, y: p.y, width: NW, height: NH, rx: 8 }),
      h('svg:text', { x: p.x + 10, y: p.y + 19 }, label), h('svg:text', { x: p.x + 10, y: p.y + 37, class: p.t.state }, p.t.state));
    // A pending step's task does not exist yet: it gets no link.
    svg.appendChild(p.t.state === 'pending' ? node : h('svg:a', { href: '#/tasks/' + encodeURIComponent(p.t.id), 'data-node': p.t.id }, node));
  }); });
  return h('div', { class: 'scroll', tabindex: 0, role: 'region', 'aria-label': 'Workflow graph' }, svg);
}
function workflowPage(main, id) {
  var box = h('div');
  add(main, h('h1', {}, 'Workflow ', h('code', {}, id)), h('p', {}, link('#/workflows', 'All workflows')), box);
  function load() {
    return api('GET', '/v1/workflows/' + encodeURIComponent(id)).then(function (res) {
      clear(box);
      if (res.status !== 200) return box.appendChild(card('', notice(res.status === 404 ? 'No workflow has the id ' + id + '.' : errorText(res))));
      var wf = res.body, mine = {};
      wf.tasks.forEach(function (t) { mine[t.id] = 1; });
      var revoke = wf.state === 'running' ? h('button', { class: 'danger', 'data-act': 'revoke', onclick: function () { api('POST', '/v1/workflows/' + encodeURIComponent(id) + '/revoke').then(load); } }, 'Revoke the workflow') : null;
      add(box, card(wf.shape + ', ' + wf.state, h('p', {}, state(wf.state), ' created ', when(wf.createdAt), wf.finishedAt ? [', finished ', when(wf.finishedAt)] : ''), graph(wf), revoke),
        card('Members', table('Members', ['#step', 'task', 'name', 'queue', 'state'], wf.tasks.map(function (t) {
          return { cells: [t.step, t.state === 'pending' ? t.id : taskLink(t.id), t.task, queueLink(t.queue), state(t.state)] };
        }))));
      box._ids = mine;
    });
  }
  load();
  return { live: function (kind, e) { if (kind === 'task' && box._ids && box._ids[e.id]) load(); }, reset: load };
}
`;
