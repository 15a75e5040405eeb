// Bad input: every malformed request gets the right 4xx with a readable message, and changes nothing.
import { connect } from 'node:net';
import { describe, expect, inject, it } from 'vitest';
import { Api, claimAll, TOKENS, uniqueQueue } from './system.ts';

const url = inject('hubUrl');
const api = new Api(url);

async function count(queue: string): Promise<number> {
  return (await api.get(`/v1/tasks?queue=${queue}&limit=500`)).body.tasks.length;
}

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

describe('enqueue validation', () => {
  const queue = uniqueQueue('bad');
  const cases: [string, unknown, number][] = [
    ['no task name', { queue }, 400],
    ['task name with spaces', { task: 'a b', queue }, 400],
    ['task name too long', { task: 'x'.repeat(201), queue }, 400],
    ['args not an array', { task: 't', queue, args: { a: 1 } }, 400],
    ['kwargs an array', { task: 't', queue, kwargs: [1] }, 400],
    ['kwargs a string', { task: 't', queue, kwargs: 'x' }, 400],
    ['upper-case queue', { task: 't', queue: 'Scrape' }, 400],
    ['queue too long', { task: 't', queue: 'q'.repeat(65) }, 400],
    ['region with underscore', { task: 't', queue, region: 'eu_west' }, 400],
    ['priority 10', { task: 't', queue, priority: 10 }, 400],
    ['priority fractional', { task: 't', queue, priority: 1.5 }, 400],
    ['priority as string', { task: 't', queue, priority: '5' }, 400],
    ['priority beyond 2^53', { task: 't', queue, priority: 1e300 }, 400],
    ['negative delay', { task: 't', queue, delay: -1 }, 400],
    ['delay and eta', { task: 't', queue, delay: 1, eta: '2030-01-01T00:00:00Z' }, 400],
    ['eta not a time', { task: 't', queue, eta: 'tomorrow' }, 400],
    ['eta on February 30th', { task: 't', queue, eta: '2030-02-30T25:00:00Z' }, 400],
    ['expires zero', { task: 't', queue, expires: 0 }, 400],
    ['maxRetries 101', { task: 't', queue, maxRetries: 101 }, 400],
    ['timeout zero', { task: 't', queue, timeout: 0 }, 400],
    ['unknown field', { task: 't', queue, prority: 9 }, 400],
    ['idempotency key with NUL', { task: 't', queue, idempotencyKey: 'a\u0000b' }, 400],
    ['ordering key with a lone surrogate', { task: 't', queue, orderingKey: 'a\ud800' }, 400],
    ['empty idempotency key', { task: 't', queue, idempotencyKey: '' }, 400],
    ['an array body', [{ task: 't', queue }], 400],
    ['null body', null, 400],
    ['deep nesting', { task: 't', queue, args: [nested(100)] }, 400],
  ];

  it.each(cases)('refuses %s', async (_name, body, status) => {
    const res = await api.post('/v1/tasks', body);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.message.length).toBeGreaterThan(10);
  });

  it('names the field in its message', async () => {
    const res = await api.post('/v1/tasks', { task: 't', queue, priority: 12 });
    expect(res.body.error.message).toMatch(/priority/);
  });

  it('refuses broken JSON, empty bodies and invalid UTF-8', async () => {
    for (const raw of ['{"task": "t"', '', '   ', 'task=t', '{"task":"t"}{"x":1}']) {
      const res = await api.post('/v1/tasks', raw);
      expect(res.status, raw).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    const res = await api.request('POST', '/v1/tasks', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) as unknown as string);
    expect(res.status).toBe(400);
  });

  it('accepts NUL and unicode inside args, and gives them back intact', async () => {
    const q = uniqueQueue();
    const args = ['a\u0000b', '北京', '🦊', 'é', { '\u0000': null }, 9007199254740993];
    const enq = await api.post('/v1/tasks', { task: 't', queue: q, args });
    expect(enq.status).toBe(202);
    const [job] = await claimAll(api, q, 1);
    expect(job.args).toEqual(JSON.parse(JSON.stringify(args)));
  });

  it('answers 413 for a task over 128 KiB, and creates nothing', async () => {
    const q = uniqueQueue();
    const res = await api.post('/v1/tasks', { task: 't', queue: q, args: ['x'.repeat(130 * 1024)] });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
    const batch = await api.post('/v1/tasks/batch', { tasks: [{ task: 't', queue: q }, { task: 't', queue: q, args: ['x'.repeat(130 * 1024)] }] });
    expect(batch.status).toBe(413);
    expect(batch.body.error.details).toEqual({ index: 1 });
    expect(await count(q)).toBe(0);
  });

  it('carries a task just under 128 KiB through the bus', async () => {
    const q = uniqueQueue();
    const big = 'y'.repeat(127 * 1024);
    const res = await api.post('/v1/tasks', { task: 't', queue: q, args: [big] });
    expect(res.status).toBe(202);
    const [job] = await claimAll(api, q, 1);
    expect(job.args[0]).toBe(big);
  });
});

describe('batches are all or nothing', () => {
  it('creates nothing when one entry is bad, and names its index', async () => {
    const queue = uniqueQueue();
    const tasks = Array.from({ length: 50 }, (_, i) => ({ task: 't', queue, args: [i] }));
    (tasks[37] as any).priority = 'high';
    const res = await api.post('/v1/tasks/batch', { tasks });
    expect(res.status).toBe(400);
    expect(res.body.error.details.index).toBe(37);
    expect(res.body.error.message).toMatch(/tasks\[37\]\.priority/);
    expect(await count(queue)).toBe(0);
    expect((await api.post(`/v1/queues/${queue}/claim`, { worker: 'w', max: 100, waitSeconds: 1 })).body.jobs).toEqual([]);
  });

  it('refuses an empty batch, more than 1,000 entries, and a non-array', async () => {
    const queue = uniqueQueue();
    expect((await api.post('/v1/tasks/batch', { tasks: [] })).status).toBe(400);
    expect((await api.post('/v1/tasks/batch', { tasks: Array.from({ length: 1001 }, () => ({ task: 't', queue })) })).status).toBe(400);
    expect((await api.post('/v1/tasks/batch', { tasks: 'x' })).status).toBe(400);
    expect((await api.post('/v1/tasks/batch', { task: 't' })).status).toBe(400);
    expect(await count(queue)).toBe(0);
  });
});

describe('other routes', () => {
  it('validates claims', async () => {
    const queue = uniqueQueue();
    for (const body of [{}, { worker: '' }, { worker: 'w', max: 0 }, { worker: 'w', max: 101 }, { worker: 'w', waitSeconds: 31 }, { worker: 'w', region: 'CN' }, { worker: 'w\u0007' }, { worker: 'w', extra: 1 }]) {
      const res = await api.post(`/v1/queues/${queue}/claim`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect((await api.post('/v1/queues/Bad%20Queue/claim', { worker: 'w' })).status).toBe(400);
  });

  it('validates lease calls and never leaks whether a lease existed by its shape', async () => {
    const queue = uniqueQueue();
    await api.post('/v1/tasks', { task: 't', queue });
    const [job] = await claimAll(api, queue, 1);
    expect((await api.post('/v1/leases/nonsense/ack', {})).status).toBe(404);
    expect((await api.post(`/v1/leases/${job.leaseId}/fail`, { error: 'boom' })).status).toBe(400);
    expect((await api.post(`/v1/leases/${job.leaseId}/fail`, { error: { type: 'X' } })).status).toBe(400);
    expect((await api.post(`/v1/leases/${job.leaseId}/heartbeat`, { extendSeconds: -1 })).status).toBe(400);
    expect((await api.post(`/v1/leases/${job.leaseId}/ack`, { result: 'x'.repeat(140 * 1024) })).status).toBe(413);
    // Refused calls left the lease alone.
    expect((await api.post(`/v1/leases/${job.leaseId}/ack`, { result: 'ok' })).body.state).toBe('succeeded');
  });

  it('validates list and wait queries', async () => {
    for (const q of ['limit=0', 'limit=501', 'limit=abc', 'state=done', 'cursor=xyz', 'queue=BAD', 'region=BAD', 'foo=1']) {
      expect((await api.get(`/v1/tasks?${q}`)).status, q).toBe(400);
    }
    expect((await api.get('/v1/tasks/01ARZ3NDEKTSV4RRFFQ69G5FAV?wait=61')).status).toBe(400);
  });

  it('answers unknown routes and methods with the error shape', async () => {
    const res = await api.get('/v1/nope');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
    expect((await api.request('DELETE', '/v1/tasks')).status).toBe(404);
  });

  it('answers 413 for a body over the 16 MiB batch limit', async () => {
    const res = await api.post('/v1/tasks/batch', 'x'.repeat(17 * 1024 * 1024));
    expect(res.status).toBe(413);
  });
});

/**
 * Sends `first` and then `GET /healthz` on one connection, written back to back: the statuses of
 * the answers it got, then the socket's error if the hub dropped the connection.
 */
async function pipelined(first: string): Promise<(number | string)[]> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let received = '';
  let error: string | undefined;
  socket.on('data', (d) => (received += d.toString('latin1')));
  socket.on('error', (err: NodeJS.ErrnoException) => (error ??= err.code ?? err.message));
  await new Promise((ok) => socket.once('connect', ok));
  socket.write(first);
  socket.write(`GET /healthz HTTP/1.1\r\nhost: ${hostname}\r\nconnection: close\r\n\r\n`);
  await new Promise((ok) => socket.once('close', ok));
  const statuses = [...received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
  return error ? [...statuses, error] : statuses;
}

function post(path: string, body: string, headers: Record<string, string> = {}): string {
  const lines = Object.entries({ host: '127.0.0.1', 'content-type': 'application/json', 'content-length': String(body.length), ...headers });
  return `POST ${path} HTTP/1.1\r\n${lines.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${body}`;
}

function chunked(path: string, body: string, headers: Record<string, string>): string {
  const lines = Object.entries({ host: '127.0.0.1', 'content-type': 'application/json', 'transfer-encoding': 'chunked', ...headers });
  const chunks = body.match(/[^]{1,16384}/g)!.map((c) => `${c.length.toString(16)}\r\n${c}\r\n`);
  return `POST ${path} HTTP/1.1\r\n${lines.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${chunks.join('')}0\r\n\r\n`;
}

describe('a refused request keeps its connection', () => {
  // A client that reuses a keep-alive connection may send its next request as soon as an answer
  // arrives; a hub that answered before reading a large body must not then drop that connection.
  const big = JSON.stringify({ task: 't', args: ['x'.repeat(300_000)] });
  const admin = { authorization: `Bearer ${TOKENS.admin}` };
  const queue = uniqueQueue('conn');

  it.each([
    ['no token (401)', post('/v1/tasks', big), 401],
    ['no such route (404)', post('/v1/nope', big, admin), 404],
    ['a declared length over the claim limit (413)', post(`/v1/queues/${queue}/claim`, big, admin), 413],
    ['a chunked body that grows past the claim limit (413)', chunked(`/v1/queues/${queue}/claim`, big, admin), 413],
    ['a body over 16 MiB (413)', post('/v1/tasks/batch', 'x'.repeat(17 * 1024 * 1024), admin), 413],
  ])('answers the request after one refused for %s', async (_name, request, status) => {
    expect(await pipelined(request)).toEqual([status, 200]);
  });

  it('answers the request after one that succeeded without reading its body', async () => {
    expect(await pipelined(post(`/v1/queues/${queue}/pause`, big, admin))).toEqual([200, 200]);
    expect((await api.get(`/v1/queues/${queue}`)).body.paused).toBe(true);
  });
});
