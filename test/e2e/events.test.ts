// Observability against npm start: the SSE event stream and the workers seen.
import { describe, expect, inject, it } from 'vitest';
import { Api, TOKENS, claimAll, uniqueQueue } from './system.ts';
import { waitFor } from './workers.ts';

const url = inject('hubUrl');
const api = new Api(url);

/** Subscribes to /v1/events and collects what arrives until stopped. */
async function subscribe() {
  const controller = new AbortController();
  const res = await fetch(`${url}/v1/events`, { headers: { authorization: `Bearer ${TOKENS.admin}` }, signal: controller.signal });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  let text = '';
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    } catch {
      // stopped
    }
  })();
  const events = (kind: string) =>
    text
      .split('\n\n')
      .filter((block) => block.startsWith(`event: ${kind}\n`))
      .map((block) => JSON.parse(block.slice(block.indexOf('data: ') + 6)));
  return { events, stop: () => controller.abort() };
}

describe('the event stream', () => {
  it('tells subscribers of each task change and of workers claiming', async () => {
    const stream = await subscribe();
    try {
      const queue = uniqueQueue('events');
      const { body } = await api.post('/v1/tasks', { task: 'watched', queue });
      const [job] = await claimAll(api.as(TOKENS.consume), queue, 1, { worker: 'ev-worker' });
      await api.as(TOKENS.consume).post(`/v1/leases/${job.leaseId}/ack`, { result: 1 });
      const mine = await waitFor('the task to be seen succeeding', async () => {
        const seen = stream.events('task').filter((e) => e.id === body.id);
        return seen.some((e) => e.state === 'succeeded') ? seen : null;
      }, 15_000);
      expect(mine.map((e) => e.state)).toContain('running');
      expect(mine.at(-1)).toMatchObject({ id: body.id, task: 'watched', queue, state: 'succeeded', attempts: 1, worker: 'ev-worker' });
      expect(stream.events('worker').some((w) => w.name === 'ev-worker' && w.queue === queue)).toBe(true);
    } finally {
      stream.stop();
    }
  });

  it('needs a token', async () => {
    expect((await api.as(null).get('/v1/events')).status).toBe(401);
  });
});

describe('the workers seen', () => {
  it('lists each worker with its region, queues, last sighting and tasks in hand', async () => {
    const queue = uniqueQueue('seen');
    await api.post('/v1/tasks', { task: 't', queue, region: 'cn' });
    await claimAll(api.as(TOKENS.cn), queue, 1, { worker: 'cn-seen', region: 'cn' });
    const w = await waitFor('the worker to be listed', async () => (await api.get('/v1/workers')).body.workers.find((x: any) => x.name === 'cn-seen'));
    expect(w).toMatchObject({ name: 'cn-seen', region: 'cn', queues: [queue] });
    expect(Date.now() - Date.parse(w.lastSeen)).toBeLessThan(60_000);
    expect(w.inHand).toBeGreaterThanOrEqual(0);
  });

  it('lists a worker that claims on an empty queue, though its claims change nothing', async () => {
    const queue = uniqueQueue('idle');
    const res = await api.as(TOKENS.consume).post(`/v1/queues/${queue}/claim`, { worker: 'idle-seen', max: 5, waitSeconds: 0 });
    expect(res.body.jobs).toEqual([]);
    const w = await waitFor('the idle worker to be listed', async () => (await api.get('/v1/workers')).body.workers.find((x: any) => x.name === 'idle-seen'));
    expect(w).toMatchObject({ name: 'idle-seen', queues: [queue], inHand: 0 });
  });
});
