// QueueObject transitions, run inside a real Durable Object's SQLite with an injected clock.
import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { taskSpec } from '../../test/specs.ts';
import { Sql } from '../db/sql.ts';
import { metricRows } from './reads.ts';
import { migrate } from './tables.ts';
import * as t from './transitions.ts';

const T0 = 1_800_000_000_000;
const spec = (over: Parameters<typeof taskSpec>[0] = {}) => taskSpec({ createdAt: T0, ...over });


/** Runs `fn` against a fresh object's tables, each step in its own transaction at the given time. */
async function withTables(fn: (at: <R>(now: number, step: (s: t.Step) => R) => R, sql: Sql) => void): Promise<void> {
  const stub = env.QUEUES.get(env.QUEUES.newUniqueId());
  await runInDurableObject(stub, (_instance, state) => {
    const sql = new Sql(state.storage.sql);
    migrate(sql);
    fn((now, step) => state.storage.transactionSync(() => t.commit(t.newStep(sql, now, () => 0.5), step)), sql);
  });
}

const claimReq = (over: Partial<t.ClaimRequest> = {}): t.ClaimRequest => ({
  queue: 'unit', worker: 'w', region: null, tasks: null, max: 10, leaseSeconds: null, owner: 'o', ...over,
});

describe('oldestReady', () => {
  it('finds the oldest ready task across lanes and priorities, and null when none is ready', () =>
    withTables((at, sql) => {
      expect(at(T0, (s) => t.oldestReady(s))).toBeNull();
      at(T0, (s) =>
        t.deliver(s, [
          spec({ priority: 9, createdAt: T0 - 10 }),
          spec({ priority: 0, createdAt: T0 - 20 }),
          spec({ region: 'weur', priority: 5, createdAt: T0 - 70 }),
          spec({ region: 'apac', priority: 5, createdAt: T0 - 40 }),
          spec({ priority: 5, createdAt: T0 - 30, eta: T0 + 60_000 }), // scheduled, not ready
        ]),
      );
      expect(at(T0, (s) => t.oldestReady(s))).toBe(T0 - 70);
      // The weur task gone: the oldest is now the apac one.
      const weur = sql.one<{ id: string }>(`SELECT id FROM tasks WHERE ready_at = ?`, T0 - 70)!.id;
      expect(at(T0, (s) => t.revoke(s, weur))).toMatchObject({ ok: true });
      expect(at(T0, (s) => t.oldestReady(s))).toBe(T0 - 40);
    }));
});

describe('deliver', () => {
  it('is idempotent by task id', () =>
    withTables((at, sql) => {
      const a = spec();
      expect(at(T0, (s) => t.deliver(s, [a, a]))).toBe(1);
      expect(at(T0, (s) => t.deliver(s, [a]))).toBe(0);
      expect(sql.all(`SELECT id FROM tasks`)).toHaveLength(1);
    }));

  it('keeps a task revoked before it arrived revoked, and gives it its data', () =>
    withTables((at, sql) => {
      const a = spec();
      expect(at(T0, (s) => t.revoke(s, a.id))).toMatchObject({ ok: true, state: 'revoked' });
      at(T0, (s) => t.deliver(s, [a]));
      expect(sql.one(`SELECT state, task FROM tasks WHERE id = ?`, a.id)).toEqual({ state: 'revoked', task: 'job' });
      expect(at(T0, (s) => t.claim(s, claimReq()))).toEqual([]);
    }));
});

describe('ends that must happen once', () => {
  it('tell the workflow of a task revoked before the bus brought it', () =>
    withTables((at, sql) => {
      const a = spec({ workflowId: 'wf-1', callback: { url: 'https://example.com/cb' } });
      at(T0, (s) => t.revoke(s, a.id));
      at(T0, (s) => t.deliver(s, [a]));
      expect(sql.all(`SELECT task_id, workflow_id, state FROM workflow_outbox`)).toEqual([{ task_id: a.id, workflow_id: 'wf-1', state: 'revoked' }]);
      expect(sql.all(`SELECT task_id FROM callback_outbox`)).toEqual([{ task_id: a.id }]);
      expect(metricRows(sql).counters['final:revoked']).toBe(1);
    }));

  it('expire each of two tasks of one key once, when both are due together', () =>
    withTables((at, sql) => {
      const [a, b] = [spec({ orderingKey: 'k', expiresAt: T0 + 10 }), spec({ orderingKey: 'k', expiresAt: T0 + 10 })];
      at(T0, (s) => t.deliver(s, [a, b]));
      const finished = at(T0 + 10, (s) => {
        t.expireDue(s, 100);
        return s.finished;
      });
      expect([...finished].sort()).toEqual([a.id, b.id].sort());
      expect(metricRows(sql).counters['final:expired']).toBe(2);
    }));

  it('never expire a task that already started: its retry runs', () =>
    withTables((at) => {
      const a = spec({ expiresAt: T0 + 1000, retryDelay: 0 });
      at(T0, (s) => t.deliver(s, [a]));
      const [job] = at(T0, (s) => t.claim(s, claimReq()));
      at(T0 + 10, (s) => t.fail(s, job.lease_id, 'o', { type: 'E', message: 'e' }, true, 5));
      expect(at(T0 + 6000, (s) => t.claim(s, claimReq())).map((j) => [j.id, j.attempts])).toEqual([[a.id, 2]]);
    }));
});

describe('fail', () => {
  it('holds a retry delay that skipped the API\'s checks (a huge Retry-After, Infinity) to a day, and never before now', () =>
    withTables((at) => {
      const delays: number[] = [];
      for (const asked of [1e12, Infinity, -5]) {
        at(T0, (s) => t.deliver(s, [spec({ maxRetries: 3 })]));
        const [job] = at(T0, (s) => t.claim(s, claimReq({ max: 1 })));
        const out = at(T0, (s) => t.fail(s, job.lease_id, 'o', { type: 'Http503', message: 'busy' }, true, asked));
        expect(out).toMatchObject({ ok: true });
        delays.push(((out as { nextAttemptAt?: number }).nextAttemptAt ?? T0) - T0);
      }
      expect(delays[0]).toBe(86_400_000);
      expect(delays[1]).toBeGreaterThan(0); // Infinity: the task's own backoff
      expect(delays[1]).toBeLessThanOrEqual(86_400_000);
      expect(delays[2]).toBe(0);
    }));
});

describe('claim', () => {
  it('keeps region lanes apart', () =>
    withTables((at) => {
      const cn = spec({ region: 'cn' });
      const any = spec();
      const eu = spec({ region: 'weur' });
      at(T0, (s) => t.deliver(s, [cn, any, eu]));
      expect(at(T0, (s) => t.claim(s, claimReq({ region: null }))).map((r) => r.id)).toEqual([any.id]);
      expect(at(T0, (s) => t.claim(s, claimReq({ region: 'cn' }))).map((r) => r.id)).toEqual([cn.id]);
      expect(at(T0, (s) => t.claim(s, claimReq({ region: 'apac' })))).toEqual([]);
    }));

  it('hands a delayed task out only once its time came', () =>
    withTables((at) => {
      const a = spec({ eta: T0 + 5000 });
      at(T0, (s) => t.deliver(s, [a]));
      expect(at(T0 + 4999, (s) => t.claim(s, claimReq()))).toEqual([]);
      expect(at(T0 + 5000, (s) => t.claim(s, claimReq())).map((r) => r.id)).toEqual([a.id]);
    }));

  it('expires a task not started in time instead of handing it out', () =>
    withTables((at, sql) => {
      const a = spec({ expiresAt: T0 + 1000 });
      at(T0, (s) => t.deliver(s, [a]));
      expect(at(T0 + 1000, (s) => t.claim(s, claimReq()))).toEqual([]);
      expect(sql.one(`SELECT state FROM tasks WHERE id = ?`, a.id)).toEqual({ state: 'expired' });
    }));

  it('picks and leases in one statement when no task may have expired, in claim order', () =>
    withTables((at, sql) => {
      const specs = [spec({ priority: 1 }), spec({ priority: 9, eta: T0 - 1000 }), spec({ priority: 9 }), spec({ priority: 9, eta: T0 - 2000 })];
      at(T0, (s) => t.deliver(s, specs));
      const before = sql.statements;
      const jobs = at(T0, (s) => {
        s.scheduledFrom = s.expiresFrom = null; // as the object's alarm knows them: nothing scheduled, nothing expiring
        return t.claim(s, claimReq({ max: 3 }));
      });
      expect(jobs.map((j) => j.id)).toEqual([specs[3].id, specs[1].id, specs[2].id]);
      expect(sql.statements - before).toBe(1); // the lease; its lazy `running` waits in memory (Step.lazy)
    }));

  it('keeps a lane known empty until a task is ready there, or until a step writes rows its writes do not describe', () => {
    const lanes = new t.EmptyLanes();
    const after = (emptied: [string, string][], ready: string[], described: boolean) => {
      const s = t.newStep({} as Sql, T0);
      s.emptied.push(...emptied);
      for (const lane of ready) t.readied(s, lane);
      lanes.settle(s, described);
    };
    const known = () => [lanes.has('', ''), lanes.has('cn', 'a'), lanes.has('cn', '')];
    after([['', ''], ['cn', 'a']], [], true);
    expect(known()).toEqual([true, true, false]);
    after([], ['cn'], true);
    expect(known()).toEqual([true, false, false]);
    after([['cn', 'a']], [], true);
    after([], [], false);
    expect(known()).toEqual([false, false, false]);
    // A lane a step both found empty and made ready stays unknown.
    after([['', '']], [''], true);
    expect(known()).toEqual([false, false, false]);
  });

  it('reads first, and ends a task whose expiry passed, while the object knows one may have', () =>
    withTables((at, sql) => {
      const a = spec({ expiresAt: T0 + 1000 });
      at(T0, (s) => t.deliver(s, [a]));
      expect(at(T0 + 1000, (s) => {
        s.expiresFrom = T0 + 1000;
        return t.claim(s, claimReq());
      })).toEqual([]);
      expect(sql.one(`SELECT state FROM tasks WHERE id = ?`, a.id)).toEqual({ state: 'expired' });
    }));

  it('reads the same few index rows with a large backlog', () =>
    withTables((at, sql) => {
      const many = Array.from({ length: 5000 }, () => spec());
      at(T0, (s) => t.deliver(s, many));
      const plan = sql.all<{ detail: string }>(
        `EXPLAIN QUERY PLAN SELECT id, priority, ready_at, expires_at FROM tasks WHERE phase = 'ready' AND lane = ? ORDER BY priority DESC, ready_at, id LIMIT ?`,
        '', 10,
      );
      expect(plan.map((p) => p.detail).join(' ')).toMatch(/USING INDEX tasks_ready/);
      expect(plan.map((p) => p.detail).join(' ')).not.toMatch(/TEMP B-TREE/);
      expect(at(T0, (s) => t.claim(s, claimReq({ max: 3 }))).map((r) => r.id)).toEqual(many.slice(0, 3).map((m) => m.id));
    }));
});

describe('leases', () => {
  it('refuses calls on an ended lease and changes nothing', () =>
    withTables((at, sql) => {
      const a = spec();
      at(T0, (s) => t.deliver(s, [a]));
      const [job] = at(T0, (s) => t.claim(s, claimReq()));
      expect(at(T0 + 1, (s) => t.ack(s, job.lease_id, 'o', '"first"'))).toEqual({ ok: true, state: 'succeeded' });
      const before = sql.one(`SELECT * FROM tasks WHERE id = ?`, a.id);
      expect(at(T0 + 2, (s) => t.ack(s, job.lease_id, 'o', '"second"'))).toMatchObject({ ok: false, code: 'lease_lost' });
      expect(at(T0 + 2, (s) => t.fail(s, job.lease_id, 'o', { type: 'X', message: 'x' }, true, null))).toMatchObject({ ok: false, code: 'lease_lost' });
      expect(sql.one(`SELECT * FROM tasks WHERE id = ?`, a.id)).toEqual(before);
    }));

  it('refuses another owner with forbidden', () =>
    withTables((at) => {
      at(T0, (s) => t.deliver(s, [spec()]));
      const [job] = at(T0, (s) => t.claim(s, claimReq({ owner: 'alice' })));
      expect(at(T0, (s) => t.ack(s, job.lease_id, 'bob', 'null'))).toMatchObject({ ok: false, code: 'forbidden' });
      expect(at(T0, (s) => t.ack(s, job.lease_id, null, 'null'))).toMatchObject({ ok: true });
    }));

  it('counts an expired lease as a failed attempt and retries after backoff', () =>
    withTables((at, sql) => {
      const a = spec({ timeout: 10, retryDelay: 2 });
      at(T0, (s) => t.deliver(s, [a]));
      const [job] = at(T0, (s) => t.claim(s, claimReq()));
      expect(at(T0 + 9_999, (s) => t.expireLeases(s, 100))).toBe(0);
      expect(at(T0 + 10_000, (s) => t.expireLeases(s, 100))).toBe(1);
      const row = sql.one<t.LiveRow>(`SELECT * FROM tasks WHERE id = ?`, a.id)!;
      expect(row).toMatchObject({ state: 'delayed', attempts: 1, lease_id: null });
      expect(JSON.parse(row.error!).type).toBe('LeaseExpired');
      // backoff(1, 2s, random 0.5) = 1.5 s
      expect(row.ready_at).toBe(T0 + 10_000 + 1500);
      expect(at(T0 + 10_000, (s) => t.ack(s, job.lease_id, 'o', 'null'))).toMatchObject({ ok: false, code: 'lease_lost' });
      expect(at(T0 + 11_500, (s) => t.claim(s, claimReq())).map((r) => r.attempts)).toEqual([2]);
    }));

  it('fails for good after maxRetries + 1 attempts', () =>
    withTables((at, sql) => {
      const a = spec({ maxRetries: 2, retryDelay: 0 });
      at(T0, (s) => t.deliver(s, [a]));
      const outcomes = [];
      for (let i = 0; i < 3; i++) {
        const [job] = at(T0 + i, (s) => t.claim(s, claimReq()));
        outcomes.push(at(T0 + i, (s) => t.fail(s, job.lease_id, 'o', { type: 'E', message: String(i) }, true, null)));
      }
      expect(outcomes.map((o) => (o.ok ? o.state : o.code))).toEqual(['queued', 'queued', 'failed']);
      expect(sql.one(`SELECT phase, attempts FROM tasks WHERE id = ?`, a.id)).toEqual({ phase: 'dead', attempts: 3 });
      expect(at(T0 + 10, (s) => t.replay(s, null, 10))).toBe(1);
      expect(at(T0 + 10, (s) => t.claim(s, claimReq())).map((r) => r.attempts)).toEqual([1]);
    }));
});

describe('ackMany', () => {
  it('gives each lease of a mixed batch the outcome ack would, and counts each end once', () =>
    withTables((at, sql) => {
      const plain = [spec(), spec(), spec()];
      const keyed = spec({ orderingKey: 'k' });
      const inWorkflow = spec({ workflowId: 'wf1' });
      const revoked = spec();
      const short = spec({ timeout: 1 });
      const all = [...plain, keyed, inWorkflow, revoked, short];
      at(T0, (s) => t.deliver(s, all));
      // The leases whose `running` is owed to D1 if still held a second on: the object keeps them (Alarm `lazy`).
      const lazy: [string, string][] = [];
      const jobs = at(T0, (s) => {
        const out = t.claim(s, claimReq({ max: 10 }));
        lazy.push(...s.lazy);
        return out;
      });
      const lease = (id: string) => jobs.find((j) => j.id === id)!.lease_id;
      at(T0, (s) => t.revoke(s, revoked.id));
      const other = at(T0, (s) => t.deliver(s, [spec()]));
      expect(other).toBe(1);
      const [foreign] = at(T0, (s) => {
        const out = t.claim(s, claimReq({ owner: 'someone-else' }));
        lazy.push(...s.lazy);
        return out;
      });
      const out = at(T0 + 1500, (s) =>
        t.ackMany(
          s,
          [
            { leaseId: lease(plain[0].id), result: '"a"' },
            { leaseId: lease(plain[1].id), result: '"b"' },
            { leaseId: lease(plain[0].id), result: '"again"' },
            { leaseId: lease(keyed.id), result: '"k"' },
            { leaseId: lease(inWorkflow.id), result: '"w"' },
            { leaseId: lease(revoked.id), result: '"r"' },
            { leaseId: lease(short.id), result: '"late"' },
            { leaseId: foreign.lease_id, result: '"f"' },
            { leaseId: 'unit.NOSUCHLEASE', result: 'null' },
          ],
          'o',
        ),
      );
      expect(out.map((o) => (o.ok ? o.state : o.code))).toEqual([
        'succeeded', 'succeeded', 'lease_lost', 'succeeded', 'succeeded', 'revoked', 'lease_lost', 'forbidden', 'lease_lost',
      ]);
      const state = (id: string) => sql.one<{ state: string; result: string | null }>(`SELECT state, result FROM tasks WHERE id = ?`, id);
      expect(state(plain[0].id)).toEqual({ state: 'succeeded', result: '"a"' });
      expect(state(plain[1].id)).toEqual({ state: 'succeeded', result: '"b"' });
      expect(state(plain[2].id)?.state).toBe('running');
      expect(state(keyed.id)).toEqual({ state: 'succeeded', result: '"k"' });
      expect(state(revoked.id)?.state).toBe('revoked');
      expect(state(short.id)?.state).toBe('delayed'); // its lease ran out: a failed attempt, retried
      expect(state(foreign.id)?.state).toBe('running');
      // The workflow task's end waits in the outbox for its workflow; every change waits for D1.
      expect(sql.one(`SELECT state, result FROM workflow_outbox WHERE task_id = ?`, inWorkflow.id)).toEqual({ state: 'succeeded', result: '"w"' });
      const logged = new Set(sql.all<{ id: string }>(`SELECT id FROM sync_log`).map((r) => r.id));
      const ids = sql.all<{ id: string }>(`SELECT id FROM tasks`).map((r) => r.id);
      expect(logged).toEqual(new Set(ids));
      // The still running ones' claims wait in memory, by lease, and every claim's: a lease ended by then is skipped.
      expect(lazy).toHaveLength(jobs.length + 1);
      for (const j of [...jobs, foreign]) expect(lazy).toContainEqual([j.id, j.lease_id]);
      const counter = (key: string) => metricRows(sql).counters[key] ?? 0;
      expect(counter('final:succeeded')).toBe(4);
      expect(counter('ack_count')).toBe(4);
      expect(counter('ack_le:2.5')).toBe(4);
      expect(counter('ack_le:1')).toBe(0);
    }));
});

describe('the claim-to-ack histogram', () => {
  it('counts a batch of acks into every bucket each falls within, as acks one by one would', () =>
    withTables((at, sql) => {
      const tasks = [spec(), spec(), spec()];
      at(T0, (s) => t.deliver(s, tasks));
      // Claimed 4 s, 200 ms and 3 ms before one batch acks them all.
      const jobs = [T0, T0 + 3800, T0 + 3997].map((when) => at(when, (s) => t.claim(s, claimReq({ max: 1 })))[0]);
      const out = at(T0 + 4000, (s) => t.ackMany(s, jobs.map((j) => ({ leaseId: j.lease_id, result: 'null' })), 'o'));
      expect(out.every((o) => o.ok)).toBe(true);
      const counters = metricRows(sql).counters;
      const buckets = Object.fromEntries(Object.entries(counters).filter(([k]) => k.startsWith('ack_le:')));
      expect(buckets).toEqual({
        'ack_le:0.005': 1, 'ack_le:0.01': 1, 'ack_le:0.025': 1, 'ack_le:0.05': 1, 'ack_le:0.1': 1,
        'ack_le:0.25': 2, 'ack_le:0.5': 2, 'ack_le:1': 2, 'ack_le:2.5': 2,
        'ack_le:5': 3, 'ack_le:10': 3, 'ack_le:30': 3, 'ack_le:60': 3, 'ack_le:300': 3,
      });
      expect(counters.ack_count).toBe(3);
      expect(counters.ack_sum).toBeCloseTo(4.203, 6);
      expect(counters['final:succeeded']).toBe(3);
    }));
});

describe('ordering keys', () => {
  it('passes the key on in enqueue order when the holder ends, whatever the priority', () =>
    withTables((at) => {
      const [a, b, c] = [spec({ orderingKey: 'k' }), spec({ orderingKey: 'k', priority: 9 }), spec({ orderingKey: 'k' })];
      at(T0, (s) => t.deliver(s, [a, b, c]));
      const order: string[] = [];
      for (let i = 0; i < 3; i++) {
        const jobs = at(T0, (s) => t.claim(s, claimReq()));
        expect(jobs).toHaveLength(1);
        order.push(jobs[0].id);
        at(T0, (s) => t.ack(s, jobs[0].lease_id, 'o', 'null'));
      }
      expect(order).toEqual([a.id, b.id, c.id]);
    }));

  it('passes the key on when the holder is revoked or expires', () =>
    withTables((at) => {
      const [a, b, c] = [spec({ orderingKey: 'k' }), spec({ orderingKey: 'k', expiresAt: T0 + 10 }), spec({ orderingKey: 'k' })];
      at(T0, (s) => t.deliver(s, [a, b, c]));
      at(T0 + 20, (s) => t.revoke(s, a.id));
      expect(at(T0 + 20, (s) => t.claim(s, claimReq())).map((j) => j.id)).toEqual([c.id]);
    }));

  it('hands out, in the same claim, the task that an expiry it met made ready', () =>
    withTables((at) => {
      const [a, b] = [spec({ orderingKey: 'k', expiresAt: T0 + 10 }), spec({ orderingKey: 'k' })];
      at(T0, (s) => t.deliver(s, [a, b]));
      expect(at(T0 + 20, (s) => t.claim(s, claimReq({ max: 10 }))).map((j) => j.id)).toEqual([b.id]);
    }));
});

describe('group keys', () => {
  it('run at most groupLimit tasks of a key at once, others in enqueue order, other keys free', () =>
    withTables((at) => {
      const a = Array.from({ length: 5 }, () => spec({ groupKey: 'tenant-a', groupLimit: 2 }));
      const b = spec({ groupKey: 'tenant-b', groupLimit: 2 });
      at(T0, (s) => t.deliver(s, [...a, b]));
      const first = at(T0, (s) => t.claim(s, claimReq({ max: 10 })));
      expect(first.map((j) => j.id)).toEqual([a[0].id, a[1].id, b.id]);
      expect(at(T0, (s) => t.claim(s, claimReq({ max: 10 })))).toEqual([]);
      at(T0, (s) => t.ack(s, first[0].lease_id, 'o', 'null'));
      expect(at(T0, (s) => t.claim(s, claimReq({ max: 10 }))).map((j) => j.id)).toEqual([a[2].id]);
      // A retry keeps its place: the key stays full while it waits for its backoff.
      at(T0, (s) => t.fail(s, first[1].lease_id, 'o', { type: 'E', message: 'e' }, true, 5));
      expect(at(T0, (s) => t.claim(s, claimReq({ max: 10 })))).toEqual([]);
    }));
});

describe('task-name rate limits', () => {
  it('give a limited name lanes of its own, read only up to its tokens, and move waiting tasks on change', () =>
    withTables((at, sql) => {
      const early = [spec({ task: 'slow' }), spec({ task: 'slow' })];
      at(T0, (s) => t.deliver(s, early));
      at(T0, (s) => t.relane(s, 'slow', true));
      expect(sql.all(`SELECT DISTINCT lane FROM tasks`)).toEqual([{ lane: '#slow' }]);
      const limitedStep = (s: t.Step) => Object.assign(s, { limitedTasks: new Set(['slow']) });
      const later = [spec({ task: 'slow' }), spec({ task: 'fast' }), spec({ task: 'fast' })];
      at(T0, (s) => t.deliver(limitedStep(s), later));
      // With no tokens for "slow", only the others go; with one token, one "slow" goes.
      expect(at(T0, (s) => t.claim(limitedStep(s), claimReq({ max: 10, named: [] }))).map((j) => j.task)).toEqual(['fast', 'fast']);
      expect(at(T0, (s) => t.claim(limitedStep(s), claimReq({ max: 10, named: [{ task: 'slow', max: 1 }] }))).map((j) => j.id)).toEqual([early[0].id]);
      at(T0, (s) => t.relane(s, 'slow', false));
      expect(at(T0, (s) => t.claim(s, claimReq({ max: 10 }))).map((j) => j.id)).toEqual([early[1].id, later[0].id]);
    }));
});

describe('the alarm', () => {
  it('wakes for the earliest of eta, lease expiry and expiry', () =>
    withTables((at) => {
      at(T0, (s) => t.deliver(s, [spec({ eta: T0 + 9000 }), spec({ eta: T0 + 20_000, expiresAt: T0 + 7000 }), spec({ timeout: 5 })]));
      expect(at(T0, (s) => t.nextWakeAt(s, 1e12))).toBe(T0 + 7000);
      expect(at(T0, (s) => t.claim(s, claimReq()))).toHaveLength(1);
      expect(at(T0, (s) => t.nextWakeAt(s, 1e12))).toBe(T0 + 5000);
      expect(at(T0, (s) => t.nextWakeAt(s, 1000))).toBe(T0 + 5000);
    }));
});
