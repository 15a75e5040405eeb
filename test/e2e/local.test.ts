// npm start as Cloudflare's local tools behave: the cron route on the hub's own port.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSystem, uniqueQueue, type System } from './system.ts';

/** One state directory for the file: each start after the first reuses its bundles and migrations. */
const stateDir = mkdtempSync(join(tmpdir(), 'drover-local-'));
let system: System | undefined;
afterEach(async () => {
  await system?.kill();
  system = undefined;
});

describe('the cron route on the hub port', () => {
  it('runs the cron trigger as `wrangler dev --test-scheduled` does: a schedule due gets its task', async () => {
    system = await startSystem({ stateDir });
    const { api } = system;
    const queue = uniqueQueue('cron');
    expect((await api.post('/v1/schedules', { id: queue, cron: '0 12 15 6 *', task: 'local.noon', queue })).status).toBe(201);
    const url = `${system.url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent('* * * * *')}&time=${Date.parse('2031-06-15T12:00:20Z')}`;

    // No token: the route is npm start's, as wrangler's is wrangler dev's. It answers once the work is done.
    const res = await fetch(url);
    expect([res.status, await res.text()]).toEqual([200, 'ok']);
    const { body } = await api.get(`/v1/tasks?schedule=${queue}`);
    expect(body.tasks.map((t: any) => t.idempotencyKey)).toEqual([`schedule:${queue}:2031-06-15T12:00:00.000Z`]);
    expect((await api.get(`/v1/schedules/${queue}`)).body).toMatchObject({ lastTaskId: body.tasks[0].id, lastRunAt: '2031-06-15T12:00:20.000Z' });

    // The same slot again finds the task it made: one task per slot, as under Cloudflare's trigger.
    expect((await fetch(`${url}&format=json`).then((r) => r.json())) as unknown).toEqual({ outcome: 'ok', noRetry: false });
    expect((await api.get(`/v1/tasks?schedule=${queue}`)).body.tasks).toHaveLength(1);
  });
});
