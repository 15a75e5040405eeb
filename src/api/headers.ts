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

const encoder = new TextEncoder();

async function sha256(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
  return `'sha256-${btoa(String.fromCharCode(...digest))}'`;
}

/** The hashes of a page's inline blocks of one kind: what the policy lets run (CSP Level 2 hash sources). */
async function hashes(html: string, tag: 'script' | 'style'): Promise<string> {
  const blocks = [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => m[1]);
  return blocks.length ? (await Promise.all(blocks.map(sha256))).join(' ') : "'none'";
}

/** Each page's policy, worked out once per isolate: the pages are the same on every request. */
const policies = new Map<string, Promise<string>>();

/**
 * The policy of a page the hub serves: its own inline script and style, by hash, and nothing else
 * inline (no attributes, no injected blocks); requests only to the hub; never inside a frame.
 */
export function pagePolicy(html: string): Promise<string> {
  let policy = policies.get(html);
  if (!policy) {
    if (policies.size >= 8) policies.clear(); // only if pages ever varied: the cache stays small
    policy = Promise.all([hashes(html, 'script'), hashes(html, 'style')]).then(
      ([scripts, styles]) =>
        `default-src 'self'; script-src ${scripts}; style-src ${styles}; object-src 'none'; base-uri 'none'; ` +
        `form-action 'self'; frame-ancestors 'none'`,
    );
    policies.set(html, policy);
  }
  return policy;
}

/** Answers with one of the hub's pages under its content policy. */
export async function page(c: Context, html: string): Promise<Response> {
  c.header('content-security-policy', await pagePolicy(html));
  return c.html(html);
}

/**
 * The dashboard's policy: its script and style are files the hub serves (/dashboard.js, /dashboard.css), so
 * 'self' is all it names; nothing inline runs or applies (styles the script sets through CSSOM are not inline).
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
export function pageFile(c: Context, body: string, type: 'text/javascript' | 'text/css'): Response {
  c.header('content-type', `${type}; charset=utf-8`);
  c.header('cache-control', 'no-cache');
  return c.body(body);
}
