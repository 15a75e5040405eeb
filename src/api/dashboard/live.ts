// The dashboard script's live part: the event stream opened with a short-lived ticket (the token never goes in a
// URL), resumed after a drop from the last event id seen, and handed to whichever page is open.

export const live = String.raw`
var lastEventId = null, source = null, retryMs = 1000, liveListeners = [], opened = false;
function onLive(fn) { liveListeners.push(fn); }
function setLive(text, on) { var el = $('live'); el.textContent = text; el.className = on ? 'on' : ''; }
// Back after a drop: the page reads its numbers again too, in case the hub could not replay what was missed.
function connected() { setLive('live', true); retryMs = 1000; if (opened) refreshSoon(); opened = true; }
function deliver(kind, data, id) {
  if (id) lastEventId = id;
  var e; try { e = JSON.parse(data); } catch (x) { return; }
  liveListeners.forEach(function (fn) { fn(kind, e); });
  if (current && current.live) current.live(kind, e);
  refreshSoon();
}
function reset() { if (current && current.reset) current.reset(); else refreshSoon(); }
function reconnect() {
  setLive('reconnecting', false);
  setTimeout(listen, retryMs); retryMs = Math.min(retryMs * 2, 30000);
}
// POST /v1/events/ticket, then EventSource on ?ticket=. A hub without tickets (404) gets the stream by fetch
// with the token in its header instead.
function listen() {
  api('POST', '/v1/events/ticket').then(function (res) {
    if (res.status === 404) return listenByFetch();
    if (res.status !== 200) throw new Error(errorText(res));
    var url = '/v1/events?ticket=' + encodeURIComponent(res.body.ticket) + (lastEventId ? '&lastEventId=' + encodeURIComponent(lastEventId) : '');
    source = new EventSource(url);
    source.onopen = connected;
    source.addEventListener('task', function (m) { deliver('task', m.data, m.lastEventId); });
    source.addEventListener('worker', function (m) { deliver('worker', m.data, m.lastEventId); });
    source.addEventListener('reset', function (m) { if (m.lastEventId) lastEventId = m.lastEventId; reset(); });
    // The ticket may have expired by the browser's own retry: close, and come back with a new one.
    source.onerror = function () { source.close(); source = null; reconnect(); };
  }).catch(reconnect);
}
function listenByFetch() {
  var headers = { authorization: 'Bearer ' + token };
  if (lastEventId) headers['last-event-id'] = lastEventId;
  return fetch('/v1/events', { headers: headers }).then(function (res) {
    if (!res.ok) throw new Error('stream ' + res.status);
    connected();
    var reader = res.body.getReader(), decoder = new TextDecoder(), buf = '';
    function read() {
      return reader.read().then(function (r) {
        if (r.done) throw new Error('closed');
        buf += decoder.decode(r.value, { stream: true });
        var blocks = buf.split('\n\n'); buf = blocks.pop();
        blocks.forEach(function (b) {
          var kind = 'message', data = '', id = null;
          b.split('\n').forEach(function (line) {
            if (line.indexOf('event: ') === 0) kind = line.slice(7);
            else if (line.indexOf('data: ') === 0) data += line.slice(6);
            else if (line.indexOf('id: ') === 0) id = line.slice(4);
          });
          if (kind === 'reset') { if (id) lastEventId = id; reset(); }
          else if (kind === 'task' || kind === 'worker') deliver(kind, data, id);
        });
        return read();
      });
    }
    return read();
  }).catch(reconnect);
}
`;
