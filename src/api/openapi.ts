// GET /openapi.json and /docs: the API described from the same zod schemas that validate requests.
import { z } from 'zod';
import {
  ackBody, ackManyBody, auditQuery, claimBody, deadQuery, enqueueBody, failBody, heartbeatBody, listQuery, queueConfigBody,
  replayBody, scheduleBody, scheduleUpdateBody, signatureBody, statsQuery, waitQuery, workflowListQuery,
} from '../protocol/schemas.ts';
import { RECORDS } from '../protocol/records.ts';
import { broadcastBody, controlBody, workerHeartbeatBody } from '../protocol/control.ts';

type Scope = 'enqueue' | 'consume' | 'admin' | 'any token' | 'none';

interface Operation {
  method: 'get' | 'post' | 'put' | 'delete';
  path: string;
  id: string;
  summary: string;
  scope: Scope;
  body?: z.ZodType;
  query?: z.ZodObject;
  status?: number;
  /** The JSON Schema of the success answer, where it is one of the records. */
  answer?: Record<string, unknown>;
}

/**
 * The JSON Schema of a zod schema: for a request, what it may send (zod's input side: before
 * defaults and transforms); for an answer, what the hub sends (the output side).
 */
function schemaOf(schema: z.ZodType, io: 'input' | 'output' = 'input'): Record<string, unknown> {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

const ref = (name: keyof typeof RECORDS) => ({ $ref: `#/components/schemas/${name}` });
const listOf = (key: string, name: keyof typeof RECORDS, more: Record<string, unknown> = {}) => ({
  type: 'object',
  required: [key],
  properties: { [key]: { type: 'array', items: ref(name) }, ...more },
});

/** The answer of a queue purge. */
const PURGED = {
  type: 'object',
  required: ['name', 'purged', 'more'],
  properties: {
    name: { type: 'string' },
    purged: { type: 'integer', description: 'Waiting tasks this call ended revoked.' },
    more: { type: 'boolean', description: 'Waiting tasks remain past what one call ends: call again.' },
  },
};

/** The answer of an enqueue of one task. */
const ENQUEUED = {
  type: 'object',
  required: ['id', 'state'],
  properties: { id: { type: 'string' }, state: { type: 'string', enum: ['queued', 'delayed'] } },
};

const workflowBody = z.union([
  z.strictObject({ chain: z.array(z.union([signatureBody, z.strictObject({ group: z.array(signatureBody) })])).min(1) }),
  z.strictObject({ group: z.array(signatureBody).min(1) }),
  z.strictObject({ chord: z.strictObject({ header: z.array(signatureBody).min(1), body: signatureBody }) }),
]);

const OPERATIONS: Operation[] = [
  { method: 'post', path: '/v1/tasks', id: 'enqueueTask', summary: 'Enqueue a task', scope: 'enqueue', body: enqueueBody, status: 202 },
  { method: 'post', path: '/v1/tasks/batch', id: 'enqueueBatch', summary: 'Enqueue 1-1000 tasks, all or nothing', scope: 'enqueue', body: z.strictObject({ tasks: z.array(enqueueBody).min(1).max(1000) }), status: 202 },
  { method: 'get', path: '/v1/tasks', id: 'listTasks', summary: 'List tasks, newest first', scope: 'enqueue', query: listQuery, answer: listOf('tasks', 'Task', { cursor: { type: ['string', 'null'], description: 'Pass as ?cursor for the next page; null on the last.' } }) },
  { method: 'get', path: '/v1/tasks/{id}', id: 'getTask', summary: 'Read a task (?wait holds until final)', scope: 'enqueue', query: waitQuery, answer: ref('Task') },
  { method: 'post', path: '/v1/tasks/{id}/revoke', id: 'revokeTask', summary: 'Revoke a task', scope: 'enqueue' },
  { method: 'post', path: '/v1/queues/{queue}/claim', id: 'claim', summary: 'Claim jobs (long-poll with waitSeconds)', scope: 'consume', body: claimBody, answer: listOf('jobs', 'Job') },
  { method: 'get', path: '/v1/queues/{queue}/connect', id: 'workerSocket', summary: 'WebSocket for claims and acks (messages: {id, op: "claim" | "ack", ...body}; see docs/protocol.md, "WebSockets")', scope: 'consume', status: 101 },
  { method: 'get', path: '/v1/tasks/connect', id: 'producerSocket', summary: 'WebSocket for enqueues (messages: {id, op: "enqueue", task} or {id, op: "enqueueBatch", tasks}; see docs/protocol.md, "WebSockets")', scope: 'enqueue', status: 101 },
  { method: 'post', path: '/v1/leases/ack', id: 'ackMany', summary: 'Ack up to 100 leases', scope: 'consume', body: ackManyBody },
  { method: 'post', path: '/v1/leases/{leaseId}/heartbeat', id: 'heartbeat', summary: 'Extend a lease, report progress', scope: 'consume', body: heartbeatBody },
  { method: 'post', path: '/v1/leases/{leaseId}/ack', id: 'ack', summary: 'The attempt succeeded', scope: 'consume', body: ackBody },
  { method: 'post', path: '/v1/leases/{leaseId}/fail', id: 'fail', summary: 'The attempt failed', scope: 'consume', body: failBody },
  { method: 'post', path: '/v1/leases/{leaseId}/release', id: 'release', summary: 'Hand back a job not started', scope: 'consume' },
  { method: 'get', path: '/v1/queues', id: 'listQueues', summary: 'Queue statistics', scope: 'any token', answer: listOf('queues', 'Queue') },
  { method: 'get', path: '/v1/queues/{queue}', id: 'getQueue', summary: 'One queue\'s statistics and config', scope: 'any token', answer: ref('Queue') },
  { method: 'post', path: '/v1/queues/{queue}/purge', id: 'purgeQueue', summary: 'End the queue\'s waiting tasks revoked (not running ones)', scope: 'admin', answer: PURGED },
  { method: 'post', path: '/v1/queues/{queue}/pause', id: 'pauseQueue', summary: 'Pause a queue', scope: 'admin' },
  { method: 'post', path: '/v1/queues/{queue}/resume', id: 'resumeQueue', summary: 'Resume a queue', scope: 'admin' },
  { method: 'put', path: '/v1/queues/{queue}/config', id: 'configureQueue', summary: 'Retention, rate and concurrency limits', scope: 'admin', body: queueConfigBody },
  { method: 'get', path: '/v1/queues/{queue}/dead', id: 'listDead', summary: 'Dead letters', scope: 'admin', query: deadQuery, answer: listOf('tasks', 'DeadLetter') },
  { method: 'post', path: '/v1/queues/{queue}/dead/replay', id: 'replayDead', summary: 'Replay dead letters from attempt 1', scope: 'admin', body: replayBody },
  { method: 'delete', path: '/v1/queues/{queue}/dead', id: 'purgeDead', summary: 'Purge dead letters', scope: 'admin', body: replayBody },
  { method: 'post', path: '/v1/schedules', id: 'createSchedule', summary: 'Create a schedule', scope: 'admin', body: scheduleBody, status: 201 },
  { method: 'get', path: '/v1/schedules', id: 'listSchedules', summary: 'List schedules', scope: 'admin' },
  { method: 'get', path: '/v1/schedules/{id}', id: 'getSchedule', summary: 'Read a schedule', scope: 'admin' },
  { method: 'put', path: '/v1/schedules/{id}', id: 'updateSchedule', summary: 'Change a schedule', scope: 'admin', body: scheduleUpdateBody },
  { method: 'delete', path: '/v1/schedules/{id}', id: 'deleteSchedule', summary: 'Delete a schedule', scope: 'admin' },
  { method: 'post', path: '/v1/schedules/{id}/run', id: 'runSchedule', summary: 'Enqueue the schedule\'s task once, now', scope: 'admin', status: 202, answer: ENQUEUED },
  { method: 'get', path: '/v1/workflows', id: 'listWorkflows', summary: 'Recent workflows, newest first', scope: 'enqueue', query: workflowListQuery, answer: listOf('workflows', 'WorkflowSummary', { cursor: { type: ['string', 'null'], description: 'Pass as ?cursor for the next page; null on the last.' } }) },
  { method: 'post', path: '/v1/workflows', id: 'startWorkflow', summary: 'Start a chain, group or chord', scope: 'enqueue', body: workflowBody, status: 202 },
  { method: 'get', path: '/v1/workflows/{id}', id: 'getWorkflow', summary: 'A workflow\'s state and tasks', scope: 'enqueue', answer: ref('Workflow') },
  { method: 'post', path: '/v1/workflows/{id}/revoke', id: 'revokeWorkflow', summary: 'Revoke what has not run', scope: 'enqueue' },
  { method: 'get', path: '/v1/stats', id: 'stats', summary: 'Tasks ended per minute and queue, with latency percentiles (48 hours kept)', scope: 'any token', query: statsQuery, answer: ref('Stats') },
  { method: 'get', path: '/v1/events', id: 'events', summary: 'Server-Sent Events of task changes and workers', scope: 'enqueue' },
  { method: 'get', path: '/v1/workers', id: 'listWorkers', summary: 'Workers seen in the last day: alive, stale or gone', scope: 'any token', answer: listOf('workers', 'Worker') },
  { method: 'post', path: '/v1/workers/{name}/heartbeat', id: 'workerHeartbeat', summary: 'A worker\'s heartbeat: its state and replies in, its commands out (held up to waitSeconds)', scope: 'consume', body: workerHeartbeatBody },
  { method: 'post', path: '/v1/control', id: 'control', summary: 'Send workers a command and wait for their replies', scope: 'admin', body: controlBody },
  { method: 'get', path: '/v1/control/{id}', id: 'getControl', summary: 'A control call\'s replies', scope: 'admin' },
  { method: 'post', path: '/v1/broadcasts', id: 'broadcast', summary: 'Run a task once on every alive worker of a queue', scope: 'enqueue', body: broadcastBody, status: 202 },
  { method: 'get', path: '/v1/broadcasts/{id}', id: 'getBroadcast', summary: 'A broadcast\'s result on each worker', scope: 'enqueue' },
  { method: 'get', path: '/v1/audit', id: 'audit', summary: 'The audit log of admin actions', scope: 'admin', query: auditQuery },
  { method: 'get', path: '/healthz', id: 'health', summary: 'Ready to accept work', scope: 'none' },
];

let cached: Record<string, unknown> | null = null;

/** The OpenAPI 3.1 document of every /v1 route. */
export function openapi(): Record<string, unknown> {
  if (cached) return cached;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const params = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (op.query) {
      const q = schemaOf(op.query) as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) params.push({ name, in: 'query', required: (q.required ?? []).includes(name), schema } as never);
    }
    paths[op.path] ??= {};
    paths[op.path][op.method] = {
      operationId: op.id,
      summary: op.summary,
      description: `Scope: ${op.scope}.`,
      ...(op.scope === 'none' ? { security: [] } : {}),
      ...(params.length ? { parameters: params } : {}),
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(op.body) } } } } : {}),
      responses: {
        [String(op.status ?? 200)]: { description: 'Done', content: { [op.id === 'events' ? 'text/event-stream' : 'application/json']: { schema: op.answer ?? {} } } },
        default: { description: 'An error, in the one error shape', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      },
    };
  }
  cached = {
    openapi: '3.1.0',
    info: {
      title: 'drover',
      version: '1',
      description:
        'A task queue on Cloudflare. docs/protocol.md is the contract; this document is generated from the schemas the hub validates requests with. ' +
        'Every number and time has the range its minimum, maximum and description state; anything outside is refused with 400 invalid_request, ' +
        'naming the field and the range, and nothing is clamped. Times are RFC 3339 and must name a real date and time. ' +
        'A JSON number too large for a double (1e400, which would read as Infinity) is refused wherever it appears, args, kwargs and results included. ' +
        'Socket messages are checked the same way.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas: Object.fromEntries(Object.entries(RECORDS).map(([name, schema]) => [name, schemaOf(schema, 'output')])) },
    paths,
  };
  return cached;
}

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** A readable page of the same document, with no script and nothing from elsewhere. */
export function docsPage(): string {
  const rows = OPERATIONS.map(
    (op) => `<tr><td class="m ${op.method}">${op.method.toUpperCase()}</td><td><code>${escape(op.path)}</code></td><td>${escape(op.summary)}</td><td>${op.scope}</td>` +
      `<td>${op.body ? `<details><summary>body</summary><pre>${escape(JSON.stringify(schemaOf(op.body), null, 2))}</pre></details>` : ''}</td></tr>`,
  ).join('\n');
  return `<!doctype html><html lang="en"><meta charset="utf-8"><title>drover API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2433;padding:0 1rem}
table{border-collapse:collapse;width:100%}td{border-bottom:1px solid #e3e7ee;padding:.45rem .5rem;vertical-align:top}
.m{font-weight:600;font-size:12px}.get{color:#2563eb}.post{color:#15803d}.put{color:#b45309}.delete{color:#b91c1c}
pre{background:#f6f8fb;padding:.6rem;max-height:24rem;overflow:auto;font-size:12px}</style>
<h1>drover API</h1><p>Every route, generated from the hub's own request schemas. Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>
<table>${rows}</table></html>`;
}
