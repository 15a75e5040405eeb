// The dashboard script's base: the API call, DOM building (text only, so a client's value is never markup),
// formats, the theme, and the hash router every page registers with.

export const core = String.raw`
'use strict';
var token = localStorage.getItem('drover.token');
var $ = function (id) { return document.getElementById(id); };

// Every call answers {status, body}: a 404 or 403 is data for the page to show, never an exception.
// A 401 means the token was refused: forget it and ask again.
function api(method, path, body) {
  var init = { method: method, headers: { authorization: 'Bearer ' + token } };
  if (body !== undefined) { init.headers['content-type'] = 'application/json'; init.body = JSON.stringify(body); }
  return fetch(path, init).then(function (r) {
    if (r.status === 401) { logout(); return { status: 401, body: {} }; }
    return r.text().then(function (t) { var b = {}; try { b = t ? JSON.parse(t) : {}; } catch (e) { b = { text: t }; } return { status: r.status, body: b }; });
  }).catch(function () { return { status: 0, body: { error: { message: 'the hub could not be reached' } } }; });
}
function logout() { localStorage.removeItem('drover.token'); location.hash = ''; location.reload(); }
function errorText(res) { return (res.body && res.body.error && res.body.error.message) || ('the hub answered ' + res.status); }

// h('a', {href: '#/x', class: 'y'}, 'text', child): children that are strings become text nodes.
function h(tag, props) {
  var svg = tag.indexOf('svg:') === 0, el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4)) : document.createElement(tag);
  props = props || {};
  Object.keys(props).forEach(function (k) {
    var v = props[k];
    if (v === undefined || v === null || v === false) return;
    if (k.indexOf('on') === 0) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  });
  for (var i = 2; i < arguments.length; i++) add(el, arguments[i]);
  return el;
}
// add(el, child, ...): appends each child (arrays flattened, strings as text, null and false skipped).
function add(el) {
  for (var i = 1; i < arguments.length; i++) {
    var c = arguments[i];
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) c.forEach(function (x) { add(el, x); });
    else el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
  return el;
}
function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }
function card(title) { var c = h('section', { class: 'card' }, title ? h('h2', { text: title }) : null); for (var i = 1; i < arguments.length; i++) add(c, arguments[i]); return c; }
function notice(text) { return h('p', { class: 'notice', role: 'status' }, text); }
// A table that scrolls inside its card on a wide screen and stacks its rows on a phone.
function table(label, headers, rows, empty) {
  var t = h('table', { class: 'stack' }, h('thead', {}, h('tr', {}, headers.map(function (x) { return h('th', { scope: 'col', class: /^#/.test(x) ? 'n' : null }, x.replace(/^#/, '')); }))));
  var body = h('tbody');
  if (!rows.length) body.appendChild(h('tr', {}, h('td', { colspan: headers.length, class: 'notice' }, empty || 'Nothing here yet.')));
  rows.forEach(function (r) {
    var tr = r.tr || h('tr');
    r.cells.forEach(function (c, i) { var n = /^#/.test(headers[i]); tr.appendChild(h('td', { 'data-label': headers[i].replace(/^#/, '') || null, class: n ? 'n' : null }, c)); });
    body.appendChild(tr);
  });
  t.appendChild(body);
  return h('div', { class: 'scroll', tabindex: 0, role: 'region', 'aria-label': label }, t);
}
function pre(label, value) { return h('pre', { tabindex: 0, 'aria-label': label }, typeof value === 'string' ? value : JSON.stringify(value, null, 2)); }
function state(s) { return h('span', { class: 'pill ' + s }, s || 'unknown'); }
function link(href, text) { return h('a', { href: href }, text); }
function taskLink(id) { return link('#/tasks/' + encodeURIComponent(id), id); }
function queueLink(q) { return q ? link('#/queues/' + encodeURIComponent(q), q) : ''; }
function ago(iso) {
  if (!iso) return '';
  var s = (Date.now() - Date.parse(iso)) / 1000, f = s < 0 ? 'in ' : '', a = Math.abs(s);
  var t = a < 60 ? Math.round(a) + ' s' : a < 3600 ? Math.round(a / 60) + ' min' : a < 172800 ? Math.round(a / 3600) + ' h' : Math.round(a / 86400) + ' d';
  return s < 0 ? f + t : t + ' ago';
}
function when(iso) { return iso ? h('time', { datetime: iso, title: iso }, ago(iso)) : ''; }
// A live refresh waits while the user is in the middle of something there: a confirm step, a selection, focus.
function busy(el) { return !!(el.querySelector('.confirm, input:checked') || (el.contains(document.activeElement) && document.activeElement !== el)); }
function isAdminRefusal(res) { return res.status === 403; }

// Theme: the system's (prefers-color-scheme) until the toggle picks one, kept in localStorage.
function theme() { return localStorage.getItem('drover.theme') || (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'); }
function applyTheme() {
  var t = theme(); document.documentElement.setAttribute('data-theme', t);
  var b = $('theme'); if (b) { b.textContent = t === 'dark' ? 'Light theme' : 'Dark theme'; b.setAttribute('aria-pressed', String(t === 'dark')); }
  if (current && current.redraw) current.redraw();
}

// The router: '#/tasks/abc?state=failed' runs the page registered for 'tasks' with ['abc'] and the query.
var pages = {}, current = null;
function route() {
  var hash = location.hash.replace(/^#\/?/, ''), q = hash.indexOf('?');
  var path = (q < 0 ? hash : hash.slice(0, q)).split('/').filter(Boolean).map(decodeURIComponent);
  var query = new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
  var name = path[0] || 'overview', page = pages[name] || pages.overview;
  if (current && current.stop) current.stop();
  document.querySelectorAll('nav a').forEach(function (a) { if (a.getAttribute('href') === '#/' + (pages[name] ? name : 'overview')) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current'); });
  var main = clear($('main'));
  current = page(main, path.slice(1), query) || {};
  var h1 = main.querySelector('h1'); if (h1 && navigated) { h1.setAttribute('tabindex', '-1'); h1.focus(); }
  navigated = true;
  document.title = (h1 ? h1.textContent + ' · ' : '') + 'drover';
  var nav = document.querySelector('nav'); nav.setAttribute('data-open', 'false'); $('menu').setAttribute('aria-expanded', 'false');
}
var navigated = false;
// Reloads what the page shows; the live stream calls it (at most once a second) and on a reset.
var refreshTimer = null;
function refreshSoon() { if (!refreshTimer) refreshTimer = setTimeout(function () { refreshTimer = null; if (current && current.refresh) current.refresh(); }, 1000); }
function go(hash) { if (location.hash === hash) route(); else location.hash = hash; }
function hashWith(base, query) { var s = query.toString(); return base + (s ? '?' + s : ''); }
`;
