// The OpenAPI document: valid by a validator library, complete, and enough to drive a client.
import { Validator } from '@seriousme/openapi-schema-validator';
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

  it('has a readable docs page', async () => {
    const res = await api.as(null).get('/docs');
    expect(res.status).toBe(200);
    expect(res.text).toContain('/v1/queues/{queue}/claim');
  });
});
