// defineSchedule: a schedule declared in code (schedules.ts), checked when the module loads.
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
