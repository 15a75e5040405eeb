// Pull workers over HTTP: region isolation under concurrency, the typed SDK client, and a worker with no SDK.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { createClient, TaskFailedError } from '../../src/worker/index.ts';
import { echo, nap, refuse } from '../fixtures/tasks.ts';
import { Api, TOKENS, uniqueQueue } from './system.ts';
import { spawnWorker, waitFor } from './workers.ts';

const url = inject('hubUrl');
const api = new Api(url);

async function allFinal(queue: string, n: number) {
  return waitFor(`${n} final tasks in ${queue}`, async () => {
    const { body } = await api.get(`/v1/tasks?queue=${queue}&limit=500`);
    const done = body.tasks.filter((t: any) => ['succeeded', 'failed', 'revoked', 'expired'].includes(t.state));
    return done.length >= n ? body.tasks : null;
  }, 60_000);
}

describe('region isolation', () => {
  it('never lets a task cross regions, with several workers per region pulling at once', async () => {
    const queue = uniqueQueue('iso');
    const tasks = ['cn', 'weur', null].flatMap((region) =>
      Array.from({ length: 100 }, (_, i) => ({ task: 'test.echo', args: [region, i], queue, region })),
    );
    await api.post('/v1/tasks/batch', { tasks });
    const workers = [
      spawnWorker({ url, token: TOKENS.cn, queue, region: 'cn', name: 'cn-1' }),
      spawnWorker({ url, token: TOKENS.cn, queue, region: 'cn', name: 'cn-2' }),
      spawnWorker({ url, token: TOKENS.weur, queue, region: 'weur', name: 'weur-1' }),
      spawnWorker({ url, token: TOKENS.weur, queue, region: 'weur', name: 'weur-2' }),
      spawnWorker({ url, token: TOKENS.consume, queue, name: 'any-1' }),
    ];
    try {
      const done = await allFinal(queue, 300);
      const crossed = done.filter((t: any) => t.region && !t.worker.startsWith(`${t.region}-`));
      expect(crossed).toEqual([]);
      expect(done.every((t: any) => t.state === 'succeeded' && t.attempts === 1)).toBe(true);
      const ranBy = (region: string | null) => new Set(done.filter((t: any) => t.region === region).map((t: any) => t.worker));
      expect([...ranBy('cn')].sort()).toEqual(['cn-1', 'cn-2']);
      expect([...ranBy('weur')].sort()).toEqual(['weur-1', 'weur-2']);
      expect(done.filter((t: any) => t.result.worker !== t.worker)).toEqual([]);
    } finally {
      for (const w of workers) w.signal('SIGTERM');
      expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0, 0, 0, 0]);
    }
  });
});

describe('the SDK', () => {
  it('enqueues typed tasks and waits for their results, failures and revocations', async () => {
    const queue = uniqueQueue('sdk');
    const client = createClient({ url, token: TOKENS.weur });
    const worker = spawnWorker({ url, token: TOKENS.consume, queue, name: 'sdk-1', concurrency: 4 });
    try {
      const handle = await client.enqueue(echo, ['hello', 42], { queue });
      expect(handle.state).toBe('queued');
      const result = await handle.wait({ timeoutSeconds: 30 });
      expect(result).toMatchObject({ args: ['hello', 42], worker: 'sdk-1', attempt: 1 });

      const refused = await client.enqueue(refuse, ['bad input'], { queue });
      const err = await refused.wait({ timeoutSeconds: 30 }).catch((e) => e);
      expect(err).toBeInstanceOf(TaskFailedError);
      expect(err.state).toBe('failed');
      expect((await refused.get()).attempts).toBe(1);

      const long = await client.enqueue(nap, [20_000], { queue, timeout: 3 });
      await waitFor('the nap to start', async () => (await long.get()).state === 'running');
      await client.revoke(long.id);
      const revoked = await long.wait({ timeoutSeconds: 30 }).catch((e) => e);
      expect(revoked.state).toBe('revoked');

      const again = await client.enqueue(echo, [1], { queue, idempotencyKey: `${queue}-once` });
      const dup = await client.enqueue(echo, [2], { queue, idempotencyKey: `${queue}-once` });
      expect(dup.duplicate).toBe(true);
      expect(dup.id).toBe(again.id);
    } finally {
      worker.signal('SIGTERM');
      expect(await worker.exited).toBe(0);
    }
  });
});

describe('a worker written without the SDK', () => {
  it('works a queue in Python with plain HTTP', async () => {
    const queue = uniqueQueue('py');
    const tasks = [
      ...Array.from({ length: 20 }, (_, i) => ({ task: 'py.add', args: [i, i, 1], queue })),
      { task: 'py.progress', queue },
      { task: 'py.reject', queue },
    ];
    const { body } = await api.post('/v1/tasks/batch', { tasks });
    const run = spawnSync('python3', [resolve(import.meta.dirname, '../fixtures/plain_worker.py'), url, TOKENS.consume, queue], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ done: 22 });
    const results = await Promise.all(body.tasks.map((t: any) => api.get(`/v1/tasks/${t.id}`).then((r) => r.body)));
    expect(results.slice(0, 20).map((t: any) => t.result)).toEqual(Array.from({ length: 20 }, (_, i) => ({ sum: 2 * i + 1, by: 'python' })));
    expect(results[20]).toMatchObject({ state: 'succeeded', result: 'done', worker: 'python-1' });
    expect(results[21]).toMatchObject({ state: 'failed', error: { type: 'Rejected' } });
  });
});
