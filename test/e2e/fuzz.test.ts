// Property-based fuzzing of every route: thousands of random and malformed requests, never a 5xx, never a hang.
import fc from 'fast-check';
import { expect, inject, it } from 'vitest';
import { Api, TOKENS } from './system.ts';

const url = inject('hubUrl');
const api = new Api(url);
const run = `fz${Date.now().toString(36)}`;
const queues = [`${run}-a`, `${run}-b`];
const SEED = Number(process.env.DROVER_FUZZ_SEED ?? Date.now() % 2 ** 31);
const COUNT = Number(process.env.DROVER_FUZZ_COUNT ?? 2500);

const ulid = fc.stringMatching(/^[0-9A-HJKMNP-TV-Z]{26}$/);
const weird = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', '..', '%00', '%2F', 'a'.repeat(300), '\u0000', '\ud800', '🦊', 'DROP TABLE tasks', '${x}', '__proto__', 'constructor'),
);
const pathParam = fc.oneof(fc.constantFrom(...queues), ulid, weird, fc.constantFrom(`${queues[0]}.${'0'.repeat(26)}.${'a'.repeat(24)}`));

/** Numbers and strings that hurt: beyond 2^53, negative zero, NUL, unpaired surrogates. */
const nasty = fc.oneof(
  fc.constantFrom(2 ** 53 + 1, -0, 1e308, -1e308, 0.1, -1, 101, 10, 1.5, '', '\u0000', '\ud800\u0041', null, true, [], {}, '0 0 * * *'),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.integer(),
  fc.double(),
);

/** Percent-encodes a path segment; an unpaired surrogate goes out as the bytes of one, which is not UTF-8. */
function encode(segment: string): string {
  return [...segment]
    .map((ch) => {
      try {
        return encodeURIComponent(ch);
      } catch {
        return '%ED%A0%80';
      }
    })
    .join('');
}

function nested(depth: number): unknown {
  let v: unknown = 0;
  for (let i = 0; i < depth; i++) v = i % 2 ? { a: v } : [v];
  return v;
}

/** Valid bodies of each route, with one field replaced, dropped or added: they reach deep validation. */
const templates: Record<string, unknown>[] = [
  { task: 'fz.t', args: [1], kwargs: { a: 1 }, queue: queues[0], region: 'cn', priority: 5, maxRetries: 0, timeout: 30 },
  { worker: 'fz', region: null, max: 2, waitSeconds: 0 },
  { result: { ok: 1 } },
  { error: { type: 'E', message: 'm' }, retry: false },
  { extendSeconds: 5, progress: 0.5 },
  { id: `${run}-s`, every: 3600, task: 'fz.t', queue: queues[1] },
  { chain: [{ task: 'fz.t', queue: queues[0] }, { group: [{ task: 'fz.t', queue: queues[1] }] }] },
  { chord: { header: [{ task: 'fz.t', queue: queues[0] }], body: { task: 'fz.t', queue: queues[0] } } },
  { tasks: [{ task: 'fz.t', queue: queues[1] }] },
  { acks: [{ leaseId: 'x', result: 1 }] },
  { ids: ['01ARZ3NDEKTSV4RRFFQ69G5FAV'] },
];

const mutated = fc.tuple(fc.constantFrom(...templates), fc.string({ maxLength: 12 }), nasty, fc.nat(3)).map(([t, key, value, how]) => {
  const copy: Record<string, unknown> = structuredClone(t);
  const keys = Object.keys(copy);
  const pick = keys[key.length % keys.length];
  if (how === 0) copy[pick] = value;
  else if (how === 1) delete copy[pick];
  else if (how === 2) copy[key || 'extra'] = value;
  return copy;
});

const body = fc.oneof(
  { weight: 4, arbitrary: mutated.map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constantFrom('{', '{"task":', '[]', 'null', '1e400', '{"priority": 123456789012345678901234567890}', '\u0000', '{"a":1}{"b":2}', JSON.stringify(nested(200)), 'x'.repeat(300_000)) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

const routes: [string, (p: string) => string][] = [
  ['POST', () => '/v1/tasks'], ['POST', () => '/v1/tasks/batch'], ['GET', () => '/v1/tasks'], ['GET', (p) => `/v1/tasks/${p}`],
  ['POST', (p) => `/v1/tasks/${p}/revoke`], ['POST', (p) => `/v1/queues/${p}/claim`], ['POST', (p) => `/v1/leases/${p}/heartbeat`],
  ['POST', (p) => `/v1/leases/${p}/ack`], ['POST', (p) => `/v1/leases/${p}/fail`], ['POST', (p) => `/v1/leases/${p}/release`],
  ['POST', () => '/v1/leases/ack'], ['GET', () => '/v1/queues'], ['GET', (p) => `/v1/queues/${p}`], ['POST', (p) => `/v1/queues/${p}/pause`],
  ['POST', (p) => `/v1/queues/${p}/resume`], ['GET', (p) => `/v1/queues/${p}/dead`], ['POST', (p) => `/v1/queues/${p}/dead/replay`],
  ['DELETE', (p) => `/v1/queues/${p}/dead`], ['POST', () => '/v1/schedules'], ['GET', () => '/v1/schedules'], ['GET', (p) => `/v1/schedules/${p}`],
  ['PUT', (p) => `/v1/schedules/${p}`], ['DELETE', (p) => `/v1/schedules/${p}`], ['POST', () => '/v1/workflows'], ['GET', (p) => `/v1/workflows/${p}`],
  ['POST', (p) => `/v1/workflows/${p}/revoke`], ['GET', () => '/v1/audit'], ['PATCH', () => '/v1/tasks'], ['GET', () => '/'], ['GET', () => '/healthz'],
];

const query = fc.oneof(
  fc.constant(''),
  fc.constantFrom('?limit=0', '?limit=9999', '?limit=abc', '?wait=0.2', '?wait=-1', '?wait=61', `?queue=${queues[0]}`, '?state=zzz', '?cursor=%00', '?schedule=%FF', '?a=1&a=2'),
  fc.string({ maxLength: 20 }).map((s) => `?${encodeURIComponent(s)}=${encodeURIComponent(s)}`),
);

const request = fc.record({
  route: fc.nat(routes.length - 1),
  param: pathParam,
  query,
  body,
  token: fc.constantFrom<string | null>(TOKENS.admin, TOKENS.admin, TOKENS.admin, TOKENS.enqueue, TOKENS.consume, TOKENS.cn, null, 'bogus'),
  contentType: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', ''),
  bigHeader: fc.constantFrom(0, 0, 0, 0, 8_000, 30_000),
});

it(`answers ${COUNT} fuzzed requests with 2xx or 4xx and the error shape, never 5xx or a hang (seed ${SEED})`, async () => {
  const samples = fc.sample(request, { numRuns: COUNT, seed: SEED });
  const problems: string[] = [];
  const acceptedIds = new Set<string>();
  const acceptedSchedules = new Set<string>();
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async () => {
    while (next < samples.length) {
      const r = samples[next++];
      const [method, path] = routes[r.route];
      const target = url + path(encode(r.param)) + r.query;
      const headers: Record<string, string> = {};
      if (r.token) headers.authorization = `Bearer ${r.token}`;
      if (r.contentType) headers['content-type'] = r.contentType;
      if (r.bigHeader) headers['x-padding'] = 'p'.repeat(r.bigHeader);
      const send = method === 'GET' || r.body === undefined ? undefined : r.body;
      const label = `${method} ${target.slice(url.length, url.length + 120)} body=${String(send).slice(0, 120)}`;
      try {
        const res = await fetch(target, { method, headers, body: send, signal: AbortSignal.timeout(20_000) });
        const text = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status >= 500) problems.push(`${res.status} for ${label}: ${text.slice(0, 200)}`);
        else if (res.status >= 400 && path('x').startsWith('/v1')) {
          const parsed = JSON.parse(text);
          if (typeof parsed?.error?.code !== 'string' || typeof parsed?.error?.message !== 'string') problems.push(`no error shape for ${label}: ${text.slice(0, 200)}`);
          if (/\bat .*\.(ts|js):\d+/.test(text)) problems.push(`a stack trace in ${label}`);
        } else if (res.status < 300) {
          const parsed = text.startsWith('{') ? JSON.parse(text) : {};
          for (const id of [parsed.id, ...(parsed.tasks ?? []).map((t: any) => (typeof t === 'string' ? t : t.id))]) if (typeof id === 'string') acceptedIds.add(id);
          if (method === 'POST' && path('x') === '/v1/schedules' && parsed.id) acceptedSchedules.add(parsed.id);
        }
      } catch (err) {
        problems.push(`no answer for ${label}: ${(err as Error).message}${(err as Error).cause ? ` (${String((err as Error).cause)})` : ''}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  console.log(`fuzz seed ${SEED}: statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  expect(problems.slice(0, 10)).toEqual([]);

  // Rejected requests changed nothing: every task in the fuzzed queues came from an accepted request
  // (or from a schedule an accepted request made), and every fuzzed schedule was accepted.
  for (const q of queues) {
    const { body: listed } = await api.get(`/v1/tasks?queue=${q}&limit=500`);
    const strays = listed.tasks.filter((t: any) => !acceptedIds.has(t.id) && !String(t.idempotencyKey).startsWith(`schedule:${run}`));
    expect(strays.map((t: any) => t.id)).toEqual([]);
  }
  const { body: all } = await api.get('/v1/schedules');
  const fuzzed = all.schedules.filter((s: any) => s.id.startsWith(run));
  expect(fuzzed.filter((s: any) => !acceptedSchedules.has(s.id))).toEqual([]);
  for (const s of fuzzed) await api.request('DELETE', `/v1/schedules/${s.id}`);
  expect((await api.get('/healthz')).status).toBe(200);
});
