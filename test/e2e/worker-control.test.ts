// Remote control, the worker's side: heartbeats carry its status, commands act on it once each,
// replies come back, the last heartbeat says it is leaving, and a hub without the route is no harm.
import { afterEach, describe, expect, it } from 'vitest';
import { defineTask, HubError } from '../../src/sdk/index.ts';
import { PullWorker } from '../../src/sdk/pull.ts';
import { fakeHub, fakeJob, type FakeHub } from './fake-hub.ts';
import { waitFor } from './workers.ts';

const echo = defineTask('ctl.echo', async (args: unknown[]) => ({ echoed: args }));
const boom = defineTask('ctl.boom', async () => {
  throw new TypeError('broken on purpose');
});

const hubs: FakeHub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close()));
});

async function start(hubOptions: Parameters<typeof fakeHub>[0] = {}, more: Partial<ConstructorParameters<typeof PullWorker>[0]> = {}) {
  const hub = await fakeHub(hubOptions);
  hubs.push(hub);
  const logs: string[] = [];
  const worker = new PullWorker({
    url: hub.url, token: 't', queues: ['a', 'b'], name: 'ctl-1', tasks: [echo, boom], concurrency: 4, socket: false, waitSeconds: 0.1,
    log: (m, level) => logs.push(`${level ?? 'info'} ${m}`), ...more,
  });
  const running = worker.run();
  running.catch(() => {});
  return { hub, worker, running, logs };
}

const replyTo = (hub: FakeHub, id: string) => waitFor(`the reply to ${id}`, async () => hub.replies.find((r) => r.id === id), 5_000);

describe('worker heartbeats', () => {
  it('keep one in flight, carrying the worker\'s status', async () => {
    const { hub, worker, running } = await start();
    await waitFor('two heartbeats', async () => hub.heartbeats.length >= 2, 5_000);
    expect(hub.heartbeats[0]).toMatchObject({
      name: 'ctl-1',
      body: { region: null, queues: ['a', 'b'], tasks: ['ctl.echo', 'ctl.boom'], concurrency: 4, active: [], processed: 0, failed: 0, waitSeconds: 25, replies: [], leaving: false },
    });
    await worker.stop();
    await running;
    expect(hub.heartbeats.at(-1)!.body).toMatchObject({ leaving: true, waitSeconds: 0 });
  });

  it('run each command once, reply to each, and send a repeated command\'s reply again without running it again', async () => {
    const { hub, worker, running } = await start();
    hub.command('c1', 'ping');
    hub.command('c2', 'grow', { n: 3 }, 2); // sent three times in all
    expect((await replyTo(hub, 'c1')).reply).toBe('pong');
    expect(await replyTo(hub, 'c2')).toEqual({ id: 'c2', ok: true, reply: { concurrency: 7 } });
    await waitFor('the repeats answered', async () => hub.replies.filter((r) => r.id === 'c2').length >= 3, 5_000);
    expect(hub.replies.filter((r) => r.id === 'c2')).toEqual(Array(3).fill({ id: 'c2', ok: true, reply: { concurrency: 7 } }));
    expect(worker.slots.current).toBe(7);

    hub.command('c3', 'shrink', { n: 100 });
    expect((await replyTo(hub, 'c3')).reply).toEqual({ concurrency: 1 });
    hub.command('c4', 'grow', { n: 0 });
    expect(await replyTo(hub, 'c4')).toMatchObject({ ok: false, error: { type: 'InvalidArgs' } });
    hub.command('c5', 'reboot');
    expect(await replyTo(hub, 'c5')).toMatchObject({ ok: false, error: { type: 'UnknownCommand' } });
    await waitFor('a heartbeat after the shrink', async () => hub.heartbeats.at(-1)!.body.concurrency === 1, 5_000);
    await worker.stop();
    await running;
  });

  it('cancel-consumer stops claims from that queue', async () => {
    const { hub, worker, running } = await start();
    hub.command('c1', 'cancel-consumer', { queue: 'zzz' });
    expect(await replyTo(hub, 'c1')).toMatchObject({ ok: false, error: { type: 'NotConsuming' } });
    hub.command('c2', 'cancel-consumer', { queue: 'a' });
    expect(await replyTo(hub, 'c2')).toEqual({ id: 'c2', ok: true, reply: { queues: ['b'] } });
    const after = hub.claims.length;
    await waitFor('more claims', async () => hub.claims.length >= after + 3, 5_000);
    // A claim already in flight when it came may end after it; every one sent since is for b.
    expect(hub.claims.slice(after + 1).map((c) => c.queue)).toEqual(Array(hub.claims.length - after - 1).fill('b'));
    expect(hub.heartbeats.at(-1)!.body.queues).toEqual(['b']);
    hub.command('c3', 'cancel-consumer', { queue: 'b' });
    expect(await replyTo(hub, 'c3')).toMatchObject({ ok: false, error: { type: 'LastQueue' } });
    await worker.stop();
    await running;
  });

  it('rate-limit holds a task to its rate: a second job beyond it goes back at once', async () => {
    const { hub, worker, running } = await start();
    hub.command('c1', 'rate-limit', { task: 'ctl.echo', rate: '1/h' });
    expect(await replyTo(hub, 'c1')).toEqual({ id: 'c1', ok: true, reply: { task: 'ctl.echo', rate: '1/h' } });
    hub.command('c2', 'rate-limit', { task: 'ctl.nothing', rate: '1/s' });
    expect(await replyTo(hub, 'c2')).toMatchObject({ ok: false, error: { type: 'NotRegistered' } });
    hub.command('c3', 'rate-limit', { task: 'ctl.echo', rate: 'fast' });
    expect(await replyTo(hub, 'c3')).toMatchObject({ ok: false, error: { type: 'InvalidArgs' } });
    hub.jobs('a', [fakeJob('a', 'j1', 'ctl.echo', [1]), fakeJob('a', 'j2', 'ctl.echo', [2])]);
    await waitFor('one run and one handed back', async () => worker.counts.succeeded === 1 && hub.releases.length === 1, 5_000);
    expect(hub.releases).toEqual(['lease-j2']);
    // Its one start this hour is spent: claims now ask only for the other task.
    const after = hub.claims.length;
    await waitFor('a later claim', async () => hub.claims.length > after + 1, 5_000);
    expect(hub.claims.at(-1)!.body.tasks).toEqual(['ctl.boom']);
    await worker.stop();
    await running;
  });

  it('run runs a handler once outside any queue and replies with its result or error', async () => {
    const { hub, worker, running } = await start();
    hub.command('c1', 'run', { task: 'ctl.echo', args: [1, 2], kwargs: {}, broadcast: 'b1' });
    expect(await replyTo(hub, 'c1')).toEqual({ id: 'c1', ok: true, reply: { echoed: [1, 2] } });
    hub.command('c2', 'run', { task: 'ctl.boom', args: [], kwargs: {}, broadcast: 'b2' });
    expect(await replyTo(hub, 'c2')).toEqual({ id: 'c2', ok: false, error: { type: 'TypeError', message: 'broken on purpose' } });
    hub.command('c3', 'run', { task: 'ctl.nothing', args: [], kwargs: {}, broadcast: 'b3' });
    expect(await replyTo(hub, 'c3')).toMatchObject({ ok: false, error: { type: 'NotRegistered', message: expect.stringContaining('"ctl.echo", "ctl.boom"') } });
    expect(worker.counts).toMatchObject({ succeeded: 0, failed: 0 });
    await worker.stop();
    await running;
  });

  it('shutdown replies, then stops the worker warm, saying it is leaving', async () => {
    const { hub, running, logs } = await start();
    hub.command('c1', 'shutdown');
    await running;
    expect(hub.replies).toContainEqual({ id: 'c1', ok: true, reply: { stopping: true } });
    const last = hub.heartbeats.at(-1)!.body;
    expect(last.leaving).toBe(true);
    expect(logs.join('\n')).toMatch(/warm shutdown/);
  });

  it('are tolerated by a hub without them: one debug line, a rare retry, and the worker works on', async () => {
    const { hub, worker, running, logs } = await start({ heartbeat: 404 }, { control: { absentRetrySeconds: 2 } });
    hub.jobs('b', [fakeJob('b', 'j1', 'ctl.echo', [1])]);
    await waitFor('the job run', async () => worker.counts.succeeded === 1, 5_000);
    expect(hub.refusedHeartbeats()).toBe(1);
    await waitFor('a second try after the pause', async () => hub.refusedHeartbeats() >= 2, 5_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(hub.refusedHeartbeats()).toBe(2); // one try per pause, not a busy loop
    expect(logs.filter((l) => /no worker heartbeats/.test(l))).toEqual(['debug the hub has no worker heartbeats (404); trying again every 2s']);
    await worker.stop();
    await running;
  });

  it('end the worker with exit-code-2 semantics when the hub refuses the token', async () => {
    const { running } = await start({ heartbeat: 401 });
    const err = await running.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(HubError);
    expect((err as HubError).status).toBe(401);
  });
});
