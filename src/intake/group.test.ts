// Group commit of single enqueues (a producer's socket): fewer calls and D1 writes, the same answers.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { Env } from '../env.ts';
import { getTaskRow } from '../db/records.ts';
import { enqueueOne, groupEnqueuer } from './enqueue.ts';
import type { TaskSpec } from '../core/states.ts';
import { until } from '../../test/until.ts';

/** The test env with D1's batch (the write an enqueue makes) replaced by `batch`, which may call the real one. */
function withBatch(batch: (real: D1Database['batch'], statements: D1PreparedStatement[]) => Promise<unknown>): Env {
  const DB = new Proxy(env.DB, {
    get(target, prop) {
      if (prop === 'batch') return (statements: D1PreparedStatement[]) => batch(target.batch.bind(target), statements);
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { ...(env as unknown as Env), DB };
}

/** The test env with D1 writes made here counted, and the calls that hand tasks to an object to record (`take`). */
function counting(options: { takeFails?: boolean; recordedFails?: boolean } = {}): { env: Env; writes: () => number; takes: () => number } {
  let writes = 0;
  let takes = 0;
  const counted = withBatch((real, statements) => {
    writes++;
    return real(statements);
  });
  const queues = env.QUEUES as unknown as Env['QUEUES'];
  const QUEUES = new Proxy(queues, {
    get(target, prop) {
      if (prop === 'get') {
        return (id: DurableObjectId) => {
          const stub = target.get(id);
          return new Proxy(stub, {
            get(s, p) {
              if (p === 'take') {
                return (specs: TaskSpec[], inD1?: boolean) => {
                  takes++;
                  if (options.takeFails) return Promise.reject(new Error('the object is unavailable (test)'));
                  // Taken, and its D1 write (which a caller may wait for) failed.
                  if (options.recordedFails) return s.take(specs).then((out) => ({ ...out, recorded: { ok: false, message: 'D1 is unavailable (test)' } }));
                  return s.take(specs, inD1);
                };
              }
              // An RPC stub's methods are remote: call them on the stub, never `bind` them.
              return (...args: unknown[]) => (s as unknown as Record<string | symbol, (...a: unknown[]) => unknown>)[p](...args);
            },
          });
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { env: { ...counted, QUEUES }, writes: () => writes, takes: () => takes };
}

describe('groupEnqueuer', () => {
  it('hands tasks that arrive together to their object in one call, and answers each as alone; the object writes D1', async () => {
    const { env: counted, writes, takes } = counting();
    const enqueue = groupEnqueuer(counted);
    const queue = `group-${Date.now()}`;
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => enqueue({ task: 't', queue, args: [i] })));
    // The grouper waits a turn of the event loop before a call: all 40 went in one. The object wrote D1.
    expect(takes()).toBe(1);
    expect(writes()).toBe(0);
    expect(new Set(results.map((r) => r.id)).size).toBe(40);
    for (const [i, r] of results.entries()) {
      expect(r).toEqual({ id: r.id, state: 'queued' });
      // The object writes D1 just after its answer.
      expect(await until(() => getTaskRow(env.DB, r.id), (row) => row !== undefined)).toMatchObject({ queue, args: JSON.stringify([i]), state: 'queued' });
    }
  });

  it('writes a group with idempotency keys to D1 first, in one write, repeats answered as repeats', async () => {
    const { env: counted, writes, takes } = counting();
    const enqueue = groupEnqueuer(counted);
    const queue = `group-keys-${Date.now()}`;
    const key = `key-${queue}`;
    const calls = Array.from({ length: 40 }, (_, i) =>
      enqueue({ task: 't', queue, args: [i], ...(i === 5 || i === 6 ? { idempotencyKey: key } : {}) }),
    );
    const results = await Promise.all(calls);
    // All 40 went in one group: with keys in it, one D1 write first, then to the object (no take).
    expect(takes()).toBe(0);
    expect(writes()).toBe(1);
    expect(results[6]).toEqual({ id: results[5].id, state: 'queued', duplicate: true });
    const ids = results.filter((_, i) => i !== 6).map((r) => r.id);
    expect(new Set(ids).size).toBe(39);
    for (const [i, r] of results.entries()) {
      if (i === 6) continue;
      expect(await getTaskRow(env.DB, r.id)).toMatchObject({ queue, args: JSON.stringify([i]) });
    }
  });

  it('records the tasks itself when their object could not, and hands them over as recorded', async () => {
    const { env: counted, writes, takes } = counting({ takeFails: true });
    const enqueue = groupEnqueuer(counted);
    const queue = `group-fallback-${Date.now()}`;
    const result = await enqueue({ task: 't', queue, args: ['x'] });
    expect(result.state).toBe('queued');
    expect([takes(), writes()]).toEqual([1, 1]);
    expect(await getTaskRow(env.DB, result.id)).toMatchObject({ queue, args: '["x"]' });
    // Delivered to its object, which confirms it to D1 (the redelivery sweep's sign).
    const stub = env.QUEUES.getByName(queue);
    const jobs = await stub.claim({ queue, worker: 'w', region: null, tasks: null, max: 10, leaseSeconds: null, owner: null }, 0);
    expect(jobs.map((j) => j.id)).toEqual([result.id]);
  });

  it('writes D1 itself for an HTTP enqueue whose object took the task but could not record it, and answers 2xx', async () => {
    const { env: counted, writes } = counting({ recordedFails: true });
    const queue = `http-late-${Date.now()}`;
    const result = await enqueueOne(counted, { task: 't', queue, args: ['y'] });
    expect(result.state).toBe('queued');
    expect(writes()).toBe(1);
    expect(await getTaskRow(env.DB, result.id)).toMatchObject({ queue, args: '["y"]' });
  });

  it('refuses a bad task on its own, before any write', async () => {
    const { env: counted, writes } = counting();
    const enqueue = groupEnqueuer(counted);
    await expect(enqueue({ task: 't', queue: 'q', priority: 'high' })).rejects.toThrow(/priority/);
    expect(writes()).toBe(0);
  });

  it('fails every task of a group whose write failed, and goes on with the next', async () => {
    let fail = true;
    const enqueue = groupEnqueuer(
      withBatch((real, statements) => (fail ? Promise.reject(new Error('D1 is unavailable (test)')) : real(statements))),
    );
    const queue = `group-fail-${Date.now()}`;
    // Tasks with keys are the ones this Worker writes to D1 itself.
    const keyed = (n: number) => ({ task: 't', queue, idempotencyKey: `${queue}-${n}` });
    const failed = [enqueue(keyed(1)), enqueue(keyed(2))];
    await expect(failed[0]).rejects.toThrow(/unavailable/);
    await expect(failed[1]).rejects.toThrow(/unavailable/);
    fail = false;
    expect(await enqueue(keyed(3))).toMatchObject({ state: 'queued' });
  });
});
