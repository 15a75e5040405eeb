// The request schemas of the HTTP API: the one place names, ranges and defaults of docs/protocol.md are checked.
import { z } from 'zod';
import { checkTimezone, parseCron } from '../core/slots.ts';
import { parseRate } from '../core/limits.ts';
import { LIST_CURSOR, TASK_ID_PATTERN_ANY_CASE, taskId, ULID_PATTERN } from '../core/ids.ts';
import {
  EXPIRES_WINDOW, ETA_WINDOW, HISTORY_WINDOW, intParam, MAX_DELAY_SECONDS, MAX_LEASE_SECONDS, MAX_RETRY_DELAY_SECONDS, MIN_LEASE_SECONDS, MIN_STEP_SECONDS,
  numberParam, plainString, queueName, regionName, seconds, secondsOrNone, taskName, time, whole,
} from './fields.ts';

/** What a task is and how it runs, with docs/protocol.md's defaults: shared by enqueue and schedules. */
const taskFields = {
  task: taskName,
  args: z.array(z.unknown(), 'must be a JSON array').default([]),
  kwargs: z.record(z.string(), z.unknown(), 'must be a JSON object').default({}),
  queue: queueName.default('default'),
  region: regionName.nullable().default(null),
  priority: whole(0, 9, 'Higher runs first. Default 5.').default(5),
  maxRetries: whole(0, 100, 'Attempts after the first before the task fails. Default 3.').default(3),
  retryDelay: secondsOrNone(MAX_RETRY_DELAY_SECONDS, 'Base of the exponential backoff between attempts, with jitter. Default 1.').default(1),
  timeout: seconds(MIN_LEASE_SECONDS, MAX_LEASE_SECONDS, 'Lease length of one attempt; a worker must ack, fail or heartbeat within it. Default 60.').default(60),
};

/** Headers an HTTP task may not set: the request's framing and its signature are drover's. */
const RESERVED_HEADERS = /^(host|content-length|content-type|transfer-encoding|connection|webhook-(id|timestamp|signature))$/i;

const httpTarget = z.strictObject({
  url: z.string().max(2048, 'must be at most 2048 characters'),
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
  headers: z
    .record(
      z.string().regex(/^[A-Za-z0-9-]{1,100}$/, 'header names are letters, digits and -').refine((h) => !RESERVED_HEADERS.test(h), 'this header is set by drover'),
      z.string().max(4096).regex(/^[\t\x20-\x7e]*$/, 'header values are printable ASCII'),
    )
    .default({}),
});

/** Headers a task carries for its workers (Celery's message headers ride here), within the task's 128 KiB. */
const taskHeaders = z
  .record(z.string().max(200), z.unknown(), 'must be a JSON object')
  .meta({ description: 'Kept with the task and handed to its workers in every job: what the task needs beside its arguments.' });

const enqueueFields = {
  ...taskFields,
  /** The task is this HTTP request, made by a runner of its region: no worker code needed. */
  http: httpTarget.optional(),
  /** The task record is POSTed here when the task ends, signed, until a 2xx. */
  callback: z.strictObject({ url: z.string().max(2048) }).optional(),
  delay: secondsOrNone(MAX_DELAY_SECONDS, 'How long before the task may run. Give "delay" or "eta", not both.').optional(),
  eta: time(ETA_WINDOW, 'When the task may run; in the past, it is ready at once and ordered by this eta. Give "delay" or "eta", not both.').optional(),
  expires: z
    .union([
      seconds(MIN_STEP_SECONDS, MAX_DELAY_SECONDS, 'From now: a task not started by then ends "expired".'),
      time(EXPIRES_WINDOW, 'A task not started by then ends "expired".'),
    ], { error: `must be seconds from now (${MIN_STEP_SECONDS}-${MAX_DELAY_SECONDS}) or an RFC 3339 time ${EXPIRES_WINDOW.words}` })
    .optional(),
  idempotencyKey: plainString(200).optional(),
  orderingKey: plainString(200).optional(),
  /** At most `groupLimit` tasks with this key run at once, across workers (a tenant, an API account). */
  groupKey: plainString(200).optional(),
  groupLimit: whole(1, 10_000, 'At most this many tasks of the same "groupKey" run at once. Default 1.').optional(),
  headers: taskHeaders.optional(),
  /** Tasks of one rate key share its limits (the queue's keyLimits); an HTTP task's default is its URL's host. */
  rateKey: plainString(200)
    .nullable()
    .meta({ description: 'The key whose limits (the queue\'s "keyLimits") this task counts against: a host, an API account. An HTTP task without one gets its URL\'s host.' })
    .optional(),
  /** A client that must know the id before sending (Celery does) names it. */
  id: z
    .string()
    .regex(TASK_ID_PATTERN_ANY_CASE, 'must be a UUID (8-4-4-4-12 hex digits) or a ULID (26 base-32 characters)')
    .transform(taskId)
    .meta({ description: 'The task\'s id, chosen by the client: a UUID or a ULID. A task that already has it is answered instead, with "duplicate": true.' })
    .optional(),
};

function enqueueRules<T extends { delay?: number; eta?: string; kwargs: unknown; headers?: unknown; orderingKey?: string; groupKey?: string; groupLimit?: number }>(
  schema: z.ZodType<T>,
) {
  return schema
    .refine((b) => b.delay === undefined || b.eta === undefined, { message: 'give "delay" or "eta", not both', path: ['eta'] })
    .refine((b) => b.orderingKey === undefined || b.groupKey === undefined, { message: 'give "orderingKey" or "groupKey", not both', path: ['groupKey'] })
    .refine((b) => b.groupLimit === undefined || b.groupKey !== undefined, { message: 'needs a "groupKey"', path: ['groupLimit'] })
    .refine((b) => !Array.isArray(b.kwargs), { message: 'must be a JSON object', path: ['kwargs'] })
    .refine((b) => !Array.isArray(b.headers), { message: 'must be a JSON object', path: ['headers'] });
}

export const enqueueBody = enqueueRules(z.strictObject(enqueueFields));

/** A workflow step: an enqueue body; `immutable` keeps the previous result out of its arguments. */
export const signatureBody = enqueueRules(z.strictObject({ ...enqueueFields, immutable: z.boolean().default(false) }));
export type Signature = z.output<typeof signatureBody>;

export type EnqueueBody = z.output<typeof enqueueBody>;

/** Fields that decide, with plain values, everything zod says of a body but its args and kwargs. Times (eta, expires) depend on now. */
const PLAIN_FIELDS = new Set(['task', 'queue', 'region', 'priority', 'maxRetries', 'retryDelay', 'timeout']);
/** The JSON types a plain option may have (and null). */
const PLAIN_TYPES = new Set(['string', 'number', 'boolean']);
const PLAIN_OPTIONS_MAX = 1000;
const plainOptions = new Map<string, Omit<EnqueueBody, 'args' | 'kwargs'>>();

/**
 * enqueueBody's output for the common body, a task's name and arguments with options that are
 * plain values of PLAIN_FIELDS, made from its output for the same options before: zod checks a
 * set of options once, not every task (checking each was about a sixth of the runtime's CPU a
 * single enqueue on the producer socket). Null for any other body and for one zod refuses: the
 * caller parses those, and says why.
 */
export function plainEnqueueBody(raw: unknown): EnqueueBody | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  let args: unknown[] = [];
  let kwargs: Record<string, unknown> = {};
  let key = '';
  for (const [field, value] of Object.entries(raw)) {
    if (field === 'args') {
      if (!Array.isArray(value)) return null;
      args = value;
    } else if (field === 'kwargs') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
      kwargs = value as Record<string, unknown>;
    } else if (PLAIN_FIELDS.has(field) && (value === null || PLAIN_TYPES.has(typeof value))) {
      key += `${field}=${JSON.stringify(value)}\n`;
    } else {
      return null;
    }
  }
  let options = plainOptions.get(key);
  if (!options) {
    const parsed = enqueueBody.safeParse({ ...raw, args: [], kwargs: {} });
    if (!parsed.success) return null;
    const { args: _, kwargs: __, ...rest } = parsed.data;
    if (plainOptions.size >= PLAIN_OPTIONS_MAX) plainOptions.clear();
    plainOptions.set(key, (options = rest));
  }
  return { ...options, args, kwargs };
}

export const batchBody = z.strictObject({
  tasks: z.array(z.unknown(), 'must be a JSON array of tasks').min(1, 'needs 1 to 1000 tasks').max(1000, 'needs 1 to 1000 tasks'),
});

export const claimBody = z.strictObject({
  worker: plainString(200),
  region: regionName.nullable().default(null),
  tasks: z.array(taskName).min(1).max(100).optional(),
  max: whole(1, 100, 'Most jobs to claim. Default 1.').default(1),
  leaseSeconds: seconds(MIN_LEASE_SECONDS, MAX_LEASE_SECONDS, "Lease length of each job. Default each task's timeout.").optional(),
  waitSeconds: secondsOrNone(30, 'With nothing ready, hold the request this long for work to arrive. Default 0.').default(0),
});

export const heartbeatBody = z.strictObject({
  extendSeconds: seconds(MIN_LEASE_SECONDS, MAX_LEASE_SECONDS, "The lease now ends this long from now. Default the task's timeout.").optional(),
  progress: z.unknown().optional(),
});

export const ackBody = z.strictObject({ result: z.unknown().optional() });

export const ackManyBody = z.strictObject({
  acks: z
    .array(z.strictObject({ leaseId: z.string().max(200), result: z.unknown().optional() }))
    .min(1, 'needs 1 to 100 acks')
    .max(100, 'needs 1 to 100 acks'),
});

export const failBody = z.strictObject({
  error: z.object({
    type: plainString(200),
    message: z.string().max(10_000),
    stack: z.string().max(65_536).optional(),
  }),
  retry: z.boolean().default(true),
  delaySeconds: secondsOrNone(MAX_RETRY_DELAY_SECONDS, "Wait this long before the next attempt, instead of the task's backoff.").optional(),
  rateLimited: z
    .boolean()
    .meta({ description: 'The site or API said to slow down (a 429): the attempt does not count, the task waits "delaySeconds" (default 1), its rate key pauses as long and its rate halves.' })
    .optional(),
});

export const replayBody = z.strictObject({
  ids: z.array(z.string().max(64)).min(1).max(10_000).optional(),
});

export const listQuery = z.strictObject({
  queue: queueName.optional(),
  task: taskName.optional(),
  state: z.enum(['queued', 'delayed', 'running', 'succeeded', 'failed', 'revoked', 'expired']).optional(),
  region: regionName.optional(),
  limit: intParam(1, 500, 'Most tasks to list. Default 50.').default(50),
  cursor: z.string().regex(LIST_CURSOR, 'is not a cursor this hub gave out').optional(),
  schedule: z.string().regex(/^[A-Za-z0-9_.:-]{1,100}$/, 'is not a schedule id').optional(),
  since: time(ETA_WINDOW, 'Only tasks created at or after this time (in a query string, write an offset\'s + as %2B).').optional(),
  until: time(ETA_WINDOW, 'Only tasks created before this time.').optional(),
});

export const statsQuery = z.strictObject({
  since: time(HISTORY_WINDOW, 'The first minute to show. Default: an hour ago.').optional(),
  until: time(HISTORY_WINDOW, 'The last minute to show, after since and at most 48 hours after it. Default: now.').optional(),
  queue: queueName.optional(),
});

export const workflowListQuery = z.strictObject({
  limit: intParam(1, 200, 'Most workflows to list. Default 50.').default(50),
  cursor: z.string().regex(ULID_PATTERN, 'is not a cursor this hub gave out').optional(),
});

const WAIT_RANGE = `must be 0, or between ${MIN_STEP_SECONDS} and 60 seconds`;

export const waitQuery = z.strictObject({
  wait: numberParam(
    /^\d+(\.\d+)?$/,
    z.number({ error: WAIT_RANGE }).max(60, WAIT_RANGE).refine((v) => v === 0 || v >= MIN_STEP_SECONDS, WAIT_RANGE),
    WAIT_RANGE,
    { type: 'number', minimum: 0, maximum: 60, description: `Hold the request until the task is final or this many seconds pass: 0, or ${MIN_STEP_SECONDS}-60.` },
  ).optional(),
});

export const deadQuery = z.strictObject({ limit: intParam(1, 1000, 'Most dead letters to list. Default 100.').default(100) });

export const keysQuery = z.strictObject({
  limit: intParam(1, 1000, 'Most keys to list. Default 100.').default(100),
  cursor: plainString(200).meta({ description: 'The last key of the previous page (its nextCursor).' }).optional(),
});

export const auditQuery = z.strictObject({ limit: intParam(1, 500, 'Most entries to list, newest first. Default 100.').default(100) });

function tryOrMessage(check: () => void): string | null {
  try {
    check();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** What a schedule runs and when; the id travels in the path for PUT. */
const scheduleFields = {
  cron: z.string().min(1).max(200).optional(),
  every: seconds(1, MAX_DELAY_SECONDS, 'Run every this long, from when the schedule was made. Give "cron" or "every", exactly one.').optional(),
  timezone: z.string().min(1).max(64).default('UTC'),
  ...taskFields,
  rateKey: plainString(200).nullable().meta({ description: 'The rate key of each task it enqueues (see the enqueue body).' }).optional(),
  enabled: z.boolean().default(true),
  catchUp: z.enum(['latest', 'all', 'none']).default('latest'),
};

function checkTiming<T extends { cron?: string; every?: number; timezone: string }>(schema: z.ZodType<T>) {
  return schema.superRefine((b, ctx) => {
    if ((b.cron === undefined) === (b.every === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give "cron" or "every", exactly one', path: ['cron'] });
      return;
    }
    const zone = tryOrMessage(() => checkTimezone(b.timezone));
    if (zone) ctx.addIssue({ code: 'custom', message: `"${b.timezone}" is not an IANA time zone such as Europe/Paris`, path: ['timezone'] });
    else if (b.cron !== undefined) {
      const bad = tryOrMessage(() => parseCron(b.cron!, b.timezone));
      if (bad) ctx.addIssue({ code: 'custom', message: `is not a five-field cron expression (${bad.replace(/^CronPattern: /, '')})`, path: ['cron'] });
    }
  });
}

export const SCHEDULE_ID = /^[A-Za-z0-9_.:-]{1,100}$/;

export const scheduleBody = checkTiming(
  z.strictObject({ id: z.string().regex(SCHEDULE_ID, 'must be 1-100 characters of letters, digits and _ . : -'), ...scheduleFields }),
);
export const scheduleUpdateBody = checkTiming(z.strictObject({ id: z.string().optional(), ...scheduleFields }));
export type ScheduleDefinition = z.output<typeof scheduleBody>;

/** A queue's settings; a field left out keeps its value, null restores the default. */
export const queueConfigBody = z.strictObject({
  retentionSeconds: seconds(1, MAX_DELAY_SECONDS, 'How long finished tasks are kept; null restores the default of 7 days.').nullable().optional(),
  rateLimit: z
    .string()
    .refine((r) => parseRate(r) !== null, 'must look like "10/s", "100/m" or "1000/h"')
    .nullable()
    .optional(),
  concurrency: whole(1, 100_000, 'At most this many tasks of the queue run at once. null removes the limit.').nullable().optional(),
  taskRateLimits: z
    .record(taskName, z.string().refine((r) => parseRate(r) !== null, 'must look like "10/s", "100/m" or "1000/h"'))
    .refine((m) => Object.keys(m).length <= 100, 'at most 100 task names')
    .nullable()
    .optional(),
  keyLimits: z
    .array(
      z
        .strictObject({
          match: plainString(200).meta({ description: 'A rate key, or a glob where * matches any characters; "*" is every key.' }),
          rate: z.string().refine((r) => parseRate(r) !== null, 'must look like "10/s", "100/m" or "1000/h"').optional(),
          concurrency: whole(1, 100_000, 'At most this many tasks of each key run at once.').optional(),
        })
        .refine((e) => e.rate !== undefined || e.concurrency !== undefined, { message: 'give "rate", "concurrency" or both' }),
      'must be a JSON array of { match, rate, concurrency }',
    )
    .max(100, 'at most 100 entries')
    .nullable()
    .meta({ description: 'Limits per rate key, each held per key: an exact match wins over globs, then the first glob that matches. null clears them.' })
    .optional(),
});
