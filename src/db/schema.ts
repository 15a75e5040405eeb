// The D1 schema: the queryable record of every task. Migrations are generated from this file.
import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import type { TaskSpec } from '../core/states.ts';
import type { TaskRecord } from '../protocol/records.ts';

/**
 * One row per task, written by the hub at enqueue (version 0) and then kept up to
 * date by the task's QueueObject in batches (version = the object's change counter,
 * so a late write never overwrites a newer one). Times are epoch milliseconds.
 */
export const tasks = sqliteTable(
  'tasks',
  {
    id: text('id').primaryKey(),
    task: text('task').notNull(),
    queue: text('queue').notNull(),
    region: text('region'),
    priority: integer('priority').notNull(),
    state: text('state').notNull(),
    args: text('args').notNull(),
    kwargs: text('kwargs').notNull(),
    result: text('result'),
    error: text('error'),
    attempts: integer('attempts').notNull().default(0),
    maxRetries: integer('max_retries').notNull(),
    retryDelay: real('retry_delay').notNull(),
    timeout: real('timeout').notNull(),
    eta: integer('eta'),
    expiresAt: integer('expires_at'),
    idempotencyKey: text('idempotency_key'),
    orderingKey: text('ordering_key'),
    groupKey: text('group_key'),
    groupLimit: integer('group_limit'),
    parentId: text('parent_id'),
    rootId: text('root_id'),
    workflowId: text('workflow_id'),
    /** JSON: the request of an HTTP task, and where to POST the record at the end. */
    http: text('http'),
    callback: text('callback'),
    /** JSON: the headers the producer gave, handed to workers with every job. */
    headers: text('headers'),
    worker: text('worker'),
    createdAt: integer('created_at').notNull(),
    startedAt: integer('started_at'),
    finishedAt: integer('finished_at'),
    version: integer('version').notNull().default(0),
    /** The shard of its queue the task was placed on (DROVER_SHARDS); null before shards were recorded. */
    shard: integer('shard'),
    /** JSON: the task's last ended attempts, oldest first (src/queue/transitions/attempts.ts); null before its first ended. */
    attemptLog: text('attempt_log'),
    /** The key whose limits the task counts against (a queue's keyLimits); an HTTP task's default is its URL's host. */
    rateKey: text('rate_key'),
  },
  (t) => [
    // Task lists go newest first by creation time (ids a client chose, such as Celery's UUIDs,
    // carry no time), filtered by one of these; a page starts after the cursor's (created_at, id).
    index('tasks_created').on(t.createdAt, t.id),
    index('tasks_queue_created').on(t.queue, t.createdAt, t.id),
    index('tasks_state_created').on(t.state, t.createdAt, t.id),
    index('tasks_task_created').on(t.task, t.createdAt, t.id),
    // Partial on what their queries ask for (a region, a key, a finish time), so the many tasks
    // without one cost no entry in them: an enqueue of a plain task writes three indexes fewer.
    index('tasks_region_created').on(t.region, t.createdAt, t.id).where(sql`region IS NOT NULL`),
    // Tasks the bus has not yet carried to their QueueObject: the redelivery sweep pages through
    // these by (created_at, id). With created_at alone the planner took tasks_created, which has
    // the id, and read every task past the cut-off to find the few still at version 0.
    index('tasks_undelivered').on(t.createdAt, t.id).where(sql`version = 0`),
    // A schedule's tasks carry the key schedule:<id>:<slot>, so they are found by key range.
    index('tasks_idempotency_key').on(t.idempotencyKey).where(sql`idempotency_key IS NOT NULL`),
    // Retention removes a queue's oldest finished records, a bounded batch at a time.
    index('tasks_queue_finished').on(t.queue, t.finishedAt).where(sql`finished_at IS NOT NULL`),
    // The workflow list pages through workflow ids (time-ordered ULIDs), newest first, and counts
    // each one's tasks by state from this index alone.
    index('tasks_workflow').on(t.workflowId, t.state, t.createdAt).where(sql`workflow_id IS NOT NULL`),
  ],
);

/** An idempotency key holds the id of the first task enqueued with it until it expires. */
export const idempotencyKeys = sqliteTable(
  'idempotency_keys',
  {
    key: text('key').primaryKey(),
    taskId: text('task_id').notNull(),
    expiresAt: integer('expires_at').notNull(),
  },
  // Retention removes expired keys each minute (src/db/retention.ts): without this it read every
  // live key to find them. A row written per key, against reading all of them 1,440 times a day.
  (t) => [index('idempotency_keys_expires').on(t.expiresAt)],
);

/** Every queue that has ever received a task, so the queue list needs no scan. */
export const queues = sqliteTable('queues', {
  name: text('name').primaryKey(),
  createdAt: integer('created_at').notNull(),
  /** How long finished task records are kept; null: the default, 7 days. */
  retentionMs: integer('retention_ms'),
});

export type TaskRow = typeof tasks.$inferSelect;

/**
 * This table keeps the task record (src/protocol/records.ts) and the spec the bus carries
 * (src/core/states.ts): every field of either has a column of the same name (times as epoch
 * milliseconds, JSON as text), but for what only the live queue object knows. A field added to
 * the record or the spec does not compile here until it has a column.
 */
type LiveOnly = 'progress' | 'revokeRequested';
/** Known only while a task is enqueued: the producer chose its id. */
type IntakeOnly = 'chosenId';
/** Which database holds the row, not a column of it (src/db/stores.ts). */
type StoreOnly = 'jurisdiction';
type WithoutColumn = Exclude<keyof TaskRecord | keyof TaskSpec, LiveOnly | IntakeOnly | StoreOnly | keyof TaskRow>;
const everyRecordFieldHasAColumn: [WithoutColumn] extends [never] ? true : { missing: WithoutColumn } = true;
void everyRecordFieldHasAColumn;

/**
 * Periodic schedules (beat). `source` is 'api' or 'code' (declared in schedules.ts).
 * Slots come strictly after `anchorAt`; `lastSlotAt` only moves forward, so a late
 * or repeated trigger never runs a slot twice.
 */
export const schedules = sqliteTable(
  'schedules',
  {
    id: text('id').primaryKey(),
    cron: text('cron'),
    every: real('every'),
    timezone: text('timezone').notNull(),
    task: text('task').notNull(),
    args: text('args').notNull(),
    kwargs: text('kwargs').notNull(),
    queue: text('queue').notNull(),
    region: text('region'),
    priority: integer('priority').notNull(),
    maxRetries: integer('max_retries').notNull(),
    retryDelay: real('retry_delay').notNull(),
    timeout: real('timeout').notNull(),
    /** The rate key of each task it enqueues; null: none (an HTTP task's host is not a schedule's concern). */
    rateKey: text('rate_key'),
    enabled: integer('enabled', { mode: 'boolean' }).notNull(),
    catchUp: text('catch_up').notNull(),
    source: text('source').notNull(),
    anchorAt: integer('anchor_at').notNull(),
    lastSlotAt: integer('last_slot_at'),
    lastRunAt: integer('last_run_at'),
    lastTaskId: text('last_task_id'),
    nextRunAt: integer('next_run_at'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('schedules_due').on(t.nextRunAt).where(sql`enabled = 1`)],
);

export type ScheduleRow = typeof schedules.$inferSelect;

/** What admins did: pause, resume, replay, purge, schedule changes. Read with GET /v1/audit. */
export const auditLog = sqliteTable(
  'audit_log',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    at: integer('at').notNull(),
    /** The acting token's fingerprint (never the token). */
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    target: text('target').notNull(),
    details: text('details'),
  },
  (t) => [index('audit_log_at').on(t.at)],
);

/**
 * Tasks that ended per queue and minute (`minute`: epoch ms at the minute's start), for GET
 * /v1/stats. Each queue object's D1 write adds the ends it carries (src/queue/sync.ts); the
 * retention sweep removes minutes past 48 hours. Keyed by minute first, so both reading a range
 * and removing old minutes walk the key.
 */
export const taskMinutes = sqliteTable(
  'task_minutes',
  {
    minute: integer('minute').notNull(),
    queue: text('queue').notNull(),
    succeeded: integer('succeeded').notNull().default(0),
    failed: integer('failed').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.minute, t.queue] })],
);

/** How many of those ends fell in each latency bucket (src/core/histogram.ts). */
export const taskLatency = sqliteTable(
  'task_latency',
  {
    minute: integer('minute').notNull(),
    queue: text('queue').notNull(),
    bucket: integer('bucket').notNull(),
    n: integer('n').notNull(),
  },
  (t) => [primaryKey({ columns: [t.minute, t.queue, t.bucket] })],
);
