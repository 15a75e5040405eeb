// Times and numbers past their ranges: every route that reads one answers 400 invalid_request with
// a message naming the field and stating its range, over HTTP and over sockets, and stores nothing.
// Values at the edges of the ranges are taken, and their tasks run.
import { afterAll, describe, expect, inject, it } from 'vitest';
import { Api, claimAll, TOKENS, uniqueQueue } from './system.ts';

const url = inject('hubUrl');
const api = new Api(url);
const DAY = 86_400_000;
const at = (msFromNow: number) => new Date(Date.now() + msFromNow).toISOString();
const nines = '9'.repeat(400);

/** Sends JSON as text, so a case can hold numbers JSON.stringify cannot write (1e400). */
function send(method: string, path: string, text: string) {
  return api.request(method, path, text, { headers: { 'content-type': 'application/json' } });
}

/** "field: <range>" somewhere in the message, the field maybe behind a prefix such as tasks[1]. */
function naming(field: string, range: RegExp): RegExp {
  return new RegExp(`(^|[ .\\]])${field.replace(/[[\]]/g, '\\$&')}: ${range.source}`);
}

function refused(res: { status: number; body: any }, field: string, range: RegExp, what: string): void {
  expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBe(400);
  expect(res.body.error.code, what).toBe('invalid_request');
  expect(res.body.error.message, what).toMatch(naming(field, range));
}

/** A raw socket to the hub: sends text as given, and answers each message's reply by its id. */
async function socket(path: string, token = TOKENS.admin) {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${path}`, { headers: { authorization: `Bearer ${token}` } } as never);
  const waiting = new Map<number, (reply: any) => void>();
  ws.addEventListener('message', (e) => {
    const reply = JSON.parse(String(e.data));
    waiting.get(reply.id)?.(reply);
  });
  await new Promise<void>((ok, fail) => {
    ws.addEventListener('open', () => ok());
    ws.addEventListener('error', () => fail(new Error(`socket ${path} refused`)));
  });
  let next = 1;
  return {
    ask(op: string, rest: string): Promise<any> {
      const id = next++;
      return new Promise((ok, fail) => {
        const timer = setTimeout(() => fail(new Error(`no reply to ${op} ${rest.slice(0, 80)}`)), 20_000);
        waiting.set(id, (reply) => {
          clearTimeout(timer);
          ok(reply);
        });
        ws.send(`{"id": ${id}, "op": "${op}", ${rest}}`);
      });
    },
    close: () => ws.close(),
  };
}

/** A socket's error reply, in the shape refused() reads. */
const asReply = (reply: any) => ({ status: reply.error ? 400 : 200, body: reply });

async function untouched(queue: string): Promise<void> {
  expect((await api.get(`/v1/tasks?queue=${queue}&limit=500`)).body.tasks).toEqual([]);
  expect((await api.get(`/v1/queues/${queue}`)).body).toMatchObject({ ready: 0, delayed: 0, running: 0, failed: 0 });
}

/** The refusal of a time that names no real instant, with the reason. */
const unreal = (reason: RegExp) => new RegExp(`is not a real date and time: ${reason.source}`);
const WINDOW = /must be within 365 days of now, either way: between \S+ and \S+/;
const EXPIRES = /must be after now and at most 365 days ahead: after \S+ and no later than \S+/;
const LEASE = /must be between 1 and 43200 seconds/;
const DELAY = /must be 0, or between 0\.001 and 31536000 seconds \(365 days\)/;
const RETRY = /must be 0, or between 0\.001 and 86400 seconds \(1 day\)/;
const OVERFLOW = /must be a number between -1\.8e308 and 1\.8e308/;

/** [what, a task field as JSON text, the field the message names, the range it states] */
const TASK_CASES: [string, string, string, RegExp][] = [
  ['an eta in year 9999', '"eta": "9999-12-31T00:00:00Z"', 'eta', WINDOW],
  ['an eta in year 0000', '"eta": "0000-01-01T00:00:00Z"', 'eta', unreal(/there is no year 0000/)],
  ['an eta two years ago', `"eta": "${at(-730 * DAY)}"`, 'eta', WINDOW],
  ['an eta a year and a day ahead', `"eta": "${at(366 * DAY)}"`, 'eta', WINDOW],
  ['an eta on February 30th', '"eta": "2026-02-30T00:00:00Z"', 'eta', unreal(/February 2026 has 28 days, not 30/)],
  ['an eta at 24:00', '"eta": "2026-01-01T24:00:00Z"', 'eta', unreal(/hours run 00-23, not 24/)],
  ['an eta in month 13', '"eta": "2026-13-01T00:00:00Z"', 'eta', unreal(/months run 01-12, not 13/)],
  ['an eta at a leap second', '"eta": "2026-06-30T23:59:60Z"', 'eta', unreal(/seconds run 00-59, not 60 \(leap seconds are not taken\)/)],
  ['an eta with an offset of +24:00', '"eta": "2026-06-30T10:00:00+24:00"', 'eta', unreal(/an offset runs from -23:59 to \+23:59, not \+24:00/)],
  ['expires on February 30th', '"expires": "2026-02-30T00:00:00Z"', 'expires', unreal(/February 2026 has 28 days/)],
  ['expires a minute ago', `"expires": "${at(-60_000)}"`, 'expires', EXPIRES],
  ['expires in year 9999', '"expires": "9999-01-01T00:00:00Z"', 'expires', EXPIRES],
  ['expires in a nanosecond', '"expires": 1e-9', 'expires', /must be between 0\.001 and 31536000 seconds/],
  ['expires in 366 days', `"expires": ${366 * 86_400}`, 'expires', /must be between 0\.001 and 31536000 seconds/],
  ['expires as true', '"expires": true', 'expires', /must be seconds from now \(0\.001-31536000\) or an RFC 3339 time/],
  ['a timeout of a nanosecond', '"timeout": 1e-9', 'timeout', LEASE],
  ['a timeout of half a second', '"timeout": 0.5', 'timeout', LEASE],
  ['a timeout past twelve hours', '"timeout": 43201', 'timeout', LEASE],
  ['a delay of a nanosecond', '"delay": 1e-9', 'delay', DELAY],
  ['a delay past a year', '"delay": 31536001', 'delay', DELAY],
  ['a negative delay', '"delay": -1', 'delay', DELAY],
  ['a retryDelay of a nanosecond', '"retryDelay": 1e-9', 'retryDelay', RETRY],
  ['a retryDelay past a day', '"retryDelay": 86401', 'retryDelay', RETRY],
  ['a priority of 5.5', '"priority": 5.5', 'priority', /must be a whole number from 0 to 9/],
  ['a priority of -1', '"priority": -1', 'priority', /must be a whole number from 0 to 9/],
  ['maxRetries past 2^53', '"maxRetries": 9007199254740994', 'maxRetries', /must be a whole number from 0 to 100/],
  ['maxRetries of 1.5', '"maxRetries": 1.5', 'maxRetries', /must be a whole number from 0 to 100/],
  ['a groupLimit of 0', '"groupKey": "g", "groupLimit": 0', 'groupLimit', /must be a whole number from 1 to 10000/],
  ['a delay that JSON reads as Infinity', '"delay": 1e400', 'delay', OVERFLOW],
  ['a priority that JSON reads as Infinity', `"priority": ${nines}`, 'priority', OVERFLOW],
  ['an argument that JSON reads as Infinity', '"args": ["a", 1e400]', 'args[1]', OVERFLOW],
  ['a kwarg that JSON reads as -Infinity', '"kwargs": {"x": {"y": -1e400}}', 'kwargs.x.y', OVERFLOW],
];

describe('task fields past their ranges', () => {
  const producer = socket('/v1/tasks/connect');
  afterAll(async () => (await producer).close());

  it.each(TASK_CASES)('%s: 400 naming the field and its range on every enqueue route, and nothing stored', async (what, field, name, range) => {
    const queue = uniqueQueue('range');
    const ok = `{"task": "range.t", "queue": "${queue}"}`;
    const bad = `{"task": "range.t", "queue": "${queue}", ${field}}`;
    refused(await send('POST', '/v1/tasks', bad), name, range, `${what} POST /v1/tasks`);
    const batch = await send('POST', '/v1/tasks/batch', `{"tasks": [${ok}, ${bad}]}`);
    refused(batch, `tasks[1].${name}`, range, `${what} batch`);
    refused(await send('POST', '/v1/workflows', `{"chain": [${ok}, ${bad}]}`), `chain[1].${name}`, range, `${what} chain`);
    refused(await send('POST', '/v1/workflows', `{"chord": {"header": [${ok}], "body": ${bad}}}`), `chord.body.${name}`, range, `${what} chord`);
    const s = await producer;
    refused(asReply(await s.ask('enqueue', `"task": ${bad}`)), name, range, `${what} socket enqueue`);
    refused(asReply(await s.ask('enqueueBatch', `"tasks": [${ok}, ${bad}]`)), `tasks[1].${name}`, range, `${what} socket enqueueBatch`);
    await untouched(queue);
  });

  it('schedules: 400 naming the field and its range, and no schedule made or changed', async () => {
    const cases: [string, string, RegExp][] = [
      ['"every": 0.5', 'every', /must be between 1 and 31536000 seconds \(365 days\)/],
      ['"every": 1e-9', 'every', /must be between 1 and 31536000 seconds/],
      ['"every": 31536001', 'every', /must be between 1 and 31536000 seconds/],
      ['"every": 1e400', 'every', OVERFLOW],
      ['"every": 60, "timeout": 0.5', 'timeout', LEASE],
      ['"every": 60, "priority": 5.5', 'priority', /must be a whole number from 0 to 9/],
      ['"every": 60, "retryDelay": 1e-9', 'retryDelay', RETRY],
      ['"every": 60, "args": [-1e400]', 'args[0]', OVERFLOW],
    ];
    const kept = uniqueQueue('range-kept');
    expect((await api.post('/v1/schedules', { id: kept, every: 3600, task: 'range.s', enabled: false })).status).toBe(201);
    for (const [fields, name, range] of cases) {
      const id = uniqueQueue('range-sched');
      refused(await send('POST', '/v1/schedules', `{"id": "${id}", "task": "range.s", "enabled": false, ${fields}}`), name, range, `POST ${fields}`);
      expect((await api.get(`/v1/schedules/${id}`)).status).toBe(404);
      refused(await send('PUT', `/v1/schedules/${kept}`, `{"task": "range.s", "enabled": false, ${fields}}`), name, range, `PUT ${fields}`);
    }
    expect((await api.get(`/v1/schedules/${kept}`)).body).toMatchObject({ every: 3600, priority: 5, timeout: 60 });
    await api.request('DELETE', `/v1/schedules/${kept}`);
  });

  it('queue config: 400 naming the field and its range, and the config unchanged', async () => {
    const queue = uniqueQueue('range-config');
    expect((await api.request('PUT', `/v1/queues/${queue}/config`, { retentionSeconds: 3600, concurrency: 5 })).status).toBe(200);
    const before = (await api.get(`/v1/queues/${queue}`)).body.config;
    for (const [fields, name, range] of [
      ['"retentionSeconds": 0.5', 'retentionSeconds', /must be between 1 and 31536000 seconds/],
      ['"retentionSeconds": 31536001', 'retentionSeconds', /must be between 1 and 31536000 seconds/],
      ['"retentionSeconds": 1e400', 'retentionSeconds', OVERFLOW],
      ['"concurrency": 0', 'concurrency', /must be a whole number from 1 to 100000/],
      ['"concurrency": 2.5', 'concurrency', /must be a whole number from 1 to 100000/],
      ['"concurrency": 100001', 'concurrency', /must be a whole number from 1 to 100000/],
    ] as const) {
      refused(await send('PUT', `/v1/queues/${queue}/config`, `{${fields}}`), name, range, fields);
    }
    expect((await api.get(`/v1/queues/${queue}`)).body.config).toEqual(before);
  });
});

describe('worker fields past their ranges', () => {
  it('claims over HTTP and the socket: 400 naming the field and its range, and the task stays queued', async () => {
    const queue = uniqueQueue('range-claim');
    const made = await api.post('/v1/tasks', { task: 'range.c', queue });
    expect(made.status).toBe(202);
    const worker = await socket(`/v1/queues/${queue}/connect`, TOKENS.consume);
    for (const [fields, name, range] of [
      ['"leaseSeconds": 1e-9', 'leaseSeconds', LEASE],
      ['"leaseSeconds": 0.5', 'leaseSeconds', LEASE],
      ['"leaseSeconds": 43201', 'leaseSeconds', LEASE],
      ['"waitSeconds": 1e-9', 'waitSeconds', /must be 0, or between 0\.001 and 30 seconds/],
      ['"waitSeconds": 31', 'waitSeconds', /must be 0, or between 0\.001 and 30 seconds/],
      ['"max": 1.5', 'max', /must be a whole number from 1 to 100/],
      ['"max": 1e400', 'max', OVERFLOW],
    ] as const) {
      refused(await api.as(TOKENS.consume).request('POST', `/v1/queues/${queue}/claim`, `{"worker": "w", ${fields}}`, { headers: { 'content-type': 'application/json' } }), name, range, `HTTP ${fields}`);
      refused(asReply(await worker.ask('claim', `"worker": "w", ${fields}`)), name, range, `socket ${fields}`);
    }
    worker.close();
    expect((await api.get(`/v1/tasks/${made.body.id}`)).body).toMatchObject({ state: 'queued', attempts: 0 });
    expect((await api.get(`/v1/queues/${queue}`)).body).toMatchObject({ ready: 1, running: 0 });
    const [job] = await claimAll(api, queue, 1);
    await api.post(`/v1/leases/${job.leaseId}/ack`, { result: null });
  });

  it('heartbeat, fail and ack: 400 naming the field and its range, and the lease lives on to take a good ack', async () => {
    const queue = uniqueQueue('range-lease');
    const made = await api.post('/v1/tasks', { task: 'range.l', queue, maxRetries: 0 });
    const [job] = await claimAll(api, queue, 1, { leaseSeconds: 60 });
    const lease = `/v1/leases/${job.leaseId}`;
    const worker = await socket(`/v1/queues/${queue}/connect`, TOKENS.consume);
    const cases: [string, string, string, RegExp][] = [
      ['heartbeat', '{"extendSeconds": 1e-9}', 'extendSeconds', LEASE],
      ['heartbeat', '{"extendSeconds": 0.5}', 'extendSeconds', LEASE],
      ['heartbeat', '{"extendSeconds": 43201}', 'extendSeconds', LEASE],
      ['heartbeat', '{"extendSeconds": 1e400}', 'extendSeconds', OVERFLOW],
      ['heartbeat', '{"progress": {"done": 1e400}}', 'progress.done', OVERFLOW],
      ['fail', '{"error": {"type": "E", "message": "m"}, "delaySeconds": 1e-9}', 'delaySeconds', RETRY],
      ['fail', '{"error": {"type": "E", "message": "m"}, "delaySeconds": 86401}', 'delaySeconds', RETRY],
      ['fail', '{"error": {"type": "E", "message": "m"}, "delaySeconds": -1e400}', 'delaySeconds', OVERFLOW],
      ['ack', '{"result": [1, 1e400]}', 'result[1]', OVERFLOW],
    ];
    for (const [op, body, name, range] of cases) refused(await send('POST', `${lease}/${op}`, body), name, range, `${op} ${body}`);
    refused(await send('POST', '/v1/leases/ack', `{"acks": [{"leaseId": "${job.leaseId}", "result": {"n": -1e400}}]}`), 'acks[0].result.n', OVERFLOW, 'ack many');
    refused(asReply(await worker.ask('ack', `"acks": [{"leaseId": "${job.leaseId}", "result": 1e400}]`)), 'acks[0].result', OVERFLOW, 'socket ack');
    worker.close();
    expect((await api.get(`/v1/tasks/${made.body.id}`)).body).toMatchObject({ state: 'running', attempts: 1, result: null });
    // The largest double is a number like any other, and comes back as sent.
    const acked = await api.post(`${lease}/ack`, { result: { n: 1.7976931348623157e308, m: -5e-324 } });
    expect(acked.status).toBe(200);
    expect((await api.get(`/v1/tasks/${made.body.id}`)).body).toMatchObject({ state: 'succeeded', result: { n: 1.7976931348623157e308, m: -5e-324 } });
  });
});

describe('query parameters past their ranges', () => {
  it('?wait and ?limit: 400 naming the parameter and its range', async () => {
    const made = await api.post('/v1/tasks', { task: 'range.q', queue: uniqueQueue('range-q') });
    const wait = /must be 0, or between 0\.001 and 60 seconds/;
    for (const [path, name, range] of [
      [`/v1/tasks/${made.body.id}?wait=0.0000001`, 'wait', wait],
      [`/v1/tasks/${made.body.id}?wait=61`, 'wait', wait],
      [`/v1/tasks/${made.body.id}?wait=${nines}`, 'wait', wait],
      ['/v1/tasks?limit=0', 'limit', /must be a whole number from 1 to 500/],
      ['/v1/tasks?limit=501', 'limit', /must be a whole number from 1 to 500/],
      ['/v1/tasks?limit=1.5', 'limit', /must be a whole number from 1 to 500/],
      [`/v1/tasks?limit=${nines}`, 'limit', /must be a whole number from 1 to 500/],
      [`/v1/queues/${uniqueQueue('range-dead')}/dead?limit=1001`, 'limit', /must be a whole number from 1 to 1000/],
      ['/v1/audit?limit=0', 'limit', /must be a whole number from 1 to 500/],
    ] as const) {
      refused(await api.get(path), name, range, path);
    }
    await api.post(`/v1/tasks/${made.body.id}/revoke`);
  });
});

describe('values at the edges of their ranges', () => {
  it('are taken, and their tasks run', async () => {
    const queue = uniqueQueue('range-edge');
    const fields = [
      { eta: at(-364 * DAY) },
      { eta: at(-1000).replace('Z', '+00:00') },
      { timeout: 1, retryDelay: 0.001, priority: 9, maxRetries: 100 },
      { delay: 0, expires: 3600 },
      { expires: at(3_600_000) },
      { args: [1.7976931348623157e308, -1.7976931348623157e308, 5e-324] },
    ];
    const ids: string[] = [];
    for (const f of fields) {
      const res = await api.post('/v1/tasks', { task: 'range.e', queue, ...f });
      expect(res.status, JSON.stringify(f)).toBe(202);
      expect(res.body.state).toBe('queued');
      ids.push(res.body.id);
    }
    const jobs = await claimAll(api, queue, ids.length);
    expect(jobs.map((j) => j.id).sort()).toEqual([...ids].sort());
    expect(jobs.find((j) => j.id === ids[5]).args).toEqual([1.7976931348623157e308, -1.7976931348623157e308, 5e-324]);
    const acks = await api.post('/v1/leases/ack', { acks: jobs.map((j) => ({ leaseId: j.leaseId, result: 'ok' })) });
    expect(acks.status).toBe(200);
  });

  it('a task due in 364 days waits, and can be revoked', async () => {
    const queue = uniqueQueue('range-far');
    const res = await api.post('/v1/tasks', { task: 'range.f', queue, eta: at(364 * DAY), expires: at(365 * DAY - 60_000) });
    expect(res.status).toBe(202);
    expect(res.body.state).toBe('delayed');
    expect((await api.post(`/v1/tasks/${res.body.id}/revoke`)).body.state).toBe('revoked');
  });
});
