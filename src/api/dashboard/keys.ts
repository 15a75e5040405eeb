// The dashboard's "Keys" card on a queue's page: its rate keys (GET /v1/queues/:queue/keys) with their rate now
// and as configured, concurrency, running and waiting tasks, and a countdown while a key is paused. A hub
// without the route (404) gets a card that says so instead.

export const keys = String.raw`
var KEY_PER = { s: 1, m: 60, h: 3600 };
// "1/s of 2/s": the rate now in the configured rate's unit, then the configured rate.
function keyRate(k) {
  var unit = k.rate ? k.rate.split('/')[1] : 's';
  var now = k.currentRate === null || k.currentRate === undefined ? null : Math.round(k.currentRate * (KEY_PER[unit] || 1) * 100) / 100 + '/' + unit;
  if (now === null) return k.rate || '-';
  return k.rate ? now + ' of ' + k.rate : now;
}
function pauseLeft(until) { var s = Math.ceil((until - Date.now()) / 1000); return s > 0 ? 'for ' + s + ' s' : ''; }
// Every paused key on the page counts down once a second, without asking the hub again.
function tickPauses() {
  document.querySelectorAll('[data-paused-until]').forEach(function (el) { el.textContent = pauseLeft(Number(el.getAttribute('data-paused-until'))); });
}
setInterval(tickPauses, 1000);
function keysCard(name) {
  var box = h('div', {}, h('p', { class: 'muted' }, 'Loading keys…'));
  api('GET', '/v1/queues/' + encodeURIComponent(name) + '/keys?limit=100').then(function (res) {
    clear(box);
    if (res.status === 404) return box.appendChild(notice('Keys are not available: this hub does not list rate keys.'));
    if (res.status !== 200) return box.appendChild(notice(errorText(res)));
    add(box, table('Keys', ['key', 'rate now / configured', 'concurrency', '#active', '#waiting', 'paused'], res.body.keys.map(function (k) {
      var paused = k.pausedUntil ? h('span', { 'data-paused-until': k.pausedUntil, title: new Date(k.pausedUntil).toISOString() }, pauseLeft(k.pausedUntil)) : '';
      return { tr: h('tr', { 'data-key': k.key }), cells: [k.key, keyRate(k), k.concurrency === null ? '-' : k.concurrency, k.running, k.waiting, paused] };
    }), 'No key has tasks waiting or running, a pause, or a lowered rate.'),
    res.body.nextCursor ? h('p', { class: 'muted' }, 'The first 100 keys; drover keys ' + name + ' lists them all.') : null);
  });
  return card('Keys', box);
}
`;
