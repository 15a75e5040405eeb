// The headers every answer carries for browsers: no framing, no sniffing, no referrer, and a content policy.
import type { Context, MiddlewareHandler } from 'hono';

/** For answers that are not pages (JSON, text, streams): a browser that opens one runs and loads nothing. */
const DATA_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const SAME_FOR_ALL: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // Browsers that predate `frame-ancestors` read this instead.
  'x-frame-options': 'DENY',
};

/** Adds the headers to every answer but a WebSocket upgrade; a page's own policy (below) is kept. */
export const securityHeaders: MiddlewareHandler = async function securityHeaders(c, next) {
  await next();
  if (c.res.status === 101) return;
  const set = (headers: Headers) => {
    for (const [name, value] of Object.entries(SAME_FOR_ALL)) headers.set(name, value);
    if (!headers.has('content-security-policy')) headers.set('content-security-policy', DATA_POLICY);
  };
  try {
    set(c.res.headers);
  } catch {
    // An answer passed on from a Durable Object (the event stream) has headers that cannot change.
    c.res = new Response(c.res.body, c.res);
    set(c.res.headers);
  }
};

/**
 * The policy of the hub's pages (the dashboard, and /docs): their scripts and styles are files the hub serves
 * (/dashboard.js, /docs/viewer.js, ...), so 'self' is all it names; nothing inline runs or applies (styles a
 * script sets through CSSOM are not inline).
 */
export const SHELL_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Answers with a page whose script and style come from the hub's own paths. */
export function shellPage(c: Context, html: string): Response {
  c.header('content-security-policy', SHELL_POLICY);
  c.header('cache-control', 'no-cache');
  return c.html(html);
}

/** Answers with one of a page's files; `no-cache` so a new hub's page never runs an old script. */
export function pageFile(c: Context, body: string, type: 'text/javascript' | 'text/css' | 'image/svg+xml'): Response {
  c.header('content-type', `${type}; charset=utf-8`);
  c.header('cache-control', 'no-cache');
  return c.body(body);
}
