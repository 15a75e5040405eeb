// HTTP tasks and callbacks: who may be called (SSRF guard), Standard Webhooks signatures, and the call itself.
import { readUpTo } from '../core/bytes.ts';
import type { HttpTarget } from '../core/states.ts';
import type { Job } from './client.ts';

const encoder = new TextEncoder();

// ---- Where a task may send a request -------------------------------------------------------

function ipv4(host: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : null;
}

function inCidr(ip: number[], cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const b = ipv4(base);
  const n = bits === undefined ? 32 : Number(bits);
  if (!b || !(n >= 0 && n <= 32)) return false;
  const toInt = (p: number[]) => ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
  const mask = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
  return (toInt(ip) & mask) === (toInt(b) & mask);
}

/** Private, loopback, link-local (the cloud metadata address among them), shared and reserved IPv4. */
const PRIVATE_V4 = ['0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24', '192.168.0.0/16', '198.18.0.0/15', '224.0.0.0/3'];
const PRIVATE_NAMES = /^(localhost|metadata|metadata\.google\.internal)$|\.(localhost|local|internal|home\.arpa)$/i;

function privateHost(host: string): boolean {
  const v4 = ipv4(host);
  if (v4) return PRIVATE_V4.some((c) => inCidr(v4, c));
  if (host.startsWith('[')) {
    const v6 = host.slice(1, -1).toLowerCase();
    // IPv4 inside IPv6 (mapped ::ffff:, or NAT64 64:ff9b::), which URL parsing writes in hex.
    const dotted = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(v6);
    if (dotted) return privateHost(dotted[1]);
    const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6);
    if (hex) {
      const [hi, lo] = [parseInt(hex[1], 16), parseInt(hex[2], 16)];
      return privateHost(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
    }
    return v6 === '::' || v6 === '::1' || /^f[cd]/.test(v6) || /^fe[89ab]/.test(v6);
  }
  return PRIVATE_NAMES.test(host) || !host.includes('.');
}

function allowed(host: string, allow: string[]): boolean {
  const v4 = ipv4(host);
  return allow.some((a) => a.toLowerCase() === host.toLowerCase() || (v4 !== null && a.includes('/') && inCidr(v4, a)));
}

/** DROVER_HTTP_ALLOW, as a list. */
export function allowList(raw: string | undefined): string[] {
  return (raw ?? '').split(',').map((a) => a.trim()).filter(Boolean);
}

/**
 * Why a URL may not be called, or null if it may: https only, and never a private,
 * loopback, link-local or metadata address, unless the allow list names the host.
 * Checked at enqueue and again before every call.
 */
export function refusal(url: string, allow: string[]): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'is not a URL';
  }
  if (u.username || u.password) return 'must not carry credentials; use headers';
  const host = u.hostname;
  const isAllowed = allowed(host, allow);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isAllowed)) return 'must be https';
  if (privateHost(host) && !isAllowed) return `points at a private, loopback or metadata address (${host}); DROVER_HTTP_ALLOW can allow it`;
  return null;
}

// ---- Standard Webhooks signatures ----------------------------------------------------------

/** A key from DROVER_SIGNING_KEYS: "whsec_<base64>" as Standard Webhooks issues them, or any other string as its bytes. */
function keyBytes(key: string): Uint8Array {
  if (key.startsWith('whsec_')) return Uint8Array.from(atob(key.slice(6)), (c) => c.charCodeAt(0));
  return encoder.encode(key);
}

async function hmac(key: string, text: string): Promise<string> {
  const k = await crypto.subtle.importKey('raw', keyBytes(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const sig = new Uint8Array(await crypto.subtle.sign('HMAC', k, encoder.encode(text)));
  return btoa(String.fromCharCode(...sig));
}

/** The headers that sign `body`: one `v1,<sig>` per key, so receivers can rotate keys. */
export async function signatureHeaders(keys: string[], id: string, body: string, now = Date.now()): Promise<Record<string, string>> {
  const timestamp = String(Math.floor(now / 1000));
  const signatures = await Promise.all(keys.map(async (k) => `v1,${await hmac(k, `${id}.${timestamp}.${body}`)}`));
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signatures.join(' ') };
}

/**
 * Checks a request drover signed, on the receiving end: any of `keys` (rotation), a
 * timestamp within `toleranceSeconds`, and a signature over the exact body.
 *
 * @example
 * const ok = await verifyWebhook([process.env.DROVER_SIGNING_KEY!], Object.fromEntries(req.headers), await req.text());
 * if (!ok) return new Response('bad signature', { status: 401 });
 */
export async function verifyWebhook(
  keys: string[],
  headers: Record<string, string | string[] | undefined>,
  body: string,
  toleranceSeconds = 300,
  now = Date.now(),
): Promise<boolean> {
  const one = (name: string) => {
    const v = headers[name] ?? headers[name.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  };
  const id = one('webhook-id');
  const timestamp = one('webhook-timestamp');
  const given = (one('webhook-signature') ?? '').split(' ').filter((s) => s.startsWith('v1,')).map((s) => s.slice(3));
  if (!id || !timestamp || given.length === 0) return false;
  if (Math.abs(now / 1000 - Number(timestamp)) > toleranceSeconds) return false;
  for (const key of keys) {
    const expected = await hmac(key, `${id}.${timestamp}.${body}`);
    if (given.some((g) => g.length === expected.length && [...g].every((ch, i) => ch === expected[i]))) return true;
  }
  return false;
}

// ---- The call -------------------------------------------------------------------------------

/** The longest response body read back as a task's result: a result's limit, as an ack's is. */
export const MAX_RESPONSE_BYTES = 128 * 1024;

export type HttpOutcome =
  | { ok: true; result: unknown }
  | { ok: false; error: { type: string; message: string }; retry: boolean; delaySeconds?: number };

/** Retry-After as seconds or an HTTP date; undefined if absent or unreadable. */
export function retryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, (at - now) / 1000) : undefined;
}

async function readCapped(res: Response): Promise<string | null> {
  const bytes = await readUpTo(res.body, MAX_RESPONSE_BYTES);
  if (bytes === null) {
    // The rest is not wanted: cancelling lets the runtime drop the connection's remaining bytes.
    await res.body?.cancel().catch(() => {});
    return null;
  }
  return new TextDecoder().decode(bytes);
}

/**
 * Sends an HTTP task's request, signed: a 2xx is the result (JSON if it parses);
 * 408, 429, 5xx and network errors are retried (after Retry-After when given);
 * any other answer, a redirect, or an oversized body fails the task for good.
 */
export async function callHttpTask(
  job: Pick<Job, 'id' | 'task' | 'args' | 'kwargs' | 'attempt'>,
  target: HttpTarget,
  options: { keys: string[]; allow: string[]; timeoutMs: number; signal?: AbortSignal },
): Promise<HttpOutcome> {
  const refused = refusal(target.url, options.allow);
  if (refused) return { ok: false, error: { type: 'HttpRefused', message: `the URL ${refused}` }, retry: false };
  const body = JSON.stringify({ id: job.id, task: job.task, args: job.args, kwargs: job.kwargs, attempt: job.attempt });
  const signed = await signatureHeaders(options.keys, job.id, body);
  const signal = options.signal ? AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]) : AbortSignal.timeout(options.timeoutMs);
  let res: Response;
  try {
    res = await fetch(target.url, {
      method: target.method,
      headers: { ...target.headers, 'content-type': 'application/json', 'user-agent': 'drover', ...signed },
      body: target.method === 'GET' || target.method === 'HEAD' ? undefined : body,
      redirect: 'manual',
      signal,
    });
  } catch (err) {
    return { ok: false, error: { type: 'HttpNetworkError', message: (err as Error).message }, retry: true };
  }
  const text = await readCapped(res);
  if (res.status >= 200 && res.status < 300) {
    if (text === null) return { ok: false, error: { type: 'HttpResponseTooLarge', message: `the answer is over ${MAX_RESPONSE_BYTES} bytes` }, retry: false };
    try {
      return { ok: true, result: text === '' ? null : JSON.parse(text) };
    } catch {
      return { ok: true, result: text };
    }
  }
  const message = `${target.method} ${target.url} answered ${res.status}${text ? `: ${text.slice(0, 500)}` : ''}`;
  if (res.status === 408 || res.status === 429 || res.status >= 500) {
    return { ok: false, error: { type: `Http${res.status}`, message }, retry: true, delaySeconds: retryAfter(res.headers.get('retry-after')) };
  }
  return { ok: false, error: { type: `Http${res.status}`, message }, retry: false };
}
