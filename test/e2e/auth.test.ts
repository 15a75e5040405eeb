// Auth: 401 without a known token, 403 without the scope, leases touched only by their claimer.
import { describe, expect, inject, it } from 'vitest';
import { Api, TOKENS, claimAll, uniqueQueue } from './system.ts';

const api = new Api(inject('hubUrl'));

describe('tokens', () => {
  it('answers 401 without a token or with an unknown one, and needs none for health', async () => {
    for (const res of [
      await api.as(null).get('/v1/tasks'),
      await api.as('not-a-token').get('/v1/tasks'),
      await api.as(null).request('GET', '/v1/queues', undefined, { headers: { authorization: 'Basic abc' } }),
      await api.as(`${TOKENS.admin}x`).post('/v1/tasks', { task: 't' }),
    ]) {
      expect(res.status).toBe(401);
      expect(res.body.error).toMatchObject({ code: 'unauthorized', message: expect.any(String) });
    }
    expect((await api.as(null).get('/healthz')).status).toBe(200);
    expect((await api.as(null).get('/')).status).toBe(200);
  });

  it('enforces each scope', async () => {
    const queue = uniqueQueue();
    const consumer = api.as(TOKENS.consume);
    const producer = api.as(TOKENS.enqueue);
    expect((await consumer.post('/v1/tasks', { task: 't', queue })).status).toBe(403);
    expect((await producer.post('/v1/tasks', { task: 't', queue })).status).toBe(202);
    expect((await producer.post(`/v1/queues/${queue}/claim`, { worker: 'w' })).status).toBe(403);
    expect((await producer.post(`/v1/queues/${queue}/pause`)).status).toBe(403);
    expect((await consumer.post(`/v1/queues/${queue}/pause`)).status).toBe(403);
    expect((await producer.get(`/v1/queues/${queue}/dead`)).status).toBe(403);
    expect((await producer.post(`/v1/queues/${queue}/dead/replay`, {})).status).toBe(403);
    expect((await consumer.get(`/v1/tasks`)).status).toBe(403);
    const forbidden = await producer.post(`/v1/queues/${queue}/pause`);
    expect(forbidden.body.error).toMatchObject({ code: 'forbidden', message: expect.stringContaining('admin') });
    // Nothing a refused request asked for happened.
    expect((await api.get(`/v1/queues/${queue}`)).body.paused).toBe(false);
  });

  it('lets a region-scoped consumer claim only with its region', async () => {
    const queue = uniqueQueue();
    await api.post('/v1/tasks/batch', { tasks: [{ task: 'x', queue, region: 'cn' }, { task: 'y', queue }] });
    const cn = api.as(TOKENS.cn);
    expect((await cn.post(`/v1/queues/${queue}/claim`, { worker: 'w', region: 'weur' })).status).toBe(403);
    expect((await cn.post(`/v1/queues/${queue}/claim`, { worker: 'w' })).status).toBe(403);
    const jobs = await claimAll(cn, queue, 2, { region: 'cn', max: 5 }, 3000);
    expect(jobs.map((j) => j.task).sort()).toEqual(['x', 'y']);
  });

  it('lets a consumer touch only its own leases; an admin may touch any', async () => {
    const queue = uniqueQueue();
    await api.post('/v1/tasks/batch', { tasks: [{ task: 'a', queue }, { task: 'b', queue }] });
    const [mine, other] = await claimAll(api.as(TOKENS.consume), queue, 2, { max: 2 });
    const stranger = api.as(TOKENS.consume2);
    for (const op of ['heartbeat', 'ack', 'fail']) {
      const res = await stranger.post(`/v1/leases/${mine.leaseId}/${op}`, op === 'fail' ? { error: { type: 'X', message: 'x' } } : {});
      expect(res.status).toBe(403);
    }
    expect((await api.as(TOKENS.cn).post(`/v1/leases/${mine.leaseId}/ack`, {})).status).toBe(403);
    expect((await api.as(TOKENS.consume).post(`/v1/leases/${mine.leaseId}/ack`, { result: 1 })).body.state).toBe('succeeded');
    expect((await api.post(`/v1/leases/${other.leaseId}/ack`, { result: 2 })).body.state).toBe('succeeded');
  });
});
