// Beat against npm start: the API, exactly one task per slot, catch-up, daylight saving, and sub-minute `every`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, sleep, startSystem, type System } from './system.ts';
import { waitFor } from './workers.ts';

let system: System;
let api: Api;
beforeAll(async () => {
  // A system of its own: triggers here carry times of their own choosing, which move every schedule.
  system = await startSystem();
  api = system.api;
});
afterAll(() => system?.stop());

/** Fires the cron trigger as Cloudflare would, at the given time. */
async function trigger(at: string): Promise<void> {
  const res = await fetch(`${system.triggers}/cdn-cgi/local/scheduled?cron=${encodeURIComponent('* * * * *')}&time=${Date.parse(at)}`);
  await res.arrayBuffer();
  await sleep(300); // the handler's work runs after its answer
}

async function slotsOf(id: string): Promise<string[]> {
  const { body } = await api.get(`/v1/tasks?schedule=${id}&limit=500`);
  return body.tasks.map((t: any) => t.idempotencyKey.slice(`schedule:${id}:`.length)).sort();
}

describe('every, below a minute', () => {
  it('fires about every 2 s, and stops when disabled or deleted', async () => {
    const madeAt = Date.now();
    // catchUp "all": a slot whose alarm comes late on a busy machine is still made, so the slots stay 2 s apart.
    const made = await api.post('/v1/schedules', { id: 'tick2', every: 2, task: 'beat.tick', queue: 'beat', kwargs: { from: 'beat' }, catchUp: 'all' });
    expect(made.status).toBe(201);
    const slots = await waitFor('three slots', async () => {
      const s = (await slotsOf('tick2')).map(Date.parse);
      return s.length >= 3 && s;
    });
    // No more slots than 2 s periods have passed.
    expect(slots.length).toBeLessThanOrEqual(Math.floor((Date.now() - madeAt) / 2000) + 1);
    for (let i = 1; i < slots.length; i++) expect(slots[i] - slots[i - 1]).toBe(2000);
    const tasks = (await api.get('/v1/tasks?schedule=tick2')).body.tasks;
    expect(tasks[0]).toMatchObject({ task: 'beat.tick', queue: 'beat', kwargs: { from: 'beat' } });
    const shown = (await api.get('/v1/schedules/tick2')).body;
    expect(shown.lastTaskId).toBe(tasks[0].id);
    expect(Date.parse(shown.nextRunAt)).toBeGreaterThan(Date.parse(shown.lastRunAt));

    const off = await api.request('PUT', '/v1/schedules/tick2', { every: 2, task: 'beat.tick', queue: 'beat', enabled: false });
    expect(off.body).toMatchObject({ enabled: false, nextRunAt: null });
    const count = (await slotsOf('tick2')).length;
    await sleep(4500);
    expect((await slotsOf('tick2')).length).toBe(count);

    await api.request('PUT', '/v1/schedules/tick2', { every: 2, task: 'beat.tick', queue: 'beat' });
    await waitFor('a slot after re-enabling', async () => (await slotsOf('tick2')).length > count);
    expect((await api.request('DELETE', '/v1/schedules/tick2')).body).toEqual({ id: 'tick2', deleted: true });
    const resumed = (await slotsOf('tick2')).length;
    await sleep(4500);
    expect((await slotsOf('tick2')).length).toBe(resumed);
    expect((await api.get('/v1/schedules/tick2')).status).toBe(404);
  });
});

describe('cron slots', () => {
  it('makes one task per slot, however often or concurrently the trigger fires', async () => {
    await api.post('/v1/schedules', { id: 'noon', cron: '0 12 15 6 *', task: 'beat.noon' });
    await trigger('2027-06-15T12:00:20Z');
    await trigger('2027-06-15T12:00:20Z');
    await Promise.all([trigger('2027-06-15T12:00:40Z'), trigger('2027-06-15T12:00:40Z'), trigger('2027-06-15T12:01:00Z')]);
    expect(await slotsOf('noon')).toEqual(['2027-06-15T12:00:00.000Z']);
    const shown = (await api.get('/v1/schedules/noon')).body;
    expect(shown).toMatchObject({ lastRunAt: '2027-06-15T12:00:20.000Z', nextRunAt: '2028-06-15T12:00:00.000Z' });
  });

  it('runs only the latest missed slot after a skipped stretch, by default', async () => {
    await api.post('/v1/schedules', { id: 'hourly', cron: '0 * 10 1 *', task: 'beat.hourly' });
    await trigger('2027-01-10T10:00:05Z');
    await trigger('2027-01-10T13:20:00Z'); // 11:00 and 12:00 were missed
    expect(await slotsOf('hourly')).toEqual(['2027-01-10T10:00:00.000Z', '2027-01-10T13:00:00.000Z']);
  });

  it('runs every missed slot with catchUp "all", and none with "none"', async () => {
    await api.post('/v1/schedules', { id: 'hourly-all', cron: '0 * 10 1 *', task: 'beat.hourly', catchUp: 'all' });
    await api.post('/v1/schedules', { id: 'hourly-none', cron: '0 * 10 1 *', task: 'beat.hourly', catchUp: 'none' });
    await trigger('2027-01-10T02:00:05Z');
    await trigger('2027-01-10T05:20:00Z');
    expect(await slotsOf('hourly-all')).toEqual([
      '2027-01-10T00:00:00.000Z', '2027-01-10T01:00:00.000Z', '2027-01-10T02:00:00.000Z',
      '2027-01-10T03:00:00.000Z', '2027-01-10T04:00:00.000Z', '2027-01-10T05:00:00.000Z',
    ]);
    expect(await slotsOf('hourly-none')).toEqual(['2027-01-10T02:00:00.000Z']);
  });

  it('fires at 09:00 in Paris on both sides of the spring change', async () => {
    await api.post('/v1/schedules', { id: 'paris', cron: '0 9 27,28 3 *', timezone: 'Europe/Paris', task: 'beat.paris' });
    await trigger('2027-03-27T07:59:00Z'); // 08:59 CET: not yet
    expect(await slotsOf('paris')).toEqual([]);
    await trigger('2027-03-27T08:00:00Z'); // 09:00 CET
    await trigger('2027-03-28T06:59:00Z'); // 08:59 CEST
    await trigger('2027-03-28T07:00:00Z'); // 09:00 CEST
    await trigger('2027-03-28T08:00:00Z'); // 10:00 CEST: nothing new
    expect(await slotsOf('paris')).toEqual(['2027-03-27T08:00:00.000Z', '2027-03-28T07:00:00.000Z']);
  });
});

describe('the schedule API', () => {
  it('refuses bad definitions with a clear 400, a taken id with 409, and unknown ids with 404', async () => {
    const bad = [
      [{ id: 'b1', cron: '61 * * * *', task: 't' }, /cron/],
      [{ id: 'b2', cron: '0 0 * * * *', task: 't' }, /cron/],
      [{ id: 'b3', cron: '0 3 * * *', timezone: 'Mars/Olympus', task: 't' }, /Mars\/Olympus/],
      [{ id: 'b4', cron: '0 3 * * *', every: 60, task: 't' }, /exactly one/],
      [{ id: 'b5', task: 't' }, /exactly one/],
      [{ id: 'b6', every: 0.5, task: 't' }, /every/],
      [{ id: 'bad id!', every: 5, task: 't' }, /id/],
      [{ id: 'b7', every: 5, task: 't', catchUp: 'sometimes' }, /catchUp/],
    ] as const;
    for (const [body, message] of bad) {
      const res = await api.post('/v1/schedules', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.message).toMatch(message);
    }
    expect((await api.get('/v1/schedules')).body.schedules.map((s: any) => s.id)).not.toContain('b1');
    await api.post('/v1/schedules', { id: 'taken', cron: '0 3 1 1 *', task: 't' });
    expect((await api.post('/v1/schedules', { id: 'taken', cron: '0 4 1 1 *', task: 't' })).status).toBe(409);
    expect((await api.get('/v1/schedules/taken')).body.cron).toBe('0 3 1 1 *');
    expect((await api.get('/v1/schedules/nope')).status).toBe(404);
    expect((await api.request('DELETE', '/v1/schedules/nope')).status).toBe(404);
    expect((await api.as('e2e-enqueue-token').get('/v1/schedules')).status).toBe(403);
  });
});
