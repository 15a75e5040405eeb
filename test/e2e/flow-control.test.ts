// Flow control against npm start: a queue's rate and concurrency limits hold for all workers together; retention.
import { describe, expect, inject, it } from 'vitest';
import { Api, TOKENS, claimAll, uniqueQueue } from './system.ts';
import { spawnWorker, waitFor, type WorkerProcess } from './workers.ts';

const url = inject('hubUrl');
const api = new Api(url);

/** The most tasks running at one instant, from their recorded start and finish times. */
function mostAtOnce(tasks: any[]): number {
  const edges = tasks.flatMap((t) => [[Date.parse(t.startedAt), 1], [Date.parse(t.finishedAt), -1]]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let running = 0;
  let most = 0;
  for (const [, d] of edges) most = Math.max(most, (running += d));
  return most;
}

/** Lets the workers run until the queue is empty (checking each tick), stops them, and returns the tasks. */
async function drainWith(queue: string, workers: WorkerProcess[], eachTick: (stats: any) => void = () => {}): Promise<any[]> {
  try {
    await waitFor('the queue to empty', async () => {
      const stats = (await api.get(`/v1/queues/${queue}`)).body;
      eachTick(stats);
      return stats.ready + stats.running === 0;
    }, 60_000);
  } finally {
    for (const w of workers) w.signal('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
  }
  return tasksOf(queue);
}

async function tasksOf(queue: string): Promise<any[]> {
  return (await api.get(`/v1/tasks?queue=${queue}&limit=500`)).body.tasks;
}

describe('a rate limit', () => {
  it('holds 5/s within a second\'s slack over 10 s, with 4 workers pulling hard', async () => {
    const queue = uniqueQueue('rate');
    expect((await api.request('PUT', `/v1/queues/${queue}/config`, { rateLimit: '5/s' })).body.config).toMatchObject({ rateLimit: '5/s' });
    await api.post('/v1/tasks/batch', { tasks: Array.from({ length: 150 }, (_, i) => ({ task: 'test.echo', args: [i], queue })) });
    const workers = Array.from({ length: 4 }, (_, i) => spawnWorker({ url, token: TOKENS.consume, queue, name: `rate-${i}`, concurrency: 8 }));
    const startsOf = async () => (await tasksOf(queue)).filter((t) => t.startedAt).map((t) => Date.parse(t.startedAt)).sort((a, b) => a - b);
    try {
      // The window runs from the first start, however long the workers took to come up.
      await waitFor('a start 10 s after the first', async () => {
        const s = await startsOf();
        return s.length > 0 && s[s.length - 1] >= s[0] + 10_000;
      }, 60_000);
    } finally {
      for (const w of workers) w.signal('SIGTERM');
      await Promise.all(workers.map((w) => w.exited));
    }
    const starts = await startsOf();
    const first = starts[0];
    const inTen = starts.filter((s) => s < first + 10_000).length;
    console.log(`rate limit 5/s: ${inTen} tasks started in the first 10 s, ${starts.length} in all`);
    expect(inTen).toBeLessThanOrEqual(5 * 11);
    expect(inTen).toBeGreaterThanOrEqual(5 * 9);
    expect(new Set((await tasksOf(queue)).filter((t) => t.worker).map((t) => t.worker)).size).toBeGreaterThan(1);
  });
});

describe('a task-name rate limit', () => {
  it('holds one name to 5/s while other tasks of the queue run freely', async () => {
    const queue = uniqueQueue('named');
    await api.post('/v1/tasks/batch', { tasks: Array.from({ length: 30 }, (_, i) => ({ task: 'test.echo', args: [i], queue })) });
    const set = await api.request('PUT', `/v1/queues/${queue}/config`, { taskRateLimits: { 'test.echo': '5/s' } });
    expect(set.body.config.taskRateLimits).toEqual({ 'test.echo': '5/s' });
    await api.post('/v1/tasks/batch', { tasks: [...Array.from({ length: 30 }, (_, i) => ({ task: 'test.echo', args: [i], queue })), ...Array.from({ length: 30 }, (_, i) => ({ task: 'test.add', args: [i], queue }))] });
    const workers = [0, 1, 2].map((i) => spawnWorker({ url, token: TOKENS.consume, queue, name: `named-${i}`, concurrency: 8 }));
    let all: any[] = [];
    const started = (name: string) => all.filter((t) => t.task === name && t.startedAt).map((t) => Date.parse(t.startedAt)).sort((a, b) => a - b);
    try {
      // The window runs from the first test.echo's start, however long the workers took to come up.
      await waitFor('a test.echo start 4 s after the first, and every test.add started', async () => {
        all = await tasksOf(queue);
        const echo = started('test.echo');
        return echo.length > 0 && echo[echo.length - 1] >= echo[0] + 4000 && started('test.add').length === 30;
      }, 60_000);
    } finally {
      for (const w of workers) w.signal('SIGTERM');
      await Promise.all(workers.map((w) => w.exited));
    }
    all = await tasksOf(queue);
    const echo = started('test.echo');
    const inFour = echo.filter((s) => s < echo[0] + 4000).length;
    console.log(`task rate limit 5/s: ${inFour} test.echo started in the first 4 s, ${echo.length} in all; test.add ${started('test.add').length}/30`);
    expect(inFour).toBeLessThanOrEqual(5 * 5);
    expect(inFour).toBeGreaterThanOrEqual(5 * 3);
    expect(started('test.add')).toHaveLength(30);
  });
});

describe('a concurrency limit', () => {
  it('never lets more than 2 of the queue\'s tasks run at once, across workers', async () => {
    const queue = uniqueQueue('conc');
    await api.request('PUT', `/v1/queues/${queue}/config`, { concurrency: 2 });
    await api.post('/v1/tasks/batch', { tasks: Array.from({ length: 12 }, () => ({ task: 'test.nap', args: [300], queue })) });
    const workers = [0, 1, 2].map((i) => spawnWorker({ url, token: TOKENS.consume, queue, name: `conc-${i}`, concurrency: 4 }));
    const done = await drainWith(queue, workers, (stats) => expect(stats.running).toBeLessThanOrEqual(2));
    expect(done.every((t) => t.state === 'succeeded')).toBe(true);
    // From the record: at no instant were more than 2 running.
    expect(mostAtOnce(done)).toBe(2);
  });
});

describe('a group key', () => {
  it('never runs more than groupLimit tasks of one key at once, and leaves other keys free', async () => {
    const queue = uniqueQueue('group');
    const tasks = [
      ...Array.from({ length: 8 }, () => ({ task: 'test.nap', args: [300], queue, groupKey: 'tenant-1', groupLimit: 2 })),
      ...Array.from({ length: 4 }, () => ({ task: 'test.nap', args: [300], queue, groupKey: 'tenant-2', groupLimit: 2 })),
    ];
    expect((await api.post('/v1/tasks/batch', { tasks })).status).toBe(202);
    const workers = [0, 1, 2].map((i) => spawnWorker({ url, token: TOKENS.consume, queue, name: `group-${i}`, concurrency: 4 }));
    const done = await drainWith(queue, workers);
    expect(done.every((t) => t.state === 'succeeded')).toBe(true);
    for (const key of ['tenant-1', 'tenant-2']) expect(mostAtOnce(done.filter((t) => t.groupKey === key)), key).toBe(2);
    expect((await api.post('/v1/tasks', { task: 'x', queue, groupLimit: 2 })).status).toBe(400);
    expect((await api.post('/v1/tasks', { task: 'x', queue, groupKey: 'k', orderingKey: 'k' })).status).toBe(400);
  });
});

describe('retention', () => {
  it('removes finished records after the queue\'s retention, and keeps dead letters', async () => {
    const queue = uniqueQueue('keep');
    await api.request('PUT', `/v1/queues/${queue}/config`, { retentionSeconds: 1 });
    const made = await api.post('/v1/tasks/batch', { tasks: [{ task: 'a', queue }, { task: 'b', queue }, { task: 'dies', queue, maxRetries: 0 }] });
    for (const job of await claimAll(api, queue, 3, { max: 3 })) {
      if (job.task === 'dies') await api.post(`/v1/leases/${job.leaseId}/fail`, { error: { type: 'E', message: 'e' } });
      else await api.post(`/v1/leases/${job.leaseId}/ack`, { result: 1 });
    }
    const [a, , dead] = made.body.tasks.map((t: any) => t.id);
    expect((await api.get(`/v1/tasks/${a}`)).status).toBe(200);
    // The cron trigger sweeps D1 (npm start fires it each minute; here, until the records are past retention and gone).
    await waitFor('the finished records to be swept', async () => {
      await fetch(`${inject('triggersUrl')}/cdn-cgi/local/scheduled?cron=${encodeURIComponent('* * * * *')}&time=${Date.now()}`).then((r) => r.arrayBuffer());
      return (await tasksOf(queue)).length === 1;
    });
    expect((await api.get(`/v1/tasks/${a}`)).status).toBe(404);
    expect((await tasksOf(queue)).map((t) => t.id)).toEqual([dead]);
    expect((await api.get(`/v1/queues/${queue}/dead`)).body.tasks.map((t: any) => t.id)).toEqual([dead]);
  });
});

describe('workflow retention', () => {
  it('deletes a finished workflow once its queues\' retention is over: its view answers 404', async () => {
    const queue = uniqueQueue('keep-wf');
    await api.request('PUT', `/v1/queues/${queue}/config`, { retentionSeconds: 1 });
    const started = await api.post('/v1/workflows', { chain: [{ task: 'a', queue }, { task: 'b', queue }] });
    expect(started.status).toBe(202);
    for (let step = 0; step < 2; step++) {
      const [job] = await claimAll(api, queue, 1);
      await api.post(`/v1/leases/${job.leaseId}/ack`, { result: step });
    }
    const done = await waitFor('the chain to succeed', async () => {
      const view = await api.get(`/v1/workflows/${started.body.id}`);
      return view.body.state === 'succeeded' && view;
    });
    expect(done.status).toBe(200);
    // Its alarm deletes it a second after it ended.
    await waitFor('the workflow to be deleted', async () => (await api.get(`/v1/workflows/${started.body.id}`)).status === 404, 20_000);
  });
});

describe('queue config', () => {
  it('is validated, admin only, and shown with the queue', async () => {
    const queue = uniqueQueue('cfg');
    for (const body of [{ rateLimit: '5/d' }, { rateLimit: '0/s' }, { concurrency: 0 }, { concurrency: 1.5 }, { retentionSeconds: -1 }, { other: 1 }]) {
      expect((await api.request('PUT', `/v1/queues/${queue}/config`, body)).status, JSON.stringify(body)).toBe(400);
    }
    expect((await api.as(TOKENS.enqueue).request('PUT', `/v1/queues/${queue}/config`, { concurrency: 3 })).status).toBe(403);
    await api.request('PUT', `/v1/queues/${queue}/config`, { concurrency: 3, rateLimit: '100/m' });
    await api.request('PUT', `/v1/queues/${queue}/config`, { rateLimit: null });
    expect((await api.get(`/v1/queues/${queue}`)).body.config).toEqual({ retentionSeconds: null, rateLimit: null, concurrency: 3, taskRateLimits: null, keyLimits: null });
  });
});
