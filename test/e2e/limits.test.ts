// Fuzzing at the limits: bodies at and just past each size limit, and times and numbers past their
// ranges, on every route that takes them. Each answer is a 4xx that changed nothing, or a 2xx
// whose task then reaches a final state.
import fc from 'fast-check';
import { describe, expect, inject, it } from 'vitest';
import { Api, claimAll, uniqueQueue } from './system.ts';
import { waitFor } from './workers.ts';

const api = new Api(inject('hubUrl'));
const SEED = Number(process.env.DROVER_FUZZ_SEED ?? Date.now() % 2 ** 31);
const TASK = 128 * 1024;
const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text).byteLength;

/** Characters of one to four UTF-8 bytes: the limit is in bytes, whatever the text. */
const fillChar = fc.constantFrom('a', 'é', '页', '🦊');

/**
 * `make(filler)` with a filler of `ch` (and ASCII for the rest) that makes its JSON exactly
 * `target` bytes. None of the characters needs escaping in JSON, so sizes add up.
 */
function sized(make: (filler: string) => unknown, target: number, ch: string): string {
  const room = target - bytes(JSON.stringify(make('')));
  const text = JSON.stringify(make(ch.repeat(Math.floor(room / bytes(ch))) + 'a'.repeat(room % bytes(ch))));
  expect(bytes(text)).toBe(target);
  return text;
}

/** Sizes at and around a limit: just under, at, just over. */
const around = (limit: number) => fc.constantFrom(limit - 1, limit, limit + 1);

async function send(method: string, path: string, text: string) {
  return api.request(method, path, text, { headers: { 'content-type': 'application/json' } });
}

/** Every task id a 2xx gave out must reach a final state: the test's worker claims and acks all. */
const owed = new Map<string, string>();

async function queueIsEmpty(queue: string) {
  const listed = await api.get(`/v1/tasks?queue=${queue}&limit=500`);
  return listed.body.tasks.filter((t: any) => !owed.has(t.id));
}

describe(`bodies at and past each size limit (seed ${SEED})`, () => {
  it('POST /v1/tasks: a task of up to 128 KiB of JSON is taken, one byte more is 413 and stores nothing', async () => {
    const queue = uniqueQueue('lim-task');
    for (const [size, ch] of fc.sample(fc.tuple(around(TASK), fillChar), { numRuns: 8, seed: SEED })) {
      const text = sized((f) => ({ task: 'lim.t', queue, args: [f] }), size, ch);
      const res = await send('POST', '/v1/tasks', text);
      if (size <= TASK) {
        expect(res.status, `${size} bytes of ${ch}`).toBe(202);
        owed.set(res.body.id, queue);
      } else {
        expect(res.status, `${size} bytes of ${ch}`).toBe(413);
        expect(res.body.error.code).toBe('payload_too_large');
      }
    }
    expect(await queueIsEmpty(queue)).toEqual([]);
  });

  it('POST /v1/tasks/batch and POST /v1/workflows: one member one byte over makes the whole body 413', async () => {
    const queue = uniqueQueue('lim-batch');
    for (const [size, ch, at] of fc.sample(fc.tuple(around(TASK), fillChar, fc.nat(3)), { numRuns: 6, seed: SEED })) {
      const member = JSON.parse(sized((f) => ({ task: 'lim.b', queue, args: [f] }), size, ch));
      const members = Array.from({ length: 4 }, (_, i) => (i === at ? member : { task: 'lim.b', queue, args: [i] }));
      const batch = await send('POST', '/v1/tasks/batch', JSON.stringify({ tasks: members }));
      const group = await send('POST', '/v1/workflows', JSON.stringify({ group: members }));
      if (size <= TASK) {
        expect([batch.status, group.status]).toEqual([202, 202]);
        for (const t of batch.body.tasks) owed.set(t.id, queue);
        for (const id of group.body.tasks) owed.set(id, queue);
      } else {
        expect([batch.status, group.status]).toEqual([413, 413]);
        expect(batch.body.error.details).toMatchObject({ index: at });
      }
    }
    const tooMany = await send('POST', '/v1/tasks/batch', JSON.stringify({ tasks: Array.from({ length: 1001 }, () => ({ task: 'lim.b', queue })) }));
    expect(tooMany.status).toBe(400);
    const tooLong = await send('POST', '/v1/tasks/batch', 'x'.repeat(16 * 1024 * 1024 + 1));
    expect(tooLong.status).toBe(413);
    expect(await queueIsEmpty(queue)).toEqual([]);
  });

  it('POST /v1/schedules: a schedule whose task is over 128 KiB is 413 and not made', async () => {
    for (const [size, ch] of fc.sample(fc.tuple(around(TASK), fillChar), { numRuns: 4, seed: SEED })) {
      const id = uniqueQueue('lim-schedule');
      const text = sized((f) => ({ id, every: 3600, task: 'lim.s', args: [f], enabled: false }), size, ch);
      const res = await send('POST', '/v1/schedules', text);
      expect(res.status, `${size} bytes`).toBe(size <= TASK ? 201 : 413);
      expect((await api.get(`/v1/schedules/${id}`)).status).toBe(size <= TASK ? 200 : 404);
      if (size <= TASK) await api.request('DELETE', `/v1/schedules/${id}`);
    }
  });

  it('heartbeat, ack and fail: a body past 128 KiB is 413 and the lease lives on', async () => {
    const queue = uniqueQueue('lim-lease');
    const made = await api.post('/v1/tasks', { task: 'lim.l', queue, maxRetries: 0 });
    owed.set(made.body.id, queue);
    const [job] = await claimAll(api, queue, 1);
    const over = [
      ['heartbeat', sized((f) => ({ progress: f }), TASK + 1, '页')],
      ['ack', sized((f) => ({ result: f }), TASK + 1, '🦊')],
      ['fail', sized((f) => ({ error: { type: 'E', message: 'm', stack: f } }), TASK + 1, 'é')],
    ];
    for (const [op, text] of over) {
      const res = await send('POST', `/v1/leases/${job.leaseId}/${op}`, text);
      expect(res.status, op).toBe(413);
    }
    const acks = await send('POST', '/v1/leases/ack', sized((f) => ({ acks: [{ leaseId: job.leaseId, result: f }] }), 4 * 1024 * 1024 + 1, 'a'));
    expect(acks.status).toBe(413);
    // In a batch of acks the limit is each result's: its JSON, in UTF-8 bytes.
    const result = (size: number) => JSON.parse(sized((f) => f, size, '页'));
    const overOne = await api.post('/v1/leases/ack', { acks: [{ leaseId: job.leaseId, result: result(TASK + 1) }] });
    expect(overOne.status).toBe(413);
    expect(overOne.body.error.message).toBe('acks[0].result is larger than 128 KiB');
    expect((await api.get(`/v1/tasks/${made.body.id}`)).body.state).toBe('running');
    const atLimit = sized((f) => ({ result: f }), TASK, '页');
    expect((await send('POST', `/v1/leases/${job.leaseId}/ack`, atLimit)).status).toBe(200);
    expect((await api.get(`/v1/tasks/${made.body.id}?wait=5`)).body.state).toBe('succeeded');
    const next = await api.post('/v1/tasks', { task: 'lim.l', queue, maxRetries: 0 });
    owed.set(next.body.id, queue);
    const [second] = await claimAll(api, queue, 1);
    const inBatch = await api.post('/v1/leases/ack', { acks: [{ leaseId: second.leaseId, result: result(TASK) }] });
    expect(inBatch.status).toBe(200);
    expect((await api.get(`/v1/tasks/${next.body.id}?wait=5`)).body.result).toHaveLength(result(TASK).length);
  });
});

describe('times and numbers past their ranges', () => {
  const queue = uniqueQueue('lim-range');
  const cases: [string, string][] = [
    ['an eta in year 9999', JSON.stringify({ task: 'lim.r', queue, eta: '9999-12-31T00:00:00Z' })],
    ['an eta in year 0000', JSON.stringify({ task: 'lim.r', queue, eta: '0000-01-01T00:00:00Z' })],
    ['a day that does not exist', JSON.stringify({ task: 'lim.r', queue, eta: '2026-02-30T00:00:00Z' })],
    ['expires on a day that does not exist', JSON.stringify({ task: 'lim.r', queue, expires: '2026-02-30T00:00:00Z' })],
    ['a timeout of a nanosecond', JSON.stringify({ task: 'lim.r', queue, timeout: 1e-9 })],
    ['a delay that JSON reads as Infinity', `{"task": "lim.r", "queue": "${queue}", "delay": 1e400}`],
    ['a priority that JSON reads as Infinity', `{"task": "lim.r", "queue": "${queue}", "priority": 1e400}`],
    ['an argument that JSON reads as Infinity', `{"task": "lim.r", "queue": "${queue}", "args": [1e400]}`],
    ['a kwarg that JSON reads as -Infinity', `{"task": "lim.r", "queue": "${queue}", "kwargs": {"x": -1e400}}`],
  ];

  it.each(cases)('%s: 400 naming the field, nothing stored, on every route that takes a task', async (_name, text) => {
    for (const [path, body] of [
      ['/v1/tasks', text],
      ['/v1/tasks/batch', `{"tasks": [${text}]}`],
      ['/v1/workflows', `{"group": [${text}]}`],
    ]) {
      const res = await send('POST', path, body);
      expect(res.status, `${path} ${body.slice(0, 120)}`).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    expect(await queueIsEmpty(queue)).toEqual([]);
  });
});

describe('what was taken runs', () => {
  it('every task a 2xx gave out above reaches a final state', async () => {
    const queues = new Set(owed.values());
    const deadline = Date.now() + 60_000;
    for (const queue of queues) {
      const want = [...owed].filter(([, q]) => q === queue).length;
      let done = 0;
      while (done < want && Date.now() < deadline) {
        const jobs = await claimAll(api, queue, 1, { max: 50 }, 1500);
        if (jobs.length === 0) {
          const states = await Promise.all([...owed].filter(([, q]) => q === queue).map(async ([id]) => (await api.get(`/v1/tasks/${id}`)).body.state));
          done = states.filter((s) => ['succeeded', 'failed', 'expired', 'revoked'].includes(s)).length;
          continue;
        }
        await api.post('/v1/leases/ack', { acks: jobs.map((j) => ({ leaseId: j.leaseId, result: 'ran' })) });
      }
    }
    for (const [id] of owed) {
      const final = await waitFor(`task ${id} to end`, async () => {
        const got = await api.get(`/v1/tasks/${id}`);
        return ['succeeded', 'failed', 'expired', 'revoked'].includes(got.body.state) && got.body.state;
      });
      expect(final).toBeTruthy();
    }
  });
});
