// Worker sockets attached to one shard (`?shard=i`): the SDK's PullWorker holds one on each shard of a
// sharded queue (the shared system gives queues named sharded-* three shards), so every shard serves it directly.
import { describe, expect, inject, it } from 'vitest';
import { defineTask } from '../../src/sdk/index.ts';
import { PullWorker } from '../../src/sdk/pull.ts';
import { Api, TOKENS, claimAll, uniqueQueue } from './system.ts';
import { waitFor } from './workers.ts';

const url = inject('hubUrl');
const api = new Api(url);
const SHARDS = 3;
const objectOfLease = (leaseId: string) => leaseId.split('.')[0];

/** A raw worker socket; `messages` holds what the hub sent, `ask` sends one request and answers its reply. */
async function connect(path: string) {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${path}`, { headers: { authorization: `Bearer ${TOKENS.consume}` } } as never);
  const messages: any[] = [];
  ws.addEventListener('message', (e) => messages.push(JSON.parse(String(e.data))));
  await new Promise<void>((ok, fail) => {
    ws.addEventListener('open', () => ok());
    ws.addEventListener('error', () => fail(new Error('socket refused')));
  });
  let next = 1;
  const ask = async (message: object) => {
    const id = next++;
    ws.send(JSON.stringify({ ...message, id }));
    return waitFor(`the answer to ${id}`, async () => messages.find((m) => m.id === id), 20_000);
  };
  return { ws, messages, ask };
}

/** The `worker` events of GET /v1/events from now on: `text()` parses what came so far. */
async function workerEvents() {
  const controller = new AbortController();
  const res = await fetch(`${url}/v1/events`, { headers: { authorization: `Bearer ${TOKENS.admin}` }, signal: controller.signal });
  expect(res.status).toBe(200);
  let raw = '';
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) raw += decoder.decode(r.value, { stream: true });
    } catch {
      // stopped
    }
  })();
  const text = () =>
    raw.split('\n\n').slice(0, -1)
      .filter((block) => block.split('\n').includes('event: worker'))
      .map((block) => JSON.parse(block.split('\n').find((l) => l.startsWith('data: '))!.slice(6)));
  return { text, stop: () => controller.abort() };
}

/** Every task of the queue, as the tasks list has it. */
async function tasksOf(queue: string): Promise<any[]> {
  return (await api.get(`/v1/tasks?queue=${queue}&limit=500`)).body.tasks;
}

describe('a worker socket attached to one shard', () => {
  it('is told the shard count first and takes only its own shard\'s tasks, each shard\'s once', async () => {
    const queue = uniqueQueue('sharded');
    const sent = await api.post('/v1/tasks/batch', { tasks: Array.from({ length: 60 }, (_, i) => ({ task: 'n', args: [i], queue })) });
    expect(sent.status).toBe(202);
    const got = new Map<string, string[]>();
    for (let shard = 0; shard < SHARDS; shard++) {
      const socket = await connect(`/v1/queues/${queue}/connect?shard=${shard}`);
      await waitFor('the hello', async () => socket.messages.length > 0);
      expect(socket.messages[0]).toEqual({ op: 'hello', shards: SHARDS, shard });
      const jobs: any[] = [];
      // Enqueued tasks reach their shard through the bus: claim until this shard has none left for a moment.
      for (let empty = 0; empty < 2; ) {
        const reply = await socket.ask({ op: 'claim', worker: 'w', max: 100, waitSeconds: 0.5 });
        jobs.push(...reply.jobs);
        empty = reply.jobs.length ? 0 : empty + 1;
      }
      expect(new Set(jobs.map((j) => objectOfLease(j.leaseId)))).toEqual(new Set(jobs.length ? [shard === 0 ? queue : `${queue}~${shard}`] : []));
      const acked = await socket.ask({ op: 'ack', acks: jobs.map((j) => ({ leaseId: j.leaseId, result: shard })) });
      expect(acked.results.every((r: any) => r.state === 'succeeded')).toBe(true);
      got.set(String(shard), jobs.map((j) => j.id));
      socket.ws.close();
    }
    // Each shard held some of the 60 (they spread by id), and together they held every task once.
    const all = [...got.values()].flat();
    expect([...got.values()].every((ids) => ids.length > 0)).toBe(true);
    expect(all.sort()).toEqual(sent.body.tasks.map((t: any) => t.id).sort());
  });

  it('is shard 0 of an unsharded queue, as a socket without `shard` is', async () => {
    const queue = uniqueQueue();
    await api.post('/v1/tasks', { task: 'n', queue });
    const socket = await connect(`/v1/queues/${queue}/connect?shard=0`);
    await waitFor('the hello', async () => socket.messages.length > 0);
    expect(socket.messages[0]).toEqual({ op: 'hello', shards: 1, shard: 0 });
    const reply = await socket.ask({ op: 'claim', worker: 'w', max: 10, waitSeconds: 5 });
    expect(reply.jobs).toHaveLength(1);
    // A socket that asks for no shard is sent no hello.
    const plain = await connect(`/v1/queues/${queue}/connect`);
    expect((await plain.ask({ op: 'claim', worker: 'w', max: 10, waitSeconds: 0 })).jobs).toEqual([]);
    expect(plain.messages.filter((m) => m.op === 'hello')).toEqual([]);
    socket.ws.close();
    plain.ws.close();
  });

  it('refuses a shard that is not a whole number below the shard count with 400', async () => {
    const sharded = uniqueQueue('sharded');
    const plain = uniqueQueue();
    const consumer = api.as(TOKENS.consume);
    for (const [queue, shard] of [[sharded, '3'], [sharded, '-1'], [sharded, '1.5'], [sharded, 'x'], [sharded, ''], [sharded, '01e1'], [plain, '1'], [sharded, '100']]) {
      const res = await consumer.get(`/v1/queues/${queue}/connect?shard=${encodeURIComponent(shard)}`);
      expect(res.status, `shard=${shard}`).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_request' });
      expect(res.body.error.message).toContain('"shard"');
      await expect(connect(`/v1/queues/${queue}/connect?shard=${encodeURIComponent(shard)}`)).rejects.toThrow('socket refused');
    }
    // A good shard passes that check and meets the next: this route speaks WebSocket.
    const res = await consumer.get(`/v1/queues/${sharded}/connect?shard=2`);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('WebSocket');
  });

  it("gives a killed socket's leases to another worker once they expire", async () => {
    const queue = uniqueQueue('sharded');
    await api.post('/v1/tasks/batch', { tasks: Array.from({ length: 30 }, (_, i) => ({ task: 'n', args: [i], queue })) });
    const socket = await connect(`/v1/queues/${queue}/connect?shard=1`);
    const jobs: any[] = [];
    await waitFor('jobs of shard 1', async () => {
      jobs.push(...(await socket.ask({ op: 'claim', worker: 'doomed', max: 100, waitSeconds: 1, leaseSeconds: 1 })).jobs);
      return jobs.length > 0;
    });
    socket.ws.close();
    // Another worker claims over HTTP (the hub's claims take from every shard): the dead socket's jobs come back, as attempt 2.
    const again = await claimAll(api, queue, 30);
    const back = again.filter((j) => jobs.some((d) => d.id === j.id));
    expect(back.map((j) => j.id).sort()).toEqual(jobs.map((j) => j.id).sort());
    expect(back.every((j) => j.attempt === 2)).toBe(true);
  });
});

describe("the SDK's PullWorker on a sharded queue", () => {
  it('holds a socket on every shard and runs the tasks of every shard once', async () => {
    const queue = uniqueQueue('sharded');
    const runs = new Map<number, number>();
    const task = defineTask('count', async ([n]: number[]) => {
      runs.set(n, (runs.get(n) ?? 0) + 1);
      return n;
    });
    const logs: string[] = [];
    const worker = new PullWorker({ url, token: TOKENS.consume, queue, tasks: [task], concurrency: 20, waitSeconds: 1, name: `w-${queue}`, control: false, log: (m) => logs.push(m) });
    const events = await workerEvents();
    const running = worker.run();
    try {
      // On an empty queue each shard sees the worker claim there (a claim waits on each): the event
      // stream reports it from every shard. One socket on one shard would be seen by that shard alone.
      const seenOn = await waitFor('the worker seen by every shard', async () => {
        const shards = new Set(events.text().filter((e) => e.name === worker.name && e.queue === queue).map((e) => e.shard));
        return shards.size === SHARDS ? shards : null;
      });
      expect(seenOn).toEqual(new Set([0, 1, 2]));
      const sent = await api.post('/v1/tasks/batch', { tasks: Array.from({ length: 150 }, (_, i) => ({ task: 'count', args: [i], queue })) });
      expect(sent.status).toBe(202);
      const done = await waitFor('150 finished tasks', async () => {
        const tasks = await tasksOf(queue);
        return tasks.filter((t) => t.state === 'succeeded').length === 150 ? tasks : null;
      }, 60_000);
      expect(done.every((t) => t.attempts === 1 && t.worker === worker.name)).toBe(true);
      expect([...runs.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 150 }, (_, i) => i));
      expect([...runs.values()].every((n) => n === 1)).toBe(true);
      expect(logs.filter((m) => /HTTP|failed/.test(m))).toEqual([]);
    } finally {
      events.stop();
      await worker.stop();
      await running;
    }
    expect(worker.counts).toMatchObject({ succeeded: 150, released: 0 });
  });
});
