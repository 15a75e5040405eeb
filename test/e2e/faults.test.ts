// Faults against npm start: a worker frozen past its lease, and a poison task among healthy ones.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, TOKENS, sleep, startSystem, uniqueQueue, type System } from './system.ts';
import { spawnWorker, waitFor } from './workers.ts';

let system: System;
let api: Api;
beforeAll(async () => {
  // No DROVER_HTTP_ALLOW here: this system must refuse the loopback address the others may call.
  system = await startSystem({ env: { DROVER_HTTP_ALLOW: '' } });
  api = system.api;
});
afterAll(() => system?.stop());

describe('a worker frozen past its lease (SIGSTOP), then resumed', () => {
  it('has its late ack refused, and the other worker\'s result stands', async () => {
    const queue = uniqueQueue('stop');
    const { body } = await api.post('/v1/tasks', { task: 'test.stall', queue, timeout: 2, retryDelay: 0.1 });
    const frozen = spawnWorker({ url: system.url, token: TOKENS.consume, queue, name: 'frozen', concurrency: 1 });
    const fresh = spawnWorker({ url: system.url, token: TOKENS.consume2, queue, name: 'fresh', concurrency: 1 });
    try {
      await waitFor('a worker to start the task', async () => (await api.get(`/v1/tasks/${body.id}`)).body.state === 'running');
      const first = (await api.get(`/v1/tasks/${body.id}`)).body.worker;
      const [stuck, other] = first === 'frozen' ? [frozen, fresh] : [fresh, frozen];
      stuck.signal('SIGSTOP');
      const done = (await api.get(`/v1/tasks/${body.id}?wait=30`)).body;
      expect(done).toMatchObject({ state: 'succeeded', attempts: 2, worker: other.name, result: { worker: other.name, attempt: 2 } });
      stuck.signal('SIGCONT');
      // Awake again, it learns at its next heartbeat that the lease is gone; its report is refused.
      await waitFor('the stale report to be refused', async () => /refused/.test(stuck.output()), 20_000);
      await sleep(500);
      expect((await api.get(`/v1/tasks/${body.id}`)).body).toMatchObject({ state: 'succeeded', worker: other.name, result: { worker: other.name } });
    } finally {
      frozen.signal('SIGCONT');
      frozen.signal('SIGTERM');
      fresh.signal('SIGTERM');
      await Promise.all([frozen.exited, fresh.exited]);
    }
  });
});

describe('a poison task', () => {
  it('ends in the dead letters after exactly maxRetries + 1 attempts while the queue keeps moving', async () => {
    const queue = uniqueQueue('poison');
    const poison = await api.post('/v1/tasks', { task: 'test.flaky', queue, maxRetries: 3, retryDelay: 0.2 });
    const healthy = await api.post('/v1/tasks/batch', { tasks: Array.from({ length: 40 }, (_, i) => ({ task: 'test.echo', args: [i], queue })) });
    const w = spawnWorker({ url: system.url, token: TOKENS.consume, queue, name: 'poisoned', concurrency: 4 });
    try {
      const dead = (await api.get(`/v1/tasks/${poison.body.id}?wait=30`)).body;
      expect(dead).toMatchObject({ state: 'failed', attempts: 4, error: { type: 'Error', message: 'always broken' } });
      expect((await api.get(`/v1/queues/${queue}/dead`)).body.tasks.map((t: any) => t.id)).toEqual([poison.body.id]);
      const states = await Promise.all(healthy.body.tasks.map((t: any) => api.get(`/v1/tasks/${t.id}?wait=20`).then((r) => r.body.state)));
      expect(states).toEqual(Array(40).fill('succeeded'));
    } finally {
      w.signal('SIGTERM');
      await w.exited;
    }
  });
});

describe('HTTP tasks without an allow list', () => {
  it('refuse a URL pointing at 127.0.0.1, http or https', async () => {
    const queue = uniqueQueue('ssrf');
    for (const url of ['http://127.0.0.1:9/x', 'https://127.0.0.1/x', 'https://[::ffff:127.0.0.1]/x']) {
      const res = await api.post('/v1/tasks', { task: 'hook', queue, http: { url } });
      expect(res.status, url).toBe(400);
    }
    expect((await api.post('/v1/tasks', { task: 'hook', queue, callback: { url: 'https://127.0.0.1/cb' } })).status).toBe(400);
    expect((await api.get(`/v1/tasks?queue=${queue}`)).body.tasks).toEqual([]);
  });
});

describe('Workers without an allow list', () => {
  // On Cloudflare a subrequest to a name that resolves to a private or loopback address is refused
  // (error 1000); npm start refuses it too, on the address it would connect to.
  it('cannot reach loopback, by address or by a name that resolves to it', async () => {
    const visits: string[] = [];
    const site = createServer((req, res) => {
      visits.push(req.url!);
      res.end('<title>loopback</title>');
    });
    await new Promise<void>((ok) => site.listen(0, '127.0.0.1', ok));
    try {
      const port = (site.address() as AddressInfo).port;
      const queue = uniqueQueue('outbound');
      for (const host of ['127.0.0.1', 'localhost', 'localhost.']) {
        // A regional consumer's task fetches the URL it is given: what an HTTP task's name resolving to loopback would do.
        const url = `http://${host}:${port}/weur/${queue}`;
        const { body } = await api.post('/v1/tasks', { task: 'scrape.page', args: [url], queue, region: 'weur', maxRetries: 0 });
        const done = (await api.get(`/v1/tasks/${body.id}?wait=30`)).body;
        expect(done, host).toMatchObject({ state: 'failed', worker: 'weur-regional', error: { message: expect.stringMatching(/could not connect to .*not public/) } });
      }
      expect(visits).toEqual([]);
    } finally {
      await new Promise<void>((ok) => site.close(() => ok()));
    }
  });
});
