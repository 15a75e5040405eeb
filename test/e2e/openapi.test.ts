// The OpenAPI document: valid by a validator library, complete, and enough to drive a client.
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, inject, it } from 'vitest';
import { Api, TOKENS, uniqueQueue } from './system.ts';

const url = inject('hubUrl');
const api = new Api(url);

/** A client that knows nothing but the document: operation ids to methods and paths. */
function clientFrom(doc: any, token: string) {
  const ops = new Map<string, { method: string; path: string }>();
  for (const [path, methods] of Object.entries<any>(doc.paths)) for (const [method, op] of Object.entries<any>(methods)) ops.set(op.operationId, { method, path });
  return async (operationId: string, params: Record<string, string> = {}, body?: unknown) => {
    const op = ops.get(operationId);
    if (!op) throw new Error(`the document has no operation ${operationId}`);
    const path = op.path.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(params[name]));
    const res = await fetch(url + path, {
      method: op.method.toUpperCase(),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
}

/**
 * Checks real answers against the document: the schema of the answer's status (the default, the
 * Error, for a refusal). A mismatch fails naming the operation, the status and each place in the body.
 */
function conformance(doc: any) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema({ $id: 'drover', components: doc.components });
  const ops = new Map<string, any>();
  for (const methods of Object.values<any>(doc.paths)) for (const op of Object.values<any>(methods)) ops.set(op.operationId, op);
  const seen = new Set<string>();
  const check = (operationId: string, res: { status: number; body: any }, expected = 200): any => {
    const op = ops.get(operationId);
    if (!op) throw new Error(`the document has no operation ${operationId}`);
    if (res.status !== expected) throw new Error(`${operationId}: expected ${expected}, got ${res.status} ${JSON.stringify(res.body)}`);
    const response = op.responses[String(res.status)] ?? (res.status >= 400 ? op.responses.default : undefined);
    if (!response) throw new Error(`${operationId} answered ${res.status}, which it does not document`);
    const [type] = Object.keys(response.content ?? {});
    const schema = response.content?.[type]?.schema;
    if (!schema) throw new Error(`${operationId} ${res.status}: no schema documented`);
    const validate = ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"drover#/components/')));
    if (!validate(res.body)) {
      const where = (validate.errors ?? []).map((e) => `${e.instancePath || '(the body)'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${e.params.additionalProperty})` : ''}`);
      throw new Error(`${operationId} ${res.status}: the answer does not match its documented schema:\n  ${where.join('\n  ')}\nbody: ${JSON.stringify(res.body).slice(0, 2000)}`);
    }
    seen.add(operationId);
    return res.body;
  };
  return { check, seen };
}

describe('the OpenAPI document', () => {
  it('validates as OpenAPI and describes every /v1 route of PROTOCOL.md', async () => {
    const res = await api.as(null).get('/openapi.json');
    expect(res.status).toBe(200);
    const result = await new Validator().validate(res.body);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    const paths = Object.keys(res.body.paths);
    for (const p of ['/v1/tasks', '/v1/tasks/batch', '/v1/tasks/{id}', '/v1/tasks/{id}/revoke', '/v1/queues/{queue}/claim', '/v1/leases/{leaseId}/heartbeat',
      '/v1/leases/{leaseId}/ack', '/v1/leases/{leaseId}/fail', '/v1/queues', '/v1/queues/{queue}', '/v1/queues/{queue}/pause', '/v1/queues/{queue}/resume',
      '/v1/queues/{queue}/dead', '/v1/queues/{queue}/dead/replay', '/v1/schedules', '/v1/schedules/{id}', '/v1/workflows', '/v1/workflows/{id}', '/v1/events', '/v1/workers']) {
      expect(paths).toContain(p);
    }
    // Generated from the validating schemas: the enqueue body's rules are there.
    const enqueue = res.body.paths['/v1/tasks'].post.requestBody.content['application/json'].schema;
    expect(enqueue.required).toEqual(['task']);
    expect(enqueue.properties.priority).toMatchObject({ minimum: 0, maximum: 9 });
    expect(enqueue.additionalProperties).toBe(false);
  });

  it('states the range of every number and time a request may send', async () => {
    const doc = (await api.as(null).get('/openapi.json')).body;
    // Every number anywhere in a request has a minimum, a maximum and a description; every time a format and a description.
    const numbers: string[] = [];
    const walk = (schema: any, at: string) => {
      if (typeof schema !== 'object' || schema === null) return;
      if (schema.type === 'number' || schema.type === 'integer') {
        numbers.push(at);
        expect(schema, at).toMatchObject({ minimum: expect.any(Number), maximum: expect.any(Number), description: expect.any(String) });
        expect(schema.description, at).toMatch(new RegExp(`${schema.type === 'integer' ? 'A whole number, ' : ''}[^.]*${schema.minimum}.*${schema.maximum}`));
      }
      if (schema.format === 'date-time') expect(schema.description, at).toMatch(/RFC 3339.*within 365 days|RFC 3339.*365 days ahead|RFC 3339.*within the last 48 hours/);
      for (const [k, v] of Object.entries(schema)) walk(v, `${at}.${k}`);
    };
    for (const [path, methods] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(methods)) {
        walk(op.requestBody?.content['application/json'].schema, `${method} ${path} body`);
        for (const p of op.parameters ?? []) walk(p.schema, `${method} ${path} ?${p.name}`);
      }
    }
    expect(numbers.length).toBeGreaterThan(30);

    const body = (path: string, method = 'post') => doc.paths[path][method].requestBody.content['application/json'].schema;
    // A body is required wherever one is taken, but for the dead-letter replay and purge, where none means all.
    for (const [path, ops] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(ops)) {
        if (op.requestBody) expect(op.requestBody.required, `${method} ${path}`).toBe(!['replayDead', 'purgeDead'].includes(op.operationId));
      }
    }
    const task = body('/v1/tasks').properties;
    expect(task.timeout).toMatchObject({ type: 'number', minimum: 1, maximum: 43200, default: 60 });
    expect(task.delay).toMatchObject({ type: 'number', minimum: 0, maximum: 31536000 });
    expect(task.delay.description).toMatch(/0, or 0\.001-31536000/);
    expect(task.retryDelay).toMatchObject({ minimum: 0, maximum: 86400 });
    expect(task.maxRetries).toMatchObject({ type: 'integer', minimum: 0, maximum: 100 });
    expect(task.groupLimit).toMatchObject({ type: 'integer', minimum: 1, maximum: 10000 });
    expect(task.eta).toMatchObject({ type: 'string', format: 'date-time' });
    expect(task.expires.anyOf).toEqual([
      expect.objectContaining({ type: 'number', minimum: 0.001, maximum: 31536000 }),
      expect.objectContaining({ type: 'string', format: 'date-time' }),
    ]);
    const claim = body('/v1/queues/{queue}/claim').properties;
    expect(claim.leaseSeconds).toMatchObject({ minimum: 1, maximum: 43200 });
    expect(claim.waitSeconds).toMatchObject({ minimum: 0, maximum: 30 });
    expect(claim.max).toMatchObject({ type: 'integer', minimum: 1, maximum: 100 });
    expect(body('/v1/leases/{leaseId}/heartbeat').properties.extendSeconds).toMatchObject({ minimum: 1, maximum: 43200 });
    expect(body('/v1/leases/{leaseId}/fail').properties.delaySeconds).toMatchObject({ minimum: 0, maximum: 86400 });
    expect(body('/v1/schedules').properties.every).toMatchObject({ minimum: 1, maximum: 31536000 });
    expect(body('/v1/queues/{queue}/config', 'put').properties.concurrency.anyOf[0]).toMatchObject({ type: 'integer', minimum: 1, maximum: 100000 });
    const param = (path: string, name: string) => doc.paths[path].get.parameters.find((p: any) => p.name === name).schema;
    expect(param('/v1/tasks/{id}', 'wait')).toMatchObject({ type: 'number', minimum: 0, maximum: 60 });
    expect(param('/v1/tasks', 'limit')).toMatchObject({ type: 'integer', minimum: 1, maximum: 500 });
    expect(param('/v1/queues/{queue}/dead', 'limit')).toMatchObject({ type: 'integer', minimum: 1, maximum: 1000 });
    expect(param('/v1/audit', 'limit')).toMatchObject({ type: 'integer', minimum: 1, maximum: 500 });
    expect(doc.info.description).toMatch(/1e400/);
  });

  it('drives a client that enqueues a task and reads it back', async () => {
    const doc = (await api.as(null).get('/openapi.json')).body;
    const call = clientFrom(doc, TOKENS.admin);
    const queue = uniqueQueue('oas');
    const made = await call('enqueueTask', {}, { task: 'from.openapi', args: [1], queue });
    expect(made.status).toBe(202);
    const read = await call('getTask', { id: made.body.id });
    expect(read.body).toMatchObject({ id: made.body.id, task: 'from.openapi', queue, state: 'queued' });
    expect((await call('enqueueTask', {}, { task: 'from.openapi', priority: 10 })).status).toBe(400);
  });

  it('describes what the hub answers: every job, task, dead letter, workflow and error matches its component', async () => {
    const doc = (await api.as(null).get('/openapi.json')).body;
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    ajv.addSchema({ $id: 'drover', components: doc.components });
    const answer = (path: string, method = 'get') => doc.paths[path][method].responses['200'].content['application/json'].schema;
    const matches = (schema: unknown, value: unknown, what: string) => {
      const check = ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"drover#/components/')));
      expect(check(value) ? [] : check.errors, what).toEqual([]);
    };
    const record = (name: string) => ({ $ref: `#/components/schemas/${name}` });
    const admin = api;
    const queue = uniqueQueue('oas-answers');

    const made = await admin.post('/v1/tasks', { task: 'oas.answer', args: [1, 'two'], kwargs: { three: 3 }, queue, priority: 7, groupKey: 'tenant-1', expires: 3600 });
    expect(made.status).toBe(202);
    const queued = await admin.get(`/v1/tasks/${made.body.id}`);
    expect(queued.body.state).toBe('queued');
    matches(answer('/v1/tasks/{id}'), queued.body, 'a queued task');
    matches(answer('/v1/tasks'), (await admin.get(`/v1/tasks?queue=${queue}`)).body, 'the task list');

    const claimed = await admin.post(`/v1/queues/${queue}/claim`, { worker: 'oas-worker', max: 1, waitSeconds: 10 });
    expect(claimed.body.jobs).toHaveLength(1);
    matches(answer('/v1/queues/{queue}/claim', 'post'), claimed.body, 'a claim');
    const job = claimed.body.jobs[0];
    await admin.post(`/v1/leases/${job.leaseId}/heartbeat`, { progress: { done: 1 } });
    const running = await admin.get(`/v1/tasks/${job.id}`);
    expect(running.body).toMatchObject({ state: 'running', progress: { done: 1 } });
    matches(record('Task'), running.body, 'a running task');
    await admin.post(`/v1/leases/${job.leaseId}/ack`, { result: { ok: true } });
    const done = await admin.get(`/v1/tasks/${job.id}?wait=10`);
    expect(done.body.state).toBe('succeeded');
    matches(record('Task'), done.body, 'a succeeded task');

    const doomed = await admin.post('/v1/tasks', { task: 'oas.doomed', queue, maxRetries: 0 });
    const [dying] = (await admin.post(`/v1/queues/${queue}/claim`, { worker: 'oas-worker', max: 1, waitSeconds: 10 })).body.jobs;
    expect(dying.id).toBe(doomed.body.id);
    await admin.post(`/v1/leases/${dying.leaseId}/fail`, { error: { type: 'Boom', message: 'it broke', stack: 'at line 1' }, retry: false });
    const failed = await admin.get(`/v1/tasks/${dying.id}?wait=10`);
    expect(failed.body).toMatchObject({ state: 'failed', error: { type: 'Boom' } });
    matches(record('Task'), failed.body, 'a failed task');
    const dead = await admin.get(`/v1/queues/${queue}/dead`);
    expect(dead.body.tasks.map((t: any) => t.id)).toEqual([dying.id]);
    matches(answer('/v1/queues/{queue}/dead'), dead.body, 'the dead letters');

    const flow = await admin.post('/v1/workflows', { chain: [{ task: 'oas.step', queue }, { task: 'oas.step', queue }] });
    expect(flow.status).toBe(202);
    const workflow = await admin.get(`/v1/workflows/${flow.body.id}`);
    expect(workflow.body).toMatchObject({ shape: 'chain', state: 'running' });
    matches(answer('/v1/workflows/{id}'), workflow.body, 'a running workflow');

    for (const refused of [await admin.get('/v1/tasks/01ARZ3NDEKTSV4RRFFQ69G5FAV'), await admin.post('/v1/tasks', { task: 'oas.bad', priority: 10 }), await api.as(null).get('/v1/queues')]) {
      expect(refused.status).toBeGreaterThanOrEqual(400);
      matches(record('Error'), refused.body, `a ${refused.status}`);
    }
    // The check is a real one: a record that lost a field, or grew a wrong type, does not match.
    expect(ajv.validate({ $ref: 'drover#/components/schemas/Task' }, { ...done.body, state: 'done' })).toBe(false);
    const { attempts: _gone, ...withoutAttempts } = done.body;
    expect(ajv.validate({ $ref: 'drover#/components/schemas/Task' }, withoutAttempts)).toBe(false);
  });

  it('gives every status of every operation its schema: the answer\'s, or the one Error', async () => {
    const doc = (await api.as(null).get('/openapi.json')).body;
    let operations = 0;
    for (const [path, methods] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(methods)) {
        operations++;
        const where = `${op.operationId} (${method.toUpperCase()} ${path})`;
        expect(op.responses.default?.content?.['application/json']?.schema, where).toEqual({ $ref: '#/components/schemas/Error' });
        const statuses = Object.keys(op.responses).filter((s) => s !== 'default');
        expect(statuses.length, where).toBeGreaterThan(0);
        for (const status of statuses) {
          // A WebSocket upgrade has no body to describe.
          if (status === '101') continue;
          const content = op.responses[status].content ?? {};
          const types = Object.keys(content);
          expect(types, `${where} ${status}`).toEqual([op.operationId === 'events' ? 'text/event-stream' : 'application/json']);
          const schema = content[types[0]].schema;
          expect(schema && Object.keys(schema).length > 0, `${where} ${status} has a schema`).toBe(true);
        }
      }
    }
    expect(operations).toBeGreaterThanOrEqual(40);
    expect(doc.paths['/v1/events'].get.responses['200'].content['text/event-stream'].schema).toMatchObject({ type: 'string', description: expect.stringMatching(/Server-Sent Events/) });
  });

  it('answers as it documents: a real response of every operation matches the schema of its status', async () => {
    const doc = (await api.as(null).get('/openapi.json')).body;
    const conform = conformance(doc);
    const queue = uniqueQueue('oas-every');
    const admin = api;
    const seen = conform.seen;
    const { check } = conform;

    check('health', await api.as(null).get('/healthz'));
    const one = check('enqueueTask', await admin.post('/v1/tasks', { task: 'oas.every', queue, idempotencyKey: `${queue}-k` }), 202);
    check('enqueueTask', await admin.post('/v1/tasks', { task: 'oas.every', queue, idempotencyKey: `${queue}-k` }), 200);
    check('enqueueTask', await admin.post('/v1/tasks', { task: 'oas.every', queue, delay: 3600 }), 202);
    const batch = check('enqueueBatch', await admin.post('/v1/tasks/batch', { tasks: [{ task: 'oas.every', queue }, { task: 'oas.every', queue }, { task: 'oas.every', queue }] }), 202);
    check('listTasks', await admin.get(`/v1/tasks?queue=${queue}&limit=2`));
    check('getTask', await admin.get(`/v1/tasks/${one.id}`));
    check('revokeTask', await admin.post(`/v1/tasks/${batch.tasks[2].id}/revoke`));

    const worker = `oas-worker-${queue}`;
    const jobs = check('claim', await admin.post(`/v1/queues/${queue}/claim`, { worker, max: 3, waitSeconds: 10 })).jobs;
    // The keyed task and two of the batch: the delayed one waits, the revoked one ended.
    expect(jobs.length).toBe(3);
    check('heartbeat', await admin.post(`/v1/leases/${jobs[0].leaseId}/heartbeat`, { progress: { half: true }, extendSeconds: 60 }));
    check('release', await admin.post(`/v1/leases/${jobs[0].leaseId}/release`));
    const again = check('claim', await admin.post(`/v1/queues/${queue}/claim`, { worker, max: 1, waitSeconds: 10 })).jobs;
    check('ack', await admin.post(`/v1/leases/${again[0].leaseId}/ack`, { result: { fine: 1 } }));
    check('fail', await admin.post(`/v1/leases/${jobs[1].leaseId}/fail`, { error: { type: 'Flaky', message: 'try again' }, retry: true, delaySeconds: 0 }));
    const retried = check('claim', await admin.post(`/v1/queues/${queue}/claim`, { worker, max: 1, waitSeconds: 10 })).jobs;
    check('fail', await admin.post(`/v1/leases/${retried[0].leaseId}/fail`, { error: { type: 'Boom', message: 'for good' }, retry: false }));
    const acked = check('ackMany', await admin.post('/v1/leases/ack', { acks: [{ leaseId: jobs[2].leaseId, result: 1 }, { leaseId: 'no-such-lease' }] }));
    expect(acked.results[1].error.code).toBe('not_found');

    check('listQueues', await admin.get('/v1/queues'));
    check('getQueue', await admin.get(`/v1/queues/${queue}`));
    check('pauseQueue', await admin.post(`/v1/queues/${queue}/pause`));
    check('resumeQueue', await admin.post(`/v1/queues/${queue}/resume`));
    check('configureQueue', await admin.request('PUT', `/v1/queues/${queue}/config`, { rateLimit: '100/s', concurrency: 10, retentionSeconds: 86400, taskRateLimits: { 'oas.every': '10/s' } }));
    check('configureQueue', await admin.request('PUT', `/v1/queues/${queue}/config`, { keyLimits: [{ match: '*', rate: '50/s', concurrency: 5 }] }));
    check('enqueueTask', await admin.post('/v1/tasks', { task: 'oas.keyed', queue, rateKey: 'oas.example.com' }), 202);
    expect(check('listKeys', await admin.get(`/v1/queues/${queue}/keys?limit=10`)).keys).toContainEqual(expect.objectContaining({ key: 'oas.example.com', rate: '50/s' }));
    const dead = check('listDead', await admin.get(`/v1/queues/${queue}/dead`));
    expect(dead.tasks.length).toBe(1);
    check('replayDead', await admin.post(`/v1/queues/${queue}/dead/replay`, { ids: [dead.tasks[0].id] }));
    check('purgeDead', await admin.request('DELETE', `/v1/queues/${queue}/dead`, { ids: [dead.tasks[0].id] }));
    // With no body: all of them (the document says it may be left out).
    check('replayDead', await admin.post(`/v1/queues/${queue}/dead/replay`));
    check('purgeDead', await admin.request('DELETE', `/v1/queues/${queue}/dead`));
    check('purgeQueue', await admin.post(`/v1/queues/${queue}/purge`));

    const scheduleId = `oas-${queue}`;
    check('createSchedule', await admin.post('/v1/schedules', { id: scheduleId, every: 3600, task: 'oas.scheduled', queue, args: [1] }), 201);
    check('listSchedules', await admin.get('/v1/schedules'));
    check('getSchedule', await admin.get(`/v1/schedules/${scheduleId}`));
    check('updateSchedule', await admin.request('PUT', `/v1/schedules/${scheduleId}`, { cron: '0 * * * *', task: 'oas.scheduled', queue, enabled: false }));
    check('runSchedule', await admin.post(`/v1/schedules/${scheduleId}/run`), 202);
    check('deleteSchedule', await admin.request('DELETE', `/v1/schedules/${scheduleId}`));

    const flow = check('startWorkflow', await admin.post('/v1/workflows', { chord: { header: [{ task: 'oas.part', queue }], body: { task: 'oas.sum', queue } } }), 202);
    check('getWorkflow', await admin.get(`/v1/workflows/${flow.id}`));
    check('revokeWorkflow', await admin.post(`/v1/workflows/${flow.id}/revoke`));

    const beat = (body: Record<string, unknown>) => admin.post(`/v1/workers/${worker}/heartbeat`, { queues: [queue], tasks: ['oas.broadcast'], concurrency: 2, ...body });
    check('workerHeartbeat', await beat({ active: [{ id: one.id, task: 'oas.every', queue, startedAt: new Date().toISOString() }], processed: 3, failed: 1 }));
    check('listWorkers', await admin.get('/v1/workers'));
    const call = check('control', await admin.post('/v1/control', { workers: [worker, 'oas-nobody'], command: 'ping', waitSeconds: 0 }));
    const commands = check('workerHeartbeat', await beat({})).commands;
    const ping = commands.find((c: any) => c.command === 'ping');
    check('workerHeartbeat', await beat({ replies: [{ id: ping.id, ok: true, reply: 'pong' }] }));
    expect(check('getControl', await admin.get(`/v1/control/${call.id}`)).replies).toEqual([{ worker, ok: true, reply: 'pong' }]);
    const sent = check('broadcast', await admin.post('/v1/broadcasts', { task: 'oas.broadcast', queue, args: [1] }), 202);
    check('getBroadcast', await admin.get(`/v1/broadcasts/${sent.id}`));
    const { commands: runs } = check('workerHeartbeat', await beat({}));
    const run = runs.find((c: any) => c.command === 'run');
    check('workerHeartbeat', await beat({ replies: [{ id: run.id, ok: false, error: { type: 'Nope', message: 'did not' } }] }));
    expect(check('getBroadcast', await admin.get(`/v1/broadcasts/${sent.id}`)).workers[0]).toMatchObject({ state: 'failed', error: { type: 'Nope' } });
    check('audit', await admin.get('/v1/audit?limit=50'));
    check('eventTicket', await admin.post('/v1/events/ticket'));
    check('stats', await admin.get(`/v1/stats?queue=${queue}`));
    check('stats', await admin.get('/v1/stats'));
    check('listWorkflows', await admin.get('/v1/workflows?limit=5'));

    const events = await fetch(`${url}/v1/events`, { headers: { authorization: `Bearer ${TOKENS.admin}` } });
    expect(events.status).toBe(200);
    expect(events.headers.get('content-type')).toMatch(/^text\/event-stream/);
    check('events', { status: 200, body: (await events.body!.getReader().read()).value ? 'a stream' : '' });
    await events.body!.cancel().catch(() => {});

    // Refusals: each in the one error shape, as every operation documents.
    check('getTask', await admin.get('/v1/tasks/01ARZ3NDEKTSV4RRFFQ69G5FAV'), 404);
    check('enqueueTask', await admin.post('/v1/tasks', { task: 'oas.bad', priority: 10 }), 400);
    check('listQueues', await api.as(null).get('/v1/queues'), 401);
    check('purgeQueue', await api.as(TOKENS.enqueue).post(`/v1/queues/${queue}/purge`), 403);
    check('ack', await admin.post(`/v1/leases/${again[0].leaseId}/ack`, {}), 409);
    check('createSchedule', await admin.post('/v1/schedules', { id: 'x', task: 'oas.none' }), 400);

    const documented = Object.values<any>(doc.paths).flatMap((methods) => Object.values<any>(methods).map((op) => op.operationId));
    const driven = documented.filter((id) => seen.has(id));
    // All but the two WebSockets (test/e2e/sockets.test.ts drives those).
    expect(documented.filter((id) => !seen.has(id)).sort()).toEqual(['producerSocket', 'workerSocket']);
    expect(driven.length).toBe(documented.length - 2);
  });

  it('names the operation and the place in the body when an answer does not match', async () => {
    const doc = (await api.as(null).get('/openapi.json')).body;
    const { check } = conformance(doc);
    expect(() => check('getQueue', { status: 200, body: { name: 'q', ready: 'many' } })).toThrow(/getQueue 200: .*\/ready must be integer/s);
    expect(() => check('health', { status: 200, body: { ok: true, extra: 1 } })).toThrow(/health 200: .*must NOT have additional properties \(extra\)/s);
    expect(() => check('getTask', { status: 418, body: { error: { code: 'teapot', message: 'no' } } }, 418)).toThrow(/getTask 418: .*\/error\/code must be equal to one of the allowed values/s);
  });

});
