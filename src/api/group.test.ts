// Group commit of single enqueues (a producer's socket): fewer D1 writes, the same answers.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { Env } from '../env.ts';
import { getTaskRow } from '../db/records.ts';
import { groupEnqueuer } from './tasks.ts';

/** The test env with D1 writes counted. */
function counting(): { env: Env; writes: () => number } {
  let writes = 0;
  const db = env.DB;
  const DB = new Proxy(db, {
    get(target, prop) {
      if (prop === 'batch') {
        return (statements: D1PreparedStatement[]) => {
          writes++;
          return target.batch(statements);
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { env: { ...(env as unknown as Env), DB }, writes: () => writes };
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
    const { env: counted } = counting();
    let fail = true;
    const DB = new Proxy(counted.DB, {
      get(target, prop) {
        if (prop === 'batch') {
          return (statements: D1PreparedStatement[]) => {
            if (fail) return Promise.reject(new Error('D1 is unavailable (test)'));
            return target.batch(statements);
          };
        }
        const value = Reflect.get(target, prop);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const enqueue = groupEnqueuer({ ...counted, DB });
    const queue = `group-fail-${Date.now()}`;
    const failed = [enqueue({ task: 't', queue }), enqueue({ task: 't', queue })];
    await expect(failed[0]).rejects.toThrow(/unavailable/);
    await expect(failed[1]).rejects.toThrow(/unavailable/);
    fail = false;
    expect(await enqueue({ task: 't', queue })).toMatchObject({ state: 'queued' });
  });
});
