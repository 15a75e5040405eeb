// What the operator commands share: reaching the hub (--url/--token, else $DROVER_URL and
// $DROVER_TOKEN), and printing an answer as a table for people or, with --json, as JSON for scripts.
import { createClient } from '../src/sdk/client.ts';
import { HubError } from '../src/sdk/errors.ts';
import { UsageError } from './command.ts';

/** The flags every operator command takes; spread into parseArgs' options. */
export const HUB_FLAGS = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

export interface Hub {
  url: string;
  /** One call; a refusal throws HubError (the dispatcher turns it into exit 1, or 2 for 401/403). */
  call<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** A fetch with the token, for the streams (`events`). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

/** The hub could not be reached at all (refused, no route, DNS): names the address tried. */
class Unreachable extends Error {
  constructor(url: string, err: Error) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    super(`cannot reach the hub at ${url}: ${cause?.code ?? cause?.message ?? err.message}`);
    this.name = 'Unreachable';
  }
}

export function hubOf(values: { url?: string; token?: string }): Hub {
  const url = (values.url ?? process.env.DROVER_URL ?? '').replace(/\/+$/, '');
  const token = values.token ?? process.env.DROVER_TOKEN;
  if (!url) throw new UsageError('--url (or DROVER_URL) is needed');
  if (!token) throw new UsageError('--token (or DROVER_TOKEN) is needed');
  const reached = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (err) {
      // fetch's own failure (not an answer from the hub, nor an abort we asked for).
      if (err instanceof TypeError && /fetch failed/.test(err.message)) throw new Unreachable(url, err);
      throw err;
    }
  };
  const request = createClient({ url, token }).request;
  return {
    url,
    call: (method, path, body) => reached(request(method, path, body)),
    fetch: (path, init = {}) => reached(fetch(url + path, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` } })),
  };
}

/**
 * Why a call failed, in a line (the hub's error code and message, or that it could not be reached),
 * and whether it is the caller's (exit 2: a request the hub found malformed, 400, or a token it
 * refused, 401 and 403) rather than a failure of what was asked (exit 1: 404, 409, 413, 429, 5xx).
 */
export function failure(err: unknown): { line: string; usage: boolean } | null {
  if (err instanceof HubError) return { line: `${err.status} ${err.code}: ${err.message}`, usage: [400, 401, 403].includes(err.status) };
  if (err instanceof Unreachable) return { line: err.message, usage: false };
  return null;
}

/** Rows as aligned columns under a header; `-` for a null. */
export function table(rows: Record<string, unknown>[], columns: [key: string, header: string][]): string {
  const cell = (v: unknown) => (v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const grid = [columns.map(([, h]) => h), ...rows.map((r) => columns.map(([k]) => cell(r[k])))];
  const widths = columns.map((_, i) => Math.max(...grid.map((row) => row[i].length)));
  return grid.map((row) => row.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

/** Writes the answer: as JSON with --json, else as people read it. */
export function show(json: boolean, data: unknown, human: () => string): void {
  process.stdout.write(`${json ? JSON.stringify(data, null, 2) : human()}\n`);
}

/** How long ago a time was, as people say it: "4s ago", "3m ago", "2h ago", "5d ago". */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** A flag's JSON: `--args` must be an array, `--kwargs` an object. */
export function jsonFlag<T>(flag: string, text: string | undefined, kind: 'array' | 'object'): T | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`--${flag} is not JSON: ${text}`);
  }
  const ok = kind === 'array' ? Array.isArray(value) : value !== null && typeof value === 'object' && !Array.isArray(value);
  if (!ok) throw new UsageError(`--${flag} must be a JSON ${kind}`);
  return value as T;
}

/** A number flag in a range, else a usage error naming it. */
export function numberFlag(flag: string, text: string | undefined, min: number, max: number, whole = false): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max || (whole && !Number.isInteger(n))) {
    throw new UsageError(`--${flag} must be ${whole ? 'a whole number' : 'a number'} from ${min} to ${max}`);
  }
  return n;
}
