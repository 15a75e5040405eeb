// Observability against npm start: the SSE event stream and the workers seen.
import { describe, expect, inject, it } from 'vitest';
import { Api, TOKENS, claimAll, uniqueQueue } from './system.ts';
import { waitFor } from './workers.ts';

const url = inject('hubUrl');
const api = new Api(url);

interface StreamEvent {
  id: string | null;
  event: string;
  data: any;
}

/**
 * Subscribes to /v1/events (with the admin token, or a ticket and no header) and collects what
 * arrives until stopped. Node has no EventSource: this reads the stream with fetch, as one would.
 */
async function subscribe(options: { lastEventId?: string; query?: string; ticket?: string } = {}) {
  const controller = new AbortController();
  const headers: Record<string, string> = options.ticket ? {} : { authorization: `Bearer ${TOKENS.admin}` };
  if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
  const search = options.ticket ? `?ticket=${encodeURIComponent(options.ticket)}` : (options.query ?? '');
  const res = await fetch(`${url}/v1/events${search}`, { headers, signal: controller.signal });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  let text = '';
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    } catch {
      // stopped
    }
  })();
  /** Every whole event so far (a block cut off by the end of what arrived is left out), comments skipped. */
  const all = (): StreamEvent[] =>
    text
      .split('\n\n')
      .slice(0, -1)
      .map((block) => block.split('\n').filter((line) => !line.startsWith(':')))
      .filter((lines) => lines.length > 0)
      .map((lines) => {
        const field = (name: string) => lines.find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2) ?? null;
        return { id: field('id'), event: field('event') ?? 'message', data: JSON.parse(field('data') ?? 'null') };
      });
  const events = (kind: string) => all().filter((e) => e.event === kind).map((e) => e.data);
  return { all, events, stop: () => controller.abort() };
}

type Stream = Awaited<ReturnType<typeof subscribe>>;

const seqOf = (id: string) => Number(id.slice(id.lastIndexOf('-') + 1));
const epochOf = (id: string) => id.slice(0, id.lastIndexOf('-'));

/** Enqueues a task and answers the stream's event of it being queued. */
async function seen(stream: Stream, queue: string) {
  const { body } = await api.post('/v1/tasks', { task: 'probe', queue });
  return waitFor('the probe task on the stream', async () => stream.all().find((e) => e.event === 'task' && e.data.id === body.id));
}

/**
 * Waits until the ids the hub gives can be resumed from: after a spell with nobody listening,
 * queues that found no listener skip their changes for up to 5 s, and ids of that time reset.
 */
async function untilResumable(stream: Stream) {
  const queue = uniqueQueue('probe');
  await waitFor('ids that resume', async () => {
    const last = await seen(stream, queue);
    const probe = await subscribe({ lastEventId: last.id! });
    try {
      const next = await seen(probe, queue);
      const got = probe.all();
      return !got.slice(0, got.findIndex((e) => e.id === next.id)).some((e) => e.event === 'reset');
    } finally {
      probe.stop();
    }
  });
}

describe('the event stream', () => {
  it('tells subscribers of each task change and of workers claiming', async () => {
    const stream = await subscribe();
    try {
      const queue = uniqueQueue('events');
      const { body } = await api.post('/v1/tasks', { task: 'watched', queue });
      const [job] = await claimAll(api.as(TOKENS.consume), queue, 1, { worker: 'ev-worker' });
      await api.as(TOKENS.consume).post(`/v1/leases/${job.leaseId}/ack`, { result: 1 });
      const mine = await waitFor('the task to be seen succeeding', async () => {
        const seen = stream.events('task').filter((e) => e.id === body.id);
        return seen.some((e) => e.state === 'succeeded') ? seen : null;
      }, 15_000);
      expect(mine.map((e) => e.state)).toContain('running');
      expect(mine.at(-1)).toMatchObject({ id: body.id, task: 'watched', queue, state: 'succeeded', attempts: 1, worker: 'ev-worker' });
      expect(stream.events('worker').some((w) => w.name === 'ev-worker' && w.queue === queue)).toBe(true);
    } finally {
      stream.stop();
    }
  });

  it('needs a token', async () => {
    expect((await api.as(null).get('/v1/events')).status).toBe(401);
  });

  it('gives every event an id of one epoch, counting up by one', async () => {
    const stream = await subscribe();
    try {
      const queue = uniqueQueue('ids');
      const { body } = await api.post('/v1/tasks', { task: 'counted', queue });
      const [job] = await claimAll(api.as(TOKENS.consume), queue, 1, { worker: 'id-worker' });
      await api.as(TOKENS.consume).post(`/v1/leases/${job.leaseId}/ack`, { result: 1 });
      await waitFor('the task to succeed on the stream', async () => stream.events('task').some((e) => e.id === body.id && e.state === 'succeeded'));
      const all = stream.all();
      expect(all.length).toBeGreaterThanOrEqual(3);
      for (const e of all) expect(e.id).toMatch(/^[0-9a-f]+-[1-9][0-9]*$/);
      expect(new Set(all.map((e) => epochOf(e.id!))).size).toBe(1);
      expect(all.map((e) => seqOf(e.id!) - seqOf(all[0].id!))).toEqual(all.map((_, i) => i));
    } finally {
      stream.stop();
    }
  });

  it('resumes a dropped connection from its last id: every event of every task once, none missing', async () => {
    const first = await subscribe();
    let second: Stream | null = null;
    try {
      await untilResumable(first);
      const queue = uniqueQueue('resume');
      const ids: string[] = (await api.post('/v1/tasks/batch', { tasks: Array.from({ length: 30 }, (_, i) => ({ task: 'resumed', queue, args: [i] })) })).body.tasks.map((t: any) => t.id);
      const consumer = api.as(TOKENS.consume);
      let finished = 0;
      let dropped = false;
      let back = false;
      /** A worker finishing the tasks one at a time: 10 before the drop, 10 while nobody listens, the rest after the reconnect. */
      const work = (async () => {
        while (finished < ids.length) {
          if (finished === 10) await waitFor('the stream to drop', async () => dropped, 60_000);
          if (finished === 20) await waitFor('the stream to come back', async () => back, 60_000);
          const [job] = (await consumer.post(`/v1/queues/${queue}/claim`, { worker: 'resume-worker', max: 1, waitSeconds: 1 })).body.jobs;
          if (!job) continue;
          await consumer.post(`/v1/leases/${job.leaseId}/ack`, { result: job.args[0] });
          finished++;
        }
      })();
      await waitFor('some tasks to succeed on the first stream', async () => first.events('task').filter((e) => ids.includes(e.id) && e.state === 'succeeded').length >= 5);
      first.stop();
      const before = first.all();
      const lastId = before.at(-1)!.id!;
      dropped = true;
      await waitFor('ten more tasks to finish while nobody listens', async () => finished === 20);
      second = await subscribe({ lastEventId: lastId });
      back = true;
      await work;
      await waitFor('every task to succeed on the second stream', async () =>
        ids.every((id) => [...before, ...second!.all()].some((e) => e.event === 'task' && e.data.id === id && e.data.state === 'succeeded')));
      const after = second.all();
      expect(after.some((e) => e.event === 'reset')).toBe(false);
      // One stream's ids, then the other's, follow on with no gap and no repeat.
      const joined = [...before, ...after].map((e) => e.id!);
      expect(joined.map((id) => seqOf(id) - seqOf(joined[0]))).toEqual(joined.map((_, i) => i));
      for (const id of ids) {
        const states = [...before, ...after].filter((e) => e.event === 'task' && e.data.id === id).map((e) => e.data.state);
        expect(states.filter((s) => s === 'running')).toHaveLength(1);
        expect(states.filter((s) => s === 'succeeded')).toHaveLength(1);
        expect(states.at(-1)).toBe('succeeded');
      }
    } finally {
      first.stop();
      second?.stop();
    }
  });

  it('resets an id of another epoch, one not given yet, or one that is no id: the client reloads', async () => {
    const stream = await subscribe();
    try {
      const last = await seen(stream, uniqueQueue('epoch'));
      const epoch = epochOf(last.id!);
      const other = epoch === '000000000000' ? '111111111111' : '000000000000';
      for (const options of [
        { lastEventId: `${other}-${seqOf(last.id!)}` },
        { lastEventId: `${epoch}-${seqOf(last.id!) + 1_000_000}` },
        { query: `?lastEventId=${encodeURIComponent(`${other}-1`)}` },
        { lastEventId: 'not an id' },
      ]) {
        const resumed = await subscribe(options);
        try {
          const reset = await waitFor('a reset', async () => resumed.all()[0]);
          expect(reset).toEqual({ id: null, event: 'reset', data: {} });
        } finally {
          resumed.stop();
        }
      }
    } finally {
      stream.stop();
    }
  });

  it('takes an empty id as none', async () => {
    const queue = uniqueQueue('empty-id');
    for (const options of [{ lastEventId: '' }, { query: '?lastEventId=' }]) {
      const stream = await subscribe(options);
      try {
        await seen(stream, queue);
        expect(stream.all().some((e) => e.event === 'reset')).toBe(false);
      } finally {
        stream.stop();
      }
    }
  });

  it('takes ?lastEventId= as the header', async () => {
    const stream = await subscribe();
    try {
      await untilResumable(stream);
      const queue = uniqueQueue('query-id');
      const from = await seen(stream, queue);
      const later = await seen(stream, queue);
      const resumed = await subscribe({ query: `?lastEventId=${encodeURIComponent(from.id!)}` });
      try {
        const got = await waitFor('the later event', async () => {
          const all = resumed.all();
          return all.some((e) => e.id === later.id) && all;
        });
        expect(seqOf(got[0].id!)).toBe(seqOf(from.id!) + 1);
        expect(got.some((e) => e.event === 'reset' || e.id === from.id)).toBe(false);
      } finally {
        resumed.stop();
      }
    } finally {
      stream.stop();
    }
  });
});

describe('stream tickets', () => {
  it('open the stream with no Authorization header, more than once until they expire', async () => {
    const res = await api.as(TOKENS.enqueue).post('/v1/events/ticket');
    expect(res.status).toBe(200);
    expect(res.body.ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const left = Date.parse(res.body.expiresAt) - Date.now();
    expect(left).toBeGreaterThan(30_000);
    expect(left).toBeLessThanOrEqual(61_000);
    // The token is not in it, nor anywhere in the answer.
    expect(res.text).not.toContain(TOKENS.enqueue);
    for (let i = 0; i < 2; i++) {
      const stream = await subscribe({ ticket: res.body.ticket });
      try {
        const queue = uniqueQueue('ticket');
        const { body } = await api.post('/v1/tasks', { task: 'by-ticket', queue });
        await waitFor('the task on the ticket\'s stream', async () => stream.events('task').some((e) => e.id === body.id));
      } finally {
        stream.stop();
      }
    }
  });

  it('are refused when unknown or made up, 401 in the one error shape', async () => {
    const made = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32)))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    for (const ticket of [made, 'x', '', 'a'.repeat(5000)]) {
      const res = await api.as(null).get(`/v1/events?ticket=${encodeURIComponent(ticket)}`);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('unauthorized');
    }
  });

  it('open nothing but the stream', async () => {
    const { ticket } = (await api.as(TOKENS.enqueue).post('/v1/events/ticket')).body;
    for (const path of ['/v1/tasks', '/v1/queues', '/v1/workers', '/v1/events/ticket', '/v1/tasks/connect']) {
      const res = await api.as(null).get(`${path}?ticket=${ticket}`);
      expect(res.status, path).toBe(401);
    }
    for (const path of ['/v1/events/ticket', '/v1/tasks', '/v1/events']) {
      const res = await api.as(null).post(`${path}?ticket=${ticket}`, {});
      expect(res.status, path).toBe(401);
    }
    // Nor does it lend its scope to a token that lacks it.
    expect((await api.as(TOKENS.consume).get(`/v1/events?ticket=${ticket}`)).status).toBe(403);
  });

  it('are made for tokens that may read the stream only', async () => {
    expect((await api.as(TOKENS.consume).post('/v1/events/ticket')).status).toBe(403);
    expect((await api.as(null).post('/v1/events/ticket')).status).toBe(401);
    expect((await api.as(TOKENS.admin).post('/v1/events/ticket')).status).toBe(200);
  });
});

describe('the workers seen', () => {
  it('lists each worker with its region, queues, last sighting and tasks in hand', async () => {
    const queue = uniqueQueue('seen');
    await api.post('/v1/tasks', { task: 't', queue, region: 'cn' });
    await claimAll(api.as(TOKENS.cn), queue, 1, { worker: 'cn-seen', region: 'cn' });
    const w = await waitFor('the worker to be listed', async () => (await api.get('/v1/workers')).body.workers.find((x: any) => x.name === 'cn-seen'));
    expect(w).toMatchObject({ name: 'cn-seen', region: 'cn', queues: [queue] });
    expect(Date.now() - Date.parse(w.lastSeen)).toBeLessThan(60_000);
    expect(w.inHand).toBeGreaterThanOrEqual(0);
  });

  it('lists a worker that claims on an empty queue, though its claims change nothing', async () => {
    const queue = uniqueQueue('idle');
    const res = await api.as(TOKENS.consume).post(`/v1/queues/${queue}/claim`, { worker: 'idle-seen', max: 5, waitSeconds: 0 });
    expect(res.body.jobs).toEqual([]);
    const w = await waitFor('the idle worker to be listed', async () => (await api.get('/v1/workers')).body.workers.find((x: any) => x.name === 'idle-seen'));
    expect(w).toMatchObject({ name: 'idle-seen', queues: [queue], inHand: 0 });
  });
});
