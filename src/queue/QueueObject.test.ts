// The QueueObject as a whole: D1 sync (including a failed write), the alarm (including firing twice), waiters.
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { taskSpec } from '../../test/specs.ts';
import { patchD1 } from '../../test/object-d1.ts';
import { until } from '../../test/until.ts';
import { getTaskRow, recordTasks, undeliveredSpecs } from '../db/records.ts';
import type { QueueObject } from './QueueObject.ts';
import { Sql } from '../db/sql.ts';
import { migrate } from './tables.ts';
import { Store } from './store.ts';
import { LAZY_RUNNING_MS } from './transitions.ts';


/** A worker's claim request, as the tests here make it. */
const claimReq = (over = {}) => ({ queue: 'unit', worker: 'w', region: null, tasks: null, max: 10, leaseSeconds: null, owner: null, ...over });
const claim = (stub: DurableObjectStub<QueueObject>, over = {}) => stub.claim(claimReq(over), 0);


/** Records the SQL of every statement the object runs, until the function it returns is called. */
function recordStatements(instance: QueueObject, seen: string[]): () => void {
  const sql = (instance as unknown as { store: { sql: { storage: SqlStorage } } }).store.sql;
  const storage = sql.storage;
  sql.storage = { exec: (query: string, ...params: SqlStorageValue[]) => (seen.push(query), storage.exec(query, ...params)) } as SqlStorage;
  return () => void (sql.storage = storage);
}

/** `take`, which must not refuse. */
async function take(stub: DurableObjectStub<QueueObject>, specs: ReturnType<typeof taskSpec>[]) {
  const out = await stub.take(specs);
  if ('refused' in out) throw new Error(`take refused: ${out.refused}`);
  return out;
}

/** Runs `fn` while recording the UTF-8 size of every string bound to a D1 statement. */
async function boundSizes(stub: DurableObjectStub<QueueObject>, fn: () => Promise<void>): Promise<number[]> {
  const sizes: number[] = [];
  const restore = await patchD1(stub, {
    bound: (values) => {
      for (const v of values) if (typeof v === 'string') sizes.push(new TextEncoder().encode(v).byteLength);
    },
  });
  try {
    await fn();
  } finally {
    restore();
  }
  return sizes;
}

/**
 * Fails the first `times` D1 batches that carry task `id`, counting every one. Other objects'
 * lazy writes may fall due meanwhile: only this task's batches count.
 */
async function failingD1(stub: DurableObjectStub<QueueObject>, id: string, times: number) {
  const out = { calls: 0, restore: () => {} };
  const ours = new WeakSet<D1PreparedStatement>();
  out.restore = await patchD1(stub, {
    bound: (values, statement) => {
      if (values.some((v) => typeof v === 'string' && v.includes(id))) ours.add(statement);
    },
    batch: async (statements, send) => {
      if (statements.some((st) => ours.has(st)) && out.calls++ < times) throw new Error('D1 is unavailable (test)');
      return send(statements);
    },
  });
  return out;
}

/** A task of the named object that failed for good at its first claim, once D1 has it failed. */
async function diedAtClaim(name: string) {
  const stub = env.QUEUES.getByName(name);
  const a = taskSpec({ maxRetries: 0 });
  await recordTasks(env.DB, [a]);
  await stub.deliver([a]);
  const [job] = await claim(stub);
  await stub.fail(job.lease_id, null, { type: 'E', message: 'no' }, false, null);
  await until(() => getTaskRow(env.DB, a.id), (r) => r?.state === 'failed');
  return { stub, a };
}

describe('D1 sync', () => {
  it('writes the final state and result to D1 after an ack', async () => {
    const stub = env.QUEUES.getByName('sync-a');
    const a = taskSpec();
    await recordTasks(env.DB, [a]);
    await stub.deliver([a]);
    const [job] = await claim(stub);
    expect(await stub.ack(job.lease_id, null, '{"ok":true}')).toEqual({ ok: true, state: 'succeeded' });
    const row = await until(() => getTaskRow(env.DB, a.id), (r) => r?.state === 'succeeded');
    expect(row).toMatchObject({ state: 'succeeded', result: '{"ok":true}', attempts: 1, worker: 'w' });
    expect(row!.version).toBeGreaterThan(0);
  });

  it('confirms an arrival to D1 by its version, and writes the state when it differs from the record', async () => {
    const stub = env.QUEUES.getByName('sync-arrivals');
    const now = Date.now();
    const plain = taskSpec();
    const later = taskSpec({ eta: now + 60_000 });
    const due = taskSpec({ eta: now + 50 }); // recorded delayed, delivered once its eta has passed
    await recordTasks(env.DB, [plain, later, due], now);
    expect((await getTaskRow(env.DB, due.id))?.state).toBe('delayed');
    await new Promise((r) => setTimeout(r, 80));
    await stub.deliver([plain, later, due]);
    for (const [spec, state] of [[plain, 'queued'], [later, 'delayed'], [due, 'queued']] as const) {
      const row = await until(() => getTaskRow(env.DB, spec.id), (r) => (r?.version ?? 0) > 0);
      expect(row).toMatchObject({ version: 1, state, attempts: 0 });
    }
  });

  it('writes results too large for one D1 parameter, quotes and non-ASCII text intact', async () => {
    const stub = env.QUEUES.getByName('sync-large');
    const specs = Array.from({ length: 12 }, () => taskSpec());
    await recordTasks(env.DB, specs);
    await stub.deliver(specs);
    const jobs = await claim(stub, { max: 12 });
    expect(jobs).toHaveLength(12);
    // 12 results of ~120 KiB of JSON (~1.4 MB) cannot travel as one parameter of at most 2 MB
    // once escaped: quotes double, and each "é" is two bytes.
    const results = jobs.map((j, i) => JSON.stringify({ i, text: `"é${i}`.repeat(30_000) }));
    const bound = await boundSizes(stub, async () => {
      const acked = await stub.ackMany(jobs.map((j, i) => ({ leaseId: j.lease_id, result: results[i] })), null);
      expect(acked.map((a) => a.ok && a.state)).toEqual(jobs.map(() => 'succeeded'));
      for (const [i, j] of jobs.entries()) {
        const row = await until(() => getTaskRow(env.DB, j.id), (r) => r?.state === 'succeeded');
        expect(row?.result).toBe(results[i]);
      }
    });
    expect(Math.max(...bound)).toBeLessThan(2_000_000);
    expect(bound.reduce((a, b) => a + b, 0)).toBeGreaterThan(2_000_000);
  });

  it('writes a task that ends soon after its claim once, and a longer running one as running', async () => {
    const stub = env.QUEUES.getByName('sync-lazy');
    const [quick, slow] = [taskSpec(), taskSpec()];
    await recordTasks(env.DB, [quick, slow]);
    const written: string[][] = [];
    // Other objects' waiting writes may fall due meanwhile: only batches naming these tasks count.
    const ours = new WeakSet<D1PreparedStatement>();
    const restore = await patchD1(stub, {
      bound: (values, statement) => {
        if (values.some((v) => typeof v === 'string' && (v.includes(quick.id) || v.includes(slow.id)))) ours.add(statement);
      },
      batch: async (statements, send) => {
        const out = await send(statements);
        if (statements.some((st) => ours.has(st))) {
          written.push(await Promise.all([quick.id, slow.id].map(async (id) => (await getTaskRow(env.DB, id))!.state)));
        }
        return out;
      },
    });
    try {
      await stub.deliver([quick, slow]);
      await until(async () => written.length, (n) => n > 0); // the delivery, written at once (and seen by the hook)
      written.length = 0;
      const jobs = await claim(stub, { max: 2 });
      const started = Date.now();
      const job = jobs.find((j) => j.id === quick.id)!;
      await new Promise((r) => setTimeout(r, 200)); // long past the 25 ms a write waits for company
      await stub.ack(job.lease_id, null, 'null');
      await until(() => getTaskRow(env.DB, quick.id), (r) => r?.state === 'succeeded');
      // D1 learnt of the quick task's end without a write of its `running` before.
      expect(written.map((w) => w[0])).toEqual(['succeeded']);
      // The alarm is set for when the slow task's `running` falls due, not a retry interval later.
      const alarm = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
      expect(alarm).toBeLessThanOrEqual(started + LAZY_RUNNING_MS + 100);
      const row = await until(() => getTaskRow(env.DB, slow.id), (r) => r?.state === 'running', 6000);
      expect(row?.state).toBe('running');
      expect(Date.now() - started).toBeGreaterThanOrEqual(LAZY_RUNNING_MS - 50);
    } finally {
      restore();
    }
  }, 10_000);

  it('does not hold back the write of a replay behind the lazy running of its next claim', async () => {
    const { stub, a } = await diedAtClaim('sync-replay');
    expect(await stub.replay([a.id])).toBe(1);
    expect(await claim(stub)).toHaveLength(1);
    // D1's final `failed` is what a read by id trusts: it must go well before the lazy second.
    const row = await until(() => getTaskRow(env.DB, a.id), (r) => r?.state !== 'failed', LAZY_RUNNING_MS / 2);
    expect(row?.state).toBe('running');
  });

  it('writes a hundred large results whose rows together are too big for one SQLite string', async () => {
    const stub = env.QUEUES.getByName('sync-toobig');
    const specs = Array.from({ length: 100 }, () => taskSpec());
    await recordTasks(env.DB, specs);
    await stub.deliver(specs);
    const jobs = await claim(stub, { max: 100 });
    expect(jobs).toHaveLength(100);
    // 100 results of 120 KiB: 12 MB of rows, past SQLite's string limit (2 MB on Cloudflare,
    // several times that locally) if read as one.
    const results = jobs.map((j, i) => JSON.stringify(`${i}:${'r'.repeat(120 * 1024)}`));
    const acked = await stub.ackMany(jobs.map((j, i) => ({ leaseId: j.lease_id, result: results[i] })), null);
    expect(acked.every((a) => a.ok)).toBe(true);
    for (const [i, j] of jobs.entries()) {
      const row = await until(() => getTaskRow(env.DB, j.id), (r) => r?.state === 'succeeded', 10_000);
      expect(row?.result).toBe(results[i]);
    }
  }, 30_000);

  it('sends a result too large to share a D1 parameter alone', async () => {
    const stub = env.QUEUES.getByName('sync-huge');
    const specs = Array.from({ length: 4 }, () => taskSpec());
    await recordTasks(env.DB, specs);
    await stub.deliver(specs);
    const jobs = await claim(stub, { max: 4 });
    // Three results of ~250 KB of JSON once escaped twice, then one of ~1.65 MB: together over 2 MB.
    const results = jobs.map((j, i) => JSON.stringify(`"${i}`.repeat(i < 3 ? 50_000 : 330_000)));
    const bound = await boundSizes(stub, async () => {
      await stub.ackMany(jobs.map((j, i) => ({ leaseId: j.lease_id, result: results[i] })), null);
      for (const [i, j] of jobs.entries()) {
        const row = await until(() => getTaskRow(env.DB, j.id), (r) => r?.state === 'succeeded');
        expect(row?.result).toBe(results[i]);
      }
    });
    expect(Math.max(...bound)).toBeGreaterThan(1_000_000);
    expect(Math.max(...bound)).toBeLessThan(2_000_000);
  });

  it('keeps a change made while a D1 write is in flight, and writes it next', async () => {
    const stub = env.QUEUES.getByName('sync-inflight');
    const a = taskSpec();
    await recordTasks(env.DB, [a]);
    let open = () => {};
    const gate = new Promise<void>((r) => (open = r));
    let calls = 0;
    const restore = await patchD1(stub, {
      batch: async (statements, send) => {
        if (calls++ === 0) await gate; // the delivery's write, held in flight
        return send(statements);
      },
    });
    try {
      await stub.deliver([a]);
      await until(async () => calls, (n) => n === 1);
      const [job] = await claim(stub);
      await stub.ack(job.lease_id, null, '"done"');
      open();
      const row = await until(() => getTaskRow(env.DB, a.id), (r) => r?.state === 'succeeded');
      expect(row).toMatchObject({ state: 'succeeded', result: '"done"' });
    } finally {
      restore();
    }
  });

  /**
   * Holds the object's first D1 write while `meanwhile` runs, then lets the writes go and returns
   * the object's statements from then until D1 has `ready`: both logs hold something at once.
   */
  async function bothLogs(stub: DurableObjectStub<QueueObject>, first: ReturnType<typeof taskSpec>, meanwhile: () => Promise<void>, ready: () => Promise<boolean>) {
    let open = () => {};
    const gate = new Promise<void>((r) => (open = r));
    let calls = 0;
    const restore = await patchD1(stub, {
      batch: async (statements, send) => {
        if (calls++ === 0) await gate;
        return send(statements);
      },
    });
    const seen: string[] = [];
    let unwatch = () => {};
    try {
      await take(stub, [first]);
      await until(async () => calls, (n) => n === 1);
      await meanwhile();
      await runInDurableObject(stub, (instance) => void (unwatch = recordStatements(instance, seen)));
      open();
      await until(ready, (done) => done, 20_000);
    } finally {
      open();
      unwatch();
      restore();
    }
    return seen;
  }

  it('reads its two logs in one statement when both hold something, and writes what each holds', async () => {
    const stub = env.QUEUES.getByName('sync-both');
    const [a, b] = [taskSpec(), taskSpec({ args: '[7]' })];
    const seen = await bothLogs(
      stub,
      a,
      async () => {
        // While the write of a's insert is in flight: a ends (the change log) and b comes (the insert log).
        const [job] = await claim(stub);
        await stub.ack(job.lease_id, null, '"a done"');
        await take(stub, [b]);
      },
      async () => (await getTaskRow(env.DB, a.id))?.state === 'succeeded' && (await getTaskRow(env.DB, b.id)) !== undefined,
    );
    expect(await getTaskRow(env.DB, a.id)).toMatchObject({ state: 'succeeded', result: '"a done"' });
    expect(await getTaskRow(env.DB, b.id)).toMatchObject({ state: 'queued', args: '[7]', version: 1 });
    const reads = seen.filter((q) => /^\s*(WITH|SELECT)/.test(q) && /FROM sync_(insert|log)\b/.test(q));
    expect(reads).toHaveLength(1);
    expect(reads[0]).toMatch(/FROM sync_insert/);
    expect(reads[0]).toMatch(/FROM sync_log/);
  });

  it('writes both logs when their changes together are too big for one SQLite string', async () => {
    const stub = env.QUEUES.getByName('sync-both-toobig');
    const [a, b] = [taskSpec(), taskSpec({ args: '[8]' })];
    const many = Array.from({ length: 100 }, () => taskSpec());
    // As in the test of a hundred large results: 12 MB of rows, past SQLite's string limit.
    const results = many.map((_, i) => JSON.stringify(`${i}:${'r'.repeat(120 * 1024)}`));
    let claimed = 0;
    await bothLogs(
      stub,
      a,
      async () => {
        await take(stub, many);
        const jobs = await claim(stub, { max: 101 });
        const acked = await stub.ackMany(jobs.map((j) => ({ leaseId: j.lease_id, result: j.id === a.id ? 'null' : results[many.findIndex((t) => t.id === j.id)] })), null);
        expect(acked.every((r) => r.ok)).toBe(true);
        claimed = jobs.length;
        await take(stub, [b]);
      },
      async () => (await getTaskRow(env.DB, b.id)) !== undefined && (await getTaskRow(env.DB, many[99].id))?.state === 'succeeded',
    );
    expect(claimed).toBe(101);
    for (const [i, t] of many.entries()) expect((await getTaskRow(env.DB, t.id))?.result).toBe(results[i]);
    expect(await getTaskRow(env.DB, b.id)).toMatchObject({ state: 'queued', args: '[8]' });
  }, 30_000);

  // Tables of waiting changes that objects made by earlier versions may still hold.
  it.each([
    ['sync_outbox', `CREATE TABLE sync_outbox (id TEXT PRIMARY KEY, version INTEGER NOT NULL, due_at INTEGER NOT NULL DEFAULT 0)`],
    ['sync_later', `CREATE TABLE sync_later (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, version INTEGER NOT NULL, due_at INTEGER NOT NULL)`],
  ])('writes the changes an object left in %s, still owed D1', async (table, create) => {
    const stub = env.QUEUES.getByName(`sync-old-${table}`);
    const a = taskSpec();
    await recordTasks(env.DB, [a]);
    await stub.deliver([a]);
    await until(() => getTaskRow(env.DB, a.id), (r) => (r?.version ?? 0) > 0);
    await runInDurableObject(stub, (_i, state) => {
      const sql = new Sql(state.storage.sql);
      // As such an object left it: a change recorded in that table, not yet written.
      sql.run(`UPDATE tasks SET phase = 'done', state = 'revoked', finished_at = ?, version = version + 1 WHERE id = ?`, Date.now(), a.id);
      sql.run(create);
      sql.run(`INSERT INTO ${table} (id, version, due_at) SELECT id, version, 0 FROM tasks WHERE id = ?`, a.id);
      migrate(sql);
      expect(sql.one(`SELECT 1 FROM sqlite_master WHERE name = ?`, table)).toBeUndefined();
    });
    await runDurableObjectAlarm(stub);
    const row = await until(() => getTaskRow(env.DB, a.id), (r) => r?.state === 'revoked');
    expect(row?.state).toBe('revoked');
  });

  it('purges a dead letter D1 has, even when it died within a second of its claim', async () => {
    const { stub, a } = await diedAtClaim('sync-purge-fresh');
    // The claim's `running` still waits for its second; D1 has the task's last change all the same.
    expect(await stub.purgeDead([a.id])).toBe(1);
  });

  it('purges a dead letter at once after its failure, D1 having its end first', async () => {
    const stub = env.QUEUES.getByName('sync-purge-at-once');
    const a = taskSpec({ maxRetries: 0 });
    await recordTasks(env.DB, [a]);
    await stub.deliver([a]);
    const [job] = await claim(stub);
    await stub.fail(job.lease_id, null, { type: 'E', message: 'no' }, false, null);
    expect(await stub.purgeDead([a.id])).toBe(1);
    expect(await stub.dead(10)).toEqual([]);
    expect(await getTaskRow(env.DB, a.id)).toMatchObject({ state: 'failed', attempts: 1 });
  });

  it('keeps a dead letter whose end D1 has not taken while its writes fail, and purges it once they work', async () => {
    const stub = env.QUEUES.getByName('sync-purge-failing');
    const a = taskSpec({ maxRetries: 0 });
    await recordTasks(env.DB, [a]);
    const d1 = await failingD1(stub, a.id, Infinity);
    try {
      await stub.deliver([a]);
      const [job] = await claim(stub);
      await stub.fail(job.lease_id, null, { type: 'E', message: 'no' }, false, null);
      await until(async () => d1.calls, (n) => n >= 1);
      expect(await stub.purgeDead([a.id])).toBe(0);
      expect((await stub.dead(10)).map((d) => d.id)).toEqual([a.id]);
    } finally {
      d1.restore();
    }
    await runDurableObjectAlarm(stub); // the retry, unless it has fired on its own already
    await until(() => getTaskRow(env.DB, a.id), (r) => r?.state === 'failed');
    expect(await stub.purgeDead([a.id])).toBe(1);
  });

  it('keeps changes through a failed D1 write and writes them on the next alarm', async () => {
    const stub = env.QUEUES.getByName('sync-b');
    const a = taskSpec();
    await recordTasks(env.DB, [a]);
    const d1 = await failingD1(stub, a.id, 1);
    try {
      await stub.deliver([a]);
      const [job] = await claim(stub);
      await stub.ack(job.lease_id, null, 'null');
      await until(async () => d1.calls, (n) => n >= 1);
      await new Promise((r) => setTimeout(r, 100)); // no second write right after the failed one
      expect(d1.calls).toBe(1);
      // The alarm retries the write. Run it now, unless a busy machine let its interval pass and it fired already.
      await runDurableObjectAlarm(stub);
      const row = await until(() => getTaskRow(env.DB, a.id), (r) => (r?.version ?? 0) > 0);
      expect(row!.version).toBeGreaterThan(0);
      expect(d1.calls).toBe(2);
    } finally {
      d1.restore();
    }
  });

  it('wakes for a waiting change when it falls due, also while D1 writes are failing', async () => {
    const stub = env.QUEUES.getByName('sync-wake-failing');
    const a = taskSpec();
    await recordTasks(env.DB, [a]);
    const d1 = await failingD1(stub, a.id, Infinity);
    try {
      await stub.deliver([a]);
      await claim(stub);
      const claimed = Date.now();
      await until(async () => d1.calls, (n) => n >= 1);
      // The failed delivery is retried after an interval; the claim's `running` falls due sooner.
      const alarm = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
      expect(alarm).toBeLessThanOrEqual(claimed + LAZY_RUNNING_MS + 100);
    } finally {
      d1.restore();
    }
  });
});

describe('taking tasks D1 has no record of', () => {
  it('hands them out at once, before D1 holds them, and writes D1 on their own', async () => {
    const stub = env.QUEUES.getByName('take-claimable');
    const a = taskSpec({ args: '[1,"x"]' });
    // D1's writes for this task are held until the claim below has it.
    let release = () => {};
    const held = new Promise<void>((r) => (release = r));
    const ours = new WeakSet<D1PreparedStatement>();
    const restore = await patchD1(stub, {
      bound: (values, statement) => {
        if (values.some((v) => typeof v === 'string' && v.includes(a.id))) ours.add(statement);
      },
      batch: async (statements, send) => {
        if (statements.some((st) => ours.has(st))) await held;
        return send(statements);
      },
    });
    try {
      const taken = await take(stub, [a]);
      expect(taken.added).toBe(1);
      const [job] = await claim(stub);
      expect(job.id).toBe(a.id);
      expect(await getTaskRow(env.DB, a.id)).toBeUndefined();
      release();
      // D1 has the whole task, and the claim that came before the write.
      const recorded = await until(() => getTaskRow(env.DB, a.id), (r) => r !== undefined);
      expect(recorded).toMatchObject({ queue: 'unit', task: 'job', args: '[1,"x"]', maxRetries: 3 });
      await stub.ack(job.lease_id, null, '"done"');
      const row = await until(() => getTaskRow(env.DB, a.id), (r) => r?.state === 'succeeded');
      expect(row).toMatchObject({ state: 'succeeded', result: '"done"' });
    } finally {
      release();
      restore();
    }
  });

  it('writes a take to D1 on its own, with no caller waiting for the write', async () => {
    const stub = env.QUEUES.getByName('take-recorded');
    const a = taskSpec({ args: '[2]' });
    expect(await stub.take([a])).toMatchObject({ added: 1 });
    expect(await until(() => getTaskRow(env.DB, a.id), (r) => r !== undefined)).toMatchObject({ queue: 'unit', args: '[2]', version: 1 });
    // A repeat is taken once: nothing added, D1 has it already.
    expect(await stub.take([a])).toMatchObject({ added: 0 });
  });

  it('answers a take that asks for it once D1 holds the tasks, in the same call', async () => {
    const stub = env.QUEUES.getByName('take-recorded-call');
    const a = taskSpec({ args: '[3]' });
    expect(await stub.take([a], true)).toMatchObject({ added: 1, recorded: { ok: true } });
    expect(await getTaskRow(env.DB, a.id)).toMatchObject({ queue: 'unit', args: '[3]' });
  });

  it('records its tasks in D1 as delivered, so the redelivery sweep leaves them, one the hub recorded first too', async () => {
    const stub = env.QUEUES.getByName('take-confirmed');
    const [a, b] = [taskSpec(), taskSpec()];
    await recordTasks(env.DB, [b]); // the hub's own write, as when a take did not answer
    expect((await getTaskRow(env.DB, b.id))?.version).toBe(0);
    expect((await take(stub, [a, b])).added).toBe(2);
    for (const t of [a, b]) expect(await until(() => getTaskRow(env.DB, t.id), (r) => r?.version === 1)).toMatchObject({ version: 1, state: 'queued', attempts: 0 });
    const undelivered = await undeliveredSpecs(env.DB, Date.now() + 1, { createdAt: 0, id: '' }, 10_000);
    expect(undelivered.map((t) => t.id)).not.toContain(a.id);
    expect(undelivered.map((t) => t.id)).not.toContain(b.id);
  });

  it('shares one write among the enqueues that come while a write is in flight (group commit)', async () => {
    const stub = env.QUEUES.getByName('take-group-commit');
    const [a, b, c] = [taskSpec(), taskSpec(), taskSpec()];
    let release = () => {};
    const held = new Promise<void>((r) => (release = r));
    const carrying = new Map<D1PreparedStatement, string[]>();
    const writes: string[][] = [];
    const restore = await patchD1(stub, {
      bound: (values, statement) => {
        const ids = [a, b, c].filter((t) => values.some((v) => typeof v === 'string' && v.includes(t.id))).map((t) => t.id);
        if (ids.length) carrying.set(statement, ids);
      },
      batch: async (statements, send) => {
        const ids = statements.flatMap((st) => carrying.get(st) ?? []);
        if (ids.length) writes.push([...new Set(ids)].sort());
        if (ids.includes(a.id)) await held; // a's write, held in flight
        return send(statements);
      },
    });
    try {
      await take(stub, [a]);
      await until(async () => writes.length, (n) => n === 1);
      await take(stub, [b]);
      await take(stub, [c]);
      release();
      await until(async () => writes.length, (n) => n === 2);
      // b and c went together in the write after a's.
      expect(writes).toEqual([[a.id], [b.id, c.id].sort()]);
      for (const t of [a, b, c]) expect(await getTaskRow(env.DB, t.id)).toMatchObject({ queue: 'unit' });
    } finally {
      release();
      restore();
    }
  });

  it('says when D1 failed to take them, keeps them, takes no more until a write succeeds, and records them later', async () => {
    const stub = env.QUEUES.getByName('take-failing');
    const [a, b] = [taskSpec(), taskSpec()];
    const d1 = await failingD1(stub, a.id, 1);
    try {
      // A caller that waits for D1 hears why.
      expect(await stub.take([a], true)).toEqual({ added: 1, recorded: { ok: false, message: expect.stringMatching(/unavailable/) } });
      expect(await getTaskRow(env.DB, a.id)).toBeUndefined();
      // While its D1 writes fail it stores nothing more: the hub writes D1 first, and a failure there changes nothing.
      expect(await stub.take([b])).toEqual({ refused: expect.stringMatching(/D1/) });
      // The task is the object's all the same: it runs.
      const [job] = await claim(stub);
      expect(job.id).toBe(a.id);
      await stub.ack(job.lease_id, null, 'null');
      await runDurableObjectAlarm(stub); // the retry, unless it has fired on its own already
      const row = await until(() => getTaskRow(env.DB, a.id), (r) => r?.state === 'succeeded');
      expect(row).toMatchObject({ state: 'succeeded', queue: 'unit' });
      expect(d1.calls).toBe(2);
      // Its writes work again: it takes tasks again, and b was never stored.
      expect((await take(stub, [b])).added).toBe(1);
    } finally {
      d1.restore();
    }
  });

  it('inserts more tasks than one write takes over several writes', async () => {
    const stub = env.QUEUES.getByName('take-many');
    // Over the 1,000 tasks one write inserts.
    const specs = Array.from({ length: 1500 }, () => taskSpec());
    const count = (where: string) =>
      env.DB.prepare(`SELECT COUNT(*) AS n FROM tasks WHERE id IN (SELECT value FROM json_each(?))${where}`)
        .bind(JSON.stringify(specs.map((t) => t.id)))
        .first<{ n: number }>()
        .then((r) => r!.n);
    const taken = await take(stub, specs);
    expect(taken.added).toBe(1500);
    expect(await until(() => count(''), (n) => n === 1500)).toBe(1500);
    // Their arrivals follow (the redelivery sweep leaves a task alone once its version is past 0).
    expect(await until(() => count(' AND version > 0'), (n) => n === 1500)).toBe(1500);
  });
});

describe('events', () => {
  it('are published while D1 is failing, every state of a task in order', async () => {
    const stub = env.QUEUES.getByName('events-d1-down');
    const a = taskSpec();
    await recordTasks(env.DB, [a]);
    const published: { id: string; state: string }[] = [];
    let restore = () => {};
    await runInDurableObject(stub, (instance) => {
      // The env is shared with the other objects of this file: put it back afterwards.
      const own = instance as unknown as { env: { DB: D1Database; EVENTS: unknown } };
      const [batch, events] = [own.env.DB.batch, own.env.EVENTS];
      restore = () => {
        own.env.DB.batch = batch;
        own.env.EVENTS = events;
      };
      own.env.DB.batch = (async () => {
        throw new Error('D1 is unavailable (test)');
      }) as D1Database['batch'];
      own.env.EVENTS = {
        idFromName: () => 'events',
        get: () => ({
          publish: async (tasks: { id: string; state: string }[]) => {
            published.push(...tasks);
            return 1; // someone listens
          },
        }),
      };
    });
    try {
      await stub.deliver([a]);
      const [job] = await claim(stub);
      await stub.ack(job.lease_id, null, 'null');
      const mine = await until(
        async () => published.filter((e) => e.id === a.id).map((e) => e.state),
        (states) => states.includes('succeeded'),
      );
      expect(mine).toEqual(['queued', 'running', 'succeeded']);
    } finally {
      restore();
    }
  });
});

describe('the alarm', () => {
  it('does its work once however often it fires', async () => {
    const stub = env.QUEUES.getByName('alarm-a');
    const a = taskSpec({ timeout: 0.05, maxRetries: 0 });
    await recordTasks(env.DB, [a]);
    await stub.deliver([a]);
    await claim(stub);
    await new Promise((r) => setTimeout(r, 100));
    await runDurableObjectAlarm(stub);
    await runDurableObjectAlarm(stub);
    const live = await stub.get(a.id);
    expect(live).toMatchObject({ state: 'failed', attempts: 1 });
    expect(JSON.parse(live!.error!).type).toBe('LeaseExpired');
    expect((await stub.dead(10)).map((d) => d.id)).toEqual([a.id]);
  });
});

describe('waiting', () => {
  it('wakes a long-polling claim as soon as work is delivered', async () => {
    const stub = env.QUEUES.getByName('wait-a');
    const started = Date.now();
    const pending = stub.claim(claimReq({ max: 1 }), 5000);
    await new Promise((r) => setTimeout(r, 50));
    const a = taskSpec();
    await stub.deliver([a]);
    expect((await pending).map((j) => j.id)).toEqual([a.id]);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('answers waitFor when the task becomes final', async () => {
    const stub = env.QUEUES.getByName('wait-b');
    const a = taskSpec();
    await stub.deliver([a]);
    const waiting = stub.waitFor(a.id, 5000);
    const [job] = await claim(stub);
    await stub.ack(job.lease_id, null, '7');
    expect(await waiting).toMatchObject({ state: 'succeeded', result: '7' });
  });
});

/** The object's own tables (not the runtime's): none until something is written. */
const tablesOf = (stub: DurableObjectStub<QueueObject>) =>
  runInDurableObject(stub, (_, state) => state.storage.sql.exec(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'`).toArray().length);

describe('an object nothing was written to', () => {
  it('answers claims, reads and made-up leases as an empty queue, and makes no tables until a task comes', async () => {
    const queue = 'never-written';
    const stub = env.QUEUES.getByName(queue);
    const lease = `${queue}.01JZZZZZZZZZZZZZZZZZZZZZZZ.0123456789abcdef01234567`;
    expect(await claim(stub, { queue })).toEqual([]);
    for (const out of [
      await stub.ack(lease, null, 'null'),
      await stub.heartbeat(lease, null, 30, null),
      await stub.fail(lease, null, { type: 'E', message: 'm' }, true, null),
      await stub.release(lease, null),
      ...(await stub.ackMany([{ leaseId: lease, result: 'null' }], null)),
    ]) {
      expect(out).toMatchObject({ ok: false, code: 'lease_lost' });
    }
    expect(await stub.get('01JZZZZZZZZZZZZZZZZZZZZZZZ')).toBeNull();
    expect(await stub.waitFor('01JZZZZZZZZZZZZZZZZZZZZZZZ', 0)).toBeNull();
    expect(await stub.stats()).toMatchObject({ ready: 0, delayed: 0, running: 0, failed: 0, paused: false });
    expect(await stub.metrics()).toMatchObject({ counters: {}, oldestReadyMs: null, dead: 0 });
    expect(await stub.dead(10)).toEqual([]);
    expect(await stub.replay(null)).toBe(0);
    expect(await stub.purgeDead(null)).toBe(0);
    expect(await runDurableObjectAlarm(stub)).toBe(false);
    expect(await tablesOf(stub)).toBe(0);

    // The first task makes them, and the object works as any other.
    const a = taskSpec({ queue });
    await take(stub, [a]);
    expect(await tablesOf(stub)).toBeGreaterThan(0);
    const [job] = await claim(stub, { queue });
    expect(job.id).toBe(a.id);
    expect(await stub.ack(job.lease_id, null, '1')).toMatchObject({ ok: true, state: 'succeeded' });
  });

  it('a claim waiting on it is woken by the task that makes its tables', async () => {
    const queue = 'never-written-wait';
    const stub = env.QUEUES.getByName(queue);
    const pending = stub.claim({ queue, worker: 'w', region: null, tasks: null, max: 1, leaseSeconds: null, owner: null }, 10_000);
    await until(() => stub.stats(), (s) => s.claimCalls === 1);
    const a = taskSpec({ queue });
    await stub.deliver([a]);
    expect((await pending).map((j) => j.id)).toEqual([a.id]);
  });

  it('a revoke of a task still on its way marks it, tables and all, so that it never runs', async () => {
    const queue = 'never-written-revoke';
    const stub = env.QUEUES.getByName(queue);
    const a = taskSpec({ queue });
    expect(await stub.revoke(a.id)).toMatchObject({ ok: true, state: 'revoked' });
    await stub.deliver([a]);
    expect(await claim(stub, { queue })).toEqual([]);
    expect(await stub.get(a.id)).toMatchObject({ state: 'revoked' });
  });

  it('a pause or a setting is a write: the queue keeps it', async () => {
    const stub = env.QUEUES.getByName('never-written-pause');
    await stub.setPaused(true);
    expect(await tablesOf(stub)).toBeGreaterThan(0);
    expect((await stub.stats()).paused).toBe(true);
  });
});

describe('a claim\'s lazy `running`', () => {
  it('is logged for D1 at the object\'s next start while its lease is held: memory kept it until then', async () => {
    const stub = env.QUEUES.getByName('lazy-restart');
    const [a, b] = [taskSpec(), taskSpec()];
    await take(stub, [a, b]);
    const jobs = await claim(stub, { max: 2 });
    await stub.ack(jobs.find((j) => j.id === b.id)!.lease_id, null, 'null');
    await until(() => getTaskRow(env.DB, b.id), (r) => r?.state === 'succeeded'); // the logs are written and empty
    const logged = await runInDurableObject(stub, (_i, state) => {
      const sql = new Sql(state.storage.sql);
      const before = sql.all<{ id: string }>(`SELECT id FROM sync_log`).map((r) => r.id);
      new Store(state.storage, env).open(state.id.name); // as the object does when it starts again
      return { before, after: sql.all<{ id: string }>(`SELECT id FROM sync_log`).map((r) => r.id) };
    });
    expect(logged).toEqual({ before: [], after: [a.id] });
  });
});

describe('the alarm after a take, a claim and an ack', () => {
  // These steps move the alarm by what they added (step.ts `Wake`), reading no table: a time they
  // add that comes before the retry of D1 writes (2 s) must still be what the alarm is set for.
  const alarmOf = (stub: DurableObjectStub<QueueObject>) => runInDurableObject(stub, (_i, state) => state.storage.getAlarm());

  it('wakes for a task taken with an eta, and hands it out then', async () => {
    const stub = env.QUEUES.getByName('wake-eta');
    const eta = Date.now() + 400;
    const a = taskSpec({ eta });
    expect((await take(stub, [a])).added).toBe(1);
    expect(await alarmOf(stub)).toBeLessThanOrEqual(eta);
    expect(await claim(stub)).toEqual([]);
    const [job] = await stub.claim(claimReq({ max: 1 }), 5000);
    expect(job.id).toBe(a.id);
    expect(Date.now()).toBeGreaterThanOrEqual(eta);
  });

  it('wakes for a short lease, and retries its task when it runs out', async () => {
    const stub = env.QUEUES.getByName('wake-lease');
    const a = taskSpec();
    await take(stub, [a]);
    await until(() => getTaskRow(env.DB, a.id), (r) => r !== undefined); // the take's write is done
    const [job] = await claim(stub, { leaseSeconds: 0.3 });
    expect(await alarmOf(stub)).toBeLessThanOrEqual(job.lease_expires_at);
    // Nothing else is called: the alarm alone ends the lease, well before the 2 s retry of D1 writes.
    const task = await until(() => stub.get(a.id), (t) => t?.state !== 'running', 5000);
    expect(Date.now()).toBeGreaterThanOrEqual(job.lease_expires_at);
    expect(task?.state).toMatch(/^(delayed|queued)$/);
    expect(JSON.parse(task!.error!)).toMatchObject({ type: 'LeaseExpired' });
  });
});

describe('a claim that picks and leases in one statement', () => {
  it('hands out in claim order: priority, then ready time, then enqueue order', async () => {
    const stub = env.QUEUES.getByName('claim-one-statement');
    const now = Date.now();
    const specs = [
      taskSpec({ priority: 1 }),
      taskSpec({ priority: 9, eta: now - 1000 }),
      taskSpec({ priority: 9 }),
      taskSpec({ priority: 5 }),
      taskSpec({ priority: 9, eta: now - 2000 }),
    ];
    await take(stub, specs);
    const jobs = await claim(stub, { max: 3 });
    expect(jobs.map((j) => j.id)).toEqual([specs[4].id, specs[1].id, specs[2].id]);
    expect((await claim(stub)).map((j) => j.id)).toEqual([specs[3].id, specs[0].id]);
  });

});

describe('statements a task', () => {
  /** The object's SQLite statements, once its D1 writer and outbox have nothing under way. */
  async function settledStatements(stub: DurableObjectStub<QueueObject>): Promise<number> {
    for (;;) {
      const { busy, statements } = await runInDurableObject(stub, (instance) => {
        const o = instance as unknown as { store: { sql: Sql }; d1: { running: Promise<void> | null }; outbox: { running: Promise<void> | null } };
        return { busy: o.d1.running !== null || o.outbox.running !== null, statements: o.store.sql.statements };
      });
      if (!busy) return statements;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** One task taken (its answer waiting for D1), claimed and acked, until D1 has its end: the object's statements for it. */
  async function loneTask(stub: DurableObjectStub<QueueObject>): Promise<number> {
    const before = await settledStatements(stub);
    const a = taskSpec();
    expect(await stub.take([a], true)).toMatchObject({ recorded: { ok: true } }); // as a single HTTP enqueue: answered once D1 has the task
    const [job] = await claim(stub);
    await stub.ack(job.lease_id, null, 'null');
    await until(() => getTaskRow(env.DB, a.id), (r) => r?.state === 'succeeded');
    return (await settledStatements(stub)) - before;
  }

  // 10 here (docs/performance.md lists them): 2 for the take, 2 for the D1 write of the enqueue,
  // 1 for the claim, 2 for the ack (its counters ride in its log row), 3 for the D1 write of the
  // end (which adds those counters to the object's as it forgets the log). A claim's lazy `running`
  // (LAZY_RUNNING_MS) is logged by the first write after it falls due, if the lease is still held:
  // up to four statements more (that log, and a write of its own) on a machine slow enough to pass that second.
  /** `fn`'s answer and the object's statements while it ran (their SQL), in one turn of the object: no D1 write or alarm in between. */
  async function counted<T>(stub: DurableObjectStub<QueueObject>, fn: (o: QueueObject) => Promise<T>): Promise<{ out: T; statements: string[] }> {
    return runInDurableObject(stub, async (instance) => {
      const statements: string[] = [];
      const stop = recordStatements(instance, statements);
      try {
        return { out: await fn(instance), statements };
      } finally {
        stop();
      }
    });
  }
  const ids = (jobs: { id: string }[]) => jobs.map((j) => j.id);
  const LEASING = `UPDATE tasks SET phase = 'leased'`;

  it('runs none for a claim of a lane the last claim left empty, until a task is ready there again', async () => {
    const stub = env.QUEUES.getByName('statements-empty-lane');
    const a = taskSpec({ task: 'a' });
    await take(stub, [a]);
    const first = await counted(stub, async (o) => [await o.claim(claimReq(), 0), await o.claim(claimReq(), 0), await o.claim(claimReq(), 0)]);
    expect(first.out.map(ids)).toEqual([[a.id], [], []]);
    // The lease, which took fewer than the claim asked for: the lane is empty, and the claims after it run none.
    expect(first.statements.filter((q) => q.startsWith(LEASING))).toHaveLength(1);
    // Another list of names looks once for itself.
    const named = await counted(stub, async (o) => [await o.claim(claimReq({ tasks: ['a'] }), 0), await o.claim(claimReq({ tasks: ['a'] }), 0)]);
    expect(named.out).toEqual([[], []]);
    expect(named.statements.filter((q) => q.startsWith(LEASING))).toHaveLength(1);
    // A task taken makes the lane ready: the next claim finds it, whatever names it had asked for.
    const b = taskSpec({ task: 'b' });
    await take(stub, [b]);
    expect((await counted(stub, async (o) => [ids(await o.claim(claimReq({ tasks: ['a'] }), 0)), ids(await o.claim(claimReq(), 0))])).out).toEqual([[], [b.id]]);
    // A lease released puts its task back in its lane, which is looked at again.
    const [job] = first.out[0];
    const back = await counted(stub, async (o) => [await o.claim(claimReq(), 0), await o.release(job.lease_id, null), ids(await o.claim(claimReq({ tasks: ['a'] }), 0))]);
    expect(back.out).toEqual([[], { ok: true, state: 'queued' }, [a.id]]);
  });

  it('runs none for a region worker\'s claim while its region\'s lane and the untagged one are both known empty', async () => {
    const stub = env.QUEUES.getByName('statements-empty-region');
    const cn = taskSpec({ region: 'cn' });
    await take(stub, [cn]);
    const inCn = claimReq({ region: 'cn' });
    const first = await counted(stub, async (o) => [ids(await o.claim(inCn, 0)), ids(await o.claim(inCn, 0)), ids(await o.claim(claimReq(), 0))]);
    // The first reads both lanes and leases; the second nothing; an untagged worker's claim runs none either (its lane is known empty).
    expect(first.out).toEqual([[cn.id], [], []]);
    expect(first.statements.filter((q) => q.trimStart().startsWith('SELECT id, priority'))).toHaveLength(2);
    expect(first.statements.filter((q) => q.startsWith(LEASING))).toHaveLength(1);
    // An untagged task: the region's worker finds it.
    const any = taskSpec();
    await take(stub, [any]);
    expect((await counted(stub, async (o) => ids(await o.claim(inCn, 0)))).out).toEqual([any.id]);
    // A task of another region readies no lane of cn's: cn's claim still runs none.
    await take(stub, [taskSpec({ region: 'weur' })]);
    expect(await counted(stub, async (o) => ids(await o.claim(inCn, 0)))).toEqual({ out: [], statements: [] });
  });

  it('writes an ack\'s counters with its change log, and the D1 write that forgets the log adds them to the counters', async () => {
    const stub = env.QUEUES.getByName('statements-counters');
    const a = taskSpec();
    await take(stub, [a]);
    const [job] = await claim(stub);
    // The ack's UPDATE, and its log row with its counters: no statement of their own.
    const acked = await counted(stub, (o) => o.ack(job.lease_id, null, 'null'));
    expect(acked.out).toEqual({ ok: true, state: 'succeeded' });
    const writes = acked.statements.filter((q) => !q.trimStart().startsWith('SELECT'));
    expect(writes).toHaveLength(2);
    expect(writes[1]).toMatch(/^INSERT INTO sync_log \(id, counts\)/);
    const succeeded = async () => (await stub.metrics()).counters;
    expect(await succeeded()).toMatchObject({ 'final:succeeded': 1, ack_count: 1 }); // read from the log until the write
    await until(() => getTaskRow(env.DB, a.id), (r) => r?.state === 'succeeded');
    await settledStatements(stub);
    const left = await runInDurableObject(stub, (instance) => {
      const sql = (instance as unknown as { store: { sql: Sql } }).store.sql;
      return { log: sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM sync_log`)!.n, kept: Number(sql.one<{ value: string }>(`SELECT value FROM meta WHERE key = 'm:final:succeeded'`)?.value) };
    });
    expect(left).toEqual({ log: 0, kept: 1 });
    expect(await succeeded()).toMatchObject({ 'final:succeeded': 1, ack_count: 1 });
  });

  it('stays within its budget from enqueue to the end in D1, for a lone task on a quiet queue', async () => {
    const stub = env.QUEUES.getByName('statements-lone');
    await loneTask(stub); // the first makes the object's tables
    const counts = [await loneTask(stub), await loneTask(stub)];
    expect(Math.max(...counts), `statements: ${counts}`).toBeLessThanOrEqual(10 + 4);
  });
});
