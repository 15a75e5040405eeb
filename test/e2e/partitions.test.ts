// Task records over several D1 databases (DROVER_D1_PARTITIONS=4): tasks of several queues and
// shards, enqueued singly, in batches and by idempotency key, run and read back; read straight
// from npm start's local D1 files, the records are spread and each in one database alone.
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimAll, startSystem, TOKENS, uniqueQueue, type Api, type System } from './system.ts';
import { waitFor } from './workers.ts';
import { partitionOf } from '../../src/db/partitions.ts';

let system: System;
let api: Api;

beforeAll(async () => {
  system = await startSystem({ env: { DROVER_D1_PARTITIONS: '4', DROVER_SHARDS: JSON.stringify({ 'parted-*': 4 }) } });
  api = system.api;
}, 180_000);

afterAll(async () => {
  await system?.stop();
});

/** Every local D1 database file of the system (DB, DB_P1 .. DB_P3, DB_EU). */
function d1Files(): string[] {
  const dir = join(system.stateDir, 'v3', 'd1', 'miniflare-D1DatabaseObject');
  return readdirSync(dir).filter((f) => /^[0-9a-f]{64}\.sqlite$/.test(f)).map((f) => join(dir, f));
}

/** The rows of these tasks each D1 file holds: file to (id to state). */
function rowsByFile(ids: string[]): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const file of d1Files()) {
    const db = new DatabaseSync(file, { readOnly: true });
    try {
      const rows = db.prepare(`SELECT id, state FROM tasks WHERE id IN (SELECT value FROM json_each(?))`).all(JSON.stringify(ids)) as { id: string; state: string }[];
      if (rows.length) out.set(file, new Map(rows.map((r) => [r.id, r.state])));
    } finally {
      db.close();
    }
  }
  return out;
}

async function enqueueOne(body: Record<string, unknown>, status = 202): Promise<string> {
  const res = await api.post('/v1/tasks', { task: 'parted.job', ...body });
  expect(res.status, res.text).toBe(status);
  return res.body.id;
}

async function enqueueBatch(queue: string, n: number): Promise<string[]> {
  const res = await api.post('/v1/tasks/batch', { tasks: Array.from({ length: n }, (_, i) => ({ task: 'parted.job', queue, args: [i] })) });
  expect(res.status, res.text).toBe(202);
  return res.body.tasks.map((r: { id: string }) => r.id);
}

/** Claims every task of the queue and acks each with its id as the result. */
async function runAll(queue: string, n: number): Promise<void> {
  const jobs = await claimAll(api.as(TOKENS.consume), queue, n);
  expect(jobs).toHaveLength(n);
  for (let i = 0; i < jobs.length; i += 100) {
    const acks = jobs.slice(i, i + 100).map((j) => ({ leaseId: j.leaseId, result: { id: j.id } }));
    const res = await api.as(TOKENS.consume).post('/v1/leases/ack', { acks });
    expect(res.status, res.text).toBe(200);
    expect(res.body.results.every((r: { state?: string }) => r.state === 'succeeded')).toBe(true);
  }
}

describe('task records over four D1 partitions', () => {
  it('spreads the records of queues and shards, finds an idempotency key\'s first, and reads every task back', async () => {
    const sharded = uniqueQueue('parted');
    const plain = [uniqueQueue('plain'), uniqueQueue('plain'), uniqueQueue('plain')];
    const byQueue = new Map<string, string[]>([sharded, ...plain].map((q) => [q, []]));

    for (const queue of byQueue.keys()) {
      // Singles and a small batch go to their objects first; a large batch (50 or more) to D1 first.
      for (let i = 0; i < 5; i++) byQueue.get(queue)!.push(await enqueueOne({ queue, args: [i] }));
      byQueue.get(queue)!.push(...(await enqueueBatch(queue, 10)));
    }
    byQueue.get(sharded)!.push(...(await enqueueBatch(sharded, 60)));

    // Idempotency keys in the sharded queue: each key's repeats answer its first task, whichever
    // shard and partition the key went to.
    const keys = Array.from({ length: 8 }, (_, i) => `order-${sharded}-${i}`);
    for (const key of keys) {
      const first = await enqueueOne({ queue: sharded, idempotencyKey: key });
      byQueue.get(sharded)!.push(first);
      for (let r = 0; r < 2; r++) {
        const again = await api.post('/v1/tasks', { task: 'parted.job', queue: sharded, idempotencyKey: key, args: ['again'] });
        expect(again.status, again.text).toBe(200);
        expect(again.body).toMatchObject({ id: first, duplicate: true });
      }
    }

    // An id the producer chose is one task across queues: its reuse in another queue is a repeat.
    const chosen = randomUUID();
    byQueue.get(plain[0])!.push(await enqueueOne({ queue: plain[0], id: chosen }));
    const reused = await api.post('/v1/tasks', { task: 'parted.job', queue: plain[1], id: chosen });
    expect(reused.status, reused.text).toBe(200);
    expect(reused.body).toMatchObject({ id: chosen, duplicate: true });

    const all = [...byQueue.values()].flat();
    expect(new Set(all).size).toBe(all.length);

    // Each record is in one D1 database alone, and they are spread: a sharded queue's four
    // shards write to four partitions.
    const files = rowsByFile(all);
    const where = new Map<string, string>();
    for (const [file, rows] of files) for (const id of rows.keys()) {
      expect(where.has(id), `${id} is in two D1 databases`).toBe(false);
      where.set(id, file);
    }
    expect(where.size).toBe(all.length);
    expect(files.size).toBeGreaterThan(1);
    expect(new Set(byQueue.get(sharded)!.map((id) => where.get(id))).size).toBe(4);

    for (const [queue, ids] of byQueue) await runAll(queue, ids.length);

    // Read back by id: every task succeeded with its result.
    for (const id of all) {
      const res = await api.get(`/v1/tasks/${id}?wait=10`);
      expect(res.body, id).toMatchObject({ id, state: 'succeeded', result: { id } });
    }
    // The objects' later writes landed in the database that recorded each task first.
    await waitFor('every record to say succeeded in its own D1', async () => {
      const now = rowsByFile(all);
      return all.every((id) => now.get(where.get(id)!)?.get(id) === 'succeeded') ? true : null;
    });

    // The list pages through all partitions: every task of the sharded queue once, newest first.
    const listed: { id: string; createdAt: string }[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { tasks: { id: string; createdAt: string }[]; cursor: string | null } } = await api.get(`/v1/tasks?queue=${sharded}&limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      listed.push(...page.body.tasks);
      cursor = page.body.cursor;
    } while (cursor);
    expect(listed.map((t) => t.id).sort()).toEqual([...byQueue.get(sharded)!].sort());
    const times = listed.map((t) => Date.parse(t.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));

    // The stats count the ends every partition wrote.
    await waitFor('the stats to count every end of the sharded queue', async () => {
      const res = await api.get(`/v1/stats?queue=${sharded}`);
      const succeeded = (res.body.minutes as { queue: string | null; succeeded: number }[]).filter((m) => m.queue === sharded).reduce((n, m) => n + m.succeeded, 0);
      return succeeded === byQueue.get(sharded)!.length ? true : null;
    });
  }, 180_000);

  it('runs a chain over queues of different partitions, lists it whole, and sweeps each partition by retention', async () => {
    const queues: string[] = [];
    while (queues.length < 3) {
      const q = uniqueQueue('wfp');
      if (!queues.some((o) => partitionOf(o, 4) === partitionOf(q, 4))) queues.push(q);
    }
    for (const queue of queues) expect((await api.request('PUT', `/v1/queues/${queue}/config`, { retentionSeconds: 1 })).status).toBe(200);
    const started = await api.post('/v1/workflows', { chain: queues.map((queue, i) => ({ task: `step${i}`, queue })) });
    expect(started.status, started.text).toBe(202);
    for (const [step, queue] of queues.entries()) {
      const [job] = await claimAll(api.as(TOKENS.consume), queue, 1);
      expect(job.task).toBe(`step${step}`);
      expect((await api.as(TOKENS.consume).post(`/v1/leases/${job.leaseId}/ack`, { result: step })).status).toBe(200);
    }
    await waitFor('the chain to succeed', async () => (await api.get(`/v1/workflows/${started.body.id}`)).body.state === 'succeeded');
    // The list counts the workflow's tasks in every partition.
    const listed = await waitFor('the workflow list to count its three ends', async () => {
      const page = await api.get('/v1/workflows?limit=50');
      const w = page.body.workflows.find((x: { id: string }) => x.id === started.body.id);
      return w?.states.succeeded === 3 ? w : null;
    });
    expect(listed).toMatchObject({ tasks: 3, states: { succeeded: 3 } });
    // The cron trigger sweeps every partition by each queue's retention.
    const ids: string[] = started.body.tasks;
    await waitFor('the records past retention to be swept from every partition', async () => {
      await fetch(`${system.triggers}/cdn-cgi/local/scheduled?cron=${encodeURIComponent('* * * * *')}&time=${Date.now()}`).then((r) => r.arrayBuffer());
      const found = await Promise.all(ids.map(async (id) => (await api.get(`/v1/tasks/${id}`)).status));
      return found.every((status) => status === 404);
    });
  }, 120_000);
});
