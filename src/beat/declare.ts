// Schedules declared in code (createHub's `schedules`, each made with defineSchedule): checked when
// the module loads, and set once then, before any request, in every isolate of the Worker.
import { scheduleBody, type ScheduleDefinition } from '../protocol/schemas.ts';

/**
 * Declares a schedule the hub applies at start and on every cron tick. Editing it
 * and deploying changes it; removing it deletes it; applying it again changes nothing.
 *
 * @example
 * export default [
 *   defineSchedule({ id: 'nightly-report', cron: '0 3 * * *', timezone: 'Europe/Paris', task: 'reports.nightly' }),
 * ];
 */
export function defineSchedule(definition: Partial<ScheduleDefinition> & { id: string; task: string }): ScheduleDefinition {
  const parsed = scheduleBody.safeParse(definition);
  if (!parsed.success) throw new TypeError(`schedule "${definition.id}": ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

let declared: ScheduleDefinition[] = [];

/** Makes these the schedules declared in code: each cron tick applies them (src/beat/store.ts, syncDeclared). */
export function declareSchedules(schedules: ScheduleDefinition[]): void {
  declared = schedules.map((s) => defineSchedule(s));
}

export function declaredSchedules(): ScheduleDefinition[] {
  return declared;
}
