// What an operator's commands call, against npm start: purge a queue's waiting tasks, run a schedule
// now, see the tasks no worker would take, list tasks since a time; and their place in /openapi.json.
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, inject, it } from 'vitest';
import { Api, TOKENS, claimAll, uniqueQueue } from './system.ts';

const api = new Api(inject('hubUrl'));

/** Polls `read` until `ok` holds of its value, or fails with the last value after `ms`. */
async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last = await read();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`gave up waiting; last saw ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
    last = await read();
  }
  return last;
}

const enqueue = async (body: Record<string, unknown>) => {
  const res = await api.post('/v1/tasks', body);
  expect(res.status, res.text).toBe(202);
  return res.body.id as string;
};
const stats = async (queue: string) => (await api.get(`/v1/queues/${queue}`)).body;
const auditOf = async (action: string, target: string) =>
  (await api.get('/v1/audit?limit=500')).body.entries.filter((e: any) => e.action === action && e.target === target);

describe('POST /v1/queues/:queue/purge', () => {
  it('ends queued and delayed tasks revoked, in every region, and leaves a running one to finish', async () => {
    const queue = uniqueQueue('purge');
    const runningId = await enqueue({ task: 'p.run', queue });
    const [job] = await claimAll(api, queue, 1, { max: 1 });
    expect(job.id).toBe(runningId);
    const waiting = [
      await enqueue({ task: 'p.a', queue }),
      await enqueue({ task: 'p.b', queue, region: 'cn' }),
      await enqueue({ task: 'p.c', queue, orderingKey: 'k' }),
      await enqueue({ task: 'p.c', queue, orderingKey: 'k' }),
      await enqueue({ task: 'p.d', queue, delay: 3600 }),
    ];
    expect(await stats(queue)).toMatchObject({ ready: 4, delayed: 1, running: 1 });

    const purged = await api.post(`/v1/queues/${queue}/purge`);
    expect(purged.status).toBe(200);
    expect(purged.body).toEqual({ name: queue, purged: 5, more: false });
    expect(await stats(queue)).toMatchObject({ ready: 0, delayed: 0, running: 1 });
    for (const id of waiting) expect((await api.get(`/v1/tasks/${id}`)).body.state).toBe('revoked');
    // The record, not only the live state, says why they never ran.
    await until(async () => (await api.get(`/v1/tasks?queue=${queue}&state=revoked`)).body.tasks.length, (n) => n === 5);

    // The running task is untouched: its worker acks it as usual.
    expect((await api.post(`/v1/leases/${job.leaseId}/ack`, { result: 1 })).body).toEqual({ state: 'succeeded' });
    expect((await api.get(`/v1/tasks/${runningId}`)).body.state).toBe('succeeded');
    expect(await auditOf('queue.purge', queue)).toEqual([expect.objectContaining({ details: { purged: 5, more: false } })]);

    // Nothing left to purge: 0, and no second audit entry.
    expect((await api.post(`/v1/queues/${queue}/purge`)).body).toEqual({ name: queue, purged: 0, more: false });
    expect(await auditOf('queue.purge', queue)).toHaveLength(1);
  });

  it("tells a workflow its purged step was revoked, as a revoke of the task would", async () => {
    const chain = (queue: string) => api.post('/v1/workflows', { chain: [{ task: 'p.step', queue }, { task: 'p.step', queue }] }).then((r) => r.body);
    const ended = (id: string) => until(async () => (await api.get(`/v1/workflows/${id}`)).body, (w) => w.state !== 'running');
    const revokedQueue = uniqueQueue('revoke-wf');
    const revoked = await chain(revokedQueue);
    expect((await api.post(`/v1/tasks/${revoked.tasks[0]}/revoke`)).body).toEqual({ state: 'revoked' });
    const purgedQueue = uniqueQueue('purge-wf');
    const purged = await chain(purgedQueue);
    expect((await api.post(`/v1/queues/${purgedQueue}/purge`)).body.purged).toBe(1);
    const [byRevoke, byPurge] = [await ended(revoked.id), await ended(purged.id)];
    const shape = (w: any) => ({ state: w.state, tasks: w.tasks.map((t: any) => t.state) });
    expect(shape(byPurge)).toEqual(shape(byRevoke));
    // The step that never started is recorded revoked, its error WorkflowFailed.
    expect(shape(byPurge).tasks).toEqual(['revoked', 'revoked']);
  });

  it('refuses a token that is not admin and changes nothing', async () => {
    const queue = uniqueQueue('purge-403');
    await enqueue({ task: 'p.keep', queue });
    for (const token of [TOKENS.enqueue, TOKENS.consume]) {
      const res = await api.as(token).post(`/v1/queues/${queue}/purge`);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('forbidden');
    }
    expect((await stats(queue)).ready).toBe(1);
    expect(await auditOf('queue.purge', queue)).toEqual([]);
  });

  it('counts 0 on an unknown queue and does not make it', async () => {
    const queue = uniqueQueue('purge-none');
    expect((await api.post(`/v1/queues/${queue}/purge`)).body).toEqual({ name: queue, purged: 0, more: false });
    const names = (await api.get('/v1/queues')).body.queues.map((q: any) => q.name);
    expect(names).not.toContain(queue);
    expect((await api.post('/v1/queues/Not A Queue/purge')).status).toBe(400);
  });

  it('purges a queue of thousands in one call, a bounded batch per transaction', async () => {
    const queue = uniqueQueue('purge-big');
    for (const n of [1000, 1000, 500]) {
      const res = await api.post('/v1/tasks/batch', { tasks: Array.from({ length: n }, (_, i) => ({ task: 'p.big', queue, delay: i % 5 === 0 ? 3600 : 0 })) });
      expect(res.status).toBe(202);
    }
    // Large batches go through D1 and the bus first: wait until the queue holds them all.
    await until(() => stats(queue), (s) => s.ready + s.delayed === 2500, 60_000);
    expect((await api.post(`/v1/queues/${queue}/purge`)).body).toEqual({ name: queue, purged: 2500, more: false });
    expect(await stats(queue)).toMatchObject({ ready: 0, delayed: 0 });
    // The records follow in the queue's batched D1 writes.
    await until(async () => (await api.get(`/v1/tasks?queue=${queue}&state=queued&limit=1`)).body.tasks.length, (n) => n === 0, 60_000);
  });

  it('purges every shard of a sharded queue', async () => {
    const queue = uniqueQueue('sharded-purge');
    const ids = [];
    for (let i = 0; i < 12; i++) ids.push(await enqueue({ task: 'p.sharded', queue, delay: i % 2 ? 3600 : 0 }));
    expect(await stats(queue)).toMatchObject({ ready: 6, delayed: 6 });
    expect((await api.post(`/v1/queues/${queue}/purge`)).body).toEqual({ name: queue, purged: 12, more: false });
    expect(await stats(queue)).toMatchObject({ ready: 0, delayed: 0 });
    for (const id of ids) expect((await api.get(`/v1/tasks/${id}`)).body.state).toBe('revoked');
  });
});

describe('POST /v1/schedules/:id/run', () => {
  it("enqueues the schedule's task now, a disabled schedule's too, and leaves its slots alone", async () => {
    const id = uniqueQueue('sched-run');
    const queue = uniqueQueue('sched-q');
    const made = await api.post('/v1/schedules', {
      id, cron: '0 3 * * *', task: 'reports.nightly', args: [1, 'a'], kwargs: { full: true }, queue, priority: 8, maxRetries: 2, timeout: 30, enabled: false,
    });
    expect(made.status).toBe(201);
    const run = await api.post(`/v1/schedules/${id}/run`);
    expect(run.status).toBe(202);
    expect(run.body).toEqual({ id: expect.any(String), state: 'queued' });
    const task = (await api.get(`/v1/tasks/${run.body.id}`)).body;
    expect(task).toMatchObject({ task: 'reports.nightly', args: [1, 'a'], kwargs: { full: true }, queue, region: null, priority: 8, maxRetries: 2, state: 'queued' });
    expect(task.idempotencyKey.startsWith(`schedule:${id}:`)).toBe(true);

    // A second run is a second task; both are the schedule's.
    const again = await api.post(`/v1/schedules/${id}/run`);
    expect(again.body.id).not.toBe(run.body.id);
    const listed = (await api.get(`/v1/tasks?schedule=${id}`)).body.tasks.map((t: any) => t.id);
    expect(listed.sort()).toEqual([run.body.id, again.body.id].sort());
    expect((await stats(queue)).ready).toBe(2);

    const after = (await api.get(`/v1/schedules/${id}`)).body;
    expect(after).toMatchObject({ enabled: false, nextRunAt: null, lastRunAt: null, lastTaskId: null });
    expect(await auditOf('schedule.run', id)).toHaveLength(2);
  });

  it('is 404 for an unknown schedule and 403 without an admin token', async () => {
    expect((await api.post(`/v1/schedules/${uniqueQueue('nope')}/run`)).status).toBe(404);
    const id = uniqueQueue('sched-403');
    const queue = uniqueQueue('sched-403q');
    expect((await api.post('/v1/schedules', { id, every: 3600, task: 'x.y', queue })).status).toBe(201);
    expect((await api.as(TOKENS.enqueue).post(`/v1/schedules/${id}/run`)).status).toBe(403);
    expect((await api.get(`/v1/tasks?schedule=${id}`)).body.tasks).toEqual([]);
  });
});

describe('unserved: ready tasks no worker would take', () => {
  const claim = (queue: string, body: Record<string, unknown>, token = TOKENS.consume) =>
    api.as(token).post(`/v1/queues/${queue}/claim`, { max: 1, waitSeconds: 0, ...body }).then((r) => {
      expect(r.status, r.text).toBe(200);
      return r.body.jobs;
    });

  it('lists tasks by name and region until a worker claims for them', async () => {
    const queue = uniqueQueue('unserved');
    await enqueue({ task: 'report.build', queue });
    await enqueue({ task: 'report.build', queue });
    await enqueue({ task: 'report.cn', queue, region: 'cn' });
    expect((await stats(queue)).unserved).toEqual([
      { task: 'report.build', region: null, ready: 2 },
      { task: 'report.cn', region: 'cn', ready: 1 },
    ]);
    // Paused, the queue hands nothing out, so the tasks stay ready while workers claim.
    await api.post(`/v1/queues/${queue}/pause`);
    expect(await claim(queue, { worker: 'other-worker', tasks: ['mail.send'] })).toEqual([]);
    expect((await stats(queue)).unserved).toHaveLength(2);

    expect(await claim(queue, { worker: 'report-worker', tasks: ['report.build', 'report.cn'] })).toEqual([]);
    // A worker of no region takes untagged tasks only: the task pinned to cn still waits, with its region.
    expect((await stats(queue)).unserved).toEqual([{ task: 'report.cn', region: 'cn', ready: 1 }]);
    expect(await claim(queue, { worker: 'any-worker' })).toEqual([]);
    expect((await stats(queue)).unserved).toEqual([{ task: 'report.cn', region: 'cn', ready: 1 }]);

    expect(await claim(queue, { worker: 'cn-worker', region: 'cn', tasks: ['report.cn'] }, TOKENS.cn)).toEqual([]);
    expect((await stats(queue)).unserved).toEqual([]);
    const listed = (await api.get('/v1/queues')).body.queues.find((q: any) => q.name === queue);
    expect(listed.unserved).toEqual([]);
  });

  it("merges a sharded queue's shards: a worker claiming through any shard serves them all", async () => {
    const queue = uniqueQueue('sharded-unserved');
    for (let i = 0; i < 9; i++) await enqueue({ task: 'sh.task', queue });
    expect((await stats(queue)).unserved).toEqual([{ task: 'sh.task', region: null, ready: 9 }]);
    await api.post(`/v1/queues/${queue}/pause`);
    expect(await claim(queue, { worker: 'sh-worker', tasks: ['sh.task'] })).toEqual([]);
    expect((await stats(queue)).unserved).toEqual([]);
  });
});

describe('GET /v1/tasks?since=', () => {
  it('lists the tasks created at or after the time, with the other filters and the cursor', async () => {
    const queue = uniqueQueue('since');
    const first = await enqueue({ task: 's.one', queue });
    const created = Date.parse((await api.get(`/v1/tasks/${first}`)).body.createdAt);
    await until(async () => Date.now(), (now) => now > created + 5);
    const later = [await enqueue({ task: 's.two', queue }), await enqueue({ task: 's.two', queue })];
    const since = (ms: number) => encodeURIComponent(new Date(ms).toISOString());
    const ids = async (query: string) => (await api.get(`/v1/tasks?queue=${queue}&${query}`)).body.tasks.map((t: any) => t.id);

    expect(await ids(`since=${since(created)}`)).toEqual([...later].reverse().concat(first));
    expect(await ids(`since=${since(created + 1)}`)).toEqual([...later].reverse());
    expect(await ids(`since=${since(created + 1)}&task=s.one`)).toEqual([]);
    // An offset is read as the instant it names (its + written %2B in a query).
    const shifted = new Date(created + 1 + 2 * 3600_000).toISOString().replace('Z', '+02:00');
    expect(await ids(`since=${encodeURIComponent(shifted)}`)).toEqual([...later].reverse());
    const page = (await api.get(`/v1/tasks?queue=${queue}&since=${since(created + 1)}&limit=1`)).body;
    expect(page.tasks.map((t: any) => t.id)).toEqual([later[1]]);
    expect(await ids(`since=${since(created + 1)}&limit=1&cursor=${page.cursor}`)).toEqual([later[0]]);
  });

  it('refuses a value that is not an RFC 3339 time', async () => {
    for (const bad of ['yesterday', '2026-13-01T00:00:00Z', '1700000000', '2026-02-30T00:00:00Z']) {
      const res = await api.get(`/v1/tasks?since=${encodeURIComponent(bad)}`);
      expect(res.status, bad).toBe(400);
      expect(res.body.error.message).toMatch(/since/);
    }
  });
});

describe('/openapi.json', () => {
  it('describes the new routes, and what they and the queue stats answer', async () => {
    const doc = (await api.as(null).get('/openapi.json')).body;
    expect(doc.paths['/v1/queues/{queue}/purge'].post.operationId).toBe('purgeQueue');
    expect(doc.paths['/v1/schedules/{id}/run'].post.operationId).toBe('runSchedule');
    expect(doc.paths['/v1/tasks'].get.parameters.find((p: any) => p.name === 'since').schema).toMatchObject({ type: 'string', format: 'date-time' });

    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    ajv.addSchema({ $id: 'drover', components: doc.components });
    const matches = (schema: unknown, value: unknown, what: string) => {
      const check = ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"drover#/components/')));
      expect(check(value) ? [] : check.errors, what).toEqual([]);
    };
    const answer = (path: string, method: string, status = '200') => doc.paths[path][method].responses[status].content['application/json'].schema;
    const queue = uniqueQueue('oas-ops');
    await enqueue({ task: 'oas.unserved', queue, region: 'weur' });
    matches(answer('/v1/queues/{queue}', 'get'), await stats(queue), 'a queue');
    matches(answer('/v1/queues', 'get'), (await api.get('/v1/queues')).body, 'the queue list');
    matches(answer('/v1/queues/{queue}/purge', 'post'), (await api.post(`/v1/queues/${queue}/purge`)).body, 'a purge');
    const id = uniqueQueue('oas-sched');
    await api.post('/v1/schedules', { id, every: 3600, task: 'oas.sched', queue });
    matches(answer('/v1/schedules/{id}/run', 'post', '202'), (await api.post(`/v1/schedules/${id}/run`)).body, 'a run');
    // The check is a real one: a queue without its unserved list does not match.
    const { unserved: _gone, ...without } = await stats(queue);
    expect(ajv.validate({ $ref: 'drover#/components/schemas/Queue' }, without)).toBe(false);
  });
});
