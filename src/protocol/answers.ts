// What each route answers when it succeeds, beyond the records (records.ts, control.ts): the
// OpenAPI document describes these, and the handlers' answers are typed by them, so the two agree.
import { z } from 'zod';
import { STATES } from '../core/states.ts';
import { STATUS } from './errors.ts';
import { deadLetter, jobRecord, queueRecord, taskRecord, workflowRecord, workflowSummary } from './records.ts';
import { broadcastRecord, controlCall, workerRecord } from './control.ts';

const time = z.string().meta({ format: 'date-time', description: 'RFC 3339, UTC, such as 2026-11-21T08:00:00.000Z.' });
const int = z.number().int();
const state = z.enum(STATES);

/** `POST /v1/tasks` (and each entry of a batch): the task made, or the one an idempotency key or chosen id already names. */
export const enqueued = z
  .object({
    id: z.string(),
    state: state.meta({ description: 'queued or delayed for a new task; a repeat shows the existing task\'s state.' }),
    duplicate: z.literal(true).optional().meta({ description: 'Present on a repeat: nothing was made (a single enqueue answers it with 200).' }),
  })
  .meta({ description: 'The task enqueued, or the one that an idempotency key or chosen id already names.' });

/** `POST /v1/schedules/:id/run`: a new task, as an enqueue answers. */
export const scheduleRun = z.object({ id: z.string(), state: state.meta({ description: 'Where the new task stands: queued or delayed.' }) });

export const enqueuedBatch = z.object({ tasks: z.array(enqueued).meta({ description: 'One per entry, in request order.' }) });

export const taskPage = z.object({
  tasks: z.array(taskRecord),
  cursor: z.string().nullable().meta({ description: 'Pass as ?cursor for the next page; null on the last.' }),
});

/** `GET /v1/workflows`: recent workflows, newest first. */
export const workflowPage = z.object({
  workflows: z.array(workflowSummary),
  cursor: z.string().nullable().meta({ description: 'Pass as ?cursor for the next page; null on the last.' }),
});

/** Revoke, ack and release: where the task stands after the call. */
export const taskState = z.object({ state });

export const failed = z.object({
  state,
  nextAttemptAt: time.optional().meta({ description: 'When the retry is due; absent when the task will not run again.' }),
});

export const extended = z.object({
  leaseExpiresAt: time,
  revoked: z.boolean().meta({ description: 'A revoke was asked for: stop the task, then ack or fail it.' }),
});

const leaseError = z.object({ code: z.enum(Object.keys(STATUS) as [keyof typeof STATUS, ...(keyof typeof STATUS)[]]), message: z.string() });
export const ackedMany = z.object({
  results: z
    .array(z.union([z.object({ leaseId: z.string(), state }), z.object({ leaseId: z.string(), error: leaseError })]))
    .meta({ description: 'One per ack, in request order: the task\'s state, or why that lease was not acked.' }),
});

export const jobs = z.object({ jobs: z.array(jobRecord) });
export const queueList = z.object({ queues: z.array(queueRecord) });
export const deadList = z.object({ tasks: z.array(deadLetter) });
export const workerList = z.object({ workers: z.array(workerRecord) });

export const purged = z.object({
  name: z.string(),
  purged: int.meta({ description: 'Waiting tasks this call ended revoked.' }),
  more: z.boolean().meta({ description: 'Waiting tasks remain past what one call ends: call again.' }),
});
export const paused = z.object({ name: z.string(), paused: z.boolean() });
/** One rate key of a queue, as `GET /v1/queues/:queue/keys` lists it. */
export const keyRecord = z.object({
  key: z.string(),
  rate: z.string().nullable().meta({ description: 'The configured rate that applies to this key (keyLimits); null: none.' }),
  concurrency: z.number().int().nullable().meta({ description: 'The configured concurrency that applies to this key; null: none.' }),
  currentRate: z.number().nullable().meta({ description: 'Tasks per second it may start now, after back-off; null: no rate.' }),
  pausedUntil: z.number().int().nullable().meta({ description: 'Paused after a rate-limited report until this time (ms since the epoch); null: not paused.' }),
  running: z.number().int(),
  waiting: z.number().int().meta({ description: 'Its tasks waiting: ready or delayed.' }),
  rateLimited: z.number().int().meta({ description: 'Rate-limited reports since the queue\'s object started.' }),
});

/** A rate key as the keys route, metrics and `drover keys` show it. */
export type KeyRecord = z.output<typeof keyRecord>;

export const keyList = z.object({
  keys: z.array(keyRecord),
  nextCursor: z.string().nullable().meta({ description: 'Pass as ?cursor= for the next page; null on the last.' }),
});

export const configured = z.object({ name: z.string(), config: queueRecord.shape.config });
export const replayed = z.object({ replayed: int });
export const deadPurged = z.object({ purged: int });

/** A schedule as the schedule routes show it. */
export const scheduleRecord = z
  .object({
    id: z.string(),
    cron: z.string().nullable(),
    every: z.number().nullable().meta({ description: 'Seconds between runs; null for a cron schedule.' }),
    timezone: z.string(),
    task: z.string(),
    args: z.array(z.unknown()),
    kwargs: z.record(z.string(), z.unknown()),
    queue: z.string(),
    region: z.string().nullable(),
    priority: int,
    maxRetries: int,
    retryDelay: z.number(),
    timeout: z.number(),
    rateKey: z.string().nullable(),
    enabled: z.boolean(),
    catchUp: z.enum(['latest', 'all', 'none']),
    source: z.enum(['api', 'code']).meta({ description: 'code: declared in schedules.ts, changed only there.' }),
    nextRunAt: time.nullable(),
    lastRunAt: time.nullable(),
    lastTaskId: z.string().nullable(),
    createdAt: time,
    updatedAt: time,
  })
  .meta({ description: 'A periodic task: when it runs, what it enqueues, and its last run.' });
export const scheduleList = z.object({ schedules: z.array(scheduleRecord) });
export const scheduleDeleted = z.object({ id: z.string(), deleted: z.literal(true) });

export const workflowStarted = z.object({ id: z.string(), tasks: z.array(z.string()).meta({ description: 'The ids of its tasks, step by step.' }) });
export const workflowRevoked = z.object({ state: workflowRecord.shape.state, revoked: int.meta({ description: 'Tasks this call revoked.' }) });

/** `POST /v1/workers/:name/heartbeat`: the commands for this worker, and when to beat again. */
export const heartbeatAnswer = z.object({
  commands: z.array(z.object({ id: z.string(), command: z.string(), args: z.unknown() })),
  intervalSeconds: z.number(),
});

export const broadcastSent = z.object({ id: z.string(), workers: z.array(z.string()).meta({ description: 'The workers sent the task.' }) });

export const auditEntry = z.object({
  at: time,
  actor: z.string().meta({ description: 'The fingerprint of the token that acted.' }),
  action: z.string(),
  target: z.string(),
  details: z.unknown(),
});
export const auditPage = z.object({ entries: z.array(auditEntry) });

export const healthy = z.object({ ok: z.literal(true) });

/** The components of the OpenAPI document beyond the records, by name. */
export const ANSWER_RECORDS = { Schedule: scheduleRecord, ControlCall: controlCall, Broadcast: broadcastRecord };

/** A task state as the queue layer reports it (typed there as a string, always one of STATES). */
export const asState = (s: string) => s as z.output<typeof state>;

/** What a handler answers: the output side of its schema. */
export type Answer<T extends z.ZodType> = z.output<T>;
