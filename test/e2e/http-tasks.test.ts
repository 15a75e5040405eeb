// HTTP tasks and callbacks against npm start and a local endpoint: signed, retried as promised, guarded.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { verifyWebhook } from '../../src/core/signing.ts';
import { Api, SIGNING_KEY, sleep, uniqueQueue } from './system.ts';
import { waitFor } from './workers.ts';

const api = new Api(inject('hubUrl'));
interface Hit {
  path: string;
  at: number;
  body: any;
  signed: boolean;
  headers: Record<string, string | string[] | undefined>;
}
const hits: Hit[] = [];
const flakyCalls = new Map<string, number>();
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', async () => {
      const path = req.url!.split('?')[0];
      const hit = { path, at: Date.now(), body: raw ? JSON.parse(raw) : null, signed: await verifyWebhook([SIGNING_KEY], req.headers, raw), headers: req.headers };
      hits.push(hit);
      const key = req.url!;
      if (path.startsWith('/flaky')) {
        const n = (flakyCalls.get(key) ?? 0) + 1;
        flakyCalls.set(key, n);
        if (n === 1) {
          res.writeHead(503, { 'retry-after': '2' });
          return res.end('busy');
        }
      }
      if (path.startsWith('/redirect')) {
        res.writeHead(302, { location: `${base}/ok${path.slice('/redirect'.length)}` });
        return res.end();
      }
      if (path.startsWith('/missing')) {
        res.writeHead(404);
        return res.end('no such page');
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: true, path, args: hit.body?.args }));
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

const wait = (id: string) => api.get(`/v1/tasks/${id}?wait=30`).then((r) => r.body);

describe('HTTP tasks', () => {
  it('call the endpoint, signed, and record its answer as the result', async () => {
    const queue = uniqueQueue('http');
    const { body } = await api.post('/v1/tasks', { task: 'hook.ok', args: [1, 'two'], kwargs: { k: true }, queue, http: { url: `${base}/ok/${queue}`, headers: { 'x-api-key': 'secret' } } });
    const done = await wait(body.id);
    expect(done).toMatchObject({ state: 'succeeded', attempts: 1, worker: 'hub-http', result: { ok: true, path: `/ok/${queue}`, args: [1, 'two'] } });
    const hit = hits.find((h) => h.path === `/ok/${queue}`)!;
    expect(hit.body).toEqual({ id: body.id, task: 'hook.ok', args: [1, 'two'], kwargs: { k: true }, attempt: 1 });
    expect(hit.signed).toBe(true);
    expect(hit.headers['x-api-key']).toBe('secret');
    expect(hit.headers['webhook-id']).toBe(body.id);
  });

  it('retry on 503 after its Retry-After, then succeed, the rate-limited attempt not counted', async () => {
    const queue = uniqueQueue('http');
    const { body } = await api.post('/v1/tasks', { task: 'hook.flaky', queue, retryDelay: 0.1, http: { url: `${base}/flaky/${queue}` } });
    const done = await wait(body.id);
    expect(done).toMatchObject({ state: 'succeeded', attempts: 1, rateKey: new URL(base).host });
    expect(done.attemptLog.map((a: { outcome: string }) => a.outcome)).toEqual(['rateLimited', 'succeeded']);
    const calls = hits.filter((h) => h.path === `/flaky/${queue}`);
    expect(calls).toHaveLength(2);
    expect(calls[1].at - calls[0].at).toBeGreaterThanOrEqual(1900);
  });

  it('fail for good on 404, at the first attempt', async () => {
    const queue = uniqueQueue('http');
    const { body } = await api.post('/v1/tasks', { task: 'hook.missing', queue, maxRetries: 5, http: { url: `${base}/missing/${queue}` } });
    expect(await wait(body.id)).toMatchObject({ state: 'failed', attempts: 1, error: { type: 'Http404' } });
  });

  it('run in their region: a weur HTTP task is called by the weur consumer', async () => {
    const queue = uniqueQueue('http');
    const { body } = await api.post('/v1/tasks', { task: 'hook.eu', queue, region: 'weur', http: { url: `${base}/ok/eu-${queue}` } });
    expect(await wait(body.id)).toMatchObject({ state: 'succeeded', worker: 'weur-regional', region: 'weur' });
  });

  it('are refused at the door when they point somewhere they must not', async () => {
    const queue = uniqueQueue('http');
    for (const [url, why] of [
      ['https://127.0.0.2/x', /private/],
      ['https://169.254.169.254/latest/meta-data/', /private/],
      ['https://[::1]/x', /private/],
      ['https://localhost/x', /private/],
      ['http://example.com/x', /https/],
      ['file:///etc/passwd', /https/],
    ] as const) {
      const res = await api.post('/v1/tasks', { task: 'hook.bad', queue, http: { url } });
      expect(res.status, url).toBe(400);
      expect(res.body.error.message).toMatch(why);
    }
    expect((await api.post('/v1/tasks', { task: 'h', queue, callback: { url: 'https://10.0.0.1/cb' } })).status).toBe(400);
    expect((await api.post('/v1/tasks', { task: 'h', queue, http: { url: `${base}/ok`, headers: { 'webhook-signature': 'forged' } } })).status).toBe(400);
    expect((await api.get(`/v1/tasks?queue=${queue}`)).body.tasks).toEqual([]);
  });
});

describe('the guard on where HTTP tasks and callbacks go', () => {
  // Each was taken at 823f1f8: a trailing dot, IPv4 inside IPv6, IANA blocks the guard did not list,
  // and a public name that wildcard DNS answers with a private address.
  const bypasses = [
    'https://localhost./x',
    'https://metadata.google.internal./computeMetadata/v1/',
    'https://intranet./x',
    'https://[::127.0.0.1]/x',
    'https://[::ffff:0:127.0.0.1]/x',
    'https://[64:ff9b:1::a00:1]/x',
    'https://[2002:a9fe:a9fe::]/latest/meta-data/',
    'https://[fec0::1]/x',
    'https://[ff02::1]/x',
    'https://192.0.2.1/x',
    'https://127.0.0.1.nip.io/x',
    'https://169-254-169-254.sslip.io/latest/meta-data/',
  ];

  it('refuses every spelling of a private, loopback or reserved host with 400, and enqueues nothing', async () => {
    const queue = uniqueQueue('guard');
    for (const url of bypasses) {
      const http = await api.post('/v1/tasks', { task: 'hook.bad', queue, http: { url } });
      expect(http.status, url).toBe(400);
      expect(http.body.error).toMatchObject({ code: 'invalid_request', details: { field: 'http.url' } });
      expect(http.body.error.message, url).toMatch(/not public host .*DROVER_HTTP_ALLOW can allow it/);
      const callback = await api.post('/v1/tasks', { task: 'hook.bad', queue, callback: { url } });
      expect(callback.status, url).toBe(400);
      expect(callback.body.error).toMatchObject({ code: 'invalid_request', details: { field: 'callback.url' } });
    }
    expect((await api.get(`/v1/tasks?queue=${queue}`)).body.tasks).toEqual([]);
  });

  it('lets the allow-listed 127.0.0.1 through in other spellings of the same address', async () => {
    const queue = uniqueQueue('guard');
    const port = new URL(base).port;
    const { body } = await api.post('/v1/tasks', { task: 'hook.ok', queue, http: { url: `http://127.0.0.1.:${port}/ok/dot-${queue}` } });
    expect(await wait(body.id)).toMatchObject({ state: 'succeeded', result: { path: `/ok/dot-${queue}` } });
  });

  it('never follows a redirect: the task fails as the 302, the callback is tried again, the target is never called', async () => {
    const queue = uniqueQueue('guard');
    const { body } = await api.post('/v1/tasks', {
      task: 'hook.moved', queue, maxRetries: 3, http: { url: `${base}/redirect/task-${queue}` }, callback: { url: `${base}/redirect/cb-${queue}` },
    });
    expect(await wait(body.id)).toMatchObject({ state: 'failed', attempts: 1, error: { type: 'Http302' } });
    // The callback answered 302 twice (tried again after a second): it was not taken as delivered, nor followed.
    for (const deadline = Date.now() + 20_000; hits.filter((h) => h.path === `/redirect/cb-${queue}`).length < 2; ) {
      if (Date.now() > deadline) throw new Error('the callback was not tried again');
      await sleep(100);
    }
    expect(hits.filter((h) => h.path.startsWith('/ok/') && h.path.endsWith(queue))).toEqual([]);
  });
});

describe('callbacks', () => {
  it('arrive once per final state, signed, with the task record', async () => {
    const queue = uniqueQueue('cb');
    const { body } = await api.post('/v1/tasks', { task: 'hook.ok', args: [7], queue, http: { url: `${base}/ok/cb-${queue}` }, callback: { url: `${base}/callback/${queue}` } });
    await wait(body.id);
    await waitFor('the callback', async () => hits.some((h) => h.path === `/callback/${queue}`));
    await sleep(2500); // and no second one
    const calls = hits.filter((h) => h.path === `/callback/${queue}`);
    expect(calls).toHaveLength(1);
    expect(calls[0].signed).toBe(true);
    expect(calls[0].body).toMatchObject({ id: body.id, task: 'hook.ok', state: 'succeeded', attempts: 1, result: { ok: true }, queue });
  });

  it('are retried until a 2xx', async () => {
    const queue = uniqueQueue('cb');
    const { body } = await api.post('/v1/tasks', { task: 'hook.ok', queue, http: { url: `${base}/ok/r-${queue}` }, callback: { url: `${base}/flaky/cb-${queue}` } });
    await wait(body.id);
    const calls = await (async () => {
      for (let i = 0; i < 60; i++) {
        const c = hits.filter((h) => h.path === `/flaky/cb-${queue}`);
        if (c.length >= 2) return c;
        await sleep(200);
      }
      return hits.filter((h) => h.path === `/flaky/cb-${queue}`);
    })();
    expect(calls).toHaveLength(2);
    expect(calls.every((c) => c.signed && c.body.state === 'succeeded')).toBe(true);
    await sleep(3000);
    expect(hits.filter((h) => h.path === `/flaky/cb-${queue}`)).toHaveLength(2);
  });
});
