// The dashboard's HTML shell (served at GET /) and the script's start: the page loads /dashboard.css and
// /dashboard.js, so its content policy names only 'self' (no inline script, style or handler anywhere).

const NAV: [string, string][] = [
  ['overview', 'Overview'],
  ['queues', 'Queues'],
  ['tasks', 'Tasks'],
  ['dead', 'Dead letters'],
  ['workers', 'Workers'],
  ['schedules', 'Schedules'],
  ['workflows', 'Workflows'],
];

export const dashboardHtml = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>drover</title><link rel="icon" href="/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/dashboard.css"></head><body>
<a class="skip" href="#main">Skip to content</a>
<form id="login" class="card" hidden><h1>drover</h1><p class="muted">Paste an access token: admin to act, enqueue to watch. It stays in this browser.</p>
<label for="token">Access token</label><input id="token" type="password" autocomplete="off" required><button type="submit">Open the dashboard</button></form>
<div id="app" hidden>
<header><a class="brand" href="#/overview">drover</a><span id="live" role="status">connecting</span><span class="grow"></span>
<button id="menu" type="button" aria-expanded="false" aria-controls="nav">Menu</button>
<button id="theme" type="button" aria-pressed="false">Dark theme</button><a href="/docs">API</a><button id="logout" type="button">Forget token</button>
<nav id="nav" aria-label="Pages" data-open="false"><ul>${NAV.map(([path, label]) => `<li><a href="#/${path}">${label}</a></li>`).join('')}</ul></nav></header>
<main id="main" tabindex="-1"></main></div>
<script src="/dashboard.js"></script></body></html>`;

export const boot = String.raw`
applyTheme();
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', applyTheme);
if (!token) {
  $('login').hidden = false;
  $('login').addEventListener('submit', function (ev) { ev.preventDefault(); localStorage.setItem('drover.token', $('token').value.trim()); location.reload(); });
} else {
  $('app').hidden = false;
  $('logout').addEventListener('click', logout);
  $('theme').addEventListener('click', function () { localStorage.setItem('drover.theme', theme() === 'dark' ? 'light' : 'dark'); applyTheme(); });
  $('menu').addEventListener('click', function () {
    var nav = $('nav'), open = nav.getAttribute('data-open') !== 'true';
    nav.setAttribute('data-open', String(open)); $('menu').setAttribute('aria-expanded', String(open));
  });
  addEventListener('hashchange', route);
  route(); listen();
  // Between events, numbers still move (a delayed task coming due, a worker going stale).
  setInterval(function () { if (document.visibilityState === 'visible') refreshSoon(); }, 10000);
}
`;

/** The tab's icon: without one, browsers ask for /favicon.ico and log its 404 on every page. */
export const faviconSvg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#2b5fd9"/><path d="M9 8h7a8 8 0 0 1 0 16H9z" fill="none" stroke="#fff" stroke-width="3.5"/></svg>`;
