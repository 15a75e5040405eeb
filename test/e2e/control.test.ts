// Worker heartbeats, remote control and broadcasts against npm start, with the test acting as the worker (raw heartbeat calls).
import { describe, expect, inject, it } from 'vitest';
import { Api, TOKENS, uniqueQueue } from './system.ts';
import { waitFor } from './workers.ts';

const url = inject('hubUrl');
const api = new Api(url);
const consumer = api.as(TOKENS.consume);

let counter = 0;
const uniqueWorker = (prefix = 'w') => `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;

/** One heartbeat, as a worker sends it. */
function heartbeat(name: string, body: Record<string, unknown>, as: Api = consumer) {
  return as.post(`/v1/workers/${encodeURIComponent(name)}/heartbeat`, { concurrency: 4, ...body });
}

async function listed(name: string) {
  return (await api.get('/v1/workers')).body.workers.find((w: any) => w.name === name);
}

/** A worker that answers each command once with `answer`, until stopped; it counts what it ran. */
function fakeWorker(name: string, queues: string[], answer: (c: any) => Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const ran: any[] = [];
  let stopped = false;
  const loop = (async () => {
    let replies: any[] = [];
    const seen = new Map<string, any>();
    while (!stopped) {
      const res = await heartbeat(name, { queues, replies, waitSeconds: 1, ...extra });
      if (res.status !== 200) throw new Error(`heartbeat: ${res.status} ${res.text}`);
      replies = [];
      for (const c of res.body.commands) {
        // A repeated id gets the same reply again, without running twice (the contract).
        if (!seen.has(c.id)) {
          ran.push(c);
          seen.set(c.id, { id: c.id, ...answer(c) });
        }
        replies.push(seen.get(c.id));
      }
    }
  })();
  return { name, ran, stop: async () => { stopped = true; await loop; } };
}

describe('heartbeats', () => {
  it('list the worker alive with what it said, beside workers seen only by claims', async () => {
    const name = uniqueWorker();
    const queue = uniqueQueue('hb');
    const active = [{ id: '01JAAAAAAAAAAAAAAAAAAAAAAA', task: 'scrape.page', queue, startedAt: '2026-12-05T08:00:00.000Z' }];
    const res = await heartbeat(name, { region: null, queues: [queue], tasks: ['scrape.page'], concurrency: 8, active, processed: 120, failed: 3 });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ commands: [], intervalSeconds: 10 });
    expect(await listed(name)).toMatchObject({
      name, state: 'alive', region: null, queues: [queue], inHand: 0, concurrency: 8, active, activeCount: 1, processed: 120, failed: 3, tasks: ['scrape.page'],
    });
    // A worker in another language only claims: listed all the same, with what claims tell.
    const claimer = uniqueWorker('claims');
    await consumer.post(`/v1/queues/${queue}/claim`, { worker: claimer, waitSeconds: 0 });
    const seen = await waitFor('the claiming worker to be listed', () => listed(claimer));
    expect(seen).toMatchObject({ state: 'alive', queues: [queue], concurrency: null, active: null, tasks: null });
  });

  it('held open return at once when a command arrives, and the command comes again until replied', async () => {
    const name = uniqueWorker();
    const queues = [uniqueQueue('hold')];
    await heartbeat(name, { queues });
    const started = Date.now();
    const held = heartbeat(name, { queues, waitSeconds: 25 });
    // Whether the command comes while the heartbeat is held or just before it arrives, it answers well before its 25 s.
    const sent = await api.post('/v1/control', { workers: [name], command: 'grow', args: { n: 2 }, waitSeconds: 0 });
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({ replies: [], pending: [name], skipped: [] });
    const got = await held;
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(got.body.commands).toEqual([{ id: expect.any(String), command: 'grow', args: { n: 2 } }]);
    const id = got.body.commands[0].id;
    // Not replied: it comes again, with the same id, even on a heartbeat that would wait.
    const again = await heartbeat(name, { queues, waitSeconds: 10 });
    expect(again.body.commands.map((c: any) => c.id)).toEqual([id]);
    const reply = await heartbeat(name, { queues, replies: [{ id, ok: true, reply: { concurrency: 6 } }] });
    expect(reply.body.commands).toEqual([]);
    // A repeated reply changes nothing; the first one counts.
    await heartbeat(name, { queues, replies: [{ id, ok: true, reply: { concurrency: 99 } }] });
    const later = await api.get(`/v1/control/${sent.body.id}`);
    expect(later.body).toMatchObject({ id: sent.body.id, command: 'grow', replies: [{ worker: name, ok: true, reply: { concurrency: 6 } }], pending: [] });
  });

  it('refuse a reply past 128 KiB of JSON with 413 and keep the command pending; one at 128 KiB counts', async () => {
    const name = uniqueWorker();
    const queues = [uniqueQueue('big-reply')];
    await heartbeat(name, { queues });
    const sent = await api.post('/v1/control', { workers: [name], command: 'ping', waitSeconds: 0 });
    const [{ id }] = (await heartbeat(name, { queues })).body.commands;
    // A reply whose JSON is `bytes` of UTF-8, in three-byte characters: far fewer characters than bytes.
    const reply = (bytes: number) => '页'.repeat(Math.floor((bytes - 2) / 3)) + 'a'.repeat((bytes - 2) % 3);
    expect(new TextEncoder().encode(JSON.stringify(reply(128 * 1024 + 1))).byteLength).toBe(128 * 1024 + 1);
    const over = await heartbeat(name, { queues, replies: [{ id, ok: true, reply: reply(128 * 1024 + 1) }] });
    expect(over.status).toBe(413);
    expect(over.body.error.message).toBe('replies[0].reply is larger than 128 KiB');
    expect((await api.get(`/v1/control/${sent.body.id}`)).body).toMatchObject({ replies: [], pending: [name] });
    const at = await heartbeat(name, { queues, replies: [{ id, ok: true, reply: reply(128 * 1024) }] });
    expect(at.status).toBe(200);
    expect((await api.get(`/v1/control/${sent.body.id}`)).body).toMatchObject({ replies: [{ worker: name, ok: true, reply: reply(128 * 1024) }], pending: [] });
  });

  it('with leaving, list the worker gone at once, and its unanswered commands expire', async () => {
    const name = uniqueWorker();
    const queues = [uniqueQueue('leave')];
    await heartbeat(name, { queues });
    const sent = await api.post('/v1/control', { workers: [name], command: 'ping', waitSeconds: 0 });
    expect(sent.status).toBe(200);
    const bye = await heartbeat(name, { queues, leaving: true, waitSeconds: 10 });
    expect(bye.body.commands).toEqual([]);
    expect((await listed(name)).state).toBe('gone');
    expect((await api.get(`/v1/control/${sent.body.id}`)).body).toMatchObject({ pending: [], expired: [name] });
    const refused = await api.post('/v1/control', { workers: [name], command: 'ping', waitSeconds: 0 });
    expect(refused.status).toBe(409);
    expect(refused.body.error.details.skipped).toEqual([{ worker: name, reason: 'gone' }]);
  });

  it('refuse a consume@R token with another region or none (403), and tokens without consume', async () => {
    const name = uniqueWorker('cn');
    const queues = [uniqueQueue('cn')];
    expect((await heartbeat(name, { queues, region: 'weur' }, api.as(TOKENS.cn))).status).toBe(403);
    expect((await heartbeat(name, { queues }, api.as(TOKENS.cn))).status).toBe(403);
    expect((await heartbeat(name, { queues }, api.as(TOKENS.enqueue))).status).toBe(403);
    expect((await heartbeat(name, { queues }, api.as(null))).status).toBe(401);
    expect(await listed(name)).toBeUndefined();
    expect((await heartbeat(name, { queues, region: 'cn' }, api.as(TOKENS.cn))).status).toBe(200);
    // The name is that token's worker while it lives: another token cannot take its commands.
    expect((await heartbeat(name, { queues }, api.as(TOKENS.consume2))).status).toBe(403);
  });

  it('refuse bad names and bodies with 400 (413 for an oversized reply), storing nothing', async () => {
    const name = uniqueWorker('bad');
    const queues = [uniqueQueue('bad')];
    const bad: [string, unknown][] = [
      [name, { queues: [], concurrency: 1 }],
      [name, { queues, concurrency: -1 }],
      [name, { queues, concurrency: 1.5 }],
      [name, { queues }],
      [name, { queues, concurrency: 1, waitSeconds: 31 }],
      [name, { queues, concurrency: 1, extra: true }],
      [name, { queues: ['Bad Queue'], concurrency: 1 }],
      [name, { queues, concurrency: 1, active: [{ id: 'x', task: 't', queue: 'q', startedAt: 'yesterday' }] }],
      [name, { queues, concurrency: 1, replies: [{ id: 'c1', ok: true }] }],
      [name, { queues, concurrency: 1, replies: [{ id: 'c1', ok: false, error: { type: '' } }] }],
      [name, { queues, concurrency: 1, leaving: 'yes' }],
      [`${name}\u0001`, { queues, concurrency: 1 }],
      ['x'.repeat(201), { queues, concurrency: 1 }],
    ];
    for (const [n, body] of bad) {
      const res = await consumer.post(`/v1/workers/${encodeURIComponent(n)}/heartbeat`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    expect((await consumer.request('POST', `/v1/workers/${name}/heartbeat`, '{"queues": [')).status).toBe(400);
    const big = await heartbeat(name, { queues, replies: [{ id: 'c1', ok: true, reply: 'x'.repeat(130 * 1024) }] });
    expect(big.status).toBe(413);
    expect(await listed(name)).toBeUndefined();
  });
});

describe('remote control', () => {
  it('waits for the replies and shows each, with the names it did not send to', async () => {
    const queue = uniqueQueue('ctl');
    const a = fakeWorker(uniqueWorker('a'), [queue], () => ({ ok: true, reply: 'pong' }));
    const b = fakeWorker(uniqueWorker('b'), [queue], () => ({ ok: false, error: { type: 'NotConsuming', message: 'no such queue here' } }));
    const nobody = uniqueWorker('nobody');
    try {
      await waitFor('both workers alive', async () => (await api.get('/v1/workers')).body.workers.filter((w: any) => w.queues.includes(queue) && w.state === 'alive').length === 2);
      const res = await api.post('/v1/control', { all: true, queue, command: 'ping', waitSeconds: 10 });
      expect(res.status).toBe(200);
      expect(res.body.pending).toEqual([]);
      expect(res.body.replies).toHaveLength(2);
      expect(res.body.replies).toEqual(expect.arrayContaining([
        expect.objectContaining({ ok: true, reply: 'pong' }),
        expect.objectContaining({ ok: false, error: { type: 'NotConsuming', message: 'no such queue here' } }),
      ]));
      // Named: one alive, one unknown.
      const named = await api.post('/v1/control', { workers: [a.name, nobody], command: 'ping', waitSeconds: 10 });
      expect(named.status).toBe(200);
      expect(named.body.replies).toEqual([{ worker: a.name, ok: true, reply: 'pong' }]);
      expect(named.body.skipped).toEqual([{ worker: nobody, state: 'unknown' }]);
      expect(a.ran.length + b.ran.length).toBe(3);
      const audit = await api.get('/v1/audit?limit=5');
      expect(audit.body.entries.some((e: any) => e.action === 'worker.control' && e.details.id === named.body.id)).toBe(true);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('answers 404 when no named worker exists, and refuses bad bodies (400) and non-admins (403), sending nothing', async () => {
    const name = uniqueWorker('quiet');
    const queues = [uniqueQueue('quiet')];
    await heartbeat(name, { queues });
    expect((await api.post('/v1/control', { workers: [uniqueWorker('nobody')], command: 'ping' })).status).toBe(404);
    const bad = [
      { workers: [name], command: 'grow', args: { n: 0 } },
      { workers: [name], command: 'grow' },
      { workers: [name], command: 'reboot' },
      { workers: [name], command: 'run', args: { task: 't' } },
      { workers: [name], command: 'ping', args: { extra: 1 } },
      { workers: [name], command: 'rate-limit', args: { task: 't', rate: '10 per second' } },
      { workers: [name], command: 'cancel-consumer', args: {} },
      { workers: [name], all: true, command: 'ping' },
      { command: 'ping' },
      { workers: [name], queue: 'q', command: 'ping' },
      { workers: [name], command: 'ping', waitSeconds: 31 },
    ];
    for (const body of bad) {
      const res = await api.post('/v1/control', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect((await api.as(TOKENS.enqueue).post('/v1/control', { workers: [name], command: 'ping' })).status).toBe(403);
    expect((await heartbeat(name, { queues })).body.commands).toEqual([]);
    expect((await api.get('/v1/control/01JNOSUCHCONTROL0000000000')).status).toBe(404);
  });
});

describe('broadcasts', () => {
  it('reach each alive worker of the queue that has the task, once, and show each result', async () => {
    const queue = uniqueQueue('bc');
    const other = uniqueQueue('bc-other');
    const run = (c: any) => (c.args.args[0] === 'boom' ? { ok: false, error: { type: 'Boom', message: 'no' } } : { ok: true, reply: { flushed: c.args.args[0] } });
    const one = fakeWorker(uniqueWorker('bc1'), [queue], run, { tasks: ['cache.flush'] });
    const two = fakeWorker(uniqueWorker('bc2'), [other, queue], run, { tasks: ['cache.flush', 'x'], region: 'weur' });
    const without = fakeWorker(uniqueWorker('bc3'), [queue], run, { tasks: ['x'] });
    const elsewhere = fakeWorker(uniqueWorker('bc4'), [other], run, { tasks: ['cache.flush'] });
    try {
      await waitFor('the workers alive', async () => (await api.get('/v1/workers')).body.workers.filter((w: any) => (w.queues.includes(queue) || w.queues.includes(other)) && w.state === 'alive').length === 4);
      const sent = await api.as(TOKENS.enqueue).post('/v1/broadcasts', { task: 'cache.flush', queue, args: ['all'] });
      expect(sent.status).toBe(202);
      expect(sent.body.workers).toHaveLength(2);
      const view = await waitFor('both results', async () => {
        const res = await api.as(TOKENS.enqueue).get(`/v1/broadcasts/${sent.body.id}`);
        return res.body.workers.every((w: any) => w.state !== 'pending') && res.body;
      });
      expect(view).toMatchObject({ id: sent.body.id, task: 'cache.flush' });
      expect(view.workers.map((w: any) => [w.state, w.result, w.error])).toEqual([['succeeded', { flushed: 'all' }, null], ['succeeded', { flushed: 'all' }, null]]);
      expect(one.ran).toEqual([{ id: expect.any(String), command: 'run', args: { task: 'cache.flush', args: ['all'], kwargs: {}, broadcast: sent.body.id } }]);
      expect(two.ran).toHaveLength(1);
      expect(without.ran).toEqual([]);
      expect(elsewhere.ran).toEqual([]);
      // Narrowed by region: only the weur worker; a failure shows as failed with its error.
      const weur = await api.post('/v1/broadcasts', { task: 'cache.flush', queue, region: 'weur', args: ['boom'] });
      expect(weur.body.workers).toHaveLength(1);
      const failed = await waitFor('the failure', async () => {
        const res = await api.get(`/v1/broadcasts/${weur.body.id}`);
        return res.body.workers[0].state === 'failed' && res.body;
      });
      expect(failed.workers[0]).toMatchObject({ state: 'failed', result: null, error: { type: 'Boom', message: 'no' } });
      // None qualifies: 409, and nothing is sent.
      const none = await api.post('/v1/broadcasts', { task: 'cache.flush', queue, region: 'cn' });
      expect(none.status).toBe(409);
      expect(none.body.error.code).toBe('conflict');
      expect((await api.post('/v1/broadcasts', { task: 'not.had', queue })).status).toBe(409);
      expect(two.ran).toHaveLength(2);
    } finally {
      await Promise.all([one.stop(), two.stop(), without.stop(), elsewhere.stop()]);
    }
  });

  it('refuse bad bodies (400), oversized args (413) and tokens without enqueue (403)', async () => {
    const queue = uniqueQueue('bc-bad');
    for (const body of [{ task: 'x' }, { task: 'bad name', queue }, { task: 'x', queue, args: {} }, { task: 'x', queue, kwargs: [] }, { task: 'x', queue, extra: 1 }]) {
      expect((await api.post('/v1/broadcasts', body)).status, JSON.stringify(body)).toBe(400);
    }
    expect((await api.post('/v1/broadcasts', { task: 'x', queue, args: ['x'.repeat(130 * 1024)] })).status).toBe(413);
    expect((await api.as(TOKENS.consume).post('/v1/broadcasts', { task: 'x', queue })).status).toBe(403);
    expect((await api.get('/v1/broadcasts/01JNOSUCHBROADCAST00000000')).status).toBe(404);
  });
});

it('are in the OpenAPI document, with their bodies and the Worker record', async () => {
  const doc = (await api.as(null).get('/openapi.json')).body;
  expect(doc.paths['/v1/workers/{name}/heartbeat'].post.requestBody.content['application/json'].schema.required).toEqual(['queues', 'concurrency']);
  expect(doc.paths['/v1/control'].post.requestBody.content['application/json'].schema.properties.command.enum).toEqual(['ping', 'shutdown', 'grow', 'shrink', 'rate-limit', 'cancel-consumer']);
  expect(doc.paths['/v1/broadcasts'].post.responses['202']).toBeDefined();
  expect(doc.paths['/v1/control/{id}'].get).toBeDefined();
  expect(doc.paths['/v1/broadcasts/{id}'].get).toBeDefined();
  expect(doc.components.schemas.Worker.properties.state.enum).toEqual(['alive', 'stale', 'gone']);
});

it('take any worker name of 1-200 characters without control characters, URL-encoded in the path', async () => {
  const name = `${uniqueWorker('odd')} / ü?#`;
  const res = await heartbeat(name, { queues: [uniqueQueue('odd')] });
  expect(res.status).toBe(200);
  expect(await listed(name)).toMatchObject({ name, state: 'alive' });
  const sent = await api.post('/v1/control', { workers: [name], command: 'ping', waitSeconds: 0 });
  expect(sent.body.pending).toEqual([name]);
  expect((await heartbeat(name, { queues: [uniqueQueue('odd')] })).body.commands).toHaveLength(1);
});
