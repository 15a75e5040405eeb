// HTTP tasks and callbacks: who may be called (SSRF guard) and the call itself, signed (core/signing.ts).
import { readUpTo } from '../core/bytes.ts';
import type { HttpTarget } from '../core/states.ts';
import type { Job } from '../protocol/records.ts';
import { MAX_RETRY_DELAY_SECONDS } from '../protocol/fields.ts';
import { signatureHeaders } from '../core/signing.ts';
import { canonicalHost, inCidr, notGlobal, parseAddress, parseCidr, specialName } from './hosts.ts';

// ---- Where a task may send a request -------------------------------------------------------
//
// Decided on the host as the URL parser leaves it (lowercase, IPv4 in any spelling made dotted
// decimal, IPv6 compressed), without its trailing dot. Names are judged by what they are; what
// they resolve to is judged where the request is made. workerd has no DNS API, but on Cloudflare
// a Worker's subrequest to a name that resolves to a prohibited address is refused by Cloudflare
// itself, error 1000 "DNS points to prohibited IP" (developers.cloudflare.com/support/
// troubleshooting/http-status-codes/cloudflare-1xxx-errors/error-1000/); under `npm start`,
// scripts/start.ts gives the Workers an outbound network that connects only to addresses
// `notGlobal` passes, checked on the address it connects to (no second lookup to rebind).

/** DROVER_HTTP_ALLOW, as a list. */
export function allowList(raw: string | undefined): string[] {
  return (raw ?? '').split(',').map((a) => a.trim()).filter(Boolean);
}

/** Whether DROVER_HTTP_ALLOW names the host: the same name, or an address in a listed block (IPv4 or IPv6). */
function allowed(host: string, allow: string[]): boolean {
  const address = parseAddress(host);
  return allow.some((entry) => {
    const e = canonicalHost(entry);
    if (e === null) return false;
    if (!address) return e === host;
    const block = parseCidr(e);
    return block !== null && inCidr(address, block);
  });
}

/**
 * Why a URL may not be called, or null if it may: https only, and never a host that is not on the
 * public internet (IANA's special-purpose addresses, special-use names), unless the allow list
 * names it. Checked at enqueue and again before every call; redirects are never followed.
 */
export function refusal(url: string, allow: string[]): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'is not a URL';
  }
  if (u.username || u.password) return 'must not carry credentials; use headers';
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'must be https';
  const host = canonicalHost(u.hostname);
  if (host === null) return `has a host with an empty label (${u.hostname})`;
  const isAllowed = allowed(host, allow);
  if (u.protocol !== 'https:' && !isAllowed) return 'must be https';
  if (isAllowed) return null;
  const address = parseAddress(host);
  const why = address ? notGlobal(address) : specialName(host);
  return why && `points at a private, loopback or otherwise not public host (${u.hostname}: ${why}); DROVER_HTTP_ALLOW can allow it`;
}

// ---- The call -------------------------------------------------------------------------------

/** The longest response body read back as a task's result: a result's limit, as an ack's is. */
export const MAX_RESPONSE_BYTES = 128 * 1024;

export type HttpOutcome =
  | { ok: true; result: unknown }
  | { ok: false; error: { type: string; message: string }; retry: boolean; delaySeconds?: number; rateLimited?: boolean };


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
 * An answer as JSON when it is JSON that survives storing: a number past a double's range parses
 * to Infinity, which JSON writes back as null, so such an answer is kept as its text.
 */
function asJson(text: string): unknown {
  let lossy = false;
  try {
    const value = JSON.parse(text, (_key, v: unknown) => {
      if (typeof v === 'number' && !Number.isFinite(v)) lossy = true;
      return v;
    });
    return lossy ? text : value;
  } catch {
    return text;
  }
}

/**
 * Sends an HTTP task's request, signed: a 2xx is the result (JSON if it parses);
 * 408, 429, 5xx and network errors are retried (after Retry-After when given);
 * any other answer, a redirect, or an oversized body fails the task for good. A 429, or a 503
 * with Retry-After, is the site asking to slow down (`rateLimited`): the attempt does not count
 * and the task's rate key pauses for the Retry-After (1 s when a 429 names none).
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
    return { ok: true, result: text === '' ? null : asJson(text) };
  }
  const message = `${target.method} ${target.url} answered ${res.status}${text ? `: ${text.slice(0, 500)}` : ''}`;
  const after = retryAfter(res.headers.get('retry-after'));
  if (res.status === 429 || (res.status === 503 && after !== undefined)) {
    // The longest a rate-limited task waits for its site, whatever its Retry-After says: the longest retry delay.
    const delaySeconds = Math.min(after ?? 1, MAX_RETRY_DELAY_SECONDS);
    return { ok: false, error: { type: `Http${res.status}`, message }, retry: true, delaySeconds, rateLimited: true };
  }
  if (res.status === 408 || res.status >= 500) {
    return { ok: false, error: { type: `Http${res.status}`, message }, retry: true, delaySeconds: retryAfter(res.headers.get('retry-after')) };
  }
  return { ok: false, error: { type: `Http${res.status}`, message }, retry: false };
}
