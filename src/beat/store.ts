// Schedules in D1: create, change, list, and the bookkeeping of slots run.
import { and, asc, eq, inArray, isNotNull, isNull, lte, min, or } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import type { ScheduleDefinition } from '../protocol/schemas.ts';
import { schedules, type ScheduleRow } from '../db/schema.ts';
import { nextSlot, type Timing } from '../core/slots.ts';

export function timingOf(s: Pick<ScheduleRow, 'cron' | 'every' | 'timezone' | 'anchorAt' | 'catchUp'>): Timing {
  return { cron: s.cron, every: s.every, timezone: s.timezone, anchorAt: s.anchorAt, catchUp: s.catchUp as Timing['catchUp'] };
}

/** The columns a definition sets; slots of a changed definition start after `now`. */
function definitionColumns(d: ScheduleDefinition, now: number) {
  const timing: Timing = { cron: d.cron ?? null, every: d.every ?? null, timezone: d.timezone, anchorAt: now, catchUp: d.catchUp };
  return {
    cron: d.cron ?? null,
    every: d.every ?? null,
    timezone: d.timezone,
    task: d.task,
    args: JSON.stringify(d.args),
    kwargs: JSON.stringify(d.kwargs),
    queue: d.queue,
    region: d.region,
    priority: d.priority,
    maxRetries: d.maxRetries,
    retryDelay: d.retryDelay,
    timeout: d.timeout,
    rateKey: d.rateKey ?? null,
    enabled: d.enabled,
    catchUp: d.catchUp,
    anchorAt: now,
    nextRunAt: d.enabled ? nextSlot(timing, now) : null,
    updatedAt: now,
  };
}

export async function getSchedule(db: D1Database, id: string): Promise<ScheduleRow | undefined> {
  return drizzle(db).select().from(schedules).where(eq(schedules.id, id)).get();
}

export async function listSchedules(db: D1Database): Promise<ScheduleRow[]> {
  return drizzle(db).select().from(schedules).orderBy(asc(schedules.id)).all();
}

/** Inserts a new schedule; false if the id is taken. */
export async function createSchedule(db: D1Database, d: ScheduleDefinition, source: 'api' | 'code', now: number): Promise<boolean> {
  const inserted = await drizzle(db)
    .insert(schedules)
    .values({ id: d.id, ...definitionColumns(d, now), source, createdAt: now })
    .onConflictDoNothing()
    .returning({ id: schedules.id });
  return inserted.length === 1;
}

export async function updateSchedule(db: D1Database, d: ScheduleDefinition, now: number): Promise<void> {
  await drizzle(db).update(schedules).set(definitionColumns(d, now)).where(eq(schedules.id, d.id)).run();
}

export async function deleteSchedule(db: D1Database, id: string): Promise<void> {
  await drizzle(db).delete(schedules).where(eq(schedules.id, id)).run();
}

/** Enabled schedules with a slot due at `now`; `intervals` keeps only `every` schedules. */
export async function dueSchedules(db: D1Database, now: number, intervals: boolean): Promise<ScheduleRow[]> {
  const due = and(eq(schedules.enabled, true), isNotNull(schedules.nextRunAt), lte(schedules.nextRunAt, now));
  return drizzle(db)
    .select()
    .from(schedules)
    .where(intervals ? and(due, isNotNull(schedules.every)) : due)
    .orderBy(asc(schedules.nextRunAt))
    .limit(500)
    .all();
}

/** When the earliest `every` slot is due (the BeatObject's alarm), or null. */
export async function nextIntervalAt(db: D1Database): Promise<number | null> {
  const row = await drizzle(db)
    .select({ at: min(schedules.nextRunAt) })
    .from(schedules)
    .where(and(eq(schedules.enabled, true), isNotNull(schedules.every)))
    .get();
  return row?.at ?? null;
}

/** Records slots run. Only moves forward: a late trigger that lost the race changes nothing. */
export async function advance(
  db: D1Database,
  id: string,
  v: { lastSlotAt: number | null; lastRunAt: number | null; lastTaskId: string | null; nextRunAt: number | null },
): Promise<void> {
  await drizzle(db)
    .update(schedules)
    .set(v)
    .where(and(eq(schedules.id, id), or(isNull(schedules.lastSlotAt), lte(schedules.lastSlotAt, v.lastSlotAt ?? 0))))
    .run();
}

/**
 * Makes the schedules declared in code (schedules.ts) the 'code' schedules in D1: new
 * ones are created, changed ones updated, removed ones deleted. Unchanged ones keep
 * their slot bookkeeping, so applying the same list again changes nothing.
 */
export async function syncDeclared(db: D1Database, declared: ScheduleDefinition[], now: number): Promise<void> {
  const orm = drizzle(db);
  const existing = await orm.select().from(schedules).where(eq(schedules.source, 'code')).all();
  const byId = new Map(existing.map((s) => [s.id, s]));
  const same = (row: ScheduleRow, d: ScheduleDefinition) => {
    const { anchorAt: _a, nextRunAt: _n, updatedAt: _u, ...want } = definitionColumns(d, now);
    return Object.entries(want).every(([k, v]) => (row as Record<string, unknown>)[k] === v);
  };
  for (const d of declared) {
    const row = byId.get(d.id);
    if (!row) {
      if (!(await createSchedule(db, d, 'code', now))) console.warn(`schedules.ts declares "${d.id}", which the API already created: the API's stays`);
    }
    else if (!same(row, d)) await updateSchedule(db, d, now);
  }
  const keep = new Set(declared.map((d) => d.id));
  const gone = existing.filter((s) => !keep.has(s.id)).map((s) => s.id);
  if (gone.length) await orm.delete(schedules).where(and(eq(schedules.source, 'code'), inArray(schedules.id, gone))).run();
}
