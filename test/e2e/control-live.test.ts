// Remote control end to end: the real `drover worker` heartbeating to the hub, commanded by the
// real `drover control` and `drover broadcast`, each a subprocess, against npm start.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runDrover } from './drover-cli.ts';
import { Api, TOKENS, uniqueQueue } from './system.ts';
import { spawnWorker, waitFor, type WorkerProcess } from './workers.ts';

const url = inject('hubUrl');
const api = new Api(url);

const drover = (args: string[]) => runDrover(url, args);

async function listed(name: string): Promise<any> {
  const { body } = await api.get('/v1/workers');
  return body.workers.find((w: any) => w.name === name);
}

describe('drover control and broadcast with a running drover worker', () => {
  const [first, second] = [uniqueQueue('live'), uniqueQueue('live2')];
  const name = `${first}-worker`;
  let worker: WorkerProcess;
  beforeAll(async () => {
    worker = spawnWorker({ url, token: TOKENS.consume, queue: `${first},${second}`, name, concurrency: 4 });
    await waitFor('the worker to heartbeat', async () => (await listed(name))?.state === 'alive' && (await listed(name))?.concurrency === 4, 30_000);
  });
  afterAll(async () => {
    worker.signal('SIGKILL');
    await worker.exited;
  });

  it('lists the worker alive with its queues, tasks and slots', async () => {
    const w = await listed(name);
    expect(w).toMatchObject({ state: 'alive', queues: [first, second], concurrency: 4 });
    expect(w.tasks).toEqual(expect.arrayContaining(['test.echo', 'test.add']));
    const table = await drover(['workers']);
    expect(table.stdout).toMatch(new RegExp(`^${name}\\s+alive\\s`, 'm'));
  });

  it('answers ping, grows and shrinks its slots, takes a rate limit, and cancels a consumer', async () => {
    const ping = await drover(['control', name, 'ping']);
    expect(ping.code, ping.stderr).toBe(0);
    expect(ping.stdout).toContain(name);
    expect(ping.stdout).toContain('pong');

    const grown = await drover(['control', name, 'grow', '2', '--json']);
    expect(grown.code, grown.stderr).toBe(0);
    expect(JSON.parse(grown.stdout).replies).toEqual([expect.objectContaining({ worker: name, ok: true, reply: { concurrency: 6 } })]);
    await waitFor('the heartbeat to carry 6 slots', async () => (await listed(name))?.concurrency === 6);
    const shrunk = await drover(['control', name, 'shrink', '3', '--json']);
    expect(JSON.parse(shrunk.stdout).replies[0].reply).toEqual({ concurrency: 3 });

    const limited = await drover(['control', name, 'rate-limit', 'test.echo', '2/s', '--json']);
    expect(JSON.parse(limited.stdout).replies[0]).toMatchObject({ ok: true, reply: { task: 'test.echo', rate: '2/s' } });

    const cancelled = await drover(['control', name, 'cancel-consumer', second, '--json']);
    expect(JSON.parse(cancelled.stdout).replies[0].reply).toEqual({ queues: [first] });
    await waitFor('the heartbeat to drop the queue', async () => (await listed(name))?.queues.length === 1);
    // It no longer claims from the cancelled queue: a task there waits, one in the other runs.
    const waiting = (await api.post('/v1/tasks', { task: 'test.echo', args: ['left'], queue: second })).body.id;
    const served = (await api.post('/v1/tasks', { task: 'test.echo', args: ['taken'], queue: first })).body.id;
    expect((await api.get(`/v1/tasks/${served}?wait=30`)).body.state).toBe('succeeded');
    expect((await api.get(`/v1/tasks/${waiting}`)).body.state).toBe('queued');

    const unknown = await drover(['control', name, 'cancel-consumer', 'never-had-it']);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout + unknown.stderr).toContain('NotConsuming');
  });

  it('broadcasts a task, run once on the worker with its result shown', async () => {
    const sent = await drover(['broadcast', 'test.echo', '--queue', first, '--args', '["flush"]', '--json']);
    expect(sent.code, sent.stderr).toBe(0);
    const out = JSON.parse(sent.stdout);
    expect(out.workers).toEqual([expect.objectContaining({ name, state: 'succeeded', result: expect.objectContaining({ args: ['flush'], worker: name }) })]);
    const none = await drover(['broadcast', 'test.echo', '--queue', uniqueQueue('nobody')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/409 conflict/);
  });

  it('shuts the worker down warm on command: it exits 0 and is listed gone', async () => {
    const stopped = await drover(['control', name, 'shutdown']);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(await worker.exited).toBe(0);
    await waitFor('the worker to be listed gone', async () => (await listed(name))?.state === 'gone');
  });
});
