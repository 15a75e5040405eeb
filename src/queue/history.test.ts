// The history counts each end once as queue objects write it to D1: not again when a write carries it
// twice, again when a replayed task ends again; it reads back per minute and totals, and old minutes go.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { taskSpec } from '../../test/specs.ts';
import { recordTasks } from '../db/records.ts';
import { COUNT_ENDS, COUNT_LATENCIES, readHistory, sweepHistory } from '../db/history.ts';
import { HISTORY_MS } from '../core/limits.ts';
import { bucketOf, edgeOf, mergeInto, percentiles } from '../core/histogram.ts';
import { UPDATE } from './sync.ts';

/** One queue object's write of these rows, as flushLog sends it: the counts, then the update. */
async function write(rows: object[]): Promise<void> {
  const json = JSON.stringify(rows);
  await env.DB.batch([env.DB.prepare(COUNT_ENDS).bind(json), env.DB.prepare(COUNT_LATENCIES).bind(json), env.DB.prepare(UPDATE).bind(json)]);
}

const row = (id: string, v: number, s: string, f: number | null, d: number) => ({ id, v, s, a: 1, r: null, e: null, st: d, f, w: 'w', l: null, d });

describe('the history of ends', () => {
  it('counts an end once, however often it is written, and a replayed task again when it ends again', async () => {
    const queue = 'history-once';
    const minute = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000;
    const a = taskSpec({ queue, createdAt: minute });
    const b = taskSpec({ queue, createdAt: minute });
    await recordTasks(env.DB, [a, b], minute);
    await write([row(a.id, 2, 'running', null, minute)]);
    await write([row(a.id, 3, 'succeeded', minute + 500, minute), row(b.id, 3, 'failed', minute + 20_000, minute)]);
    // The same versions again (a lazy change re-carried), and a later version of the same end.
    await write([row(a.id, 3, 'succeeded', minute + 500, minute)]);
    await write([row(b.id, 4, 'failed', minute + 20_000, minute)]);
    let history = await readHistory(env.DB, minute, minute + 60_000, queue);
    expect(history).toEqual([
      { at: new Date(minute).toISOString(), queue, succeeded: 1, failed: 1, latencyMs: { p50: edgeOf(bucketOf(500)), p95: edgeOf(bucketOf(20_000)), p99: edgeOf(bucketOf(20_000)) } },
    ]);
    // b is replayed from the dead letters and succeeds in the next minute.
    await write([row(b.id, 6, 'succeeded', minute + 61_000, minute + 60_500)]);
    history = await readHistory(env.DB, minute, minute + 120_000, queue);
    expect(history.map((m) => [m.at, m.succeeded, m.failed, m.latencyMs?.p50])).toEqual([
      [new Date(minute).toISOString(), 1, 1, edgeOf(bucketOf(500))],
      [new Date(minute + 60_000).toISOString(), 1, 0, edgeOf(bucketOf(500))],
    ]);
  });

  it('gives each minute its queues then their totals, from merged buckets', async () => {
    const minute = Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000;
    const fast = Array.from({ length: 9 }, () => taskSpec({ queue: 'history-fast', createdAt: minute }));
    const slow = taskSpec({ queue: 'history-slow', createdAt: minute });
    await recordTasks(env.DB, [...fast, slow], minute);
    await write([...fast.map((t) => row(t.id, 3, 'succeeded', minute + 10, minute)), row(slow.id, 3, 'succeeded', minute + 5000, minute)]);
    const history = (await readHistory(env.DB, minute, minute + 59_999, null)).filter((m) => m.queue !== 'history-once');
    expect(history).toEqual([
      { at: new Date(minute).toISOString(), queue: 'history-fast', succeeded: 9, failed: 0, latencyMs: { p50: edgeOf(bucketOf(10)), p95: edgeOf(bucketOf(10)), p99: edgeOf(bucketOf(10)) } },
      { at: new Date(minute).toISOString(), queue: 'history-slow', succeeded: 1, failed: 0, latencyMs: { p50: edgeOf(bucketOf(5000)), p95: edgeOf(bucketOf(5000)), p99: edgeOf(bucketOf(5000)) } },
      { at: new Date(minute).toISOString(), queue: null, succeeded: 10, failed: 0, latencyMs: { p50: edgeOf(bucketOf(10)), p95: edgeOf(bucketOf(5000)), p99: edgeOf(bucketOf(5000)) } },
    ]);
  });

  it('loses minutes older than 48 hours to the retention sweep, and keeps the rest', async () => {
    const now = Date.now();
    const old = Math.floor((now - HISTORY_MS) / 60_000) * 60_000 - 60_000;
    const kept = old + 2 * 60_000;
    const a = taskSpec({ queue: 'history-sweep', createdAt: old });
    const b = taskSpec({ queue: 'history-sweep', createdAt: kept });
    await recordTasks(env.DB, [a, b], old);
    await write([row(a.id, 3, 'succeeded', old + 5, old), row(b.id, 3, 'succeeded', kept + 5, kept)]);
    expect(await readHistory(env.DB, old, kept, 'history-sweep')).toHaveLength(2);
    expect(await sweepHistory(env.DB, now, 1000)).toBeGreaterThanOrEqual(2);
    expect((await readHistory(env.DB, old, kept, 'history-sweep')).map((m) => m.at)).toEqual([new Date(kept).toISOString()]);
  });
});

describe('percentiles in D1', () => {
  it('are those the pure function gives for the same buckets, per queue and for the totals', async () => {
    const minute = Math.floor(Date.now() / 60_000) * 60_000 - 40 * 60_000;
    // Random histograms of three queues over three minutes, written straight to the table.
    let seed = 7;
    const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    const histograms = new Map<string, Map<number, number>>();
    const statements: D1PreparedStatement[] = [];
    for (let m = 0; m < 3; m++) {
      for (const queue of ['pct-a', 'pct-b', 'pct-c']) {
        const counts = new Map<number, number>();
        for (let i = 0; i < 1 + Math.floor(random() * 12); i++) counts.set(Math.floor(random() * 120), 1 + Math.floor(random() * 40));
        histograms.set(`${m}/${queue}`, counts);
        const total = [...counts.values()].reduce((a, b) => a + b, 0);
        statements.push(env.DB.prepare(`INSERT INTO task_minutes (minute, queue, succeeded, failed) VALUES (?, ?, ?, 0)`).bind(minute + m * 60_000, queue, total));
        for (const [bucket, n] of counts) {
          statements.push(env.DB.prepare(`INSERT INTO task_latency (minute, queue, bucket, n) VALUES (?, ?, ?, ?)`).bind(minute + m * 60_000, queue, bucket, n));
        }
      }
    }
    await env.DB.batch(statements);
    const history = await readHistory(env.DB, minute, minute + 3 * 60_000 - 1, null);
    for (let m = 0; m < 3; m++) {
      const at = new Date(minute + m * 60_000).toISOString();
      const merged = new Map<number, number>();
      for (const queue of ['pct-a', 'pct-b', 'pct-c']) {
        const counts = histograms.get(`${m}/${queue}`)!;
        for (const [bucket, n] of counts) mergeInto(merged, bucket, n);
        expect(history.find((h) => h.at === at && h.queue === queue)!.latencyMs).toEqual(percentiles(counts));
      }
      const total = history.find((h) => h.at === at && h.queue === null)!;
      expect(total.latencyMs).toEqual(percentiles(merged));
      expect(total.succeeded).toBe([...merged.values()].reduce((a, b) => a + b, 0));
    }
  });
});
