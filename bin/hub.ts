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

export function hubOf(values: { url?: string; token?: string }): Hub {
  const url = (values.url ?? process.env.DROVER_URL ?? '').replace(/\/+$/, '');
  const token = values.token ?? process.env.DROVER_TOKEN;
  if (!url) throw new UsageError('--url (or DROVER_URL) is needed');
  if (!token) throw new UsageError('--token (or DROVER_TOKEN) is needed');
  const fetchWithToken = (path: string, init: RequestInit = {}) =>
    fetch(url + path, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` } });
  return { url, call: createClient({ url, token }).request, fetch: fetchWithToken };
}

/** Why a call failed, in a line: the hub's error code and message, or that it could not be reached. */
export function failure(err: unknown, url?: string): { line: string; auth: boolean } | null {
  if (err instanceof HubError) return { line: `${err.status} ${err.code}: ${err.message}`, auth: err.status === 401 || err.status === 403 };
  if (err instanceof TypeError && /fetch failed/.test(err.message)) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { line: `cannot reach the hub${url ? ` at ${url}` : ''}: ${cause?.code ?? cause?.message ?? err.message}`, auth: false };
  }
  return null;
}

/** Rows as aligned columns under a header; `-` for a null. */
export function table(rows: Record<string, unknown>[], columns: [key: string, header: string][]): string {
  const cell = (v: unknown) => (v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const grid = [columns.map(([, h]) => h), ...rows.map((r) => columns.map(([k]) => cell(r[k])))];
  const widths = columns.map((_, i) => Math.max(...grid.map((row) => row[i].length)));
  return grid.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

/** Writes the answer: as JSON with --json, else as people read it. */
export function show(json: boolean, data: unknown, human: () => string): void {
  process.stdout.write(`${json ? JSON.stringify(data, null, 2) : human()}\n`);
}
