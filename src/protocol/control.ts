// The wire contract of worker heartbeats, remote control and broadcasts: request bodies and the commands' arguments.
import { z } from 'zod';
import { parseRate } from '../core/limits.ts';
import { RFC3339 } from './times.ts';
import { plainString, queueName, regionName, seconds, secondsOrNone, taskName, whole } from './fields.ts';

/** A worker's name, as heartbeats and claims give it. */
export const workerName = plainString(200);

/** A reply to a command: as big as a task's result may be (src/protocol/sizes.ts), checked by the route. */
const commandReply = z.union([
  z.strictObject({ id: z.string().max(64), ok: z.literal(true), reply: z.unknown() }),
  z.strictObject({ id: z.string().max(64), ok: z.literal(false), error: z.object({ type: plainString(200), message: z.string().max(10_000) }) }),
], { error: 'must be {"id", "ok": true, "reply"} or {"id", "ok": false, "error": {"type", "message"}}' });

/** A task a worker runs now. */
const activeTask = z.strictObject({
  id: z.string().min(1).max(64),
  task: taskName,
  queue: queueName,
  startedAt: z.string().max(40).regex(RFC3339, 'must be an RFC 3339 time such as 2026-11-21T08:00:00Z'),
});

/** `POST /v1/workers/:name/heartbeat`: the worker's state, its replies, and how long it may wait for a command. */
export const workerHeartbeatBody = z.strictObject({
  region: regionName.nullable().default(null),
  queues: z.array(queueName).min(1, 'needs 1 to 100 queues').max(100, 'needs 1 to 100 queues'),
  tasks: z.array(taskName).max(1000, 'at most 1000 task names').default([]),
  concurrency: whole(0, 10_000, 'Slots now.'),
  active: z.array(activeTask).max(10_000, 'at most 10000 tasks').default([]),
  processed: whole(0, Number.MAX_SAFE_INTEGER, 'Tasks run since the worker started.').default(0),
  failed: whole(0, Number.MAX_SAFE_INTEGER, 'Tasks failed since the worker started.').default(0),
  waitSeconds: secondsOrNone(30, 'With no command pending, hold the request until one arrives or this ends. Default 0.').default(0),
  replies: z.array(commandReply).max(100, 'at most 100 replies').default([]),
  leaving: z.boolean().default(false),
});
export type WorkerHeartbeat = z.output<typeof workerHeartbeatBody>;

const noArgs = z.strictObject({});
const slots = z.strictObject({ n: whole(1, 1000, 'How many slots.') });

/** What each command takes. `run` is not here: broadcasts send it (`POST /v1/broadcasts`). */
export const COMMAND_ARGS = {
  ping: noArgs,
  shutdown: noArgs,
  grow: slots,
  shrink: slots,
  'rate-limit': z.strictObject({
    task: taskName,
    rate: z.string().refine((r) => parseRate(r) !== null, 'must look like "10/s", "100/m" or "1000/h", or be null').nullable(),
  }),
  'cancel-consumer': z.strictObject({ queue: queueName }),
} as const;
export type ControlCommand = keyof typeof COMMAND_ARGS;
export const CONTROL_COMMANDS = Object.keys(COMMAND_ARGS) as ControlCommand[];

/** `POST /v1/control`: whom, what, and how long to wait for the replies. */
export const controlBody = z
  .strictObject({
    workers: z.array(workerName).min(1, 'needs 1 to 1000 workers').max(1000, 'needs 1 to 1000 workers').optional(),
    all: z.literal(true, 'must be true (or leave it out and name "workers")').optional(),
    queue: queueName.optional(),
    region: regionName.optional(),
    command: z.enum(CONTROL_COMMANDS, `must be one of ${CONTROL_COMMANDS.join(', ')}`),
    args: z.record(z.string(), z.unknown(), 'must be a JSON object').default({}),
    waitSeconds: seconds(0, 30, 'How long to wait for the replies. Default 5.').default(5),
  })
  .refine((b) => (b.workers === undefined) !== (b.all === undefined), { message: 'give "workers" or "all", exactly one', path: ['workers'] })
  .refine((b) => b.all !== undefined || (b.queue === undefined && b.region === undefined), { message: 'narrows "all" only', path: ['queue'] })
  .superRefine((b, ctx) => {
    const schema = COMMAND_ARGS[b.command];
    if (!schema) return;
    const parsed = schema.safeParse(b.args);
    for (const issue of parsed.error?.issues ?? []) ctx.addIssue({ code: 'custom', message: issue.message, path: ['args', ...issue.path] });
  });
export type ControlBody = z.output<typeof controlBody>;

/** `POST /v1/broadcasts`: a task run once on each alive worker of a queue (and region) that can run it. */
export const broadcastBody = z.strictObject({
  task: taskName,
  args: z.array(z.unknown(), 'must be a JSON array').default([]),
  kwargs: z.record(z.string(), z.unknown(), 'must be a JSON object').refine((k) => !Array.isArray(k), 'must be a JSON object').default({}),
  queue: queueName,
  region: regionName.optional(),
});
export type BroadcastBody = z.output<typeof broadcastBody>;

/** A worker as `GET /v1/workers` lists it (src/events/roster.ts builds it). */
export const workerRecord = z
  .object({
    name: z.string(),
    state: z.enum(['alive', 'stale', 'gone']),
    region: z.string().nullable(),
    queues: z.array(z.string()),
    lastSeen: z.string().meta({ format: 'date-time', description: 'RFC 3339, UTC: its latest heartbeat or claim.' }),
    inHand: z.number().int(),
    concurrency: z.number().int().nullable(),
    active: z.array(z.object({ id: z.string(), task: z.string(), queue: z.string(), startedAt: z.string() })).nullable(),
    activeCount: z.number().int().nullable(),
    processed: z.number().int().nullable(),
    failed: z.number().int().nullable(),
    tasks: z.array(z.string()).nullable(),
    omitted: z.literal(true).optional(),
  })
  .meta({ description: 'A worker seen in the last day: alive, stale or gone; the heartbeat fields are null for a worker seen only claiming.' });

const commandError = z.object({ type: z.string(), message: z.string() });

/** A control call as `POST /v1/control` and `GET /v1/control/:id` show it (src/api/control.ts builds it). */
export const controlCall = z
  .object({
    id: z.string(),
    command: z.string(),
    replies: z.array(
      z.union([
        z.object({ worker: z.string(), ok: z.literal(true), reply: z.unknown() }),
        z.object({ worker: z.string(), ok: z.literal(false), error: commandError.nullable().optional() }),
        z.object({ worker: z.string(), ok: z.boolean().nullable(), replyOmitted: z.literal(true) }),
      ]),
    ),
    pending: z.array(z.string()).meta({ description: 'Workers sent the command that have not replied yet.' }),
    expired: z.array(z.string()).meta({ description: 'Workers whose command expired unanswered.' }),
    skipped: z.array(z.object({ worker: z.string(), state: z.enum(['alive', 'stale', 'gone', 'unknown', 'busy']) })),
  })
  .meta({ description: 'A command sent to workers: who replied what, who has not yet, whose command expired, who was not sent it.' });
export type ControlCall = z.output<typeof controlCall>;

/** A broadcast as `GET /v1/broadcasts/:id` shows it: the task's outcome on each worker sent it. */
export const broadcastRecord = z
  .object({
    id: z.string(),
    task: z.string().nullable(),
    workers: z.array(
      z.object({
        name: z.string(),
        state: z.enum(['pending', 'succeeded', 'failed']),
        result: z.unknown(),
        error: commandError.nullable(),
        resultOmitted: z.literal(true).optional(),
      }),
    ),
  })
  .meta({ description: "A task run once on each alive worker of a queue: each worker's result or error." });
export type BroadcastRecord = z.output<typeof broadcastRecord>;
