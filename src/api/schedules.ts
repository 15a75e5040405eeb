// Schedule routes (admin): create, read, change and delete periodic tasks, and run one now.
import { Hono } from 'hono';
import { beatObject } from '../beat/BeatObject.ts';
import { runNow } from '../beat/tick.ts';
import { createSchedule, deleteSchedule, getSchedule, listSchedules, updateSchedule } from '../beat/store.ts';
import type { ScheduleRow } from '../db/schema.ts';
import type { Env } from '../env.ts';
import { audit } from './audit.ts';
import type { AuthVars } from './auth.ts';
import { requireAdmin } from '../protocol/principals.ts';
import { readJson } from './body.ts';
import { parseWith } from '../protocol/parse.ts';
import { checkSize, refuseJurisdiction } from '../intake/spec.ts';
import { MAX_TASK_BYTES } from '../protocol/sizes.ts';
import { DroverError } from '../protocol/errors.ts';
import { iso } from '../protocol/times.ts';
import { SCHEDULE_ID, scheduleBody, scheduleUpdateBody } from '../protocol/schemas.ts';
import { asState, scheduleDeleted, scheduleList, scheduleRecord, scheduleRun, type Answer } from '../protocol/answers.ts';

export const schedules = new Hono<AuthVars>();

schedules.use(async function adminOnly(c, next) {
  requireAdmin(c.var.principal);
  await next();
});

function present(s: ScheduleRow): Answer<typeof scheduleRecord> {
  return {
    id: s.id,
    cron: s.cron,
    every: s.every,
    timezone: s.timezone,
    task: s.task,
    args: JSON.parse(s.args),
    kwargs: JSON.parse(s.kwargs),
    queue: s.queue,
    region: s.region,
    priority: s.priority,
    maxRetries: s.maxRetries,
    retryDelay: s.retryDelay,
    timeout: s.timeout,
    rateKey: s.rateKey ?? null,
    enabled: s.enabled,
    // D1 keeps these as text; only the schedule schemas' values are ever written.
    catchUp: s.catchUp as Answer<typeof scheduleRecord>['catchUp'],
    source: s.source as Answer<typeof scheduleRecord>['source'],
    nextRunAt: iso(s.nextRunAt),
    lastRunAt: iso(s.lastRunAt),
    lastTaskId: s.lastTaskId,
    createdAt: iso(s.createdAt)!,
    updatedAt: iso(s.updatedAt)!,
  };
}

async function found(env: Env, id: string): Promise<ScheduleRow> {
  const row = SCHEDULE_ID.test(id) ? await getSchedule(env.DB, id) : undefined;
  if (!row) throw new DroverError('not_found', `no schedule has the id "${id.slice(0, 100)}"`);
  return row;
}

function notDeclared(row: ScheduleRow): void {
  if (row.source === 'code') throw new DroverError('conflict', `schedule "${row.id}" is declared in schedules.ts: change it there and deploy`);
}

schedules.post('/', async (c) => {
  const raw = await readJson(c, MAX_TASK_BYTES + 4096);
  // Each slot enqueues the schedule's task: it must fit a task's limit, as an enqueue's would.
  checkSize(raw);
  const def = parseWith(scheduleBody, raw, 'schedule');
  refuseJurisdiction(c.env, def.region, 'a schedule', 'region');
  if (!(await createSchedule(c.env.DB, def, 'api', Date.now()))) throw new DroverError('conflict', `a schedule with the id "${def.id}" exists already`);
  await beatObject(c.env).arm();
  await audit(c, 'schedule.create', def.id, def);
  return c.json(present((await getSchedule(c.env.DB, def.id))!), 201);
});

schedules.get('/', async (c) => c.json({ schedules: (await listSchedules(c.env.DB)).map(present) } satisfies Answer<typeof scheduleList>));

schedules.get('/:id', async (c) => c.json(present(await found(c.env, c.req.param('id')))));

schedules.put('/:id', async (c) => {
  const row = await found(c.env, c.req.param('id'));
  notDeclared(row);
  const raw = await readJson(c, MAX_TASK_BYTES + 4096);
  checkSize(raw);
  const body = parseWith(scheduleUpdateBody, raw, 'schedule');
  if (body.id !== undefined && body.id !== row.id) throw new DroverError('invalid_request', 'the id in the body differs from the id in the path');
  refuseJurisdiction(c.env, body.region, 'a schedule', 'region');
  await updateSchedule(c.env.DB, { ...body, id: row.id }, Date.now());
  await beatObject(c.env).arm();
  await audit(c, 'schedule.update', row.id, body);
  return c.json(present((await getSchedule(c.env.DB, row.id))!));
});

schedules.delete('/:id', async (c) => {
  const row = await found(c.env, c.req.param('id'));
  notDeclared(row);
  await deleteSchedule(c.env.DB, row.id);
  await beatObject(c.env).arm();
  await audit(c, 'schedule.delete', row.id);
  return c.json({ id: row.id, deleted: true as const } satisfies Answer<typeof scheduleDeleted>);
});

/** Enqueues the schedule's task once, now, whatever its slots and `enabled` say; answers as an enqueue does. */
schedules.post('/:id/run', async (c) => {
  const row = await found(c.env, c.req.param('id'));
  const task = await runNow(c.env, row);
  await audit(c, 'schedule.run', row.id, { taskId: task.id });
  return c.json({ id: task.id, state: asState(task.state) } satisfies Answer<typeof scheduleRun>, 202);
});
