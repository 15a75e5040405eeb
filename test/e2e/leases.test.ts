// Leases: heartbeat, ack, fail with backoff, expiry as a failed attempt, retries, dead letters and replay.
import { describe, expect, inject, it } from 'vitest';
import { Api, TOKENS, claimAll, sleep, uniqueQueue } from './system.ts';

const api = new Api(inject('hubUrl'));
const worker = api.as(TOKENS.consume);

describe('lease expiry', () => {
  it('refuses a stale ack after the lease expired, and the fresh lease wins', async () => {
    const queue = uniqueQueue();
    const { body } = await api.post('/v1/tasks', { task: 't', queue, retryDelay: 0.1 });
    const [stale] = await claimAll(worker, queue, 1, { leaseSeconds: 1 });
    await sleep(1500);
    const [fresh] = await claimAll(worker, queue, 1, {}, 10_000);
    expect(fresh.id).toBe(body.id);
    expect(fresh.attempt).toBe(2);
    const late = await worker.post(`/v1/leases/${stale.leaseId}/ack`, { result: 'stale' });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('lease_lost');
    expect((await worker.post(`/v1/leases/${stale.leaseId}/heartbeat`, {})).status).toBe(409);
    expect((await worker.post(`/v1/leases/${fresh.leaseId}/ack`, { result: 'fresh' })).body.state).toBe('succeeded');
    const task = await api.get(`/v1/tasks/${body.id}?wait=5`);
    expect(task.body).toMatchObject({ state: 'succeeded', result: 'fresh', attempts: 2 });
  });

  it('counts an expired lease as a failed attempt with error type LeaseExpired', async () => {
    const queue = uniqueQueue();
    const { body } = await api.post('/v1/tasks', { task: 't', queue, maxRetries: 0, timeout: 1 });
    await claimAll(worker, queue, 1);
    const task = await api.get(`/v1/tasks/${body.id}?wait=10`);
    expect(task.body).toMatchObject({ state: 'failed', attempts: 1, error: { type: 'LeaseExpired' } });
  });

  it('keeps a lease alive with heartbeats past its first expiry', async () => {
    const queue = uniqueQueue();
    await api.post('/v1/tasks', { task: 't', queue });
    const [job] = await claimAll(worker, queue, 1, { leaseSeconds: 3 });
    const firstExpiry = Date.parse(job.leaseExpiresAt);
    // A heartbeat every half second, each extending the lease by 3 s, until past the first
    // expiry: a busy machine has 2.5 s to deliver each one.
    let step = 0;
    for (; Date.now() <= firstExpiry + 500; step++) {
      await sleep(500);
      const hb = await worker.post(`/v1/leases/${job.leaseId}/heartbeat`, { extendSeconds: 3, progress: { step } });
      expect(hb.status, hb.text).toBe(200);
      expect(Date.parse(hb.body.leaseExpiresAt)).toBeGreaterThan(Date.now());
    }
    expect(step).toBeGreaterThan(1);
    expect((await api.get(`/v1/tasks/${job.id}`)).body.progress).toEqual({ step: step - 1 });
    expect((await worker.post(`/v1/leases/${job.leaseId}/ack`, { result: 'ok' })).body.state).toBe('succeeded');
  });
});

describe('failures and retries', () => {
  it('retries with backoff, then fails for good and lands in the dead letters', async () => {
    const queue = uniqueQueue();
    const { body } = await api.post('/v1/tasks', { task: 'flaky', queue, maxRetries: 2, retryDelay: 2 });
    for (let attempt = 1; attempt <= 3; attempt++) {
      const [job] = await claimAll(worker, queue, 1, {}, 10_000);
      expect(job.attempt).toBe(attempt);
      const res = await worker.post(`/v1/leases/${job.leaseId}/fail`, { error: { type: 'Timeout', message: `try ${attempt}`, stack: 'at x' } });
      if (attempt < 3) {
        expect(res.body.state).toBe('delayed');
        expect(Date.parse(res.body.nextAttemptAt)).toBeGreaterThan(Date.now() - 1000);
        expect((await api.get(`/v1/tasks/${body.id}`)).body.state).toBe('delayed');
      } else {
        expect(res.body).toEqual({ state: 'failed' });
      }
    }
    const task = await api.get(`/v1/tasks/${body.id}`);
    expect(task.body).toMatchObject({ state: 'failed', attempts: 3, error: { type: 'Timeout', message: 'try 3', stack: 'at x' } });
    const dead = await api.get(`/v1/queues/${queue}/dead`);
    expect(dead.body.tasks.map((t: any) => t.id)).toEqual([body.id]);
    expect((await api.get(`/v1/queues/${queue}`)).body.failed).toBe(1);

    const replay = await api.post(`/v1/queues/${queue}/dead/replay`, {});
    expect(replay.body).toEqual({ replayed: 1 });
    const [again] = await claimAll(worker, queue, 1);
    expect(again).toMatchObject({ id: body.id, attempt: 1 });
    await worker.post(`/v1/leases/${again.leaseId}/ack`, { result: 'second life' });
    expect((await api.get(`/v1/tasks/${body.id}?wait=5`)).body).toMatchObject({ state: 'succeeded', result: 'second life' });
    expect((await api.get(`/v1/queues/${queue}/dead`)).body.tasks).toEqual([]);
  });

  it('fails at once when the worker says not to retry, and honours delaySeconds', async () => {
    const queue = uniqueQueue();
    const a = await api.post('/v1/tasks', { task: 'a', queue });
    const b = await api.post('/v1/tasks', { task: 'b', queue });
    const jobs = await claimAll(worker, queue, 2, { max: 2 });
    const byTask = Object.fromEntries(jobs.map((j) => [j.task, j]));
    expect((await worker.post(`/v1/leases/${byTask.a.leaseId}/fail`, { error: { type: 'BadInput', message: 'no' }, retry: false })).body).toEqual({ state: 'failed' });
    const delayed = await worker.post(`/v1/leases/${byTask.b.leaseId}/fail`, { error: { type: 'RateLimited', message: 'later' }, delaySeconds: 30 });
    expect(delayed.body.state).toBe('delayed');
    expect(Date.parse(delayed.body.nextAttemptAt) - Date.now()).toBeGreaterThan(25_000);
    expect((await api.get(`/v1/tasks/${a.body.id}`)).body.state).toBe('failed');
    expect((await api.get(`/v1/tasks/${b.body.id}`)).body.state).toBe('delayed');
  });

  it('replays only the named dead letters', async () => {
    const queue = uniqueQueue();
    const made = await api.post('/v1/tasks/batch', { tasks: [{ task: 'x', queue, maxRetries: 0 }, { task: 'y', queue, maxRetries: 0 }] });
    for (const job of await claimAll(worker, queue, 2, { max: 2 })) {
      await worker.post(`/v1/leases/${job.leaseId}/fail`, { error: { type: 'E', message: 'e' } });
    }
    const [x] = made.body.tasks;
    expect((await api.post(`/v1/queues/${queue}/dead/replay`, { ids: [x.id] })).body).toEqual({ replayed: 1 });
    expect((await api.get(`/v1/queues/${queue}/dead`)).body.tasks.map((t: any) => t.task)).toEqual(['y']);
  });
});

describe('POST /v1/leases/ack', () => {
  it('settles a mixed batch lease by lease: one result each, nothing for the ones refused', async () => {
    const queue = uniqueQueue('ackmany');
    const enqueued = await api.post('/v1/tasks/batch', { tasks: Array.from({ length: 4 }, (_, i) => ({ task: 't', queue, args: [i] })) });
    expect(enqueued.status).toBe(202);
    const mine = await claimAll(worker, queue, 3, { max: 3 });
    const [theirs] = await claimAll(api.as(TOKENS.consume2), queue, 1);
    const [a, b, revoked] = mine;
    expect((await api.post(`/v1/tasks/${revoked.id}/revoke`)).body.state).toBe('revoked');

    const res = await worker.post('/v1/leases/ack', {
      acks: [
        { leaseId: a.leaseId, result: 'a' },
        { leaseId: b.leaseId, result: { b: true } },
        { leaseId: a.leaseId, result: 'again' },
        { leaseId: theirs.leaseId, result: 'not mine' },
        { leaseId: 'nope', result: null },
        { leaseId: revoked.leaseId, result: 'too late' },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: { state?: string; error?: { code: string } }) => r.state ?? r.error!.code)).toEqual([
      'succeeded', 'succeeded', 'lease_lost', 'forbidden', 'not_found', 'revoked',
    ]);
    expect((await api.get(`/v1/tasks/${a.id}`)).body).toMatchObject({ state: 'succeeded', result: 'a', attempts: 1 });
    expect((await api.get(`/v1/tasks/${b.id}`)).body).toMatchObject({ state: 'succeeded', result: { b: true } });
    expect((await api.get(`/v1/tasks/${revoked.id}`)).body.state).toBe('revoked');
    expect((await api.get(`/v1/tasks/${theirs.id}`)).body.state).toBe('running');
    // The other worker's own ack still counts.
    expect((await api.as(TOKENS.consume2).post(`/v1/leases/${theirs.leaseId}/ack`, { result: 'theirs' })).body.state).toBe('succeeded');
  });

  it('refuses an empty or oversized batch with 400 and changes nothing', async () => {
    const queue = uniqueQueue('ackmany-bad');
    await api.post('/v1/tasks', { task: 't', queue });
    const [job] = await claimAll(worker, queue, 1);
    for (const acks of [[], Array.from({ length: 101 }, () => ({ leaseId: job.leaseId, result: null }))]) {
      const res = await worker.post('/v1/leases/ack', { acks });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    expect((await api.get(`/v1/tasks/${job.id}`)).body.state).toBe('running');
  });
});
