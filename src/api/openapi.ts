// GET /openapi.json: the API described from the same zod schemas that validate requests and type the answers.
import { z } from 'zod';
import {
  ackBody, ackManyBody, auditQuery, claimBody, deadQuery, enqueueBody, failBody, heartbeatBody, keysQuery, listQuery, queueConfigBody,
  replayBody, scheduleBody, scheduleUpdateBody, signatureBody, statsQuery, waitQuery, workflowListQuery,
} from '../protocol/schemas.ts';
import { RECORDS, eventTicket, queueRecord, statsRecord, taskRecord, workflowRecord } from '../protocol/records.ts';
// The answers of the routes, by name (A.enqueued, A.taskPage, ...), and the components among them.
import * as A from '../protocol/answers.ts';
import { broadcastBody, broadcastRecord, controlBody, controlCall, workerHeartbeatBody } from '../protocol/control.ts';

type Scope = 'enqueue' | 'consume' | 'admin' | 'any token' | 'none';

interface Operation {
  method: 'get' | 'post' | 'put' | 'delete';
  path: string;
  id: string;
  summary: string;
  scope: Scope;
  body?: z.ZodType;
  /** The body may be left out (the dead-letter replay and purge: no body means all of them). */
  bodyOptional?: true;
  query?: z.ZodObject;
  status?: number;
  /** What the hub answers with `status` (its zod schema: the handler's answer is typed by the same one). */
  answer?: z.ZodType;
  /** Other success statuses, each with what it answers. */
  more?: Record<number, { description: string; answer: z.ZodType }>;
  /** Answers Server-Sent Events, not JSON. */
  stream?: true;
}

/** Records that are components of the document: referred to by name wherever an answer holds one. */
const COMPONENTS: Record<string, z.ZodType> = { ...RECORDS, ...A.ANSWER_RECORDS };
const COMPONENT_NAMES = new Map<z.ZodType, string>(Object.entries(COMPONENTS).map(([name, schema]) => [schema, name]));

/**
 * The JSON Schema of a zod schema: for a request, what it may send (zod's input side: before
 * defaults and transforms); for an answer, what the hub sends (the output side), where a record
 * met inside is a reference to its component, not a copy. `own` is the component being written.
 */
function schemaOf(schema: z.ZodType, io: 'input' | 'output' = 'input', own?: z.ZodType): Record<string, unknown> {
  const name = COMPONENT_NAMES.get(schema);
  if (io === 'output' && name && schema !== own) return { $ref: `#/components/schemas/${name}` };
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    override(ctx) {
      const met = ctx.zodSchema as unknown as z.ZodType;
      const component = io === 'output' && met !== own ? COMPONENT_NAMES.get(met) : undefined;
      if (!component) return;
      for (const key of Object.keys(ctx.jsonSchema)) delete (ctx.jsonSchema as Record<string, unknown>)[key];
      Object.assign(ctx.jsonSchema, { $ref: `#/components/schemas/${component}` });
    },
  }) as Record<string, unknown>;
  return rest;
}

/** The event stream's answer: not JSON, but Server-Sent Events. */
const EVENT_STREAM = {
  type: 'string',
  description:
    'A stream of Server-Sent Events (text/event-stream) that stays open: `event: task` with a task\'s change as JSON in `data`, ' +
    '`event: worker` for workers claiming or heartbeating, and comment lines that keep the connection open. See docs/protocol.md, "Observability".',
};

const workflowBody = z.union([
  z.strictObject({ chain: z.array(z.union([signatureBody, z.strictObject({ group: z.array(signatureBody) })])).min(1) }),
  z.strictObject({ group: z.array(signatureBody).min(1) }),
  z.strictObject({ chord: z.strictObject({ header: z.array(signatureBody).min(1), body: signatureBody }) }),
]);

const OPERATIONS: Operation[] = [
  { method: 'post', path: '/v1/tasks', id: 'enqueueTask', summary: 'Enqueue a task', scope: 'enqueue', body: enqueueBody, status: 202, answer: A.enqueued, more: { 200: { description: 'A repeat: the task an idempotency key or chosen id already names; nothing was made', answer: A.enqueued } } },
  { method: 'post', path: '/v1/tasks/batch', id: 'enqueueBatch', summary: 'Enqueue 1-1000 tasks, all or nothing', scope: 'enqueue', body: z.strictObject({ tasks: z.array(enqueueBody).min(1).max(1000) }), status: 202, answer: A.enqueuedBatch },
  { method: 'get', path: '/v1/tasks', id: 'listTasks', summary: 'List tasks, newest first', scope: 'enqueue', query: listQuery, answer: A.taskPage },
  { method: 'get', path: '/v1/tasks/{id}', id: 'getTask', summary: 'Read a task (?wait holds until final)', scope: 'enqueue', query: waitQuery, answer: taskRecord },
  { method: 'post', path: '/v1/tasks/{id}/revoke', id: 'revokeTask', summary: 'Revoke a task', scope: 'enqueue', answer: A.taskState },
  { method: 'post', path: '/v1/queues/{queue}/claim', id: 'claim', summary: 'Claim jobs (long-poll with waitSeconds)', scope: 'consume', body: claimBody, answer: A.jobs },
  { method: 'get', path: '/v1/queues/{queue}/connect', id: 'workerSocket', summary: 'WebSocket for claims and acks (messages: {id, op: "claim" | "ack", ...body}; ?shard=i attaches it to one shard of a sharded queue; see docs/protocol.md, "WebSockets")', scope: 'consume', status: 101 },
  { method: 'get', path: '/v1/tasks/connect', id: 'producerSocket', summary: 'WebSocket for enqueues (messages: {id, op: "enqueue", task} or {id, op: "enqueueBatch", tasks}; see docs/protocol.md, "WebSockets")', scope: 'enqueue', status: 101 },
  { method: 'post', path: '/v1/leases/ack', id: 'ackMany', summary: 'Ack up to 100 leases', scope: 'consume', body: ackManyBody, answer: A.ackedMany },
  { method: 'post', path: '/v1/leases/{leaseId}/heartbeat', id: 'heartbeat', summary: 'Extend a lease, report progress', scope: 'consume', body: heartbeatBody, answer: A.extended },
  { method: 'post', path: '/v1/leases/{leaseId}/ack', id: 'ack', summary: 'The attempt succeeded', scope: 'consume', body: ackBody, answer: A.taskState },
  { method: 'post', path: '/v1/leases/{leaseId}/fail', id: 'fail', summary: 'The attempt failed', scope: 'consume', body: failBody, answer: A.failed },
  { method: 'post', path: '/v1/leases/{leaseId}/release', id: 'release', summary: 'Hand back a job not started', scope: 'consume', answer: A.taskState },
  { method: 'get', path: '/v1/queues', id: 'listQueues', summary: 'Queue statistics', scope: 'any token', answer: A.queueList },
  { method: 'get', path: '/v1/queues/{queue}', id: 'getQueue', summary: 'One queue\'s statistics and config', scope: 'any token', answer: queueRecord },
  { method: 'get', path: '/v1/queues/{queue}/keys', id: 'listKeys', summary: 'Rate keys: their limits, back-off and tasks', scope: 'any token', query: keysQuery, answer: A.keyList },
  { method: 'post', path: '/v1/queues/{queue}/purge', id: 'purgeQueue', summary: 'End the queue\'s waiting tasks revoked (not running ones)', scope: 'admin', answer: A.purged },
  { method: 'post', path: '/v1/queues/{queue}/pause', id: 'pauseQueue', summary: 'Pause a queue', scope: 'admin', answer: A.paused },
  { method: 'post', path: '/v1/queues/{queue}/resume', id: 'resumeQueue', summary: 'Resume a queue', scope: 'admin', answer: A.paused },
  { method: 'put', path: '/v1/queues/{queue}/config', id: 'configureQueue', summary: 'Retention, rate and concurrency limits', scope: 'admin', body: queueConfigBody, answer: A.configured },
  { method: 'get', path: '/v1/queues/{queue}/dead', id: 'listDead', summary: 'Dead letters', scope: 'admin', query: deadQuery, answer: A.deadList },
  { method: 'post', path: '/v1/queues/{queue}/dead/replay', id: 'replayDead', summary: 'Replay dead letters from attempt 1 (no body: all of them)', scope: 'admin', body: replayBody, bodyOptional: true, answer: A.replayed },
  { method: 'delete', path: '/v1/queues/{queue}/dead', id: 'purgeDead', summary: 'Purge dead letters (no body: all of them)', scope: 'admin', body: replayBody, bodyOptional: true, answer: A.deadPurged },
  { method: 'post', path: '/v1/schedules', id: 'createSchedule', summary: 'Create a schedule', scope: 'admin', body: scheduleBody, status: 201, answer: A.scheduleRecord },
  { method: 'get', path: '/v1/schedules', id: 'listSchedules', summary: 'List schedules', scope: 'admin', answer: A.scheduleList },
  { method: 'get', path: '/v1/schedules/{id}', id: 'getSchedule', summary: 'Read a schedule', scope: 'admin', answer: A.scheduleRecord },
  { method: 'put', path: '/v1/schedules/{id}', id: 'updateSchedule', summary: 'Change a schedule', scope: 'admin', body: scheduleUpdateBody, answer: A.scheduleRecord },
  { method: 'delete', path: '/v1/schedules/{id}', id: 'deleteSchedule', summary: 'Delete a schedule', scope: 'admin', answer: A.scheduleDeleted },
  { method: 'post', path: '/v1/schedules/{id}/run', id: 'runSchedule', summary: 'Enqueue the schedule\'s task once, now', scope: 'admin', status: 202, answer: A.scheduleRun },
  { method: 'get', path: '/v1/workflows', id: 'listWorkflows', summary: 'Recent workflows, newest first', scope: 'enqueue', query: workflowListQuery, answer: A.workflowPage },
  { method: 'post', path: '/v1/workflows', id: 'startWorkflow', summary: 'Start a chain, group or chord', scope: 'enqueue', body: workflowBody, status: 202, answer: A.workflowStarted },
  { method: 'get', path: '/v1/workflows/{id}', id: 'getWorkflow', summary: 'A workflow\'s state and tasks', scope: 'enqueue', answer: workflowRecord },
  { method: 'post', path: '/v1/workflows/{id}/revoke', id: 'revokeWorkflow', summary: 'Revoke what has not run', scope: 'enqueue', answer: A.workflowRevoked },
  { method: 'get', path: '/v1/stats', id: 'stats', summary: 'Tasks ended per minute and queue, with latency percentiles (48 hours kept)', scope: 'any token', query: statsQuery, answer: statsRecord },
  { method: 'get', path: '/v1/events', id: 'events', summary: 'Server-Sent Events of task changes and workers', scope: 'enqueue', stream: true },
  { method: 'post', path: '/v1/events/ticket', id: 'eventTicket', summary: 'A 60 s ticket that opens GET /v1/events?ticket= without a token (for EventSource)', scope: 'enqueue', answer: eventTicket },
  { method: 'get', path: '/v1/workers', id: 'listWorkers', summary: 'Workers seen in the last day: alive, stale or gone', scope: 'any token', answer: A.workerList },
  { method: 'post', path: '/v1/workers/{name}/heartbeat', id: 'workerHeartbeat', summary: 'A worker\'s heartbeat: its state and replies in, its commands out (held up to waitSeconds)', scope: 'consume', body: workerHeartbeatBody, answer: A.heartbeatAnswer },
  { method: 'post', path: '/v1/control', id: 'control', summary: 'Send workers a command and wait for their replies', scope: 'admin', body: controlBody, answer: controlCall },
  { method: 'get', path: '/v1/control/{id}', id: 'getControl', summary: 'A control call\'s replies', scope: 'admin', answer: controlCall },
  { method: 'post', path: '/v1/broadcasts', id: 'broadcast', summary: 'Run a task once on every alive worker of a queue', scope: 'enqueue', body: broadcastBody, status: 202, answer: A.broadcastSent },
  { method: 'get', path: '/v1/broadcasts/{id}', id: 'getBroadcast', summary: 'A broadcast\'s result on each worker', scope: 'enqueue', answer: broadcastRecord },
  { method: 'get', path: '/v1/audit', id: 'audit', summary: 'The audit log of admin actions', scope: 'admin', query: auditQuery, answer: A.auditPage },
  { method: 'get', path: '/healthz', id: 'health', summary: 'Ready to accept work', scope: 'none', answer: A.healthy },
];

const json = (answer: z.ZodType) => ({ 'application/json': { schema: schemaOf(answer, 'output') } });

/** An operation's success: a WebSocket upgrade has no body, the event stream is text, the rest JSON. */
function success(op: Operation): Record<string, unknown> {
  if (op.status === 101) return { description: 'Switching Protocols: the connection is a WebSocket from here on' };
  if (op.stream) return { description: 'The stream, open until either side ends it', content: { 'text/event-stream': { schema: EVENT_STREAM } } };
  const description = op.status === 202 ? 'Accepted: durable, to be run' : op.status === 201 ? 'Created' : 'Done';
  // The OpenAPI test asks every operation for its answer's schema.
  if (!op.answer) return { description };
  return { description, content: json(op.answer) };
}

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
      ...(op.body ? { requestBody: { required: !op.bodyOptional, content: { 'application/json': { schema: schemaOf(op.body) } } } } : {}),
      responses: {
        [String(op.status ?? 200)]: success(op),
        ...Object.fromEntries(Object.entries(op.more ?? {}).map(([status, more]) => [status, { description: more.description, content: json(more.answer) }])),
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
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas: Object.fromEntries(Object.entries(COMPONENTS).map(([name, schema]) => [name, schemaOf(schema, 'output', schema)])) },
    paths,
  };
  return cached;
}
