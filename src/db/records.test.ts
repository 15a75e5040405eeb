// The D1 record: idempotency keys hold their first task for 24 hours, the redelivery sweep finds the undelivered, and rows travel in chunks D1 can bind.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { TaskSpec } from '../core/states.ts';
import { taskSpec } from '../../test/specs.ts';
import { rowsReadOf, type Read } from '../../test/rows-read.ts';
import { IDEMPOTENCY_MS, INSERT_TASKS, loadSpecs, recordRow, recordTasks, undeliveredSpecs } from './records.ts';
import { jsonChunks, utf8Bytes } from '../core/params.ts';


describe('idempotency keys', () => {
  it('return the first task within 24 hours and let a new one in after', async () => {
    const t0 = Date.now();
    const first = taskSpec({ queue: 'rec', idempotencyKey: 'k1' });
    expect((await recordTasks(env.DB, [first], t0)).results).toEqual([{ id: first.id, state: 'queued' }]);
    const again = taskSpec({ queue: 'rec', idempotencyKey: 'k1' });
    const dup = await recordTasks(env.DB, [again], t0 + IDEMPOTENCY_MS - 1);
    expect(dup.results).toEqual([{ id: first.id, state: 'queued', duplicate: true }]);
    expect(dup.created).toEqual([]);
    const later = taskSpec({ queue: 'rec', idempotencyKey: 'k1' });
    const fresh = await recordTasks(env.DB, [later], t0 + IDEMPOTENCY_MS);
    expect(fresh.results).toEqual([{ id: later.id, state: 'queued' }]);
  });

  it('is safe to repeat with the same ids', async () => {
    const a = taskSpec({ queue: 'rec', idempotencyKey: 'k2' });
    await recordTasks(env.DB, [a]);
    expect((await recordTasks(env.DB, [a])).created.map((s) => s.id)).toEqual([a.id]);
    const rows = await env.DB.prepare('SELECT COUNT(*) AS n FROM tasks WHERE id = ?').bind(a.id).first<{ n: number }>();
    expect(rows!.n).toBe(1);
  });
});

describe('an id the producer chose', () => {
  it('is made by one of several calls in the same millisecond, to one queue and task; the others are repeats', async () => {
    const now = Date.now();
    const id = crypto.randomUUID();
    const calls = [1, 2, 3].map((n) => taskSpec({ id, chosenId: true, queue: 'chosen', task: 'same', createdAt: now, args: `[${n}]` }));
    const answers = await Promise.all(calls.map((spec) => recordTasks(env.DB, [spec], now)));
    expect(answers.map((a) => a.created.length).sort()).toEqual([0, 0, 1]);
    expect(answers.flatMap((a) => a.results).filter((r) => 'duplicate' in r)).toHaveLength(2);
    const made = answers.find((a) => a.created.length)!.created[0];
    const [row] = await loadSpecs(env.DB, [id]);
    expect(row.args).toBe(made.args);
    // The maker's own call again (a retry) is a repeat too: the sweep delivers it if the first did not.
    expect((await recordTasks(env.DB, [made], now)).results).toEqual([{ id, state: 'queued', duplicate: true }]);
  });
});

describe('the undelivered', () => {
  it('are the tasks no QueueObject confirmed, oldest first, past the cut-off', async () => {
    const old = taskSpec({ queue: 'undelivered', createdAt: 1000 });
    const recent = taskSpec({ queue: 'undelivered', createdAt: Date.now() });
    await recordTasks(env.DB, [old, recent]);
    const found = await undeliveredSpecs(env.DB, Date.now() - 60_000, { createdAt: 0, id: '' }, 100);
    expect(found.map((s) => s.id)).toContain(old.id);
    expect(found.map((s) => s.id)).not.toContain(recent.id);
    expect(found.find((s) => s.id === old.id)).toEqual(old);
  });

  it('are found without reading the delivered tasks beside them', async () => {
    // Every minute the sweep reads from the first task on; D1 bills and times it by the rows it reads.
    const delivered = Array.from({ length: 400 }, (_, i) => taskSpec({ queue: 'swept', createdAt: 5000 + i }));
    const stray = [taskSpec({ queue: 'swept', createdAt: 5100 }), taskSpec({ queue: 'swept', createdAt: 5300 })];
    await recordTasks(env.DB, [...delivered, ...stray]);
    await env.DB.prepare(`UPDATE tasks SET version = 1 WHERE id IN (SELECT value FROM json_each(?))`)
      .bind(JSON.stringify(delivered.map((s) => s.id)))
      .run();
    const reads: Read[] = [];
    const metered = rowsReadOf(env.DB, reads);
    const found = await undeliveredSpecs(metered, 6000, { createdAt: 4999, id: '' }, 100);
    expect(found.map((s) => s.id)).toEqual(stray.map((s) => s.id));
    expect(reads).toHaveLength(1);
    expect(reads[0].rowsRead).toBeLessThan(20);
  });
});

describe('the record', () => {
  it('keeps every field of a task, set or left unset', async () => {
    const now = Date.now();
    const bare = taskSpec({ queue: 'fields', priority: 0, maxRetries: 0 });
    const full = taskSpec({
      queue: 'fields', region: 'eu', priority: 9, eta: now + 60_000, expiresAt: now + 120_000, maxRetries: 7, retryDelay: 2.5,
      timeout: 30, idempotencyKey: `fields-${now}`, orderingKey: 'o', groupKey: 'g', groupLimit: 2, parentId: 'p', rootId: 'r',
      workflowId: 'w', http: { url: 'https://example.com/run', method: 'POST', headers: { a: 'b' } } as TaskSpec['http'],
      callback: { url: 'https://example.com/done' } as TaskSpec['callback'], args: '[1,"two",null]', kwargs: '{"k":null}', shard: 1,
      headers: '{"lang":"py","retries":2}',
    });
    await recordTasks(env.DB, [bare, full], now);
    const rows = await loadSpecs(env.DB, [bare.id, full.id]);
    expect(rows.find((r) => r.id === bare.id)).toEqual(bare);
    expect(rows.find((r) => r.id === full.id)).toEqual(full);
    const states = await env.DB.prepare('SELECT id, state FROM tasks WHERE id IN (?, ?)').bind(bare.id, full.id).all<{ id: string; state: string }>();
    expect(Object.fromEntries(states.results.map((r) => [r.id, r.state]))).toEqual({ [bare.id]: 'queued', [full.id]: 'delayed' });
  });
});

describe('a row an object logged before rows were arrays', () => {
  it('is inserted with every field, as a row of today', async () => {
    const now = Date.now();
    const spec = taskSpec({
      queue: 'oldrows', region: 'eu', priority: 3, eta: now + 60_000, idempotencyKey: null, orderingKey: 'o',
      http: { url: 'https://example.com/run', method: 'POST' } as TaskSpec['http'], args: '[1]', kwargs: '{"a":2}',
    });
    // What an object logged then: the task's fields that were not null, by name.
    const logged = JSON.stringify(Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== null && v !== undefined)));
    await env.DB.prepare(INSERT_TASKS).bind(now, `[${recordRow(logged)}]`).run();
    expect(await loadSpecs(env.DB, [spec.id])).toEqual([spec]);
  });
});

describe('jsonChunks', () => {
  it('keeps each chunk under the limit in UTF-8 bytes, not characters', () => {
    // 3 rows of 200,000 CJK characters: 600 KB each in UTF-8, though 200,000 characters long.
    const rows = [0, 1, 2].map((i) => JSON.stringify({ i, text: '漢'.repeat(200_000) }));
    const chunks = jsonChunks(rows);
    expect(chunks).toHaveLength(3);
    for (const c of chunks) expect(new TextEncoder().encode(c).byteLength).toBeLessThan(2_000_000);
    expect(chunks.flatMap((c) => JSON.parse(c))).toEqual(rows.map((r) => JSON.parse(r)));
    // ASCII rows still share a chunk.
    expect(jsonChunks(['{"a":1}', '{"b":2}'])).toEqual(['[{"a":1},{"b":2}]']);
  });
});

describe('utf8Bytes', () => {
  it('counts what TextEncoder counts, for ASCII and for the rest', () => {
    for (const text of ['', '{"a":1}', 'é', '漢字', '😀 ok', '\u0000\u007f\u0080']) {
      expect(utf8Bytes(text)).toBe(new TextEncoder().encode(text).byteLength);
    }
  });
});
