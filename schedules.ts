// Schedules declared in code: the hub applies this list at start and on every cron tick, without duplicates.
// Schedules made through the API (POST /v1/schedules) live beside these; an id may be used by only one of them.
import type { ScheduleDefinition } from './src/hub.ts';
// import { defineSchedule } from './src/hub.ts';

const schedules: ScheduleDefinition[] = [
  // defineSchedule({ id: 'nightly-report', cron: '0 3 * * *', timezone: 'Europe/Paris', task: 'reports.nightly' }),
];

export default schedules;
