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

  it('has a readable docs page', async () => {
    const res = await api.as(null).get('/docs');
    expect(res.status).toBe(200);
    expect(res.text).toContain('/v1/queues/{queue}/claim');
  });
});
