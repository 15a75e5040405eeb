// Group commit of single enqueues (a producer's socket): fewer D1 writes, the same answers.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { Env } from '../env.ts';
import { getTaskRow } from '../db/records.ts';
import { groupEnqueuer } from './tasks.ts';

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

/** The test env with D1 writes counted. */
function counting(): { env: Env; writes: () => number } {
  let writes = 0;
  const counted = withBatch((real, statements) => {
    writes++;
    return real(statements);
  });
  return { env: counted, writes: () => writes };
}

describe('groupEnqueuer', () => {
  it('writes tasks that arrive during a write together, and answers each as alone', async () => {
    const { env: counted, writes } = counting();
    const enqueue = groupEnqueuer(counted);
    const queue = `group-${Date.now()}`;
    const key = `key-${queue}`;
    const calls = Array.from({ length: 40 }, (_, i) =>
      enqueue({ task: 't', queue, args: [i], ...(i === 5 || i === 6 ? { idempotencyKey: key } : {}) }),
    );
    const results = await Promise.all(calls);
    // The first went alone; the other 39 waited for it and went in one write.
    expect(writes()).toBe(2);
    expect(results[6]).toEqual({ id: results[5].id, state: 'queued', duplicate: true });
    const ids = results.filter((_, i) => i !== 6).map((r) => r.id);
    expect(new Set(ids).size).toBe(39);
    for (const [i, r] of results.entries()) {
      if (i === 6) continue;
      expect(await getTaskRow(env.DB, r.id)).toMatchObject({ queue, args: JSON.stringify([i]) });
    }
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
    const failed = [enqueue({ task: 't', queue }), enqueue({ task: 't', queue })];
    await expect(failed[0]).rejects.toThrow(/unavailable/);
    await expect(failed[1]).rejects.toThrow(/unavailable/);
    fail = false;
    expect(await enqueue({ task: 't', queue })).toMatchObject({ state: 'queued' });
  });
});
