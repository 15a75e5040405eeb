// Security against npm start: admin actions are audited, dead letters can be purged, no CORS by default.
import { describe, expect, inject, it } from 'vitest';
import { Api, TOKENS, claimAll, freePort, uniqueQueue } from './system.ts';

const api = new Api(inject('hubUrl'));

describe('the audit log', () => {
  it('records who paused, resumed, replayed, purged and changed schedules, for admins only', async () => {
    const queue = uniqueQueue('audit');
    await api.post(`/v1/queues/${queue}/pause`);
    await api.post(`/v1/queues/${queue}/resume`);
    await api.post('/v1/tasks/batch', { tasks: [{ task: 'x', queue, maxRetries: 0 }, { task: 'y', queue, maxRetries: 0 }] });
    for (const job of await claimAll(api, queue, 2, { max: 2 })) await api.post(`/v1/leases/${job.leaseId}/fail`, { error: { type: 'E', message: 'e' } });
    const dead = (await api.get(`/v1/queues/${queue}/dead`)).body.tasks.map((t: any) => t.id);
    expect(dead).toHaveLength(2);
    expect((await api.post(`/v1/queues/${queue}/dead/replay`, { ids: [dead[0]] })).body).toEqual({ replayed: 1 });
    expect((await api.request('DELETE', `/v1/queues/${queue}/dead`)).body).toEqual({ purged: 1 });
    expect((await api.get(`/v1/queues/${queue}/dead`)).body.tasks).toEqual([]);
    await api.post('/v1/schedules', { id: `${queue}-s`, every: 3600, task: 't', queue });
    await api.request('DELETE', `/v1/schedules/${queue}-s`);

    const { body } = await api.get('/v1/audit?limit=500');
    const mine = body.entries.filter((e: any) => e.target.startsWith(queue)).reverse();
    expect(mine.map((e: any) => e.action)).toEqual(['queue.pause', 'queue.resume', 'dead.replay', 'dead.purge', 'schedule.create', 'schedule.delete']);
    expect(mine[0]).toMatchObject({ actor: expect.stringMatching(/^[0-9a-f]{16}$/), at: expect.any(String) });
    expect(JSON.stringify(body)).not.toContain(TOKENS.admin);
    expect((await api.as(TOKENS.enqueue).get('/v1/audit')).status).toBe(403);
    expect((await api.as(TOKENS.enqueue).request('DELETE', `/v1/queues/${queue}/dead`)).status).toBe(403);
  });
});

describe('the surface', () => {
  it('sends no CORS headers unless configured', async () => {
    const preflight = await fetch(`${api.url}/v1/tasks`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const res = await fetch(`${api.url}/v1/queues`, { headers: { origin: 'https://evil.example', authorization: `Bearer ${TOKENS.admin}` } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('never shows internals in an error', async () => {
    for (const res of [
      await api.post('/v1/tasks', '{"task": '),
      await api.get('/v1/tasks/../../etc/passwd'),
      await api.post('/v1/leases/q.01ARZ3NDEKTSV4RRFFQ69G5FAV.aaaaaaaaaaaaaaaaaaaaaaaa/ack', {}),
    ]) {
      expect(Object.keys(res.body.error).sort()).toEqual(expect.arrayContaining(['code', 'message']));
      expect(res.text).not.toMatch(/\.ts:\d+|node_modules|at [A-Za-z]+ \(/);
    }
  });

  it('stores a failed HTTP task\'s error as a type and a message, never the runner\'s stack or paths', async () => {
    const queue = uniqueQueue('leak');
    const closed = await freePort(); // nothing listens there now
    const ids: string[] = [];
    for (const region of [null, 'weur']) {
      const { body } = await api.post('/v1/tasks', { task: 'hook.closed', queue, region, maxRetries: 0, http: { url: `http://127.0.0.1:${closed}/x` } });
      ids.push(body.id);
    }
    // Read with the least token that may read tasks: what anyone who may enqueue sees.
    const reader = api.as(TOKENS.enqueue);
    for (const [i, id] of ids.entries()) {
      const { body: task } = await reader.get(`/v1/tasks/${id}?wait=30`);
      expect(task).toMatchObject({ state: 'failed', worker: i === 0 ? 'hub-http' : 'weur-regional' });
      expect(Object.keys(task.error).sort()).toEqual(['message', 'type']);
      expect(task.error.type).toBe('HttpNetworkError');
      expect(task.error.message).toMatch(new RegExp(`127\\.0\\.0\\.1:${closed}|connect|connection`, 'i'));
      // No frame of a stack (a new line then "at"), no script path or line, no build directory.
      expect(JSON.stringify(task)).not.toMatch(/\\n\s*at |\.(?:js|ts):\d+|file:\/\/|node_modules|drover-e2e-/);
    }
  });
});
