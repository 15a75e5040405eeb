// The request schemas of the HTTP API: the one place names, ranges and defaults of PROTOCOL.md are checked.
import { z } from 'zod';
import { checkTimezone, parseCron } from '../beat/slots.ts';
import { parseRate } from '../core/limits.ts';

export const TASK_NAME = /^[A-Za-z0-9_.:/-]{1,200}$/;
export const QUEUE_NAME = /^[a-z0-9_-]{1,64}$/;
export const REGION_NAME = /^[a-z0-9-]{1,32}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
/** No control characters and no lone surrogates: these strings are matched, stored and shown. */
const PLAIN = /^[^\p{Cc}\p{Cs}]*$/u;

/** Upper bounds that keep times meaningful: a year ahead, a day of backoff, twelve hours of lease. */
export const MAX_DELAY_SECONDS = 365 * 86_400;
export const MAX_RETRY_DELAY_SECONDS = 86_400;
export const MAX_LEASE_SECONDS = 43_200;

export const taskName = z.string().regex(TASK_NAME, 'must be 1-200 characters of letters, digits and _ . : / -');
export const queueName = z.string().regex(QUEUE_NAME, 'must be 1-64 characters of a-z, 0-9, _ and -');
export const regionName = z.string().regex(REGION_NAME, 'must be 1-32 characters of a-z, 0-9 and -');
const plainString = (max: number) =>
  z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`).regex(PLAIN, 'must not contain control characters or unpaired surrogates');
const time = z
  .string()
  .regex(RFC3339, 'must be an RFC 3339 time such as 2026-11-21T08:00:00Z')
  .refine((s) => Number.isFinite(Date.parse(s)), 'is not a real date and time');
const seconds = (max: number) => z.number().min(0, 'must not be negative').max(max, `must be at most ${max} seconds`);

/** What a task is and how it runs, with PROTOCOL.md's defaults: shared by enqueue and schedules. */
const taskFields = {
  task: taskName,
  args: z.array(z.unknown(), 'must be a JSON array').default([]),
  kwargs: z.record(z.string(), z.unknown(), 'must be a JSON object').default({}),
  queue: queueName.default('default'),
  region: regionName.nullable().default(null),
  priority: z.number().int('must be a whole number').min(0, 'must be 0-9').max(9, 'must be 0-9').default(5),
  maxRetries: z.number().int('must be a whole number').min(0).max(100, 'must be 0-100').default(3),
  retryDelay: seconds(MAX_RETRY_DELAY_SECONDS).default(1),
  timeout: z.number().positive('must be a positive number of seconds').max(MAX_LEASE_SECONDS).default(60),
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

const enqueueFields = {
  ...taskFields,
  /** The task is this HTTP request, made by a runner of its region: no worker code needed. */
  http: httpTarget.optional(),
  /** The task record is POSTed here when the task ends, signed, until a 2xx. */
  callback: z.strictObject({ url: z.string().max(2048) }).optional(),
  delay: seconds(MAX_DELAY_SECONDS).optional(),
  eta: time.optional(),
  expires: z.union([z.number().positive('must be a positive number of seconds').max(MAX_DELAY_SECONDS), time]).optional(),
  idempotencyKey: plainString(200).optional(),
  orderingKey: plainString(200).optional(),
  /** At most `groupLimit` tasks with this key run at once, across workers (a tenant, an API account). */
  groupKey: plainString(200).optional(),
  groupLimit: z.number().int('must be a whole number').min(1, 'must be 1-10000').max(10_000, 'must be 1-10000').optional(),
};

function enqueueRules<T extends { delay?: number; eta?: string; kwargs: unknown; orderingKey?: string; groupKey?: string; groupLimit?: number }>(
  schema: z.ZodType<T>,
) {
  return schema
    .refine((b) => b.delay === undefined || b.eta === undefined, { message: 'give "delay" or "eta", not both', path: ['eta'] })
    .refine((b) => b.orderingKey === undefined || b.groupKey === undefined, { message: 'give "orderingKey" or "groupKey", not both', path: ['groupKey'] })
    .refine((b) => b.groupLimit === undefined || b.groupKey !== undefined, { message: 'needs a "groupKey"', path: ['groupLimit'] })
    .refine((b) => !Array.isArray(b.kwargs), { message: 'must be a JSON object', path: ['kwargs'] });
}

export const enqueueBody = enqueueRules(z.strictObject(enqueueFields));

/** A workflow step: an enqueue body; `immutable` keeps the previous result out of its arguments. */
export const signatureBody = enqueueRules(z.strictObject({ ...enqueueFields, immutable: z.boolean().default(false) }));
export type Signature = z.output<typeof signatureBody>;

export type EnqueueBody = z.output<typeof enqueueBody>;

export const batchBody = z.strictObject({
  tasks: z.array(z.unknown(), 'must be a JSON array of tasks').min(1, 'needs 1 to 1000 tasks').max(1000, 'needs 1 to 1000 tasks'),
});

export const claimBody = z.strictObject({
  worker: plainString(200),
  region: regionName.nullable().default(null),
  tasks: z.array(taskName).min(1).max(100).optional(),
  max: z.number().int('must be a whole number').min(1, 'must be 1-100').max(100, 'must be 1-100').default(1),
  leaseSeconds: z.number().positive().max(MAX_LEASE_SECONDS).optional(),
  waitSeconds: z.number().min(0, 'must be 0-30').max(30, 'must be 0-30').default(0),
});

export const heartbeatBody = z.strictObject({
  extendSeconds: z.number().positive().max(MAX_LEASE_SECONDS).optional(),
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
  delaySeconds: seconds(MAX_RETRY_DELAY_SECONDS).optional(),
});

export const replayBody = z.strictObject({
  ids: z.array(z.string().max(64)).min(1).max(10_000).optional(),
});

const intParam = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `must be a whole number ${min}-${max}`)
    .transform(Number)
    .pipe(z.number().min(min, `must be ${min}-${max}`).max(max, `must be ${min}-${max}`));

export const listQuery = z.strictObject({
  queue: queueName.optional(),
  task: taskName.optional(),
  state: z.enum(['queued', 'delayed', 'running', 'succeeded', 'failed', 'revoked', 'expired']).optional(),
  region: regionName.optional(),
  limit: intParam(1, 500).default(50),
  cursor: z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'is not a cursor this hub gave out').optional(),
  schedule: z.string().regex(/^[A-Za-z0-9_.:-]{1,100}$/, 'is not a schedule id').optional(),
});

export const waitQuery = z.strictObject({
  wait: z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'must be 0-60 seconds')
    .transform(Number)
    .pipe(z.number().max(60, 'must be 0-60 seconds'))
    .optional(),
});

export const deadQuery = z.strictObject({ limit: intParam(1, 1000).default(100) });

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
  every: z.number().min(1, 'must be at least 1 second').max(MAX_DELAY_SECONDS).optional(),
  timezone: z.string().min(1).max(64).default('UTC'),
  ...taskFields,
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
  retentionSeconds: z.number().min(1, 'must be at least 1 second').max(MAX_DELAY_SECONDS).nullable().optional(),
  rateLimit: z
    .string()
    .refine((r) => parseRate(r) !== null, 'must look like "10/s", "100/m" or "1000/h"')
    .nullable()
    .optional(),
  concurrency: z.number().int('must be a whole number').min(1).max(100_000).nullable().optional(),
  taskRateLimits: z
    .record(taskName, z.string().refine((r) => parseRate(r) !== null, 'must look like "10/s", "100/m" or "1000/h"'))
    .refine((m) => Object.keys(m).length <= 100, 'at most 100 task names')
    .nullable()
    .optional(),
});
