// drover worker against the real hub: -Q priority, autoscale, --max-tasks recycling, cold shutdown, NotRegistered.
import { describe, expect, inject, it } from 'vitest';
import { PullWorker } from '../../src/sdk/pull.ts';
import { echo, nap } from '../fixtures/tasks.ts';
import { Api, TOKENS, uniqueQueue } from './system.ts';
import { spawnWorker, waitFor } from './workers.ts';

const url = inject('hubUrl');
const api = new Api(url);

const FINAL = ['succeeded', 'failed', 'revoked', 'expired'];

async function final(ids: string[], timeoutMs = 60_000) {
  return waitFor(`${ids.length} tasks to end`, async () => {
    const records = await Promise.all(ids.map((id) => api.get(`/v1/tasks/${id}`).then((r) => r.body)));
    return records.every((t) => FINAL.includes(t.state)) && records;
  }, timeoutMs);
}

async function enqueueMany(tasks: Record<string, unknown>[]): Promise<string[]> {
  const res = await api.post('/v1/tasks/batch', { tasks });
  expect(res.status).toBe(202);
  return res.body.tasks.map((t: { id: string }) => t.id);
}

/** The ids of the tasks the worker said it received, in the order it said so. */
const receivedOrder = (output: string) => [...output.matchAll(/Task [\w.]+\[(\w+)\] received/g)].map((m) => m[1]);

describe('-Q a,b', () => {
  it('runs the first queue\'s tasks first, then the second\'s, and leaves nothing claimed to expire', async () => {
    const first = uniqueQueue('prio-a');
    const second = uniqueQueue('prio-b');
    // The second queue's tasks are older: only the queue order can put the first queue's ahead.
    const later = await enqueueMany(Array.from({ length: 4 }, (_, i) => ({ task: 'test.echo', args: ['b', i], queue: second })));
    const sooner = await enqueueMany(Array.from({ length: 4 }, (_, i) => ({ task: 'test.echo', args: ['a', i], queue: first })));
    const w = spawnWorker({ url, token: TOKENS.consume, queue: `${first},${second}`, name: 'prio-1', concurrency: 1 });
    try {
      const done = await final([...sooner, ...later]);
      expect(done.map((t) => [t.state, t.attempts])).toEqual(Array(8).fill(['succeeded', 1]));
      await waitFor('all 8 received lines', async () => receivedOrder(w.output()).length >= 8, 5_000);
      expect(receivedOrder(w.output())).toEqual([...sooner, ...later]);

      // Idle, the worker waits on both queues at once; work arriving on both together can be
      // claimed twice over for its one slot: the extra job goes back at once, not after its lease.
      const both = await enqueueMany([{ task: 'test.nap', args: [300], queue: second, timeout: 600 }, { task: 'test.nap', args: [300], queue: first, timeout: 600 }]);
      const after = await final(both, 30_000);
      expect(after.map((t) => [t.state, t.attempts])).toEqual([['succeeded', 1], ['succeeded', 1]]);
    } finally {
      w.signal('SIGTERM');
      expect(await w.exited).toBe(0);
    }
  });
});

describe('--autoscale', () => {
  it('grows its slots under a backlog and shrinks them back when idle', async () => {
    const queue = uniqueQueue('autoscale');
    const logs: string[] = [];
    const worker = new PullWorker({
      url, token: TOKENS.consume, queue, tasks: [nap], socket: false, control: false, waitSeconds: 1,
      autoscale: { max: 4, min: 1, idleSeconds: 0.5 },
      log: (m, level) => logs.push(`${level ?? 'info'} ${m}`),
    });
    const running = worker.run();
    try {
      expect(worker.slots.current).toBe(1);
      const ids = await enqueueMany(Array.from({ length: 24 }, () => ({ task: 'test.nap', args: [200], queue })));
      await waitFor('4 slots', async () => worker.slots.current === 4, 20_000);
      expect(logs).toContain('debug autoscale: 4 slot(s) (work waiting)');
      await final(ids);
      await waitFor('back to 1 slot', async () => worker.slots.current === 1, 10_000);
      expect(logs).toContain('debug autoscale: 1 slot(s) (idle)');
    } finally {
      await worker.stop();
      await running;
    }
  });
});

describe('--max-tasks', () => {
  it('replaces the worker process every 3 tasks, running each of 7 tasks exactly once', async () => {
    const queue = uniqueQueue('recycle');
    const w = spawnWorker({ url, token: TOKENS.consume, queue, name: 'recycler', concurrency: 2, flags: ['--max-tasks', '3'] });
    try {
      const ids = await enqueueMany(Array.from({ length: 7 }, (_, i) => ({ task: 'test.echo', args: [i], queue })));
      const done = await final(ids);
      expect(done.map((t) => [t.state, t.attempts, t.worker])).toEqual(Array(7).fill(['succeeded', 1, 'recycler']));
      const pids = done.map((t) => t.result.pid);
      expect(new Set(pids).size).toBe(3);
      expect(pids).not.toContain(w.pid);
      expect(w.output()).toMatch(/recycled after its tasks \(--max-tasks\); starting worker process 2/);
      expect(w.output()).toMatch(/recycled after its tasks \(--max-tasks\); starting worker process 3/);
    } finally {
      w.signal('SIGTERM');
      expect(await w.exited).toBe(0);
    }
  });
});

describe('a second SIGTERM', () => {
  it.each([
    ['a worker', []],
    ['a recycling worker (the signals pass through its supervisor)', ['--max-tasks', '100']],
  ])('makes %s exit 1 at once, releasing the running task so another worker finishes it long before its lease ends', async (_what, flags) => {
    const queue = uniqueQueue('cold');
    const [id] = await enqueueMany([{ task: 'test.nap', args: [2000], queue, timeout: 120 }]);
    const a = spawnWorker({ url, token: TOKENS.consume, queue, name: 'cold-a', concurrency: 1, flags });
    await waitFor('cold-a to run the nap', async () => (await api.get(`/v1/tasks/${id}`)).body.state === 'running');
    const signalled = Date.now();
    a.signal('SIGTERM');
    await waitFor('the warm shutdown line', async () => /warm shutdown/.test(a.output()), 10_000);
    a.signal('SIGTERM');
    expect(await a.exited).toBe(1);
    expect(Date.now() - signalled).toBeLessThan(10_000);
    expect(a.output()).toMatch(/cold shutdown: releasing 1 running job\(s\) at once/);
    expect((await api.get(`/v1/tasks/${id}`)).body).toMatchObject({ state: 'queued' });
    const b = spawnWorker({ url, token: TOKENS.consume, queue, name: 'cold-b', concurrency: 1 });
    try {
      const [done] = await final([id], 30_000);
      expect(done).toMatchObject({ state: 'succeeded', worker: 'cold-b', result: { worker: 'cold-b', slept: 2000 } });
      expect(Date.now() - signalled).toBeLessThan(60_000);
      expect(b.output().match(/received/g)).toHaveLength(1);
    } finally {
      b.signal('SIGTERM');
      await b.exited;
    }
  });
});

describe('a task this worker does not run', () => {
  it('fails as NotRegistered, naming the task and the worker\'s tasks', async () => {
    const queue = uniqueQueue('unregistered');
    const [id] = await enqueueMany([{ task: 'test.nobody', queue, maxRetries: 0 }]);
    // Workers claim only the tasks they run; one whose claims name none (an older or foreign
    // client) is what still brings a job for a task it lacks.
    const anyTask: typeof fetch = (input, init) => {
      if (String(input).endsWith('/claim') && typeof init?.body === 'string') {
        const { tasks: _all, ...body } = JSON.parse(init.body);
        return fetch(input, { ...init, body: JSON.stringify(body) });
      }
      return fetch(input, init);
    };
    const worker = new PullWorker({ url, token: TOKENS.consume, queue, tasks: [echo, nap], socket: false, control: false, waitSeconds: 1, fetch: anyTask, log: () => {} });
    const running = worker.run();
    try {
      const [done] = await final([id], 30_000);
      expect(done.state).toBe('failed');
      expect(done.error).toMatchObject({ type: 'NotRegistered', message: 'task "test.nobody" is not registered on this worker (it runs "test.echo", "test.nap")' });
    } finally {
      await worker.stop();
      await running;
    }
  });
});
