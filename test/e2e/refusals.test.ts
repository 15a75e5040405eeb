// A refusal changes nothing, and neither does a read: against npm start, a burst of refused requests,
// reads of things that do not exist and calls on made-up leases leaves every object, row and byte of
// storage as it was. The system is its own, so that nothing else writes meanwhile.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { census, type Census } from '../soak/storage.ts';
import { Api, TOKENS, claimAll, startSystem, type Reply, type System } from './system.ts';
import { waitFor } from './workers.ts';

let system: System;
let api: Api;

beforeAll(async () => {
  // `wide` has four shards; only the one its task lands on is ever written.
  system = await startSystem({ env: { DROVER_SHARDS: '{"wide": 4}' } });
  api = system.api;
}, 150_000);
afterAll(() => system?.stop());

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const ULID = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ulid = () => Array.from(randomBytes(26), (b) => ULID[b % 32]).join('');
/** A lease id of the form the hub gives out, for an object that gave none. */
const madeUpLease = (object: string) => `${object}.${ulid()}.${hex(12)}`;
const ghost = () => `ghost-${hex(4)}`;

/** Changes a queue object still owes D1 (its change logs): writes to come. */
const owed = (c: Census) =>
  Object.entries(c.objects).filter(([name]) => name.startsWith('QueueObject/')).reduce((n, [, rows]) => n + (rows.sync_insert ?? 0) + (rows.sync_log ?? 0), 0);

/** Storage once it has stopped changing: D1 owed nothing, and the same census twice, a little apart. */
async function settled(): Promise<Census> {
  let last = '';
  return waitFor('storage to settle', async () => {
    const now = await census(system.stateDir);
    const text = JSON.stringify(now);
    if (text === last && owed(now) === 0) return now;
    last = text;
    await new Promise((r) => setTimeout(r, 500));
    return null;
  }, 90_000);
}

it('a burst of refusals, reads of unknown things and made-up leases makes no object, row or byte', async () => {
  // What exists: a queue with a finished task and a workflow, and a sharded queue with one task waiting.
  const done = await api.post('/v1/tasks', { task: 'known.one', queue: 'known' });
  expect(done.status).toBe(202);
  const [job] = await claimAll(api, 'known', 1, { worker: 'w-known' });
  expect((await api.post(`/v1/leases/${job.leaseId}/ack`, { result: 1 })).status).toBe(200);
  const flow = await api.post('/v1/workflows', { group: [{ task: 'known.two', queue: 'known' }] });
  expect(flow.status).toBe(202);
  const [step] = await claimAll(api, 'known', 1, { worker: 'w-known' });
  expect((await api.post(`/v1/leases/${step.leaseId}/ack`, { result: 2 })).status).toBe(200);
  await waitFor('the workflow to end', async () => (await api.get(`/v1/workflows/${flow.body.id}`)).body.state === 'succeeded');
  const waiting = await api.post('/v1/tasks', { task: 'wide.one', queue: 'wide', eta: new Date(Date.now() + 3_600_000).toISOString() });
  expect(waiting.status).toBe(202);
  await waitFor('D1 to hold the finished task', async () => (await api.get(`/v1/tasks/${done.body.id}`)).body.state === 'succeeded');
  // A worker waiting on a queue nobody has enqueued to yet: the workers list shows it (for a day), its queue has no object.
  const idle = ghost();
  expect((await api.post(`/v1/queues/${idle}/claim`, { worker: 'w-idle', waitSeconds: 0 })).body).toEqual({ jobs: [] });
  await waitFor('the idle worker to be listed', async () => (await api.get('/v1/workers')).body.workers.some((w: any) => w.name === 'w-idle' && w.queues.includes(idle)));

  const before = await settled();
  const answers: [string, Reply, number][] = [];
  const expectStatus = async (what: string, status: number, call: Promise<Reply>) => answers.push([what, await call, status]);
  const producer = api.as(TOKENS.enqueue);
  for (let i = 0; i < 10; i++) {
    // Calls on leases nobody was given: of a known queue, an unknown one, and shards that do not exist.
    for (const object of ['known', ghost(), 'known~7', 'wide~3', 'wide~9']) {
      await expectStatus(`heartbeat ${object}`, 409, api.post(`/v1/leases/${madeUpLease(object)}/heartbeat`, {}));
      await expectStatus(`ack ${object}`, 409, api.post(`/v1/leases/${madeUpLease(object)}/ack`, { result: 'x' }));
      await expectStatus(`fail ${object}`, 409, api.post(`/v1/leases/${madeUpLease(object)}/fail`, { error: { type: 'E', message: 'm' } }));
      await expectStatus(`release ${object}`, 409, api.post(`/v1/leases/${madeUpLease(object)}/release`, {}));
    }
    const acks = await api.post('/v1/leases/ack', { acks: [madeUpLease(ghost()), madeUpLease('wide~2'), madeUpLease('known')].map((leaseId) => ({ leaseId })) });
    expect(acks.status).toBe(200);
    expect(acks.body.results.map((r: any) => r.error?.code)).toEqual(['lease_lost', 'lease_lost', 'lease_lost']);
    // Reads of queues, tasks and workflows that do not exist, and a claim on a queue nobody enqueued to.
    const queue = ghost();
    await expectStatus('queue', 200, api.get(`/v1/queues/${queue}`));
    await expectStatus('sharded queue', 200, api.get('/v1/queues/wide'));
    await expectStatus('dead letters', 200, api.get(`/v1/queues/${queue}/dead`));
    await expectStatus('replay', 200, api.post(`/v1/queues/${queue}/dead/replay`, {}));
    await expectStatus('purge', 200, api.request('DELETE', `/v1/queues/${queue}/dead`));
    await expectStatus('claim', 200, api.post(`/v1/queues/${idle}/claim`, { worker: 'w-idle', waitSeconds: 0 }));
    await expectStatus('task', 404, api.get(`/v1/tasks/${ulid()}`));
    await expectStatus('task revoke', 404, api.post(`/v1/tasks/${ulid()}/revoke`, {}));
    await expectStatus('sharded task', 200, api.get(`/v1/tasks/${waiting.body.id}`));
    await expectStatus('workflow', 404, api.get(`/v1/workflows/${ulid()}`));
    await expectStatus('workflow revoke', 404, api.post(`/v1/workflows/${ulid()}/revoke`, {}));
    await expectStatus('schedule', 404, api.get(`/v1/schedules/${ghost()}`));
    // Refused writes: malformed, too large, unauthenticated, without the scope.
    await expectStatus('bad task', 400, api.post('/v1/tasks', { task: '', queue }));
    await expectStatus('bad batch', 400, api.post('/v1/tasks/batch', { tasks: [{ task: 'ok', queue }, { task: 'bad', queue, priority: 99 }] }));
    await expectStatus('large task', 413, api.post('/v1/tasks', { task: 'big', queue, args: ['x'.repeat(200 * 1024)] }));
    await expectStatus('bad workflow', 400, api.post('/v1/workflows', { chain: [{ task: 'a', queue }, { task: '', queue }] }));
    await expectStatus('bad config', 400, api.request('PUT', `/v1/queues/${queue}/config`, { concurrency: -1 }));
    await expectStatus('bad schedule', 400, api.post('/v1/schedules', { id: queue, every: -5, task: 't', queue }));
    await expectStatus('no token', 401, api.as(null).post('/v1/tasks', { task: 't', queue }));
    await expectStatus('no scope', 403, producer.post(`/v1/queues/${queue}/pause`));
    await expectStatus('no scope', 403, producer.post(`/v1/queues/${queue}/claim`, { worker: 'w', waitSeconds: 0 }));
  }
  const wrong = answers.filter(([, reply, status]) => reply.status !== status).map(([what, reply, status]) => `${what}: ${reply.status} (not ${status}) ${reply.text.slice(0, 200)}`);
  expect(wrong).toEqual([]);
  expect(answers.find(([what]) => what === 'queue')![1].body).toMatchObject({ ready: 0, delayed: 0, running: 0, failed: 0 });
  expect(answers.find(([what]) => what === 'sharded queue')![1].body).toMatchObject({ delayed: 1 });

  const after = await settled();
  expect(after.objects).toEqual(before.objects);
  expect(after.d1).toEqual(before.d1);
  expect(after.bytes).toEqual(before.bytes);
}, 240_000);
