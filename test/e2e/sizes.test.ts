// Large bodies at the limits: whatever is answered 2xx fits every store and hop and runs; what cannot fit is 413 and changes nothing.
import { createServer } from 'node:http';
import { describe, expect, inject, it } from 'vitest';
import { Api, claimAll, uniqueQueue } from './system.ts';
import { waitFor } from './workers.ts';

const api = new Api(inject('hubUrl'));

/** Claims every job of `n` in the queue, acking each (with `result`) as it comes; returns the jobs. */
async function runAll(queue: string, n: number, result: (job: any) => unknown = () => 'ok', max = 100) {
  const jobs: any[] = [];
  const deadline = Date.now() + 90_000;
  while (jobs.length < n && Date.now() < deadline) {
    const got = await claimAll(api, queue, 1, { max });
    if (got.length === 0) continue;
    const acked = await api.post('/v1/leases/ack', { acks: got.map((j) => ({ leaseId: j.leaseId, result: result(j) })) });
    expect(acked.status).toBe(200);
    expect(acked.body.results.every((r: any) => r.state === 'succeeded')).toBe(true);
    jobs.push(...got);
  }
  return jobs;
}

describe('a batch that is accepted runs', () => {
  it('1,000 tasks of 16 KiB args each (16 MiB in all): every one is claimed and ends succeeded', async () => {
    const queue = uniqueQueue('big-batch');
    const filler = 'x'.repeat(16 * 1024);
    const sent = await api.post('/v1/tasks/batch', { tasks: Array.from({ length: 1000 }, (_, i) => ({ task: 'big.one', queue, args: [i, filler] })) });
    expect(sent.status).toBe(202);
    const jobs = await runAll(queue, 1000);
    expect(jobs).toHaveLength(1000);
    expect(new Set(jobs.map((j) => j.args[0])).size).toBe(1000);
    expect(jobs.every((j) => j.args[1] === filler)).toBe(true);
    const last = await api.get(`/v1/tasks/${sent.body.tasks[999].id}?wait=10`);
    expect(last.body.state).toBe('succeeded');
  });

  it('130 tasks of 120 KiB each, in a language whose characters take three bytes: every one runs', async () => {
    const queue = uniqueQueue('big-cjk');
    // 40,000 characters of three UTF-8 bytes: 120,000 bytes, under a task's 128 KiB.
    const page = '页'.repeat(40_000);
    const sent = await api.post('/v1/tasks/batch', { tasks: Array.from({ length: 130 }, (_, i) => ({ task: 'big.page', queue, args: [i, page] })) });
    expect(sent.status).toBe(202);
    const jobs = await runAll(queue, 130);
    expect(jobs).toHaveLength(130);
    expect(jobs.every((j) => j.args[1] === page)).toBe(true);
  });

  it('large results acked together are all recorded', async () => {
    const queue = uniqueQueue('big-results');
    const sent = await api.post('/v1/tasks/batch', { tasks: Array.from({ length: 30 }, (_, i) => ({ task: 'big.result', queue, args: [i] })) });
    expect(sent.status).toBe(202);
    // 30 results of 120 KiB in one ack call: 3.5 MiB, over SQLite's 2 MB a value together.
    await runAll(queue, 30, (j) => `${j.args[0]}:${'r'.repeat(120 * 1024)}`);
    for (const t of sent.body.tasks) {
      const got = await api.get(`/v1/tasks/${t.id}?wait=10`);
      expect(got.body.state).toBe('succeeded');
      expect(got.body.result).toMatch(/^\d+:r{122880}$/);
    }
  });
});

describe('a workflow that is accepted runs', () => {
  it('a group of 1,000 tasks of 10 KiB args (10 MiB): 202, and every member runs', async () => {
    const queue = uniqueQueue('big-group');
    const filler = 'g'.repeat(10 * 1024);
    const started = await api.post('/v1/workflows', { group: Array.from({ length: 1000 }, (_, i) => ({ task: 'big.member', queue, args: [i, filler] })) });
    expect(started.status).toBe(202);
    expect(started.body.tasks).toHaveLength(1000);
    const jobs = await runAll(queue, 1000);
    expect(jobs).toHaveLength(1000);
    const done = await waitFor('the group to succeed', async () => {
      const view = await api.get(`/v1/workflows/${started.body.id}`);
      return view.body.state === 'succeeded' && view.body;
    }, 60_000);
    expect(done.tasks).toHaveLength(1000);
  });

  it('a chord whose header results are too large for its body fails the body as PayloadTooLarge', async () => {
    const queue = uniqueQueue('big-chord');
    const started = await api.post('/v1/workflows', {
      chord: { header: [0, 1, 2].map((i) => ({ task: 'big.header', queue, args: [i] })), body: { task: 'big.body', queue } },
    });
    expect(started.status).toBe(202);
    // Three results of 60 KiB: the body's arguments would be 180 KiB.
    await runAll(queue, 3, () => 'h'.repeat(60 * 1024));
    // The body is made once the workflow hears of the last header's end.
    const body = await waitFor('the body to be recorded', async () => {
      const got = await api.get(`/v1/tasks/${started.body.tasks[3]}`);
      return got.status === 200 && got;
    });
    expect(body.body.state).toBe('failed');
    expect(body.body.error).toMatchObject({ type: 'PayloadTooLarge' });
    const view = await waitFor('the chord to fail', async () => {
      const v = await api.get(`/v1/workflows/${started.body.id}`);
      return v.body.state === 'failed' && v.body;
    });
    expect(view.tasks.map((t: any) => t.state)).toEqual(['succeeded', 'succeeded', 'succeeded', 'failed']);
    // Nothing of the body's was queued: a claim finds nothing more.
    expect(await claimAll(api, queue, 1, {}, 1500)).toHaveLength(0);
  });

  it('a view whose results are over its budget leaves the excess out, and each stays readable on its task', async () => {
    const queue = uniqueQueue('big-view');
    const started = await api.post('/v1/workflows', { group: Array.from({ length: 40 }, (_, i) => ({ task: 'big.member', queue, args: [i] })) });
    expect(started.status).toBe(202);
    // 40 results of 120 KiB: 4.7 MiB, over the view's 4 MiB.
    await runAll(queue, 40, (j) => `${j.args[0]}:${'v'.repeat(120 * 1024)}`, 20);
    const view = await waitFor('the group to succeed', async () => {
      const v = await api.get(`/v1/workflows/${started.body.id}`);
      return v.body.state === 'succeeded' && v.body;
    });
    const omitted = view.tasks.filter((t: any) => t.resultOmitted);
    expect(omitted.length).toBeGreaterThan(0);
    expect(view.tasks.filter((t: any) => typeof t.result === 'string')).toHaveLength(40 - omitted.length);
    expect(view).toMatchObject({ result: null, resultOmitted: true });
    const one = await api.get(`/v1/tasks/${omitted[0].id}`);
    expect(one.body.result).toMatch(/^\d+:v{122880}$/);
  });
});

describe('what cannot fit is refused and changes nothing', () => {
  it('a schedule whose task is over 128 KiB: 413', async () => {
    const id = uniqueQueue('big-schedule');
    const res = await api.post('/v1/schedules', { id, every: 60, task: 'big.tick', args: ['s'.repeat(130 * 1024)] });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
    expect((await api.get(`/v1/schedules/${id}`)).status).toBe(404);
  });
});

describe('an HTTP task\'s answer is a result', () => {
  it('an answer of up to 128 KiB is the result, one that JSON cannot keep is kept as text, a larger one fails the task as HttpResponseTooLarge', async () => {
    // Answers /<n> with a JSON string of n bytes in all.
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(req.url === '/inf' ? '{"n": 1e400}' : JSON.stringify('a'.repeat(Number(req.url!.slice(1)) - 2)));
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    try {
      const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      const queue = uniqueQueue('big-http');
      const fits = await api.post('/v1/tasks', { task: 'hook.big', queue, maxRetries: 0, http: { url: `${base}/${128 * 1024}` } });
      const over = await api.post('/v1/tasks', { task: 'hook.big', queue, maxRetries: 0, http: { url: `${base}/${128 * 1024 + 1}` } });
      const a = (await api.get(`/v1/tasks/${fits.body.id}?wait=30`)).body;
      const b = (await api.get(`/v1/tasks/${over.body.id}?wait=30`)).body;
      expect(a.state).toBe('succeeded');
      expect(a.result).toHaveLength(128 * 1024 - 2);
      expect(b.state).toBe('failed');
      expect(b.error).toMatchObject({ type: 'HttpResponseTooLarge' });
      // A number past a double's range would be stored as null: the answer is kept as its text.
      const inf = await api.post('/v1/tasks', { task: 'hook.inf', queue, maxRetries: 0, http: { url: `${base}/inf` } });
      expect((await api.get(`/v1/tasks/${inf.body.id}?wait=30`)).body).toMatchObject({ state: 'succeeded', result: '{"n": 1e400}' });
    } finally {
      await new Promise<void>((ok) => server.close(() => ok()));
    }
  });
});
