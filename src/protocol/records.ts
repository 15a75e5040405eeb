// What the HTTP API answers with: a job, a task record, a dead letter, a workflow record, a queue, an error.
// A task's shape is written here once: the TypeScript types the hub's presenters and the SDK use,
// the OpenAPI components, and the D1 table's column check (src/db/schema.ts) all derive from these.
import { z } from 'zod';
import { STATES } from '../core/states.ts';
import { STATUS } from './errors.ts';
import { workerRecord } from './control.ts';

/** A time as the hub writes it: RFC 3339 in UTC with milliseconds. */
const time = z.string().meta({ format: 'date-time', description: 'RFC 3339, UTC, such as 2026-11-21T08:00:00.000Z.' });
const int = z.number().int();
/** Any JSON value, as the task's producer or worker gave it. */
const json = z.unknown();

/** A task failure is data, matched by `type`. */
export const taskError = z.object({ type: z.string(), message: z.string(), stack: z.string().optional() });

/** What a task is, as a job, a task record and a dead letter all show it. */
const taskFields = {
  id: z.string(),
  task: z.string(),
  args: z.array(json),
  kwargs: z.record(z.string(), json),
  queue: z.string(),
  region: z.string().nullable(),
  priority: int,
  maxRetries: int,
};

/** What the producer gave as `headers`, for the task's workers. */
const headers = z.record(z.string(), json).meta({ description: 'What the producer gave as `headers`; {} for none.' });

/** The task that enqueued this one (a callback's or chain step's parent) and the first of its line. */
const lineage = { parentId: z.string().nullable(), rootId: z.string().nullable() };

/** A claimed attempt of a task, as the hub hands it to a worker. */
export const jobRecord = z
  .object({
    ...taskFields,
    ...lineage,
    leaseId: z.string(),
    attempt: int,
    leaseExpiresAt: time,
    headers,
    workflowId: z.string().nullable(),
    eta: time.nullable().meta({ description: 'When the task was due, as enqueued; null: at once.' }),
  })
  .meta({ description: 'A claimed attempt: run it, then ack, fail or release its lease before leaseExpiresAt (or heartbeat to extend it).' });

/** How one attempt of a task went, as its attempt log shows it. */
export const attemptRecord = z
  .object({
    attempt: int,
    worker: z.string().nullable(),
    startedAt: time.nullable(),
    finishedAt: time.nullable().meta({ description: 'null: the attempt is running.' }),
    outcome: z
      .enum(['succeeded', 'failed', 'retry', 'expired', 'released', 'revoked', 'rateLimited'])
      .nullable()
      .meta({ description: 'failed: for good; retry: failed, to run again; expired: its lease ran out; null: running.' }),
    error: z.object({ type: z.string(), message: z.string() }).nullable().meta({ description: 'The message is cut to its first 500 characters.' }),
  })
  .meta({ description: 'One attempt of a task: who ran it, when, and how it ended.' });

/** A task as `GET /v1/tasks/:id` and the task list show it. */
export const taskRecord = z
  .object({
    ...taskFields,
    ...lineage,
    headers,
    state: z.enum(STATES),
    attempts: int,
    result: json.meta({ description: 'What the last successful attempt returned; null until then.' }),
    error: taskError.nullable(),
    createdAt: time,
    startedAt: time.nullable(),
    finishedAt: time.nullable(),
    worker: z.string().nullable(),
    workflowId: z.string().nullable(),
    eta: time.nullable(),
    expiresAt: time.nullable(),
    idempotencyKey: z.string().nullable(),
    orderingKey: z.string().nullable(),
    groupKey: z.string().nullable(),
    groupLimit: int.nullable(),
    rateKey: z.string().nullable().meta({ description: 'The key whose limits (the queue\'s "keyLimits") the task counts against; an HTTP task\'s default is its URL\'s host.' }),
    jurisdiction: z.enum(['eu', 'fedramp']).nullable().meta({
      description: "The jurisdiction whose Durable Objects and D1 database hold the task's data (its region is bound to it: DROVER_JURISDICTIONS); null: the hub's own.",
    }),
    progress: json.meta({ description: 'What the running attempt last reported with a heartbeat; null when none runs.' }),
    revokeRequested: z.boolean(),
    attemptLog: z
      .array(attemptRecord)
      .meta({ description: 'Its last 25 attempts, oldest first, the running one last; [] in task lists.' }),
  })
  .meta({ description: 'A task: what it is, where it stands, and how it ended.' });

/** A task that failed for good, as its queue's dead letters list it. */
export const deadLetter = z
  .object({
    ...taskFields,
    state: z.literal('failed'),
    attempts: int,
    error: taskError.nullable(),
    createdAt: time,
    finishedAt: time.nullable(),
  })
  .meta({ description: 'A task that failed for good; replay runs it again from attempt 1.' });

/** A workflow as `GET /v1/workflows/:id` shows it, with every task of every step. */
export const workflowRecord = z
  .object({
    id: z.string(),
    shape: z.enum(['chain', 'group', 'chord']),
    state: z.enum(['running', 'succeeded', 'failed', 'revoked']),
    result: json,
    /** The result was over the view's budget: read it from the last task instead. */
    resultOmitted: z.literal(true).optional(),
    createdAt: time,
    finishedAt: time.nullable(),
    tasks: z.array(
      z.object({
        id: z.string(),
        task: z.string(),
        queue: z.string(),
        step: int,
        state: z.enum([...STATES, 'pending'] as const),
        result: json,
        resultOmitted: z.literal(true).optional(),
        error: taskError.nullable(),
      }),
    ),
  })
  .meta({ description: 'A chain, group or chord: its state and every task of every step.' });

/** A workflow as `GET /v1/workflows` lists it. */
export const workflowSummary = z
  .object({
    id: z.string(),
    createdAt: time,
    tasks: int.meta({ description: 'Its tasks made so far: a chain\'s later steps count once their tasks are made.' }),
    states: z.record(z.string(), int).meta({ description: 'Its tasks by state; states with none are absent.' }),
  })
  .meta({ description: 'A workflow in the list: when it started and its tasks by state.' });

/** GET /v1/stats: tasks that ended per minute and queue. */
export const statsRecord = z
  .object({
    since: time,
    until: time,
    minutes: z.array(
      z.object({
        at: time.meta({ description: 'The minute\'s start.' }),
        queue: z.string().nullable().meta({ description: 'null: the totals across all queues (only without ?queue).' }),
        succeeded: int,
        failed: int.meta({ description: 'Failed for good; an attempt that will run again is not counted.' }),
        latencyMs: z
          .object({ p50: int, p95: int, p99: int })
          .nullable()
          .meta({ description: 'From when each task was due (created, or its eta if later) to its end: the upper edge of the log-spaced bucket (edges 10% apart) each percentile falls in.' }),
      }),
    ).meta({ description: 'One per minute and queue with any ends, oldest first; a minute\'s totals follow its queues.' }),
  })
  .meta({ description: 'Tasks that ended per minute and queue, kept 48 hours.' });

/** A queue as `GET /v1/queues` and `GET /v1/queues/:queue` show it. */
export const queueRecord = z
  .object({
    name: z.string(),
    ready: int,
    delayed: int,
    running: int,
    failed: int,
    paused: z.boolean(),
    regions: z.record(z.string(), z.object({ ready: int, running: int })),
    unserved: z
      .array(z.object({ task: z.string(), region: z.string().nullable(), ready: int }))
      .meta({ description: 'Ready tasks, by name and region (null: untagged), that no worker seen claiming in the last minute would take: "waiting for a worker that runs X". At most 100, those with the most ready tasks.' }),
    claimCalls: int,
    regionWakes: int,
    config: z.object({
      retentionSeconds: z.number().nullable(),
      rateLimit: z.string().nullable(),
      concurrency: int.nullable(),
      taskRateLimits: z.record(z.string(), z.string()).nullable(),
      keyLimits: z
        .array(z.object({ match: z.string(), rate: z.string().optional(), concurrency: int.optional() }))
        .nullable()
        .meta({ description: 'Limits per rate key, as set (null: none).' }),
    }),
  })
  .meta({ description: "A queue's live tasks by state and region, the tasks no worker would take, and its settings." });

/** What `POST /v1/events/ticket` answers: a ticket that opens `GET /v1/events?ticket=` until it expires. */
export const eventTicket = z
  .object({
    ticket: z.string().meta({ description: '32 random bytes, base64url: pass as ?ticket= on GET /v1/events (no Authorization header needed).' }),
    expiresAt: time.meta({ description: 'Streams open with it until then (60 s after it was made); a stream it opened stays open past it.' }),
  })
  .meta({ description: 'A short-lived ticket for the event stream, for clients that cannot send a token (a browser\'s EventSource).' });

/** The one error shape of every refusal. */
export const errorBody = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(STATUS) as [keyof typeof STATUS, ...(keyof typeof STATUS)[]]),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .meta({ description: 'An error, in the one error shape: a code, a message for people, and details naming the field where one is at fault.' });

export type Job = z.output<typeof jobRecord>;
export type AttemptRecord = z.output<typeof attemptRecord>;
export type TaskRecord<R = unknown> = Omit<z.output<typeof taskRecord>, 'result'> & { result: R | null };
export type DeadLetter = z.output<typeof deadLetter>;
export type QueueRecord = z.output<typeof queueRecord>;
export type WorkflowRecord<R = unknown> = Omit<z.output<typeof workflowRecord>, 'result'> & { result: R | null };
export type ErrorBody = z.output<typeof errorBody>;
export type EventTicket = z.output<typeof eventTicket>;

/** The components of the OpenAPI document, by name. */
export const RECORDS = {
  Job: jobRecord, Task: taskRecord, DeadLetter: deadLetter, Workflow: workflowRecord, Queue: queueRecord, Worker: workerRecord, EventTicket: eventTicket, Error: errorBody,
  WorkflowSummary: workflowSummary, Stats: statsRecord,
};
