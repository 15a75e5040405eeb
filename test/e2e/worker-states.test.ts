// Workers going alive, stale, gone against npm start, on a hub whose thresholds are seconds (DROVER_WORKER_*) so no test waits minutes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, TOKENS, uniqueQueue, type System } from './system.ts';
import { waitFor } from './workers.ts';

let system: System;
// intervalSeconds 1: alive within 3 s of a heartbeat; stale until 6 s; gone after.
beforeAll(async () => {
  system = await startSystem({ env: { DROVER_WORKER_INTERVAL_SECONDS: '1', DROVER_WORKER_STALE_SECONDS: '6' } });
});
afterAll(() => system?.stop());

let counter = 0;
const uniqueWorker = () => `st-${process.pid}-${counter++}`;

function heartbeat(name: string, body: Record<string, unknown>) {
  return system.api.as(TOKENS.consume).post(`/v1/workers/${name}/heartbeat`, { concurrency: 1, queues: ['states'], ...body });
}

async function stateOf(name: string): Promise<string | undefined> {
  return (await system.api.get('/v1/workers')).body.workers.find((w: any) => w.name === name)?.state;
}

describe('worker states', () => {
  it('go alive, then stale, then gone as heartbeats stop, each at its threshold', async () => {
    const name = uniqueWorker();
    const res = await heartbeat(name, {});
    const at = Date.now();
    expect(res.body.intervalSeconds).toBe(1);
    expect(await stateOf(name)).toBe('alive');
    await waitFor('stale', async () => (await stateOf(name)) === 'stale', 15_000);
    expect(Date.now() - at).toBeGreaterThanOrEqual(2_900);
    await waitFor('gone', async () => (await stateOf(name)) === 'gone', 15_000);
    expect(Date.now() - at).toBeGreaterThanOrEqual(5_900);
  });

  it('keep a worker alive while its heartbeat is held at the hub, past three intervals', async () => {
    const name = uniqueWorker();
    const started = Date.now();
    const held = heartbeat(name, { waitSeconds: 8 });
    await waitFor('the worker listed', async () => (await stateOf(name)) !== undefined);
    // Checked all the way past the 3 s a silent worker would stay alive.
    await waitFor('4 s of the hold', async () => {
      expect(await stateOf(name)).toBe('alive');
      return Date.now() - started > 4_000;
    });
    expect((await held).body.commands).toEqual([]);
  });

  it('send control only to alive workers: a stale one is named as such (409 when no one is left)', async () => {
    const name = uniqueWorker();
    await heartbeat(name, {});
    await waitFor('stale', async () => (await stateOf(name)) === 'stale', 15_000);
    const res = await system.api.post('/v1/control', { workers: [name], command: 'ping', waitSeconds: 0 });
    expect(res.status).toBe(409);
    expect(res.body.error.details.skipped).toEqual([{ worker: name, reason: 'stale' }]);
    expect((await heartbeat(name, {})).body.commands).toEqual([]);
  });

  it('expire the commands of a worker that went gone: back under the same name, it does not get them', async () => {
    const name = uniqueWorker();
    await heartbeat(name, {});
    const sent = await system.api.post('/v1/control', { workers: [name], command: 'shutdown', waitSeconds: 0 });
    expect(sent.body.pending).toEqual([name]);
    await waitFor('gone', async () => (await stateOf(name)) === 'gone', 15_000);
    expect((await system.api.get(`/v1/control/${sent.body.id}`)).body).toMatchObject({ pending: [], expired: [name] });
    expect((await heartbeat(name, {})).body.commands).toEqual([]);
    expect(await stateOf(name)).toBe('alive');
    expect((await system.api.get(`/v1/control/${sent.body.id}`)).body.expired).toEqual([name]);
  });

  it('list a worker seen only by its claims as alive, with a claim\'s longest wait allowed', async () => {
    const queue = uniqueQueue('states');
    const name = uniqueWorker();
    await system.api.as(TOKENS.consume).post(`/v1/queues/${queue}/claim`, { worker: name, waitSeconds: 0 });
    const at = Date.now();
    await waitFor('the claimer listed', async () => (await stateOf(name)) !== undefined);
    // Past the 3 s a heartbeating worker would be alive for, a claiming one still is (its claim may wait 30 s).
    await waitFor('4 s', async () => {
      expect(await stateOf(name)).toBe('alive');
      return Date.now() - at > 4_000;
    });
  });
});
