// purgeWaiting in a real object's SQLite: batches that add up, running tasks kept, keys never passed on mid-purge.
import { env, runInDurableObject } from 'cloudflare:test';
import { expect, it } from 'vitest';
import { taskSpec } from '../../../test/specs.ts';
import { Sql } from '../../db/sql.ts';
import { migrate } from '../tables.ts';
import * as t from '../transitions.ts';
import { WAITING } from './purge.ts';

const T0 = 1_800_000_000_000;

it('ends every waiting task revoked over several bounded batches, and leaves the running one', async () => {
  const stub = env.QUEUES.get(env.QUEUES.newUniqueId());
  await runInDurableObject(stub, (_instance, state) => {
    const sql = new Sql(state.storage.sql);
    migrate(sql);
    const at = <R>(step: (s: t.Step) => R): R => state.storage.transactionSync(() => t.commit(t.newStep(sql, T0, () => 0.5), step));
    const spec = (over: Parameters<typeof taskSpec>[0] = {}) => taskSpec({ createdAt: T0, ...over });
    const running = spec({ task: 'first' });
    at((s) => t.deliver(s, [running]));
    expect(at((s) => t.claim(s, { queue: 'unit', worker: 'w', region: null, tasks: null, max: 1, leaseSeconds: null, owner: null }))).toHaveLength(1);
    at((s) =>
      t.deliver(s, [
        ...Array.from({ length: 8 }, () => spec()),
        ...Array.from({ length: 5 }, () => spec({ region: 'cn' })),
        ...Array.from({ length: 6 }, () => spec({ eta: T0 + 60_000 })),
        // One key: one ready, five blocked behind it.
        ...Array.from({ length: 6 }, () => spec({ orderingKey: 'k' })),
        spec({ workflowId: 'wf-1' }),
      ]),
    );
    const waiting = 26;
    let purged = 0;
    for (let batch = 0; batch < 10; batch++) {
      const out = at((s) => ({ ...t.purgeWaiting(s, 10), readied: s.readyCount }));
      expect(out.purged).toBeLessThanOrEqual(10);
      purged += out.purged;
      // No task of the key was handed its place mid-purge, to be woken for and claimed.
      expect(out.readied).toBe(0);
      if (!out.more) break;
    }
    expect(purged).toBe(waiting);
    const states = sql.all<{ state: string; n: number }>(`SELECT state, COUNT(*) AS n FROM tasks GROUP BY state ORDER BY state`);
    expect(states).toEqual([{ state: 'revoked', n: waiting }, { state: 'running', n: 1 }]);
    // Each change goes to D1 with the next write; the workflow hears of its task's end.
    expect(sql.one<{ n: number }>(`SELECT COUNT(DISTINCT id) AS n FROM sync_log`)!.n).toBeGreaterThanOrEqual(waiting);
    expect(sql.all(`SELECT workflow_id, state FROM workflow_outbox`)).toEqual([{ workflow_id: 'wf-1', state: 'revoked' }]);
    expect(at((s) => t.purgeWaiting(s, 10))).toEqual({ purged: 0, more: false });
  });
});

it('says there is no more when the last batch took exactly what waited', async () => {
  const stub = env.QUEUES.get(env.QUEUES.newUniqueId());
  await runInDurableObject(stub, (_instance, state) => {
    const sql = new Sql(state.storage.sql);
    migrate(sql);
    const at = <R>(step: (s: t.Step) => R): R => state.storage.transactionSync(() => t.commit(t.newStep(sql, T0, () => 0.5), step));
    at((s) => t.deliver(s, Array.from({ length: 10 }, () => taskSpec({ createdAt: T0 }))));
    expect(at((s) => t.purgeWaiting(s, 10))).toEqual({ purged: 10, more: false });
  });
});

it('reads each kind of waiting task through an index, never by scanning the table', async () => {
  const stub = env.QUEUES.get(env.QUEUES.newUniqueId());
  await runInDurableObject(stub, (_instance, state) => {
    const sql = new Sql(state.storage.sql);
    migrate(sql);
    for (const where of WAITING) {
      const plan = sql.all<{ detail: string }>(`EXPLAIN QUERY PLAN SELECT id FROM tasks WHERE ${where} LIMIT 10`).map((r) => r.detail).join('; ');
      expect(plan, where).toMatch(/USING (COVERING )?INDEX tasks_(ordering|scheduled|ready)/);
    }
  });
});
