// Pull workers under faults: SIGKILL mid-task, SIGTERM drain, a hub that is not up yet or restarts.
import { afterAll, describe, expect, it } from 'vitest';
import { Api, TOKENS, freePort, sleep, startSystem, uniqueQueue, type System } from './system.ts';
import { spawnWorker, waitFor } from './workers.ts';

const systems: System[] = [];
afterAll(async () => {
  await Promise.all(systems.map((s) => s.stop()));
});

async function system(options: Parameters<typeof startSystem>[0] = {}) {
  const s = await startSystem(options);
  systems.push(s);
  return s;
}

/** The kill and drain tests share one system; each uses its own queue. */
let shared: Promise<System> | undefined;
const sharedSystem = () => (shared ??= system());

describe('a worker killed mid-task', () => {
  it('has its task redone by another worker of the same region after the lease', async () => {
    const { url } = await sharedSystem();
    const api = new Api(url);
    const queue = uniqueQueue('kill');
    const { body } = await api.post('/v1/tasks', { task: 'test.stall', queue, region: 'cn', timeout: 4 });
    // One slot: while it runs the task, cn-a has no claim waiting at the hub. (A claim left
    // waiting by a killed worker can take one more attempt: see docs/operations.md, "Known limits".)
    const a = spawnWorker({ url, token: TOKENS.cn, queue, region: 'cn', name: 'cn-a', concurrency: 1 });
    await waitFor('cn-a to start the task', async () => (await api.get(`/v1/tasks/${body.id}`)).body.worker === 'cn-a');
    // Past the first lease: only cn-a's heartbeats (a third of the lease apart) keep the task, with 2.7 s of slack each.
    await sleep(4500);
    expect((await api.get(`/v1/tasks/${body.id}`)).body).toMatchObject({ state: 'running', attempts: 1 });
    a.signal('SIGKILL');
    const b = spawnWorker({ url, token: TOKENS.cn, queue, region: 'cn', name: 'cn-b' });
    const weur = spawnWorker({ url, token: TOKENS.weur, queue, region: 'weur', name: 'weur-x' });
    try {
      const done = (await api.get(`/v1/tasks/${body.id}?wait=30`)).body;
      expect(done).toMatchObject({ state: 'succeeded', attempts: 2, worker: 'cn-b', result: { worker: 'cn-b', attempt: 2 } });
    } finally {
      b.signal('SIGTERM');
      weur.signal('SIGTERM');
      await Promise.all([b.exited, weur.exited]);
    }
  });
});

describe('SIGTERM', () => {
  it('lets running tasks finish, hands back what it had not started, and exits 0', async () => {
    const { url } = await sharedSystem();
    const api = new Api(url);
    const queue = uniqueQueue('term');
    const naps = await api.post('/v1/tasks/batch', { tasks: [{ task: 'test.nap', args: [2000], queue }, { task: 'test.nap', args: [2000], queue }] });
    const w = spawnWorker({ url, token: TOKENS.consume, queue, name: 'drainer', concurrency: 3, grace: 20 });
    await waitFor('both naps to run', async () => (await api.get(`/v1/queues/${queue}`)).body.running === 2);
    await sleep(300); // the third slot is now waiting in a long-poll claim
    w.signal('SIGTERM');
    await waitFor('the warm shutdown line', async () => /warm shutdown/.test(w.output()));
    // Arrives while the worker drains: its waiting claim gets it and must hand it back.
    const late = await api.post('/v1/tasks', { task: 'test.echo', args: ['late'], queue });
    expect(await w.exited).toBe(0);
    for (const t of naps.body.tasks) {
      expect((await api.get(`/v1/tasks/${t.id}`)).body).toMatchObject({ state: 'succeeded', worker: 'drainer', result: { slept: 2000 } });
    }
    const handedBack = (await api.get(`/v1/tasks/${late.body.id}`)).body;
    expect(handedBack).toMatchObject({ state: 'queued', attempts: 0, worker: null });
    expect(w.output()).toMatch(/"released":1/);
    const next = spawnWorker({ url, token: TOKENS.consume, queue, name: 'next' });
    expect((await api.get(`/v1/tasks/${late.body.id}?wait=20`)).body).toMatchObject({ state: 'succeeded', attempts: 1, worker: 'next' });
    next.signal('SIGTERM');
    await next.exited;
  });
});

describe('a hub that is away', () => {
  it('is waited for by a worker started first, and survived across a restart', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const queue = uniqueQueue('away');
    const w = spawnWorker({ url, token: TOKENS.consume, queue, name: 'patient' });
    try {
      await waitFor('the worker to say the hub is unreachable', async () => /unreachable/.test(w.output()), 10_000);
      const first = await system({ port });
      const api = new Api(url);
      const a = await api.post('/v1/tasks', { task: 'test.echo', args: ['first'], queue });
      expect((await api.get(`/v1/tasks/${a.body.id}?wait=30`)).body).toMatchObject({ state: 'succeeded', worker: 'patient' });
      expect(w.output()).toMatch(/answers again/);

      await first.stop();
      systems.splice(systems.indexOf(first), 1);
      await sleep(1500);
      await system({ port, stateDir: first.stateDir });
      const b = await api.post('/v1/tasks', { task: 'test.echo', args: ['second'], queue });
      expect((await api.get(`/v1/tasks/${b.body.id}?wait=30`)).body).toMatchObject({ state: 'succeeded', worker: 'patient', result: { args: ['second'] } });
      expect((await api.get(`/v1/tasks/${a.body.id}`)).body.state).toBe('succeeded');
    } finally {
      w.signal('SIGTERM');
      expect(await w.exited).toBe(0);
    }
  });
});
