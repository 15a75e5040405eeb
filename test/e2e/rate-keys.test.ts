// Limits per rate key against npm start: a rate held across three regions' claimers, a 429 that pauses
// its host only, concurrency per key, the keys route and metrics, and bad input refused.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Api, uniqueQueue } from './system.ts';

const api = new Api(inject('hubUrl'));
const configure = (queue: string, body: unknown) => api.request('PUT', `/v1/queues/${queue}/config`, body);

/** Polls `fn` until `ok` holds or `ms` pass; answers the last value. */
async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function enqueue(tasks: Record<string, unknown>[]) {
  const res = await api.post('/v1/tasks/batch', { tasks });
  expect(res.status, res.text).toBe(202);
  return res.body.tasks.map((t: { id: string }) => t.id) as string[];
}

/**
 * A pull worker of one region: claims (waiting for work) again at once, acking what it got
 * meanwhile, so a busy machine slows its acks, not the pace it asks for the key's tasks at.
 */
async function worker(queue: string, region: string, starts: { at: number; region: string }[], stop: () => boolean): Promise<void> {
  const acks: Promise<void>[] = [];
  while (!stop()) {
    const res = await api.post(`/v1/queues/${queue}/claim`, { worker: `w-${region}`, region, max: 10, waitSeconds: 1 });
    expect(res.status, res.text).toBe(200);
    const at = Date.now();
    for (const job of res.body.jobs) {
      starts.push({ at, region });
      acks.push(api.post(`/v1/leases/${job.leaseId}/ack`, { result: null }).then((acked) => expect(acked.status, acked.text).toBe(200)));
    }
  }
  await Promise.all(acks);
}

describe('a rate per key', () => {
  it('holds within 10% across three regions claiming tasks of the same key', async () => {
    const queue = uniqueQueue('keys-rate');
    const RATE = 12;
    const TASKS = 84; // about 7 s of work at the rate
    expect((await configure(queue, { keyLimits: [{ match: 'site.test', rate: `${RATE}/s` }] })).status).toBe(200);
    // Regions no consumer of npm start serves: only these three pull workers take the tasks.
    const regions = ['keys-a', 'keys-b', 'keys-c'];
    await enqueue(Array.from({ length: TASKS }, (_, i) => ({ task: 'scrape', queue, region: regions[i % 3], rateKey: 'site.test' })));
    const taken: { at: number; region: string }[] = [];
    await Promise.all(regions.map((r) => worker(queue, r, taken, () => taken.length >= TASKS)));
    expect(taken).toHaveLength(TASKS);
    // Every region took its part: the limit is one for the key, not one per region.
    for (const r of regions) expect(taken.filter((t) => t.region === r).length, r).toBeGreaterThan(0);
    // When the hub started each task, by its own clock (a busy machine delays the workers' view of it, not this).
    const records = (await api.get(`/v1/tasks?queue=${queue}&limit=${TASKS}`)).body.tasks as { startedAt: string }[];
    expect(records).toHaveLength(TASKS);
    const starts = records.map((t) => Date.parse(t.startedAt)).sort((a, b) => a - b);
    // The key's burst (a quarter second's worth) goes at once: the rate is measured after it.
    const steady = starts.slice(4);
    const rate = (steady.length - 1) / ((steady[steady.length - 1] - steady[0]) / 1000);
    expect(rate).toBeGreaterThan(RATE * 0.9);
    expect(rate).toBeLessThan(RATE * 1.1);
    // Nor does any second see much more than the rate (the burst plus the rate at most).
    for (const [i, t] of starts.entries()) expect(starts.filter((s) => s >= t && s < t + 1000).length, `the second from job ${i}`).toBeLessThanOrEqual(RATE + 4);
    // Nothing left of the key to show: no tasks, no back-off.
    expect((await api.get(`/v1/queues/${queue}/keys`)).body).toEqual({ keys: [], nextCursor: null });
  }, 60_000);

  it('holds a concurrency per key, and an ack frees its slot', async () => {
    const queue = uniqueQueue('keys-conc');
    expect((await configure(queue, { keyLimits: [{ match: '*', concurrency: 2 }] })).status).toBe(200);
    await enqueue([...Array(4).fill('a.test'), ...Array(3).fill('b.test')].map((rateKey) => ({ task: 'scrape', queue, rateKey })));
    const first = await until(() => api.post(`/v1/queues/${queue}/claim`, { worker: 'w', max: 10 }), (r) => r.body.jobs.length > 0);
    const byKey = (jobs: { id: string }[]) => Promise.all(jobs.map(async (j) => (await api.get(`/v1/tasks/${j.id}`)).body.rateKey)).then((ks) => ks.sort());
    expect(await byKey(first.body.jobs)).toEqual(['a.test', 'a.test', 'b.test', 'b.test']);
    expect((await api.post(`/v1/queues/${queue}/claim`, { worker: 'w', max: 10 })).body.jobs).toEqual([]);
    const keys = (await api.get(`/v1/queues/${queue}/keys`)).body.keys;
    expect(keys).toEqual([
      { key: 'a.test', rate: null, concurrency: 2, currentRate: null, pausedUntil: null, running: 2, waiting: 2, rateLimited: 0 },
      { key: 'b.test', rate: null, concurrency: 2, currentRate: null, pausedUntil: null, running: 2, waiting: 1, rateLimited: 0 },
    ]);
    const a = first.body.jobs[0];
    const aKey = (await api.get(`/v1/tasks/${a.id}`)).body.rateKey;
    expect((await api.post(`/v1/leases/${a.leaseId}/ack`, { result: null })).status).toBe(200);
    const next = await api.post(`/v1/queues/${queue}/claim`, { worker: 'w', max: 10, waitSeconds: 5 });
    expect(await byKey(next.body.jobs)).toEqual([aKey]);
    // A page of one: the cursor goes on from the last key.
    const page = (await api.get(`/v1/queues/${queue}/keys?limit=1`)).body;
    expect(page).toMatchObject({ keys: [{ key: 'a.test' }], nextCursor: 'a.test' });
    expect((await api.get(`/v1/queues/${queue}/keys?limit=1&cursor=a.test`)).body).toMatchObject({ keys: [{ key: 'b.test' }], nextCursor: null });
  }, 30_000);
});

describe('a concurrency per key, one task a claim', () => {
  it('hands out as many of a key as its concurrency, counted right from its first lease', async () => {
    const queue = uniqueQueue('keys-one');
    expect((await configure(queue, { keyLimits: [{ match: 'one.test', concurrency: 3 }] })).status).toBe(200);
    await enqueue(Array.from({ length: 5 }, () => ({ task: 'scrape', queue, rateKey: 'one.test' })));
    const jobs: { leaseId: string }[] = [];
    for (let i = 0; i < 4; i++) jobs.push(...(await api.post(`/v1/queues/${queue}/claim`, { worker: 'w', max: 1 })).body.jobs);
    expect(jobs).toHaveLength(3);
    expect((await api.get(`/v1/queues/${queue}/keys`)).body.keys).toMatchObject([{ key: 'one.test', running: 3, waiting: 2 }]);
    expect((await api.post(`/v1/leases/${jobs[0].leaseId}/ack`, { result: null })).status).toBe(200);
    expect((await api.post(`/v1/queues/${queue}/claim`, { worker: 'w', max: 1, waitSeconds: 5 })).body.jobs).toHaveLength(1);
    expect((await api.post(`/v1/queues/${queue}/claim`, { worker: 'w', max: 1 })).body.jobs).toHaveLength(0);
  }, 30_000);
});

describe('a site that answers 429', () => {
  const hits: { host: string; path: string; at: number; status: number }[] = [];
  const servers: Server[] = [];
  const bases: string[] = [];
  const limitedOnce = new Set<string>();

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      const server = createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          const path = req.url!;
          // Host 0 answers the first call of each /limited path with 429 and Retry-After: 2.
          const status = i === 0 && path.startsWith('/limited') && !limitedOnce.has(path) ? 429 : 200;
          if (status === 429) limitedOnce.add(path);
          hits.push({ host: bases[i], path, at: Date.now(), status });
          res.writeHead(status, status === 429 ? { 'retry-after': '2' } : { 'content-type': 'application/json' });
          res.end(status === 429 ? 'slow down' : '{"ok":true}');
        });
      });
      await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
      servers.push(server);
      bases.push(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
    }
  });
  afterAll(() => Promise.all(servers.map((s) => new Promise<void>((ok) => s.close(() => ok())))));

  it('pauses that host only, for its Retry-After, without using up the task\'s attempts', async () => {
    const queue = uniqueQueue('keys-429');
    const [limited, other] = bases;
    const limitedKey = new URL(limited).host;
    expect((await configure(queue, { keyLimits: [{ match: '*', rate: '20/s' }] })).status).toBe(200);
    const [first] = await enqueue([{ task: 'scrape', queue, maxRetries: 0, http: { url: `${limited}/limited/${queue}` } }]);
    const refused = await until(async () => hits.find((h) => h.path === `/limited/${queue}`), (h) => h !== undefined);
    expect(refused!.status).toBe(429);
    // At once, another task of the paused host, and tasks of another host.
    const [second] = await enqueue([{ task: 'scrape', queue, http: { url: `${limited}/later/${queue}` } }]);
    const others = await enqueue(Array.from({ length: 3 }, (_, i) => ({ task: 'scrape', queue, http: { url: `${other}/ok/${queue}/${i}` } })));

    // While the host is paused: the keys route shows it, with its rate halved, and metrics say so.
    const paused = await until(
      async () => (await api.get(`/v1/queues/${queue}/keys`)).body.keys.find((k: { key: string }) => k.key === limitedKey),
      (k) => k?.rateLimited === 1,
    );
    expect(paused).toMatchObject({ rate: '20/s', currentRate: 10, rateLimited: 1 });
    // Paused for the Retry-After from when the runner reported it (a busy machine reports later, never sooner).
    expect(paused.pausedUntil).toBeGreaterThanOrEqual(refused!.at + 1950);
    expect(paused.pausedUntil).toBeLessThanOrEqual(refused!.at + 2000 + 3000);
    const asked = Date.now();
    const metrics = (await api.get('/metrics')).text;
    // 1 while paused, 0 after: a metrics answer on a busy machine may come after the pause ended.
    const pausedNow = /drover_key_paused\{queue="[^"]*",key="[^"]*"\} (\d)/.exec(metrics.split('\n').find((l) => l.startsWith(`drover_key_paused{queue="${queue}",key="${limitedKey}"}`)) ?? '');
    expect(pausedNow, metrics).not.toBeNull();
    if (Date.now() < paused.pausedUntil) expect(pausedNow![1]).toBe('1');
    else if (asked > paused.pausedUntil) expect(pausedNow![1]).toBe('0');
    expect(metrics).toContain(`drover_key_rate_limited_total{queue="${queue}",key="${limitedKey}"} 1`);

    // The other host was served while this one was paused: its requests came before the pause ended.
    for (const id of others) expect((await api.get(`/v1/tasks/${id}?wait=10`)).body.state).toBe('succeeded');
    const otherHits = hits.filter((h) => h.path.startsWith(`/ok/${queue}/`));
    expect(otherHits).toHaveLength(3);
    expect(Math.max(...otherHits.map((h) => h.at))).toBeLessThan(paused.pausedUntil);

    const done = (await api.get(`/v1/tasks/${first}?wait=15`)).body;
    expect(done).toMatchObject({ state: 'succeeded', attempts: 1, maxRetries: 0, rateKey: limitedKey });
    expect(done.attemptLog.map((a: { outcome: string }) => a.outcome)).toEqual(['rateLimited', 'succeeded']);
    expect((await api.get(`/v1/tasks/${second}?wait=15`)).body.state).toBe('succeeded');
    // The host's next request came no sooner than the pause's end, and not long after it.
    const next = hits.filter((h) => h.host === limited && h.at > refused!.at && h.path.includes(queue));
    const soonest = Math.min(...next.map((h) => h.at));
    expect(soonest).toBeGreaterThanOrEqual(paused.pausedUntil - 50);
    expect(soonest - refused!.at).toBeGreaterThanOrEqual(1950);
    expect(soonest - paused.pausedUntil).toBeLessThan(5000);
  }, 40_000);
});

describe('rateKey wherever a task is enqueued', () => {
  it('a schedule, a workflow step and the batch route keep it on their tasks', async () => {
    const queue = uniqueQueue('keys-where');
    const id = `keys-${queue}`;
    const made = await api.post('/v1/schedules', { id, every: 3600, task: 'scrape', queue, rateKey: 'sched.test' });
    expect(made.status, made.text).toBe(201);
    expect((await api.get(`/v1/schedules/${id}`)).body.rateKey).toBe('sched.test');
    expect((await api.post('/v1/schedules', { id: `${id}-bad`, every: 3600, task: 'scrape', queue, rateKey: '' })).status).toBe(400);
    const run = await api.post(`/v1/schedules/${id}/run`);
    expect(run.status, run.text).toBe(202);
    const flow = await api.post('/v1/workflows', { chain: [{ task: 'scrape', queue, rateKey: 'flow.test' }] });
    expect(flow.status, flow.text).toBe(202);
    const [batched] = await enqueue([{ task: 'scrape', queue, rateKey: 'batch.test' }]);
    const keys = await until(
      async () => (await api.get(`/v1/tasks?queue=${queue}`)).body.tasks.map((t: { rateKey: string }) => t.rateKey).sort(),
      (k: string[]) => k.length === 3,
    );
    expect(keys).toEqual(['batch.test', 'flow.test', 'sched.test']);
    expect((await api.get(`/v1/tasks/${batched}`)).body.rateKey).toBe('batch.test');
    await api.request('DELETE', `/v1/schedules/${id}`);
  });
});

describe('bad keyLimits and rateKey', () => {
  it('get 400 and change nothing', async () => {
    const queue = uniqueQueue('keys-bad');
    const good = [{ match: '*.example.com', rate: '10/s', concurrency: 4 }];
    expect((await configure(queue, { keyLimits: good })).body.config.keyLimits).toEqual(good);
    for (const keyLimits of [
      [{ match: 'x' }],
      [{ match: 'x', rate: '10/d' }],
      [{ match: 'x', rate: '0/s' }],
      [{ match: 'x', concurrency: 0 }],
      [{ match: 'x', concurrency: 100_001 }],
      [{ match: '', rate: '1/s' }],
      [{ match: 'a\u0007b', rate: '1/s' }],
      [{ match: 'x', rate: '1/s', extra: true }],
      Array.from({ length: 101 }, (_, i) => ({ match: `k${i}`, rate: '1/s' })),
      { match: 'x', rate: '1/s' },
      'all',
    ]) {
      const res = await configure(queue, { keyLimits, rateLimit: '5/s' });
      expect(res.status, JSON.stringify(keyLimits).slice(0, 80)).toBe(400);
    }
    expect((await api.get(`/v1/queues/${queue}`)).body.config).toMatchObject({ keyLimits: good, rateLimit: null });
    expect((await configure(queue, { keyLimits: null })).body.config.keyLimits).toBeNull();

    for (const rateKey of ['', 'a\nb', 'x'.repeat(201), 42, ['a']]) {
      const res = await api.post('/v1/tasks', { task: 'scrape', queue, rateKey });
      expect(res.status, JSON.stringify(rateKey)).toBe(400);
      const batch = await api.post('/v1/tasks/batch', { tasks: [{ task: 'scrape', queue }, { task: 'scrape', queue, rateKey }] });
      expect(batch.status, JSON.stringify(rateKey)).toBe(400);
    }
    expect((await api.get(`/v1/tasks?queue=${queue}`)).body.tasks).toEqual([]);
    for (const q of ['limit=0', 'limit=1001', 'limit=x', 'cursor=', 'other=1']) expect((await api.get(`/v1/queues/${queue}/keys?${q}`)).status, q).toBe(400);

    // A fail's rateLimited must be a boolean; the lease is still the worker's after the refusal.
    await enqueue([{ task: 'scrape', queue, rateKey: 'k' }]);
    const [job] = (await until(() => api.post(`/v1/queues/${queue}/claim`, { worker: 'w' }), (r) => r.body.jobs.length > 0)).body.jobs;
    const bad = await api.post(`/v1/leases/${job.leaseId}/fail`, { error: { type: 'X', message: 'm' }, rateLimited: 'yes' });
    expect(bad.status).toBe(400);
    const ok = await api.post(`/v1/leases/${job.leaseId}/fail`, { error: { type: 'RateLimited', message: '429' }, rateLimited: true, delaySeconds: 1 });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.state).toBe('delayed');
    expect((await api.get(`/v1/tasks/${job.id}`)).body).toMatchObject({ attempts: 0, rateKey: 'k' });
  }, 30_000);
});
