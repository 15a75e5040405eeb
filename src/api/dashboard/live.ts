// The dashboard script's live part: the event stream opened with a short-lived ticket (the token never goes in a
// URL), resumed after a drop from the last event id seen, and handed to whichever page is open.

export const live = String.raw`
var lastEventId = null, source = null, retryMs = 1000, liveListeners = [], opened = false;
// The last task changes the stream brought (replayed ones included), newest first: the overview's live feed.
var recentEvents = [], RECENT_EVENTS = 20;
function onLive(fn) { liveListeners.push(fn); }
function setLive(text, on) { var el = $('live'); el.textContent = text; el.className = on ? 'on' : ''; }
// Back after a drop: the page reads its numbers again too, in case the hub could not replay what was missed.
function connected() { setLive('live', true); retryMs = 1000; if (opened) refreshSoon(); opened = true; }
function deliver(kind, data, id) {
  if (id) lastEventId = id;
  var e; try { e = JSON.parse(data); } catch (x) { return; }
  if (kind === 'task') { recentEvents.unshift(e); if (recentEvents.length > RECENT_EVENTS) recentEvents.pop(); }
  liveListeners.forEach(function (fn) { fn(kind, e); });
  if (current && current.live) current.live(kind, e);
  refreshSoon();
}
function reset() { if (current && current.reset) current.reset(); else refreshSoon(); }
function reconnect() {
  setLive('reconnecting', false);
  setTimeout(listen, retryMs); retryMs = Math.min(retryMs * 2, 30000);
}
// POST /v1/events/ticket, then EventSource on ?ticket= (EventSource cannot send the token in a header, and the
// token never goes in a URL); every reconnect takes a new ticket and names the last event seen.
function listen() {
  api('POST', '/v1/events/ticket').then(function (res) {
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
// The browser knows before the stream does that the network went: close at once, and come back (from the last
// id) when it returns, rather than wait for a connection that may hang without an error.
addEventListener('offline', function () { if (source) { source.close(); source = null; } setLive('reconnecting', false); });
addEventListener('online', function () { if (!source) { retryMs = 1000; listen(); } });
`;
