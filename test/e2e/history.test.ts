// The hub's history: tasks that ended per queue and minute with latency percentiles (kept across a
// restart), each task's attempt log, the task list's `until`, and the workflow list.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, TOKENS, sleep, startSystem, uniqueQueue, type System } from './system.ts';

let system: System;
let api: Api;
let worker: Api;

beforeAll(async () => {
  system = await startSystem();
  api = system.api;
  worker = api.as(TOKENS.consume);
}, 150_000);

afterAll(async () => {
  await system?.stop();
});

/** Polls until `check` returns a value, or fails with what it last saw. */
async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Claims one job of `queue` as `name`, waiting for it to be ready. */
async function claimOne(queue: string, name: string): Promise<any> {
  return until(`a job of ${queue} for ${name}`, async () => {
    const res = await worker.post(`/v1/queues/${queue}/claim`, { worker: name, max: 1, waitSeconds: 1 });
    expect(res.status).toBe(200);
    return res.body.jobs[0];
  });
}

async function enqueue(queue: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await api.post('/v1/tasks', { task: 'work', queue, ...extra });
  expect(res.status).toBe(202);
  return res.body.id;
}

type Minute = { at: string; queue: string | null; succeeded: number; failed: number; latencyMs: { p50: number; p95: number; p99: number } | null };

/** Sums of the rows of one queue (null: the totals rows). */
function sums(minutes: Minute[], queue: string | null) {
  const rows = minutes.filter((m) => m.queue === queue);
  return { succeeded: rows.reduce((n, m) => n + m.succeeded, 0), failed: rows.reduce((n, m) => n + m.failed, 0), rows };
}

describe('GET /v1/stats', () => {
  it('counts tasks that ended per queue and in total, with percentiles over their latency, and keeps them across a restart', async () => {
    const qa = uniqueQueue('hist-a');
    const qb = uniqueQueue('hist-b');
    const since = new Date(Date.now() - 5 * 60_000).toISOString();
    // qa: three tasks each held 300 ms by its worker, two acked and one failed for good; one
    // retried attempt, which is no failure here. qb: one acked, one failed.
    const held = 300;
    for (let i = 0; i < 3; i++) await enqueue(qa);
    await enqueue(qa, { maxRetries: 1, retryDelay: 0.001 });
    for (let i = 0; i < 2; i++) await enqueue(qb);
    const endA = async (outcome: 'ack' | 'fail', retry = false) => {
      const job = await claimOne(qa, 'wa');
      await sleep(held);
      const res = outcome === 'ack'
        ? await worker.post(`/v1/leases/${job.leaseId}/ack`, { result: 1 })
        : await worker.post(`/v1/leases/${job.leaseId}/fail`, { error: { type: 'Boom', message: 'no' }, retry, delaySeconds: 0 });
      expect(res.status).toBe(200);
      return res.body.state;
    };
    // The fourth task (one retry) is claimed in enqueue order after the three plain ones.
    expect(await endA('ack')).toBe('succeeded');
    expect(await endA('ack')).toBe('succeeded');
    expect(await endA('fail')).toBe('failed');
    expect(await endA('fail', true)).toBe('queued');
    expect(await endA('ack')).toBe('succeeded');
    const b1 = await claimOne(qb, 'wb');
    expect((await worker.post(`/v1/leases/${b1.leaseId}/ack`, { result: 1 })).status).toBe(200);
    const b2 = await claimOne(qb, 'wb');
    expect((await worker.post(`/v1/leases/${b2.leaseId}/fail`, { error: { type: 'Boom', message: 'no' }, retry: false })).status).toBe(200);

    const path = `/v1/stats?since=${since}&until=${new Date(Date.now() + 60_000).toISOString()}`;
    const read = async () => {
      const res = await api.as(TOKENS.consume).get(path); // any token
      expect(res.status).toBe(200);
      return res.body as { since: string; until: string; minutes: Minute[] };
    };
    const seen = await until('the ends in the history', async () => {
      const body = await read();
      const a = sums(body.minutes, qa);
      const b = sums(body.minutes, qb);
      return a.succeeded === 3 && a.failed === 1 && b.succeeded === 1 && b.failed === 1 ? body : undefined;
    });
    expect(seen.since).toBe(new Date(since).toISOString());
    // Rows come oldest first; each minute's totals are its queues' sums, with percentiles of them all.
    const ats = seen.minutes.map((m) => m.at);
    expect([...ats].sort()).toEqual(ats);
    for (const total of seen.minutes.filter((m) => m.queue === null)) {
      const minute = seen.minutes.filter((m) => m.at === total.at && m.queue !== null);
      expect(total.succeeded).toBe(minute.reduce((n, m) => n + m.succeeded, 0));
      expect(total.failed).toBe(minute.reduce((n, m) => n + m.failed, 0));
    }
    expect(sums(seen.minutes, null)).toMatchObject({ succeeded: 4, failed: 2 });
    for (const m of seen.minutes) {
      const p = m.latencyMs!;
      expect(p.p50).toBeLessThanOrEqual(p.p95);
      expect(p.p95).toBeLessThanOrEqual(p.p99);
    }
    // Every qa task waited at least its worker's hold between being due and its end.
    for (const m of sums(seen.minutes, qa).rows) expect(m.latencyMs!.p50).toBeGreaterThanOrEqual(held);

    // One queue: its rows only, no totals.
    const only = await api.get(`${path}&queue=${qa}`);
    expect(only.status).toBe(200);
    expect(only.body.minutes.length).toBeGreaterThan(0);
    expect(only.body.minutes.every((m: Minute) => m.queue === qa)).toBe(true);
    expect(only.body.minutes).toEqual(sums(seen.minutes, qa).rows);

    // A restart of the whole system shows the same history.
    const { stateDir, port } = system;
    await system.stop();
    system = await startSystem({ stateDir, port });
    expect(await read()).toEqual(seen);
  }, 120_000);
});

describe('the attempt log', () => {
  it('shows a task that failed twice and then succeeded: retry, retry, succeeded, with the workers that ran each', async () => {
    const queue = uniqueQueue('hist-log');
    const id = await enqueue(queue, { maxRetries: 2, retryDelay: 0.001 });
    const failWith = async (name: string, message: string) => {
      const job = await claimOne(queue, name);
      expect(job.id).toBe(id);
      const res = await worker.post(`/v1/leases/${job.leaseId}/fail`, { error: { type: 'Timeout', message }, delaySeconds: 0 });
      expect(res.body.state).toBe('queued');
    };
    await failWith('w1', 'first');
    await failWith('w2', 'second');
    const last = await claimOne(queue, 'w1');
    // The running attempt is the last entry, not ended.
    const running = (await api.get(`/v1/tasks/${id}`)).body;
    expect(running.attemptLog.map((a: any) => a.outcome)).toEqual(['retry', 'retry', null]);
    expect(running.attemptLog[2]).toMatchObject({ attempt: 3, worker: 'w1', finishedAt: null, error: null });
    expect((await worker.post(`/v1/leases/${last.leaseId}/ack`, { result: 'ok' })).status).toBe(200);

    const log = await until('the ended task in D1', async () => {
      const t = (await api.get(`/v1/tasks/${id}`)).body;
      return t.state === 'succeeded' ? t.attemptLog : undefined;
    });
    expect(log.map((a: any) => [a.attempt, a.worker, a.outcome])).toEqual([[1, 'w1', 'retry'], [2, 'w2', 'retry'], [3, 'w1', 'succeeded']]);
    expect(log.map((a: any) => a.error)).toEqual([{ type: 'Timeout', message: 'first' }, { type: 'Timeout', message: 'second' }, null]);
    for (const a of log) expect(Date.parse(a.finishedAt)).toBeGreaterThanOrEqual(Date.parse(a.startedAt));
    // D1's record, read once the queue object has written it, says the same (the list leaves logs out).
    const listed = (await api.get(`/v1/tasks?queue=${queue}`)).body.tasks;
    expect(listed.map((t: any) => [t.id, t.attemptLog])).toEqual([[id, []]]);
  }, 60_000);
});

describe('searches', () => {
  it('GET /v1/tasks?until= lists the tasks created before it, and since and until together a range', async () => {
    const queue = uniqueQueue('hist-until');
    const first = await enqueue(queue);
    await sleep(20);
    const second = await enqueue(queue);
    const secondAt = (await api.get(`/v1/tasks/${second}`)).body.createdAt;
    const ids = async (query: string) => {
      const res = await api.get(`/v1/tasks?queue=${queue}&${query}`);
      expect(res.status).toBe(200);
      return res.body.tasks.map((t: any) => t.id);
    };
    expect(await ids(`until=${secondAt}`)).toEqual([first]);
    expect(await ids(`since=${secondAt}`)).toEqual([second]);
    expect(await ids(`since=${secondAt}&until=${new Date(Date.parse(secondAt) + 1).toISOString()}`)).toEqual([second]);
  });

  it('GET /v1/workflows lists workflows newest first, a page at a time, with their tasks by state', async () => {
    const queue = uniqueQueue('hist-wf');
    const older = await api.post('/v1/workflows', { group: [{ task: 'a', queue }, { task: 'b', queue }] });
    expect(older.status).toBe(202);
    await sleep(5);
    const newer = await api.post('/v1/workflows', { group: [{ task: 'c', queue }, { task: 'd', queue }, { task: 'e', queue }] });
    expect(newer.status).toBe(202);
    const first = await until('both workflows listed', async () => {
      const res = await api.get('/v1/workflows?limit=1');
      expect(res.status).toBe(200);
      return res.body.workflows[0]?.id === newer.body.id && res.body.workflows[0].tasks === 3 ? res.body : undefined;
    });
    expect(first.workflows).toEqual([{ id: newer.body.id, createdAt: expect.any(String), tasks: 3, states: { queued: 3 } }]);
    expect(first.cursor).toBe(newer.body.id);
    const next = await api.get(`/v1/workflows?limit=1&cursor=${first.cursor}`);
    expect(next.body.workflows).toEqual([{ id: older.body.id, createdAt: expect.any(String), tasks: 2, states: { queued: 2 } }]);
    expect(Date.parse(next.body.workflows[0].createdAt)).toBeLessThanOrEqual(Date.parse(first.workflows[0].createdAt));
    expect((await api.as(TOKENS.consume).get('/v1/workflows')).status).toBe(403);
  });
});

describe('bad input', () => {
  it('gets 400 naming the field, and changes nothing', async () => {
    const now = Date.now();
    const at = (ms: number) => new Date(now + ms).toISOString();
    const before = (await api.get(`/v1/stats?since=${at(-3_600_000)}`)).body;
    const refused = [
      `/v1/stats?since=${at(-60_000)}&until=${at(-120_000)}`, // since after until
      `/v1/stats?since=${at(-48 * 3_600_000 - 4 * 60_000)}&until=${at(4 * 60_000)}`, // a range over 48 h
      `/v1/stats?since=${at(-72 * 3_600_000)}`, // older than the history
      `/v1/stats?until=${at(3_600_000)}`, // in the future
      '/v1/stats?queue=Not%20A%20Queue',
      '/v1/stats?since=yesterday',
      '/v1/stats?until=2026-02-30T00:00:00Z',
      '/v1/stats?bucket=5',
      `/v1/tasks?until=soon`,
      `/v1/tasks?since=${at(0)}&until=${at(-60_000)}`,
      '/v1/workflows?limit=0',
      '/v1/workflows?limit=201',
      '/v1/workflows?cursor=nope',
    ];
    for (const path of refused) {
      const res = await api.get(path);
      expect({ path, status: res.status, code: res.body.error?.code }).toEqual({ path, status: 400, code: 'invalid_request' });
    }
    expect((await api.as(null).get('/v1/stats')).status).toBe(401);
    const after = (await api.get(`/v1/stats?since=${at(-3_600_000)}&until=${before.until}`)).body;
    expect(after.minutes).toEqual(before.minutes);
  });
});
