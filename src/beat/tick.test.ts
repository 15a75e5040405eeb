// Beat through the scheduled handler (createScheduledController), and schedules declared in code.
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../hub.ts';
import { scheduleBody } from '../protocol/schemas.ts';
import { getSchedule, createSchedule } from './store.ts';
import { runBeat } from './tick.ts';

async function fire(at: string): Promise<void> {
  const ctx = createExecutionContext();
  await (worker as ExportedHandler<typeof env>).scheduled!(createScheduledController({ scheduledTime: Date.parse(at), cron: '* * * * *' }), env, ctx);
  await waitOnExecutionContext(ctx);
}

async function tasksOf(id: string): Promise<string[]> {
  const rows = await env.DB.prepare(`SELECT idempotency_key AS k FROM tasks WHERE idempotency_key LIKE ? ORDER BY k`).bind(`schedule:${id}:%`).all<{ k: string }>();
  return rows.results.map((r) => r.k);
}

describe('the scheduled handler', () => {
  it('enqueues one task for a slot however often the trigger fires for it', async () => {
    await createSchedule(env.DB, scheduleBody.parse({ id: 'unit-noon', cron: '0 12 * * *', task: 'unit.noon' }), 'api', Date.parse('2027-01-01T00:00:00Z'));
    await fire('2027-01-02T12:00:00Z');
    await fire('2027-01-02T12:00:00Z');
    await Promise.all([fire('2027-01-02T12:00:30Z'), fire('2027-01-02T12:00:30Z')]);
    expect(await tasksOf('unit-noon')).toEqual(['schedule:unit-noon:2027-01-02T12:00:00.000Z']);
    expect(await getSchedule(env.DB, 'unit-noon')).toMatchObject({ nextRunAt: Date.parse('2027-01-03T12:00:00Z') });
  });

  it('never goes back: a late trigger for an older time changes nothing', async () => {
    await createSchedule(env.DB, scheduleBody.parse({ id: 'unit-late', cron: '0 * * * *', task: 'unit.late', catchUp: 'all' }), 'api', Date.parse('2027-01-01T00:00:00Z'));
    await fire('2027-01-01T03:00:00Z');
    await fire('2027-01-01T01:30:00Z');
    expect(await tasksOf('unit-late')).toHaveLength(3);
    expect((await getSchedule(env.DB, 'unit-late'))!.lastSlotAt).toBe(Date.parse('2027-01-01T03:00:00Z'));
  });
});

describe('schedules declared in code', () => {
  const declared = (cron: string) => [scheduleBody.parse({ id: 'code-report', cron, task: 'reports.nightly' })];

  it('are created once, updated when changed, deleted when removed', async () => {
    const now = Date.parse('2027-02-01T00:00:00Z');
    await runBeat(env, now, { declared: declared('0 3 * * *') });
    const first = await getSchedule(env.DB, 'code-report');
    expect(first).toMatchObject({ source: 'code', cron: '0 3 * * *', nextRunAt: Date.parse('2027-02-01T03:00:00Z') });
    await runBeat(env, now + 60_000, { declared: declared('0 3 * * *') });
    expect(await getSchedule(env.DB, 'code-report')).toEqual(first);
    await runBeat(env, now + 120_000, { declared: declared('0 4 * * *') });
    expect(await getSchedule(env.DB, 'code-report')).toMatchObject({ cron: '0 4 * * *', nextRunAt: Date.parse('2027-02-01T04:00:00Z') });
    await runBeat(env, now + 180_000, { declared: [] });
    expect(await getSchedule(env.DB, 'code-report')).toBeUndefined();
  });
});
