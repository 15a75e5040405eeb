// Workflows with real pull workers: chains pass results on, chords run their body once, failures stop them.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { chain, chord, createClient, group, link, sig } from '../../src/sdk/index.ts';
import { add, refuse } from '../fixtures/tasks.ts';
import { Api, TOKENS, claimAll, uniqueQueue } from './system.ts';
import { spawnWorker, waitFor, type WorkerProcess } from './workers.ts';

const url = inject('hubUrl');
const api = new Api(url);
const client = createClient({ url, token: TOKENS.admin });
const queue = uniqueQueue('wf');
let worker: WorkerProcess;

beforeAll(() => {
  worker = spawnWorker({ url, token: TOKENS.consume, queue, name: 'wf-1', concurrency: 8 });
});
afterAll(async () => {
  worker.signal('SIGTERM');
  await worker.exited;
});

describe('chain', () => {
  it('passes each result on to the next step', async () => {
    const run = await client.workflow(chain(sig(add, [1, 2], { queue }), link(add, [3], { queue }), link(add, [4], { queue })));
    expect(run.tasks).toHaveLength(3);
    expect(await run.wait({ timeoutSeconds: 30 })).toBe(10); // (1+2) -> 3+3 -> 6+4
    const view = await run.get();
    expect(view).toMatchObject({ shape: 'chain', state: 'succeeded', result: 10 });
    expect(view.tasks.map((t) => [t.step, t.state, t.result])).toEqual([[0, 'succeeded', 3], [1, 'succeeded', 6], [2, 'succeeded', 10]]);
    const [first, second, third] = await Promise.all(run.tasks.map((id) => api.get(`/v1/tasks/${id}`).then((r) => r.body)));
    expect(second).toMatchObject({ args: [3, 3], parentId: first.id, rootId: first.id, workflowId: run.id });
    expect(third).toMatchObject({ args: [6, 4], parentId: second.id, rootId: first.id });
  });

  it('stops at a step that fails for good: the rest never run', async () => {
    // As raw JSON: the types would (rightly) refuse feeding add's number to refuse.
    const run = await client.workflow({
      request: { chain: [{ task: 'test.add', args: [1], queue }, { task: 'test.refuse', args: [], queue }, { task: 'test.add', args: [4], queue }] },
    });
    await expect(run.wait({ timeoutSeconds: 30 })).rejects.toMatchObject({ state: 'failed' });
    const view = await run.get();
    // The step that never ran is recorded revoked, with why: a wait on it ends too.
    expect(view.tasks.map((t) => t.state)).toEqual(['succeeded', 'failed', 'revoked']);
    const never = (await api.get(`/v1/tasks/${run.tasks[2]}?wait=5`)).body;
    expect(never).toMatchObject({ state: 'revoked', attempts: 0, args: [4], parentId: run.tasks[1], workflowId: run.id });
    expect(never.error).toMatchObject({ type: 'WorkflowFailed' });
    expect(never.error.message).toContain(`its task ${run.tasks[1]} ended failed`);
  });

  it('nests a group in a chain: the next step gets the group\'s results in order', async () => {
    const run = await client.workflow(chain(group(sig(add, [1], { queue }), sig(add, [2], { queue }), sig(add, [3, 4], { queue })), link(add, [10], { queue })));
    expect(await run.wait({ timeoutSeconds: 30 })).toBe(20);
    expect((await api.get(`/v1/tasks/${run.tasks[3]}`)).body.args).toEqual([[1, 2, 7], 10]);
  });

  it('is revoked as a whole: the running task is told, later steps never start', async () => {
    const run = await client.workflow({
      request: { chain: [{ task: 'test.nap', args: [20_000], queue, timeout: 3 }, { task: 'test.add', args: [1], queue }] },
    });
    await waitFor('the nap to start', async () => (await api.get(`/v1/tasks/${run.tasks[0]}`)).body.state === 'running');
    const revoked = await api.post(`/v1/workflows/${run.id}/revoke`);
    expect(revoked.body).toEqual({ state: 'revoked', revoked: 1 });
    expect((await api.get(`/v1/tasks/${run.tasks[0]}?wait=20`)).body.state).toBe('revoked');
    expect((await run.get()).state).toBe('revoked');
    const never = (await api.get(`/v1/tasks/${run.tasks[1]}`)).body;
    expect(never).toMatchObject({ state: 'revoked', attempts: 0, error: { type: 'WorkflowRevoked' } });
  });
});

describe('group', () => {
  it('runs its tasks at once and collects their results', async () => {
    const run = await client.workflow(group(sig(add, [1], { queue }), sig(add, [2], { queue })));
    expect(await run.wait({ timeoutSeconds: 30 })).toEqual([1, 2]);
  });
});

describe('chord', () => {
  it('runs its body once after 100 header tasks, though some were retried after lease expiry and acked late', async () => {
    const q = uniqueQueue('chord'); // worked by this test alone, over plain HTTP, to control every lease
    // Even members have a minute to be acked, so a busy machine cannot make them late. Odd ones have 5 s:
    // their first leases run out while held, and their retries still have ample time to be acked.
    const header = Array.from({ length: 100 }, (_, i) => sig(add, [i], { queue: q, timeout: i % 2 ? 5 : 60, retryDelay: 0.1 }));
    const run = await client.workflow(chord(header, link(add, [], { queue: q })));
    const me = api.as(TOKENS.consume);
    const first = await claimAll(me, q, 100, { max: 100 });
    expect(first).toHaveLength(100);
    // Half are acked in time; the other half are held until their leases expire, and come back as retries.
    const [onTime, late] = [first.filter((j) => j.args[0] % 2 === 0), first.filter((j) => j.args[0] % 2 === 1)];
    await Promise.all(onTime.map((j) => me.post(`/v1/leases/${j.leaseId}/ack`, { result: j.args[0] })));
    const retries = await claimAll(me, q, 50, { max: 100 });
    expect(retries.map((j) => j.attempt)).toEqual(Array(50).fill(2));
    expect(retries.every((j) => j.task === 'test.add')).toBe(true);
    await Promise.all(retries.map((j) => me.post(`/v1/leases/${j.leaseId}/ack`, { result: j.args[0] })));
    // The first attempts report at last: refused, and counted nowhere.
    const stale = await Promise.all(late.map((j) => me.post(`/v1/leases/${j.leaseId}/ack`, { result: -1000 })));
    expect(stale.map((r) => r.status)).toEqual(Array(50).fill(409));

    const bodies = await claimAll(me, q, 1, { max: 10 });
    expect(bodies).toHaveLength(1);
    expect(bodies[0].args).toEqual([Array.from({ length: 100 }, (_, i) => i)]);
    await me.post(`/v1/leases/${bodies[0].leaseId}/ack`, { result: 4950 });
    expect((await me.post(`/v1/queues/${q}/claim`, { worker: 'w', max: 10, waitSeconds: 2 })).body.jobs).toEqual([]);
    expect(await run.wait({ timeoutSeconds: 10 })).toBe(4950);
    const view = await run.get();
    expect(view.tasks.filter((t) => t.step === 1)).toHaveLength(1);
    expect((await api.get(`/v1/tasks?queue=${q}&limit=500`)).body.tasks).toHaveLength(101);
  });

  it('fails instead of hanging when a header task fails for good; the body never runs', async () => {
    const run = await client.workflow(chord([sig(add, [1], { queue }), sig(refuse, ['no'], { queue })], link(add, [], { queue })));
    await expect(run.wait({ timeoutSeconds: 30 })).rejects.toMatchObject({ state: 'failed' });
    // The body never ran: its record says so, so a wait on it ends instead of hanging.
    const body = (await api.get(`/v1/tasks/${run.tasks[2]}?wait=5`)).body;
    expect(body).toMatchObject({ state: 'revoked', attempts: 0, startedAt: null, error: { type: 'WorkflowFailed' } });
  });
});

describe('bad workflows', () => {
  it('are refused with a message naming the step, and start nothing', async () => {
    const cases: [unknown, RegExp][] = [
      [{}, /chain/],
      [{ chain: [] }, /chain/],
      [{ chain: [{ task: 't' }], group: [] }, /chain/],
      [{ chain: [{ task: 't' }, { task: 'bad name!' }] }, /chain\[1\]/],
      [{ chain: [{ group: [{ task: 't', priority: 11 }] }] }, /chain\[0\]\.group\[0\]/],
      [{ chord: { header: [{ task: 't' }] } }, /chord/],
      [{ group: [{ task: 't', kwargs: [] }] }, /group\[0\]/],
      [{ group: Array.from({ length: 1001 }, () => ({ task: 't' })) }, /at most 1000/],
    ];
    for (const [body, message] of cases) {
      const res = await api.post('/v1/workflows', body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.body.error.message).toMatch(message);
    }
    expect((await api.get('/v1/workflows/01ARZ3NDEKTSV4RRFFQ69G5FAV')).status).toBe(404);
    expect((await api.as(TOKENS.consume).post('/v1/workflows', { group: [{ task: 't' }] })).status).toBe(403);
  });
});
