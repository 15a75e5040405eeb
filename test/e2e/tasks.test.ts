// Tasks over HTTP: the tour, read-your-writes, ?wait, delay/eta/expires, idempotency, revoke, list (by region too).
import { describe, expect, inject, it } from 'vitest';
import { Api, TOKENS, claimAll, sleep, uniqueQueue } from './system.ts';
import { createClient } from '../../src/sdk/index.ts';
import { newTaskId } from '../../src/core/ids.ts';

const api = new Api(inject('hubUrl'));

describe('a task from enqueue to result', () => {
  it('is enqueued, claimed, acked, and its result read back', async () => {
    const queue = uniqueQueue();
    const enq = await api.post('/v1/tasks', { task: 'scrape.page', args: ['https://example.cn'], kwargs: { depth: 1 }, queue, priority: 7 });
    expect(enq.status).toBe(202);
    expect(enq.body).toEqual({ id: expect.any(String), state: 'queued' });

    // Read your writes: the task is there at once.
    const got = await api.get(`/v1/tasks/${enq.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id: enq.body.id, task: 'scrape.page', state: 'queued', attempts: 0, queue, region: null, priority: 7, result: null });

    const [job] = await claimAll(api.as(TOKENS.consume), queue, 1);
    expect(job).toMatchObject({ id: enq.body.id, task: 'scrape.page', args: ['https://example.cn'], kwargs: { depth: 1 }, queue, attempt: 1, maxRetries: 3, priority: 7 });
    expect(Date.parse(job.leaseExpiresAt)).toBeGreaterThan(Date.now() + 50_000);
    expect((await api.get(`/v1/tasks/${job.id}`)).body.state).toBe('running');

    const ack = await api.as(TOKENS.consume).post(`/v1/leases/${job.leaseId}/ack`, { result: { title: 'hello' } });
    expect(ack).toMatchObject({ status: 200, body: { state: 'succeeded' } });

    const done = await api.get(`/v1/tasks/${job.id}?wait=5`);
    expect(done.body).toMatchObject({ state: 'succeeded', attempts: 1, result: { title: 'hello' }, worker: 'e2e', error: null });
    expect(done.body.finishedAt).not.toBeNull();
  });

  it('holds GET ?wait until the task is final', async () => {
    const queue = uniqueQueue();
    const { body } = await api.post('/v1/tasks', { task: 't', queue });
    const waiting = api.get(`/v1/tasks/${body.id}?wait=20`);
    const [job] = await claimAll(api, queue, 1);
    await sleep(300);
    await api.post(`/v1/leases/${job.leaseId}/ack`, { result: 42 });
    const started = Date.now();
    const res = await waiting;
    expect(res.body).toMatchObject({ state: 'succeeded', result: 42 });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('answers ?wait on an unfinished task after the wait with its current state', async () => {
    const queue = uniqueQueue();
    const { body } = await api.post('/v1/tasks', { task: 't', queue });
    const started = Date.now();
    const res = await api.get(`/v1/tasks/${body.id}?wait=1`);
    expect(res.body.state).toBe('queued');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('answers 404 for an unknown id', async () => {
    expect((await api.get('/v1/tasks/01ARZ3NDEKTSV4RRFFQ69G5FAV')).body.error.code).toBe('not_found');
    expect((await api.get('/v1/tasks/not-an-id')).status).toBe(404);
    expect((await api.get('/v1/tasks/0b6a5c3e-8f1d-4a7b-9c2e-1f3a5b7c9d0e')).status).toBe(404);
    // A ULID of a moment ago that no task has: 404 once its record could no longer be on its way
    // (docs/protocol.md); one made ahead of the clock, at once.
    expect((await api.get(`/v1/tasks/${newTaskId(Date.now() - 8_000)}`)).body.error.code).toBe('not_found');
    expect((await api.get(`/v1/tasks/${newTaskId(Date.now() + 3_600_000)}`)).body.error.code).toBe('not_found');
  });

  it('finds each task by id as soon as its enqueue is answered, 50 in flight over the producer socket and over HTTP', async () => {
    const queue = uniqueQueue();
    const client = createClient({ url: inject('hubUrl'), token: TOKENS.enqueue });
    const producer = client.producer();
    const read: string[] = [];
    try {
      await Promise.all(Array.from({ length: 50 }, async (_, lane) => {
        for (let i = 0; i < 8; i++) {
          const { id } = await (lane % 2 ? producer : client).enqueue('readback', [lane, i], { queue });
          const got = await api.get(`/v1/tasks/${id}`);
          read.push(got.status === 200 ? `${got.body.queue} ${got.body.args.join(',')}` : `${id}: ${got.status}`);
        }
      }));
    } finally {
      await producer.close();
    }
    const want = Array.from({ length: 400 }, (_, k) => `${queue} ${Math.floor(k / 8)},${k % 8}`);
    expect(read.sort()).toEqual(want.sort());
  });
});

describe('timing', () => {
  it('keeps a delayed task out of claims until its time, then hands it out', async () => {
    const queue = uniqueQueue();
    // Before the hub made the task: its time is at least two seconds after this, however busy the machine.
    const sent = Date.now();
    const enq = await api.post('/v1/tasks', { task: 't', queue, delay: 2 });
    expect(enq.body.state).toBe('delayed');
    expect((await api.get(`/v1/tasks/${enq.body.id}`)).body.state).toBe('delayed');
    const early = await api.post(`/v1/queues/${queue}/claim`, { worker: 'w', max: 10 });
    expect(early.body.jobs).toEqual([]);
    const late = await api.post(`/v1/queues/${queue}/claim`, { worker: 'w', max: 10, waitSeconds: 10 });
    expect(late.body.jobs.map((j: any) => j.id)).toEqual([enq.body.id]);
    expect(Date.now() - sent).toBeGreaterThanOrEqual(2000);
  });

  it('accepts an RFC 3339 eta', async () => {
    const queue = uniqueQueue();
    const eta = new Date(Date.now() + 1500).toISOString();
    const enq = await api.post('/v1/tasks', { task: 't', queue, eta });
    expect(enq.body.state).toBe('delayed');
    const [job] = await claimAll(api, queue, 1, {}, 10_000);
    expect(job.id).toBe(enq.body.id);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(eta) - 50);
  });

  it('expires a task not started in time', async () => {
    const queue = uniqueQueue();
    const enq = await api.post('/v1/tasks', { task: 't', queue, delay: 3, expires: 1 });
    const res = await api.get(`/v1/tasks/${enq.body.id}?wait=10`);
    expect(res.body.state).toBe('expired');
    expect((await api.post(`/v1/queues/${queue}/claim`, { worker: 'w', max: 10, waitSeconds: 3 })).body.jobs).toEqual([]);
  });
});

describe('idempotency', () => {
  it('returns the first task for a repeated key and creates nothing new', async () => {
    const queue = uniqueQueue();
    const key = `order-${queue}`;
    const first = await api.post('/v1/tasks', { task: 't', queue, idempotencyKey: key });
    const again = await api.post('/v1/tasks', { task: 't', queue, idempotencyKey: key, args: [1] });
    expect(first.status).toBe(202);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: first.body.id, duplicate: true });
    const batch = await api.post('/v1/tasks/batch', { tasks: [{ task: 't', queue, idempotencyKey: key }, { task: 't', queue, idempotencyKey: `${key}-b` }, { task: 't', queue, idempotencyKey: `${key}-b` }] });
    expect(batch.body.tasks[0]).toMatchObject({ id: first.body.id, duplicate: true });
    expect(batch.body.tasks[2]).toMatchObject({ id: batch.body.tasks[1].id, duplicate: true });
    const jobs = await claimAll(api, queue, 3, {}, 3000);
    expect(jobs.map((j) => j.id).sort()).toEqual([first.body.id, batch.body.tasks[1].id].sort());
  });
});

describe('revoke', () => {
  it('keeps a queued task from ever running', async () => {
    const queue = uniqueQueue();
    const { body } = await api.post('/v1/tasks', { task: 't', queue });
    expect((await api.post(`/v1/tasks/${body.id}/revoke`)).body).toEqual({ state: 'revoked' });
    expect((await api.get(`/v1/tasks/${body.id}`)).body.state).toBe('revoked');
    expect((await api.post(`/v1/queues/${queue}/claim`, { worker: 'w', max: 5, waitSeconds: 1 })).body.jobs).toEqual([]);
    expect((await api.post(`/v1/tasks/${body.id}/revoke`)).status).toBe(409);
  });

  it('tells a running task at its next heartbeat and ends it revoked whatever it reports', async () => {
    const queue = uniqueQueue();
    const { body } = await api.post('/v1/tasks', { task: 't', queue });
    const [job] = await claimAll(api, queue, 1);
    expect((await api.post(`/v1/leases/${job.leaseId}/heartbeat`, {})).body.revoked).toBe(false);
    expect((await api.post(`/v1/tasks/${body.id}/revoke`)).status).toBe(200);
    expect((await api.post(`/v1/leases/${job.leaseId}/heartbeat`, { progress: 0.5 })).body.revoked).toBe(true);
    expect((await api.post(`/v1/leases/${job.leaseId}/ack`, { result: 'done anyway' })).body).toEqual({ state: 'revoked' });
    const final = await api.get(`/v1/tasks/${body.id}`);
    expect(final.body).toMatchObject({ state: 'revoked', result: null });
  });

  it('refuses to revoke a finished task with 409', async () => {
    const queue = uniqueQueue();
    const { body } = await api.post('/v1/tasks', { task: 't', queue });
    const [job] = await claimAll(api, queue, 1);
    await api.post(`/v1/leases/${job.leaseId}/ack`, { result: 1 });
    const res = await api.post(`/v1/tasks/${body.id}/revoke`);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('conflict');
  });

  it('revokes a failed task replayed from the dead letters, and refuses one that failed for good', async () => {
    const queue = uniqueQueue();
    const fail = async (id: string) => {
      const [job] = await claimAll(api, queue, 1);
      expect(job.id).toBe(id);
      expect((await api.post(`/v1/leases/${job.leaseId}/fail`, { error: { type: 'E', message: 'no' }, retry: false })).body).toEqual({ state: 'failed' });
    };
    const { body } = await api.post('/v1/tasks', { task: 't', queue });
    await fail(body.id);
    // A dead letter: it may still be replayed, but as it is, it is failed.
    expect((await api.post(`/v1/tasks/${body.id}/revoke`)).status).toBe(409);
    // Replayed, it is queued again at once, whatever D1 has heard yet.
    expect((await api.post(`/v1/queues/${queue}/dead/replay`, {})).body).toEqual({ replayed: 1 });
    expect((await api.get(`/v1/tasks/${body.id}`)).body.state).toBe('queued');
    expect((await api.post(`/v1/tasks/${body.id}/revoke`)).body).toEqual({ state: 'revoked' });
    // Failed again and purged from the dead letters, it stays failed.
    const second = await api.post('/v1/tasks', { task: 't', queue });
    await fail(second.body.id);
    // Purged at once: the purge waits for D1 to have the task's end.
    expect((await api.request('DELETE', `/v1/queues/${queue}/dead`)).body).toEqual({ purged: 1 });
    const res = await api.post(`/v1/tasks/${second.body.id}/revoke`);
    expect(res.status).toBe(409);
    expect((await api.get(`/v1/tasks/${second.body.id}`)).body.state).toBe('failed');
  });
});

describe('listing', () => {
  it('filters by queue, task and state, newest first, page by page', async () => {
    const queue = uniqueQueue();
    const made = await api.post('/v1/tasks/batch', { tasks: Array.from({ length: 7 }, (_, i) => ({ task: i % 2 ? 'odd' : 'even', queue })) });
    const ids = made.body.tasks.map((t: any) => t.id);
    const page1 = await api.get(`/v1/tasks?queue=${queue}&limit=4`);
    expect(page1.body.tasks.map((t: any) => t.id)).toEqual([...ids].reverse().slice(0, 4));
    const page2 = await api.get(`/v1/tasks?queue=${queue}&limit=4&cursor=${page1.body.cursor}`);
    expect(page2.body.tasks.map((t: any) => t.id)).toEqual([...ids].reverse().slice(4));
    expect(page2.body.cursor).toBeNull();
    const odd = await api.get(`/v1/tasks?queue=${queue}&task=odd`);
    expect(odd.body.tasks).toHaveLength(3);
    const [job] = await claimAll(api, queue, 1);
    await api.post(`/v1/leases/${job.leaseId}/ack`, { result: null });
    await api.get(`/v1/tasks/${job.id}?wait=5`);
    // The list reads D1, which the queue's object writes the end to just after.
    await expect.poll(async () => (await api.get(`/v1/tasks?queue=${queue}&state=succeeded`)).body.tasks.map((t: any) => t.id), { timeout: 15_000 }).toEqual([job.id]);
  });
});

describe('listing by region', () => {
  it('finds a large batch (recorded in D1 first) and a single enqueue (recorded by its queue) alike, page by page', async () => {
    const queue = uniqueQueue();
    const region = `r${Date.now().toString(36)}`;
    const made = await api.post('/v1/tasks/batch', {
      tasks: Array.from({ length: 60 }, (_, i) => ({ task: 'regional', queue, priority: i % 10, maxRetries: 0, ...(i % 3 === 0 && { region }) })),
    });
    expect(made.status).toBe(202);
    const single = await api.post('/v1/tasks', { task: 'regional', queue, region, kwargs: { k: 1 }, delay: 60 });
    expect(single.status).toBe(202);
    const want = [...made.body.tasks.filter((_: unknown, i: number) => i % 3 === 0).map((t: any) => t.id), single.body.id].reverse();
    const page1 = await api.get(`/v1/tasks?region=${region}&limit=15`);
    const page2 = await api.get(`/v1/tasks?region=${region}&limit=15&cursor=${page1.body.cursor}`);
    expect([...page1.body.tasks, ...page2.body.tasks].map((t: any) => t.id)).toEqual(want);
    expect(page2.body.cursor).toBeNull();
    expect(page1.body.tasks[0]).toMatchObject({ id: single.body.id, region, state: 'delayed', kwargs: { k: 1 }, priority: 5, maxRetries: 3 });
    expect(page2.body.tasks.at(-1)).toMatchObject({ id: made.body.tasks[0].id, region, state: 'queued', priority: 0, maxRetries: 0, kwargs: {} });
    // The tasks without a region are listed too, by their queue.
    const all = await api.get(`/v1/tasks?queue=${queue}&limit=500`);
    expect(all.body.tasks).toHaveLength(61);
    expect(all.body.tasks.filter((t: any) => t.region === null)).toHaveLength(40);
  });
});

describe('task routes (routes.ts)', () => {
  it('send scrape.cn.* tasks to queue scrape, region cn, unless the producer chose', async () => {
    const name = `scrape.cn.${uniqueQueue('page')}`;
    const routedTask = await api.post('/v1/tasks', { task: name, args: ['https://example.cn'] });
    expect((await api.get(`/v1/tasks/${routedTask.body.id}`)).body).toMatchObject({ queue: 'scrape', region: 'cn', priority: 5 });
    const own = uniqueQueue();
    const chosen = await api.post('/v1/tasks/batch', { tasks: [{ task: name, queue: own, region: null }, { task: name, priority: 8 }] });
    const [a, b] = await Promise.all(chosen.body.tasks.map((t: any) => api.get(`/v1/tasks/${t.id}`).then((r) => r.body)));
    expect(a).toMatchObject({ queue: own, region: null });
    expect(b).toMatchObject({ queue: 'scrape', region: 'cn', priority: 8 });
    for (const t of [routedTask.body, b]) await api.post(`/v1/tasks/${t.id}/revoke`);
  });
});
