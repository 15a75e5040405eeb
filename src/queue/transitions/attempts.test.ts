// The attempt log in a real object's SQLite: every way an attempt ends is logged with its worker and times, the last 25 kept.
import { env, runInDurableObject } from 'cloudflare:test';
import { expect, it } from 'vitest';
import { taskSpec } from '../../../test/specs.ts';
import { Sql } from '../../db/sql.ts';
import { migrate } from '../tables.ts';
import * as t from '../transitions.ts';
import { ATTEMPT_LOG_LENGTH } from './attempts.ts';
import { attemptsOf } from '../../api/present.ts';

const T0 = 1_800_000_000_000;

it('logs each ended attempt: retry, expired, released, revoked, succeeded (one ack or many), failed, and keeps the last 25', async () => {
  const stub = env.QUEUES.get(env.QUEUES.newUniqueId());
  await runInDurableObject(stub, (_instance, state) => {
    const sql = new Sql(state.storage.sql);
    migrate(sql);
    const at = <R>(now: number, step: (s: t.Step) => R): R => state.storage.transactionSync(() => t.commit(t.newStep(sql, now, () => 0.5), step));
    const claim = (now: number, worker: string) =>
      at(now, (s) => t.claim(s, { queue: 'unit', worker, region: null, tasks: null, max: 1, leaseSeconds: null, owner: 'o' }))[0];
    const stored = (id: string) => JSON.parse(sql.one<{ attempt_log: string | null }>(`SELECT attempt_log FROM tasks WHERE id = ?`, id)!.attempt_log ?? '[]');
    // The log as the API gives it (times back in epoch ms): a plain ack's success is made from the task's fields.
    const log = (id: string) => {
      const r = sql.one<{ attempt_log: string | null; state: string; attempts: number; worker: string | null; started_at: number | null; finished_at: number | null }>(
        `SELECT attempt_log, state, attempts, worker, started_at, finished_at FROM tasks WHERE id = ?`, id,
      )!;
      const at = (t: string | null) => (t === null ? null : Date.parse(t));
      return attemptsOf(r.attempt_log, { state: r.state, attempts: r.attempts, worker: r.worker, startedAt: r.started_at, finishedAt: r.finished_at })
        .map((e) => ({ ...e, startedAt: at(e.startedAt), finishedAt: at(e.finishedAt) }));
    };
    const spec = (over: Parameters<typeof taskSpec>[0] = {}) => taskSpec({ createdAt: T0, retryDelay: 0, timeout: 10, ...over });

    // One task through a retry, a lease that ran out, a release and an ack.
    const a = spec({ maxRetries: 5 });
    at(T0, (s) => t.deliver(s, [a]));
    let job = claim(T0, 'w1');
    at(T0 + 100, (s) => t.fail(s, job.lease_id!, 'o', { type: 'Boom', message: 'x'.repeat(2000) }, true, 0));
    claim(T0 + 200, 'w2');
    expect(at(T0 + 10_200, (s) => t.expireLeases(s, 10))).toBe(1);
    job = claim(T0 + 10_300, 'w3');
    at(T0 + 10_400, (s) => t.release(s, job.lease_id!, 'o'));
    job = claim(T0 + 10_500, 'w1');
    at(T0 + 10_600, (s) => t.ack(s, job.lease_id!, 'o', '1'));
    const entries = log(a.id);
    expect(entries.map((e: any) => [e.attempt, e.worker, e.outcome, e.startedAt, e.finishedAt])).toEqual([
      [1, 'w1', 'retry', T0, T0 + 100],
      [2, 'w2', 'expired', T0 + 200, T0 + 10_200],
      [3, 'w3', 'released', T0 + 10_300, T0 + 10_400],
      // The released attempt did not count: the next is 3 again.
      [3, 'w1', 'succeeded', T0 + 10_500, T0 + 10_600],
    ]);
    expect(entries[0].error).toEqual({ type: 'Boom', message: 'x'.repeat(500) });
    expect(entries[1].error?.type).toBe('LeaseExpired');
    expect(entries[3].error).toBeNull();

    // Revoked while running, acked through ackMany's plain path, failed for good.
    const [b, c, d] = [spec(), spec(), spec({ maxRetries: 0 })];
    at(T0, (s) => t.deliver(s, [b, c, d]));
    const jb = claim(T0, 'w1');
    const jc = claim(T0, 'w2');
    const jd = claim(T0, 'w3');
    at(T0 + 1, (s) => t.revoke(s, b.id));
    at(T0 + 2, (s) => t.ackMany(s, [{ leaseId: jb.lease_id!, result: '1' }, { leaseId: jc.lease_id!, result: '2' }], 'o'));
    at(T0 + 3, (s) => t.fail(s, jd.lease_id!, 'o', { type: 'Bad', message: 'no' }, true, null));
    expect(log(b.id).map((e: any) => e.outcome)).toEqual(['revoked']);
    expect(log(c.id)).toEqual([{ attempt: 1, worker: 'w2', startedAt: T0, finishedAt: T0 + 2, outcome: 'succeeded', error: null }]);
    // Stored: nothing for a success acked on the plain path; the API's entry is made from the task's fields.
    expect(stored(c.id)).toEqual([]);
    expect(log(d.id).map((e: any) => [e.outcome, e.error])).toEqual([['failed', { type: 'Bad', message: 'no' }]]);

    // A task retried 30 times keeps its last 25 attempts, oldest first.
    const e = spec({ maxRetries: 40 });
    at(T0, (s) => t.deliver(s, [e]));
    for (let i = 0; i < 30; i++) {
      const j = claim(T0 + i, 'w');
      at(T0 + i, (s) => t.fail(s, j.lease_id!, 'o', { type: 'E', message: String(i) }, true, 0));
    }
    const kept = log(e.id);
    expect(kept).toHaveLength(ATTEMPT_LOG_LENGTH);
    expect(kept.map((x: any) => x.attempt)).toEqual(Array.from({ length: 25 }, (_, i) => i + 6));
  });
});
