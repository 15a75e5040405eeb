// Sharded queues against `npm start` (the shared system gives queues named sharded-* three shards):
// to a client a sharded queue is one queue, whichever shard its calls land on.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { createClient } from '../../src/sdk/index.ts';
import { Api, TOKENS, claimAll, uniqueQueue } from './system.ts';
import { spawnWorker, waitFor } from './workers.ts';

const url = inject('hubUrl');
const api = new Api(url);
const shardOfLease = (leaseId: string) => leaseId.split('.')[0];

describe('a sharded queue', () => {
  it('runs each task once with real workers over sockets, and keeps every task in its region', async () => {
    const queue = uniqueQueue('sharded');
    const tasks = ['cn', null].flatMap((region) => Array.from({ length: 100 }, (_, i) => ({ task: 'test.echo', args: [region, i], queue, region })));
    expect((await api.post('/v1/tasks/batch', { tasks })).status).toBe(202);
    // Some come one at a time too (they go to their shard before D1 has them).
    for (let i = 0; i < 20; i++) expect((await api.post('/v1/tasks', { task: 'test.echo', args: ['single', i], queue })).status).toBe(202);
    const workers = [
      spawnWorker({ url, token: TOKENS.cn, queue, region: 'cn', name: 'cn-1' }),
      spawnWorker({ url, token: TOKENS.consume, queue, name: 'any-1' }),
    ];
    try {
      const done = await waitFor('220 finished tasks', async () => {
        const { body } = await api.get(`/v1/tasks?queue=${queue}&limit=500`);
        return body.tasks.filter((t: any) => t.state === 'succeeded').length >= 220 ? body.tasks : null;
      }, 60_000);
      expect(done).toHaveLength(220);
      expect(done.every((t: any) => t.attempts === 1)).toBe(true);
      expect(done.filter((t: any) => t.region === 'cn' && t.worker !== 'cn-1')).toEqual([]);
      const stats = (await api.get(`/v1/queues/${queue}`)).body;
      expect(stats).toMatchObject({ name: queue, ready: 0, running: 0, delayed: 0, failed: 0 });
    } finally {
      for (const w of workers) w.signal('SIGTERM');
      await Promise.all(workers.map((w) => w.exited));
    }
  });

  it("finds a task enqueued on a producer socket by id right after the answer, and lists it once its shard's write lands", async () => {
    // A shard of three waits 75 ms before it writes D1: a read by id before then waits for the record.
    const queue = uniqueQueue('sharded');
    const producer = createClient({ url, token: TOKENS.enqueue }).producer({ log: () => {} });
    try {
      const handles = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => producer.enqueue('test.echo', [n], { queue })));
      for (const h of handles) {
        const res = await api.get(`/v1/tasks/${h.id}`);
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ id: h.id, queue, state: 'queued' });
      }
      const listed = await waitFor('the six tasks listed', async () => {
        const { body } = await api.get(`/v1/tasks?queue=${queue}`);
        return body.tasks.length === 6 ? body.tasks : null;
      }, 10_000);
      expect(listed.map((t: any) => t.id).sort()).toEqual(handles.map((h) => h.id).sort());
    } finally {
      await producer.close();
    }
  });

  it('takes heartbeats, fails and acks over HTTP for leases from every shard', async () => {
    const queue = uniqueQueue('sharded');
    const res = await api.post('/v1/tasks/batch', { tasks: Array.from({ length: 40 }, (_, i) => ({ task: 'n', args: [i], queue })) });
    expect(res.status).toBe(202);
    const jobs = await claimAll(api, queue, 40);
    expect(jobs.map((j) => j.id).sort()).toEqual(res.body.tasks.map((t: any) => t.id).sort());
    const shards = new Set(jobs.map((j) => shardOfLease(j.leaseId)));
    expect(shards).toEqual(new Set([queue, `${queue}~1`, `${queue}~2`]));
    expect(jobs.every((j) => j.queue === queue)).toBe(true);

    for (const shard of shards) {
      const job = jobs.find((j) => shardOfLease(j.leaseId) === shard)!;
      const beat = await api.post(`/v1/leases/${job.leaseId}/heartbeat`, { progress: { at: shard } });
      expect(beat.status).toBe(200);
      expect(beat.body.revoked).toBe(false);
    }
    const [failing, ...rest] = jobs;
    const failed = await api.post(`/v1/leases/${failing.leaseId}/fail`, { error: { type: 'Boom', message: 'no' }, retry: false });
    expect(failed.body).toEqual({ state: 'failed' });
    const acked = await api.post('/v1/leases/ack', { acks: rest.map((j) => ({ leaseId: j.leaseId, result: j.args[0] })) });
    expect(acked.status).toBe(200);
    expect(acked.body.results.every((r: any) => r.state === 'succeeded')).toBe(true);
    // A lease ends once, whichever shard gave it.
    expect((await api.post(`/v1/leases/${rest[0].leaseId}/ack`, { result: 1 })).status).toBe(409);

    expect((await api.get(`/v1/queues/${queue}`)).body).toMatchObject({ ready: 0, running: 0, failed: 1 });
    const dead = await api.get(`/v1/queues/${queue}/dead`);
    expect(dead.body.tasks.map((t: any) => t.id)).toEqual([failing.id]);
    expect((await api.post(`/v1/queues/${queue}/dead/replay`, {})).body).toEqual({ replayed: 1 });
    const again = await claimAll(api, queue, 1);
    expect(again.map((j) => j.id)).toEqual([failing.id]);
    const task = await api.get(`/v1/tasks/${rest[5].id}`);
    expect(task.body).toMatchObject({ state: 'succeeded', result: rest[5].args[0] });
  });

  it('keeps the tasks of one ordering key in order, one at a time', async () => {
    const queue = uniqueQueue('sharded');
    await api.post('/v1/tasks/batch', { tasks: Array.from({ length: 5 }, (_, i) => ({ task: 'k', args: [i], queue, orderingKey: 'user-7' })) });
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      const jobs = await claimAll(api, queue, 1, { max: 10 });
      expect(jobs).toHaveLength(1);
      seen.push(jobs[0].args[0]);
      expect((await api.post(`/v1/leases/${jobs[0].leaseId}/ack`, { result: null })).status).toBe(200);
    }
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });

  it('pauses and resumes every shard, revokes a task wherever it is, and adds up its metrics', async () => {
    const queue = uniqueQueue('sharded');
    const res = await api.post('/v1/tasks/batch', { tasks: Array.from({ length: 30 }, (_, i) => ({ task: 'n', args: [i], queue })) });
    await waitFor('30 ready', async () => (await api.get(`/v1/queues/${queue}`)).body.ready === 30);
    const metrics = (await api.get('/metrics')).text;
    expect(metrics).toContain(`drover_queue_tasks{queue="${queue}",state="ready",region="_all"} 30`);

    expect((await api.post(`/v1/queues/${queue}/pause`)).body).toEqual({ name: queue, paused: true });
    for (let i = 0; i < 6; i++) expect((await api.post(`/v1/queues/${queue}/claim`, { worker: 'e2e', max: 100 })).body.jobs).toEqual([]);
    const revoked = res.body.tasks.slice(0, 10).map((t: any) => t.id);
    for (const id of revoked) expect((await api.post(`/v1/tasks/${id}/revoke`)).body).toEqual({ state: 'revoked' });
    await api.post(`/v1/queues/${queue}/resume`);
    const jobs = await claimAll(api, queue, 20, {}, 5000);
    expect(jobs.map((j) => j.id).sort()).toEqual(res.body.tasks.slice(10).map((t: any) => t.id).sort());
    // Nothing revoked comes back, from any shard.
    expect(await claimAll(api, queue, 1, {}, 1500)).toEqual([]);
  });
});

describe('a sharded queue\'s limits', () => {
  it('refuses a limit too small to share among its shards, and holds the rest for the queue as a whole', async () => {
    const queue = uniqueQueue('sharded');
    const small = await api.request('PUT', `/v1/queues/${queue}/config`, { concurrency: 2 });
    expect(small.status).toBe(400);
    expect(small.body.error.message).toContain('has 3 shards, so its concurrency must be at least 3');
    const slow = await api.request('PUT', `/v1/queues/${queue}/config`, { rateLimit: '2/s' });
    expect(slow.status).toBe(400);
    expect(slow.body.error.message).toContain('rateLimit must allow at least 3 tasks per period');
    const named = await api.request('PUT', `/v1/queues/${queue}/config`, { taskRateLimits: { n: '1/m' } });
    expect(named.status).toBe(400);
    // Refused, it changed nothing.
    expect((await api.get(`/v1/queues/${queue}`)).body.config).toMatchObject({ concurrency: null, rateLimit: null, taskRateLimits: null });

    const ok = await api.request('PUT', `/v1/queues/${queue}/config`, { concurrency: 4 });
    expect(ok.status).toBe(200);
    expect(ok.body.config.concurrency).toBe(4);
    await api.post('/v1/tasks/batch', { tasks: Array.from({ length: 30 }, (_, i) => ({ task: 'n', args: [i], queue })) });
    await waitFor('30 ready', async () => (await api.get(`/v1/queues/${queue}`)).body.ready === 30);
    // However many claims ask, on whichever shards they land, four run at once.
    const leased = [];
    for (let i = 0; i < 9; i++) leased.push(...(await api.post(`/v1/queues/${queue}/claim`, { worker: 'e2e', max: 100 })).body.jobs);
    expect(leased).toHaveLength(4);
    expect((await api.get(`/v1/queues/${queue}`)).body).toMatchObject({ running: 4, ready: 26 });
  });
});

describe('DROVER_SHARDS', () => {
  it('stops npm start with a table it could never apply, saying why', () => {
    const root = resolve(import.meta.dirname, '..', '..');
    const out = spawnSync(process.execPath, [resolve(root, 'scripts/start.ts')], {
      env: { ...process.env, DROVER_SHARDS: '{"scrape": 100}' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(out.status).toBe(1);
    expect(out.stdout).toContain('DROVER_SHARDS: "scrape" must have a whole number of shards, 1-64');
  });
});
