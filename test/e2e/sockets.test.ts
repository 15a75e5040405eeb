// Worker sockets: claims and acks over one WebSocket, as the SDK's PullWorker uses them by default.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createClient, defineTask } from '../../src/sdk/index.ts';
import { PullWorker } from '../../src/sdk/pull.ts';
import { Api, TOKENS, claimAll, sleep, startSystem, uniqueQueue, type System } from './system.ts';

const hub = inject('hubUrl');
const api = new Api(hub);

/** A raw socket to the hub (a queue's worker socket, or with queue null the producer socket) that collects every message it is sent. */
async function connect(url: string, queue: string | null, token: string) {
  const path = queue === null ? '/v1/tasks/connect' : `/v1/queues/${queue}/connect`;
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${path}`, { headers: { authorization: `Bearer ${token}` } } as never);
  const inbox: any[] = [];
  const listeners = new Set<() => void>();
  ws.addEventListener('message', (e) => {
    inbox.push(JSON.parse(String(e.data)));
    for (const l of [...listeners]) l();
  });
  const closed = new Promise<void>((ok) => ws.addEventListener('close', () => ok()));
  await new Promise<void>((ok, fail) => {
    ws.addEventListener('open', () => ok());
    ws.addEventListener('error', () => fail(new Error('socket refused')));
  });
  /** The next message matching `match`, within `ms`. */
  const next = (match: (m: any) => boolean, ms = 10_000) =>
    new Promise<any>((ok, fail) => {
      const look = () => {
        const i = inbox.findIndex(match);
        if (i < 0) return;
        listeners.delete(look);
        clearTimeout(timer);
        ok(inbox.splice(i, 1)[0]);
      };
      const timer = setTimeout(() => {
        listeners.delete(look);
        fail(new Error(`no matching message in ${ms} ms; got ${JSON.stringify(inbox)}`));
      }, ms);
      listeners.add(look);
      look();
    });
  const ask = (message: object) => {
    ws.send(JSON.stringify(message));
    return next((m) => m.id === (message as { id: unknown }).id);
  };
  return { ws, ask, next, closed, inbox };
}

describe('both sockets', () => {
  it('decline the permessage-deflate that clients offer, and still carry messages', async () => {
    const queue = uniqueQueue();
    for (const [target, token] of [[queue, TOKENS.consume], [null, TOKENS.admin]] as const) {
      const socket = await connect(hub, target, token);
      // Node's WebSocket, like browsers', offers permessage-deflate on every upgrade.
      expect(socket.ws.extensions).toBe('');
      const reply = await socket.ask(target === null ? { id: 1, op: 'nope' } : { id: 1, op: 'claim', worker: 'w', max: 1, waitSeconds: 0 });
      expect(reply).toMatchObject(target === null ? { id: 1, error: { code: 'invalid_request' } } : { id: 1, jobs: [] });
      socket.ws.close();
    }
  });
});

describe('a worker socket', () => {
  it('holds a claim until work arrives, then acks it, and the task records the result', async () => {
    const queue = uniqueQueue();
    const s = await connect(hub, queue, TOKENS.consume);
    try {
      s.ws.send(JSON.stringify({ id: 1, op: 'claim', worker: 'sock-1', max: 10, waitSeconds: 10 }));
      await sleep(300);
      expect(s.inbox).toEqual([]); // nothing ready: the claim waits
      const { body } = await api.post('/v1/tasks', { task: 'echo', queue, args: [1, 'two'] });
      const claimed = await s.next((m) => m.id === 1);
      expect(claimed.jobs).toHaveLength(1);
      expect(claimed.jobs[0]).toMatchObject({ id: body.id, task: 'echo', args: [1, 'two'], attempt: 1, queue });
      const acked = await s.ask({ id: 'a', op: 'ack', acks: [{ leaseId: claimed.jobs[0].leaseId, result: { ok: true } }, { leaseId: 'nope', result: 1 }] });
      expect(acked.results[0]).toEqual({ leaseId: claimed.jobs[0].leaseId, state: 'succeeded' });
      expect(acked.results[1].error.code).toBe('not_found');
      const task = await api.get(`/v1/tasks/${body.id}?wait=5`);
      expect(task.body).toMatchObject({ state: 'succeeded', result: { ok: true }, worker: 'sock-1' });
      // The same lease again: already ended.
      const again = await s.ask({ id: 'b', op: 'ack', acks: [{ leaseId: claimed.jobs[0].leaseId }] });
      expect(again.results[0].error.code).toBe('lease_lost');
    } finally {
      s.ws.close();
    }
  });

  it('answers bad messages with an error of the protocol and stays open', async () => {
    const queue = uniqueQueue();
    const s = await connect(hub, queue, TOKENS.consume);
    try {
      s.ws.send('not json');
      expect((await s.next((m) => m.id === null)).error.code).toBe('invalid_request');
      s.ws.send(new Uint8Array([1, 2, 3]));
      expect((await s.next((m) => m.id === null)).error.message).toMatch(/JSON text/);
      s.ws.send(JSON.stringify([1, 2]));
      expect((await s.next((m) => m.id === null)).error.code).toBe('invalid_request');
      s.ws.send(JSON.stringify({ op: 'claim', worker: 'w' }));
      expect((await s.next((m) => m.id === null)).error.message).toMatch(/"id"/);
      expect((await s.ask({ id: 2, op: 'dance' })).error).toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/unknown "op"/) });
      expect((await s.ask({ id: 3, op: 'claim', worker: 'w', max: 1000 })).error.message).toMatch(/max/);
      expect((await s.ask({ id: 4, op: 'claim', worker: 'w', bogus: true })).error.code).toBe('invalid_request');
      expect((await s.ask({ id: 5, op: 'ack', acks: [] })).error.message).toMatch(/1 to 100/);
      let deep: unknown = 1;
      for (let i = 0; i < 100; i++) deep = [deep];
      expect((await s.ask({ id: 6, op: 'ack', acks: [{ leaseId: 'x', result: deep }] })).error.message).toMatch(/nests deeper/);
      // Still serving, and none of that made a task.
      expect((await s.ask({ id: 7, op: 'claim', worker: 'w' })).jobs).toEqual([]);
      expect((await api.get(`/v1/queues/${queue}`)).body).toMatchObject({ ready: 0, running: 0 });
    } finally {
      s.ws.close();
    }
  });

  it('checks the token: none is refused, a region-bound one claims only its region', async () => {
    const queue = uniqueQueue();
    await expect(connect(hub, queue, 'not-a-token')).rejects.toThrow(/refused/);
    expect((await new Api(hub, null).get(`/v1/queues/${queue}/connect`)).status).toBe(401);
    expect((await api.as(TOKENS.enqueue).get(`/v1/queues/${queue}/connect`)).status).toBe(403);
    const plain = await api.as(TOKENS.consume).get(`/v1/queues/${queue}/connect`);
    expect(plain.status).toBe(400);
    expect(plain.body.error.message).toMatch(/WebSocket/);
    const s = await connect(hub, queue, TOKENS.cn);
    try {
      expect((await s.ask({ id: 1, op: 'claim', worker: 'w' })).error.code).toBe('forbidden');
      await api.post('/v1/tasks', { task: 't', queue, region: 'cn' });
      expect((await s.ask({ id: 2, op: 'claim', worker: 'w', region: 'cn', waitSeconds: 5 })).jobs).toHaveLength(1);
    } finally {
      s.ws.close();
    }
  });

  it('ends the waiting claim of a socket that closed, so a new task goes to another worker at once', async () => {
    const queue = uniqueQueue();
    const s = await connect(hub, queue, TOKENS.consume);
    s.ws.send(JSON.stringify({ id: 1, op: 'claim', worker: 'gone', max: 5, waitSeconds: 10 }));
    await sleep(300);
    s.ws.close();
    await s.closed;
    const { body } = await api.post('/v1/tasks', { task: 't', queue });
    // Were the closed socket's claim still waiting, it would lease the task and nobody would run it until the lease expired.
    const [job] = await claimAll(api.as(TOKENS.consume), queue, 1, { waitSeconds: 2 }, 5000);
    expect(job).toMatchObject({ id: body.id, attempt: 1 });
  });
});

describe('a producer socket', () => {
  it('enqueues as POST /v1/tasks and /batch do: same answers, duplicates and all-or-nothing batches', async () => {
    const queue = uniqueQueue();
    const s = await connect(hub, null, TOKENS.enqueue);
    try {
      const key = `k-${queue}`;
      const one = await s.ask({ id: 1, op: 'enqueue', task: { task: 'echo', queue, args: [7], idempotencyKey: key } });
      expect(one.task).toMatchObject({ id: expect.any(String), state: 'queued' });
      const again = await s.ask({ id: 2, op: 'enqueue', task: { task: 'echo', queue, idempotencyKey: key } });
      expect(again.task).toMatchObject({ id: one.task.id, duplicate: true });
      const batch = await s.ask({ id: 3, op: 'enqueueBatch', tasks: [{ task: 'a', queue }, { task: 'b', queue, delay: 60 }] });
      expect(batch.tasks.map((t: { state: string }) => t.state)).toEqual(['queued', 'delayed']);
      // A batch with one bad task: nothing of it is enqueued.
      const bad = await s.ask({ id: 4, op: 'enqueueBatch', tasks: [{ task: 'c', queue }, { task: 'd', queue, priority: 'high' }] });
      expect(bad.error).toMatchObject({ code: 'invalid_request', details: { index: 1 } });
      expect((await s.ask({ id: 5, op: 'enqueue', task: { queue } })).error.message).toMatch(/task/);
      expect((await s.ask({ id: 6, op: 'enqueue', task: { task: 'x', queue }, extra: 1 })).error.message).toMatch(/unknown field "extra"/);
      expect((await s.ask({ id: 7, op: 'claim', worker: 'w' })).error.message).toMatch(/"enqueue" or "enqueueBatch"/);
      expect((await s.ask({ id: 8, op: 'enqueue', task: { task: 'x', queue, args: ['y'.repeat(200_000)] } })).error.code).toBe('payload_too_large');
      // Counted in UTF-8: 50,000 characters of three bytes each are past a task's 128 KiB.
      expect((await s.ask({ id: 9, op: 'enqueue', task: { task: 'x', queue, args: ['€'.repeat(50_000)] } })).error.code).toBe('payload_too_large');
      const stats = (await api.get(`/v1/queues/${queue}`)).body;
      expect(stats).toMatchObject({ ready: 2, delayed: 1 });
      expect((await api.get(`/v1/tasks/${one.task.id}`)).body).toMatchObject({ task: 'echo', args: [7], state: 'queued' });
    } finally {
      s.ws.close();
    }
  });

  it('answers each of many enqueues sent at once as it would alone, in the order they were sent', async () => {
    const queue = uniqueQueue();
    const s = await connect(hub, null, TOKENS.enqueue);
    try {
      const key = `burst-${queue}`;
      // 60 sent without waiting: the hub writes those that arrive during a write together.
      const sent = Array.from({ length: 60 }, (_, i) => {
        if (i === 10) return { id: i, op: 'enqueue', task: { task: 'burst', queue, args: [i], priority: 'high' } }; // invalid
        if (i === 20 || i === 21) return { id: i, op: 'enqueue', task: { task: 'burst', queue, args: [i], idempotencyKey: key } };
        return { id: i, op: 'enqueue', task: { task: 'burst', queue, args: [i] } };
      });
      for (const m of sent) s.ws.send(JSON.stringify(m));
      const answers = await Promise.all(sent.map((m) => s.next((a) => a.id === m.id)));
      expect(answers[10].error).toMatchObject({ code: 'invalid_request' });
      expect(answers[20].task).toMatchObject({ state: 'queued' });
      expect(answers[21].task).toEqual({ id: answers[20].task.id, state: 'queued', duplicate: true });
      const created = answers.filter((a, i) => i !== 10 && i !== 21).map((a) => a.task.id);
      expect(new Set(created).size).toBe(58);
      expect((await api.get(`/v1/queues/${queue}`)).body).toMatchObject({ ready: 58 });
      // Claimed in the order sent (one priority): the group kept arrival order.
      const jobs = await claimAll(api.as(TOKENS.consume), queue, 58);
      expect(jobs.map((j: { args: number[] }) => j.args[0])).toEqual(sent.map((m) => m.id).filter((i) => i !== 10 && i !== 21));
    } finally {
      s.ws.close();
    }
  });

  it('is refused to a token without the enqueue scope', async () => {
    expect((await api.as(TOKENS.consume).get('/v1/tasks/connect')).status).toBe(403);
    await expect(connect(hub, null, TOKENS.consume)).rejects.toThrow(/refused/);
  });

  it("is what the SDK's producer uses, and its tasks run and report results", async () => {
    const queue = uniqueQueue();
    const double = defineTask('double', async ([n]: number[]) => n * 2);
    const worker = new PullWorker({ url: hub, token: TOKENS.consume, queue, tasks: [double], concurrency: 4, waitSeconds: 1, log: () => {} });
    const running = worker.run();
    const logs: string[] = [];
    const producer = createClient({ url: hub, token: TOKENS.enqueue }).producer({ log: (m) => logs.push(m) });
    try {
      const handles = await Promise.all([1, 2, 3].map((n) => producer.enqueue(double, [n], { queue })));
      const [many] = await producer.enqueueMany(double, [{ args: [10], options: { queue } }]);
      expect(await Promise.all([...handles, many].map((h) => h.wait({ timeoutSeconds: 20 })))).toEqual([2, 4, 6, 20]);
      expect(logs).toEqual([]); // no fallback to HTTP
    } finally {
      await producer.close();
      await worker.stop();
      await running;
    }
  });

  it("holds back the SDK producer's enqueues past the hub's 64 unanswered on one socket, so none is refused", async () => {
    const queue = uniqueQueue();
    const logs: string[] = [];
    const producer = createClient({ url: hub, token: TOKENS.enqueue }).producer({ log: (m) => logs.push(m) });
    try {
      // 300 at once: the hub answers each after its D1 write, and would refuse the 65th unanswered.
      const outcomes = await Promise.allSettled(Array.from({ length: 300 }, (_, i) => producer.enqueue('many', [i], { queue })));
      expect(outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason))).toEqual([]);
      expect((await api.get(`/v1/queues/${queue}`)).body).toMatchObject({ ready: 300 });
      expect(logs).toEqual([]); // all over the socket
    } finally {
      await producer.close();
    }
  });
});

describe('the PullWorker over sockets', () => {
  let system: System;
  beforeAll(async () => {
    // Sockets that live one second: the worker reconnects many times while it works.
    system = await startSystem({ env: { DROVER_SOCKET_SECONDS: '1' } });
  }, 150_000);
  afterAll(() => system?.stop());

  it('keeps working across the reconnects the hub asks for, losing nothing', async () => {
    const queue = uniqueQueue();
    const done = new Set<number>();
    const work = defineTask('work', async ([n]: number[]) => {
      done.add(n);
      await sleep(5);
      return n * 2;
    });
    const logs: string[] = [];
    const worker = new PullWorker({ url: system.url, token: TOKENS.consume, queue, tasks: [work], concurrency: 8, waitSeconds: 1, log: (m) => logs.push(m) });
    const running = worker.run();
    const sockets = () => system.logs().match(new RegExp(`GET /v1/queues/${queue}/connect`, 'g'))?.length ?? 0;
    const ids: string[] = [];
    // Paced over ~4 s so claims and acks straddle the sockets' ends.
    for (let n = 0; n < 40; n++) {
      ids.push((await system.api.post('/v1/tasks', { task: 'work', queue, args: [n] })).body.id);
      await sleep(100);
    }
    for (const id of ids) expect((await system.api.get(`/v1/tasks/${id}?wait=20`)).body.state).toBe('succeeded');
    await worker.stop();
    await running;
    expect(done.size).toBe(40);
    expect(worker.counts).toMatchObject({ succeeded: 40, failed: 0, abandoned: 0 });
    expect(logs.filter((m) => /refused|over HTTP|claim failed|could not/.test(m))).toEqual([]);
    expect(sockets()).toBeGreaterThanOrEqual(3);
    // Every task ran once: no result was recorded twice and nothing was retried.
    const records = await Promise.all(ids.map((id) => system.api.get(`/v1/tasks/${id}`)));
    expect(records.map((r) => r.body.attempts)).toEqual(ids.map(() => 1));
  }, 60_000);
});
