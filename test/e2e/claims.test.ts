// Claims: enqueue order over a 1,000-task batch, priority, region lanes, long-poll, pause, task filters.
import { describe, expect, inject, it } from 'vitest';
import { Api, TOKENS, claimAll, sleep, uniqueQueue } from './system.ts';

const api = new Api(inject('hubUrl'));

describe('claim order', () => {
  it('hands out 1,000 tasks of one batch in enqueue order', async () => {
    const queue = uniqueQueue();
    const res = await api.post('/v1/tasks/batch', { tasks: Array.from({ length: 1000 }, (_, i) => ({ task: 'n', args: [i], queue })) });
    expect(res.status).toBe(202);
    expect(res.body.tasks).toHaveLength(1000);
    const jobs = await claimAll(api, queue, 1000);
    expect(jobs.map((j) => j.args[0])).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(jobs.map((j) => j.id)).toEqual(res.body.tasks.map((t: any) => t.id));
  });

  it('hands out higher priority first, then earlier eta, then enqueue order', async () => {
    const queue = uniqueQueue();
    const now = Date.now();
    const tasks = [
      { task: 'a', queue, priority: 1 },
      { task: 'b', queue, priority: 9 },
      { task: 'c', queue, priority: 5 },
      { task: 'd', queue, priority: 5, eta: new Date(now - 60_000).toISOString() },
      { task: 'e', queue, priority: 9 },
    ];
    await api.post('/v1/tasks/batch', { tasks });
    const jobs = await claimAll(api, queue, 5);
    expect(jobs.map((j) => j.task)).toEqual(['b', 'e', 'd', 'c', 'a']);
  });
});

describe('region lanes', () => {
  it('gives a region its own tasks and untagged ones, never another region\'s', async () => {
    const queue = uniqueQueue();
    await api.post('/v1/tasks/batch', {
      tasks: [
        ...Array.from({ length: 5 }, (_, i) => ({ task: 'cn', args: [i], queue, region: 'cn' })),
        ...Array.from({ length: 5 }, (_, i) => ({ task: 'weur', args: [i], queue, region: 'weur' })),
        ...Array.from({ length: 5 }, (_, i) => ({ task: 'any', args: [i], queue })),
      ],
    });
    const nullRegion = await claimAll(api, queue, 5, { region: null }, 3000);
    expect(nullRegion.map((j) => j.task)).toEqual(Array(5).fill('any'));
    const cn = await claimAll(api.as(TOKENS.cn), queue, 10, { region: 'cn' }, 3000);
    expect(cn.map((j) => j.task)).toEqual(Array(5).fill('cn'));
    expect(cn.every((j) => j.region === 'cn')).toBe(true);
    const weur = await claimAll(api.as(TOKENS.weur), queue, 10, { region: 'weur' }, 3000);
    expect(weur.map((j) => j.task)).toEqual(Array(5).fill('weur'));
  });

  it('reports ready and running per region in queue stats', async () => {
    const queue = uniqueQueue();
    await api.post('/v1/tasks/batch', { tasks: [{ task: 'x', queue, region: 'cn' }, { task: 'x', queue, region: 'cn' }, { task: 'x', queue }] });
    await sleep(200);
    await claimAll(api.as(TOKENS.cn), queue, 1, { region: 'cn', max: 1 }, 3000);
    const stats = await api.get(`/v1/queues/${queue}`);
    expect(stats.body).toMatchObject({ name: queue, ready: 2, running: 1, delayed: 0, failed: 0, paused: false });
    expect(stats.body.regions).toEqual({ cn: { ready: 1, running: 1 }, _any: { ready: 1, running: 0 } });
    const all = await api.get('/v1/queues');
    expect(all.body.queues.find((q: any) => q.name === queue)).toMatchObject({ ready: 2, running: 1 });
    expect((await api.get('/v1/queues/never-used-queue')).body).toMatchObject({ ready: 0, running: 0, delayed: 0, failed: 0 });
  });
});

describe('long-poll', () => {
  it('holds an empty claim until work arrives, then answers at once', async () => {
    const queue = uniqueQueue();
    const started = Date.now();
    const pending = api.post(`/v1/queues/${queue}/claim`, { worker: 'w', waitSeconds: 20 });
    await sleep(1000);
    const enq = await api.post('/v1/tasks', { task: 't', queue });
    const res = await pending;
    expect(res.body.jobs.map((j: any) => j.id)).toEqual([enq.body.id]);
    expect(Date.now() - started).toBeLessThan(8000);
  });

  it('answers the waiting claim that can take the new task at once, though claims that cannot waited longer', async () => {
    const queue = uniqueQueue();
    // Waiting first: a claim for other tasks, and one for another region. Each new task wakes the
    // oldest waiting claim, which passes the wake on when it cannot take the task.
    const others = api.post(`/v1/queues/${queue}/claim`, { worker: 'only-a', tasks: ['a'], waitSeconds: 6 });
    await sleep(300);
    const elsewhere = api.post(`/v1/queues/${queue}/claim`, { worker: 'in-cn', region: 'cn', tasks: ['b'], waitSeconds: 6 });
    await sleep(300);
    const started = Date.now();
    const taker = api.post(`/v1/queues/${queue}/claim`, { worker: 'in-eu', region: 'eu', tasks: ['b'], waitSeconds: 20 });
    await sleep(300);
    const enq = await api.post('/v1/tasks', { task: 'b', queue, region: 'eu' });
    const res = await taker;
    expect(res.body.jobs.map((j: any) => j.id)).toEqual([enq.body.id]);
    expect(Date.now() - started).toBeLessThan(5000); // inside the other claims' 6 s, which began before it
    expect((await others).body.jobs).toEqual([]);
    expect((await elsewhere).body.jobs).toEqual([]);
  });

  it('answers as many waiting claims as tasks came, and the rest keep waiting', async () => {
    const queue = uniqueQueue();
    const claims = ['w1', 'w2', 'w3'].map((worker) => api.post(`/v1/queues/${queue}/claim`, { worker, max: 1, waitSeconds: 4 }));
    await sleep(500);
    const started = Date.now();
    const enq = await api.post('/v1/tasks/batch', { tasks: [{ task: 't', queue }, { task: 't', queue }] });
    const answers = await Promise.all(claims.map(async (p) => ({ res: await p, at: Date.now() - started })));
    const got = answers.filter((a) => a.res.body.jobs.length === 1);
    expect(got.map((a) => a.res.body.jobs[0].id).sort()).toEqual(enq.body.tasks.map((t: any) => t.id).sort());
    for (const a of got) expect(a.at).toBeLessThan(3000); // before the empty one's wait ends, 3.5 s or more after `started`
    const empty = answers.filter((a) => a.res.body.jobs.length === 0);
    expect(empty).toHaveLength(1);
    expect(empty[0].at).toBeGreaterThanOrEqual(2500); // it waited out its wait
  });

  it('answers an empty claim after waitSeconds', async () => {
    const queue = uniqueQueue();
    const started = Date.now();
    const res = await api.post(`/v1/queues/${queue}/claim`, { worker: 'w', waitSeconds: 1.5 });
    expect(res.body.jobs).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
  });
});

describe('pause and filters', () => {
  it('hands out nothing while paused and resumes where it was', async () => {
    const queue = uniqueQueue();
    expect((await api.post(`/v1/queues/${queue}/pause`)).body).toEqual({ name: queue, paused: true });
    await api.post('/v1/tasks', { task: 't', queue });
    await sleep(300);
    expect((await api.post(`/v1/queues/${queue}/claim`, { worker: 'w', waitSeconds: 1 })).body.jobs).toEqual([]);
    expect((await api.get(`/v1/queues/${queue}`)).body).toMatchObject({ paused: true, ready: 1 });
    await api.post(`/v1/queues/${queue}/resume`);
    expect(await claimAll(api, queue, 1)).toHaveLength(1);
  });

  it('claims only the named tasks when given a filter', async () => {
    const queue = uniqueQueue();
    await api.post('/v1/tasks/batch', { tasks: [{ task: 'a', queue }, { task: 'b', queue }, { task: 'a', queue }] });
    const jobs = await claimAll(api, queue, 1, { tasks: ['b'], max: 10 }, 3000);
    expect(jobs.map((j) => j.task)).toEqual(['b']);
  });
});

describe('ordering keys', () => {
  it('runs one task of a key at a time, in enqueue order', async () => {
    const queue = uniqueQueue();
    await api.post('/v1/tasks/batch', {
      tasks: [
        { task: 'k', args: [1], queue, orderingKey: 'user-7' },
        { task: 'k', args: [2], queue, orderingKey: 'user-7', priority: 9 },
        { task: 'free', queue },
        { task: 'k', args: [3], queue, orderingKey: 'user-7' },
      ],
    });
    const first = await claimAll(api, queue, 2, { max: 10 }, 3000);
    expect(first.map((j) => [j.task, j.args[0]])).toEqual([['k', 1], ['free', undefined]]);
    expect((await api.post(`/v1/queues/${queue}/claim`, { worker: 'w', max: 10 })).body.jobs).toEqual([]);
    // A failure with retry keeps the key: the next task still waits.
    const retry = await api.post(`/v1/leases/${first[0].leaseId}/fail`, { error: { type: 'Boom', message: 'x' }, delaySeconds: 0.2 });
    expect(retry.body.state).toBe('delayed');
    const again = await claimAll(api, queue, 1, { max: 10 }, 5000);
    expect(again.map((j) => [j.args[0], j.attempt])).toEqual([[1, 2]]);
    await api.post(`/v1/leases/${again[0].leaseId}/ack`, {});
    const second = await claimAll(api, queue, 1, { max: 10 }, 3000);
    expect(second.map((j) => j.args[0])).toEqual([2]);
    await api.post(`/v1/leases/${second[0].leaseId}/ack`, {});
    const third = await claimAll(api, queue, 1, { max: 10 }, 3000);
    expect(third.map((j) => j.args[0])).toEqual([3]);
  });
});
