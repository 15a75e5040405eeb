// One beat: every schedule with a slot due enqueues one task per slot, however often the trigger fires;
// and a schedule's task run once by hand.
import type { TaskSpec } from '../core/states.ts';
import { recordFirst } from '../intake/enqueue.ts';
import { toSpec } from '../intake/spec.ts';
import type { ScheduleRow } from '../db/schema.ts';
import type { Env } from '../env.ts';
import { dueSlots, nextSlot } from '../core/slots.ts';
import { advance, dueSchedules, syncDeclared, timingOf } from './store.ts';
import { declaredSchedules } from './declare.ts';
import type { EnqueueBody, ScheduleDefinition } from '../protocol/schemas.ts';

/** The idempotency key of a slot's task: repeats of the slot find the first task. */
export function slotKey(scheduleId: string, slot: number): string {
  return `schedule:${scheduleId}:${new Date(slot).toISOString()}`;
}

/**
 * The idempotency key of a run asked for by hand: unique to the run (the task's id), and under the
 * schedule's own prefix, so that `GET /v1/tasks?schedule=<id>` lists it with the slots' tasks.
 */
export function runKey(scheduleId: string, taskId: string): string {
  return `schedule:${scheduleId}:run:${taskId}`;
}

/** The schedule's task as an enqueue body, built into a spec by the one builder every enqueue uses. */
function specFor(s: ScheduleRow, key: (id: string) => string, now: number): TaskSpec {
  const body: EnqueueBody = {
    task: s.task,
    args: JSON.parse(s.args) as unknown[],
    kwargs: JSON.parse(s.kwargs) as Record<string, unknown>,
    queue: s.queue,
    region: s.region,
    priority: s.priority,
    maxRetries: s.maxRetries,
    retryDelay: s.retryDelay,
    timeout: s.timeout,
    ...(s.rateKey !== null && { rateKey: s.rateKey }),
  };
  const spec = toSpec(body, now);
  return { ...spec, idempotencyKey: key(spec.id) };
}

/**
 * Enqueues the schedule's task once, now, as a slot would (same task, arguments, queue and
 * options), whether or not the schedule is enabled; its slots and their bookkeeping are untouched.
 */
export async function runNow(env: Env, s: ScheduleRow, now = Date.now()): Promise<{ id: string; state: string }> {
  const { results } = await recordFirst(env, [specFor(s, (id) => runKey(s.id, id), now)], now);
  return { id: results[0].id, state: results[0].state };
}

/**
 * Runs the due slots as of `now` (the trigger's scheduled time). The cron trigger runs
 * every schedule; the BeatObject's alarm runs `every` schedules (`intervals`) on time. Exactly one task per
 * slot: the slot's idempotency key makes a second trigger, a late one, or one on
 * another machine find the first task instead of making another.
 */
export async function runBeat(
  env: Env,
  now: number,
  options: { intervals?: boolean; declared?: ScheduleDefinition[] } = {},
): Promise<{ enqueued: number; repeats: number }> {
  if (!options.intervals) await syncDeclared(env.DB, options.declared ?? declaredSchedules(), now);
  let enqueued = 0;
  let repeats = 0;
  for (const s of await dueSchedules(env.DB, now, options.intervals ?? false)) {
    const timing = timingOf(s);
    const slots = dueSlots(timing, s.lastSlotAt, now);
    let lastTaskId = s.lastTaskId;
    if (slots.length) {
      const recorded = await recordFirst(env, slots.map((slot) => specFor(s, () => slotKey(s.id, slot), now)), now);
      enqueued += recorded.created.length;
      repeats += slots.length - recorded.created.length;
      lastTaskId = recorded.results[recorded.results.length - 1].id;
    }
    const lastSlotAt = slots.length ? slots[slots.length - 1] : s.lastSlotAt;
    // With catch-up "all" more missed slots may wait: the next run is the next of those.
    const from = s.catchUp === 'all' ? (lastSlotAt ?? s.anchorAt) : Math.max(now, lastSlotAt ?? 0);
    await advance(env.DB, s.id, {
      lastSlotAt,
      lastRunAt: slots.length ? now : s.lastRunAt,
      lastTaskId,
      nextRunAt: nextSlot(timing, from),
    });
  }
  return { enqueued, repeats };
}
