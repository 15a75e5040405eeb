// createHub: a deployment's routes and schedules declared in code reach enqueues and the cron trigger.
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createHub, defineSchedule } from './hub.ts';
import { getSchedule } from './beat/store.ts';

const hub = createHub({
  routes: [{ match: 'hub.routed.*', queue: 'routed-queue', region: 'weur' }],
  schedules: [defineSchedule({ id: 'hub-declared', cron: '0 6 * * *', task: 'hub.morning' })],
}) as ExportedHandler<typeof env>;

describe('createHub', () => {
  it('routes an enqueue by the routes it was given', async () => {
    const res = await hub.fetch!(
      new Request('http://hub/v1/tasks', { method: 'POST', headers: { authorization: 'Bearer unit-admin', 'content-type': 'application/json' }, body: JSON.stringify({ task: 'hub.routed.page' }) }),
      env,
      createExecutionContext(),
    );
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    // weur is bound to the EU jurisdiction (wrangler.toml): its record is in the EU's D1 alone.
    const row = await env.DB_EU!.prepare('SELECT queue, region FROM tasks WHERE id = ?').bind(id).first();
    expect(row).toEqual({ queue: 'routed-queue', region: 'weur' });
    expect(await env.DB.prepare('SELECT id FROM tasks WHERE id = ?').bind(id).first()).toBeNull();
  });

  it('applies the schedules it was given on the cron trigger', async () => {
    const ctx = createExecutionContext();
    await hub.scheduled!(createScheduledController({ scheduledTime: Date.parse('2027-03-01T00:00:00Z'), cron: '* * * * *' }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await getSchedule(env.DB, 'hub-declared')).toMatchObject({ source: 'code', cron: '0 6 * * *', task: 'hub.morning' });
  });

  it('refuses, when it is called, a route table that could never apply', () => {
    expect(() => createHub({ routes: [{ match: 'x.*', queue: 'Not A Queue' }] })).toThrow();
  });
});
