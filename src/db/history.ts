// The history of task ends in D1: counted per queue and minute as queue objects write their ends, read back for GET /v1/stats.
import { bucketSql, mergeInto, percentiles, type Percentiles } from '../core/histogram.ts';
import { HISTORY_MS } from '../core/limits.ts';

const MINUTE_MS = 60_000;

/**
 * The ends a queue object's D1 write carries (a JSON array of id, version `v`, state `s`, finish
 * time `f` and due time `d`, in ?1: one parameter, far under D1's 100 a statement) that D1 has not
 * counted yet: tasks now succeeded or failed whose D1 row is older and was not already at this
 * finish. A row written twice (a lazy change that a later write has carried) is counted once, and
 * a task replayed after it failed counts again when it ends again. Run before the UPDATE of the
 * same rows, in the same batch.
 */
const ENDS = `WITH rows AS MATERIALIZED (SELECT value AS v FROM json_each(?1)),
  ends AS (
    SELECT t.queue AS queue, ((rows.v->>'f') / ${MINUTE_MS}) * ${MINUTE_MS} AS minute, rows.v->>'s' AS state,
      MAX((rows.v->>'f') - (rows.v->>'d'), 0) AS ms
    FROM rows JOIN tasks t ON t.id = rows.v->>'id'
    WHERE rows.v->>'s' IN ('succeeded', 'failed') AND t.version < rows.v->>'v' AND t.finished_at IS NOT rows.v->>'f')`;

/** Adds the rows' uncounted ends to their minute's counts. */
export const COUNT_ENDS = `${ENDS}
  INSERT INTO task_minutes (minute, queue, succeeded, failed)
  SELECT minute, queue, SUM(state = 'succeeded'), SUM(state = 'failed') FROM ends GROUP BY minute, queue
  ON CONFLICT (minute, queue) DO UPDATE SET succeeded = succeeded + excluded.succeeded, failed = failed + excluded.failed`;

/** Adds the rows' uncounted ends to their minute's latency buckets. */
export const COUNT_LATENCIES = `${ENDS}
  INSERT INTO task_latency (minute, queue, bucket, n)
  SELECT minute, queue, bucket, COUNT(*) FROM (SELECT minute, queue, ${bucketSql('ms')} AS bucket FROM ends) GROUP BY minute, queue, bucket
  ON CONFLICT (minute, queue, bucket) DO UPDATE SET n = n + excluded.n`;

export interface MinuteStats {
  at: string;
  /** null: the totals across all queues. */
  queue: string | null;
  succeeded: number;
  failed: number;
  latencyMs: Percentiles | null;
}

/**
 * The minutes from `since` to `until` (epoch ms; a minute counts when it starts in that range
 * or `since` falls inside it) with any ends, oldest first, one row per queue, then the totals
 * of that minute (queue null) unless `queue` names one queue.
 */
export async function readHistory(db: D1Database, since: number, until: number, queue: string | null): Promise<MinuteStats[]> {
  const from = Math.floor(since / MINUTE_MS) * MINUTE_MS;
  const only = queue === null ? '' : ' AND queue = ?3';
  const params = queue === null ? [from, until] : [from, until, queue];
  const [counts, buckets] = await db.batch<{ minute: number; queue: string; succeeded?: number; failed?: number; bucket?: number; n?: number }>([
    db.prepare(`SELECT minute, queue, succeeded, failed FROM task_minutes WHERE minute >= ?1 AND minute <= ?2${only} ORDER BY minute, queue`).bind(...params),
    db.prepare(`SELECT minute, queue, bucket, n FROM task_latency WHERE minute >= ?1 AND minute <= ?2${only}`).bind(...params),
  ]);
  const histograms = new Map<string, Map<number, number>>();
  const histogram = (key: string) => histograms.get(key) ?? histograms.set(key, new Map()).get(key)!;
  for (const b of buckets.results) {
    mergeInto(histogram(`${b.minute} ${b.queue}`), b.bucket!, b.n!);
    if (queue === null) mergeInto(histogram(`${b.minute}`), b.bucket!, b.n!);
  }
  const out: MinuteStats[] = [];
  const rows = counts.results;
  let succeeded = 0;
  let failed = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const at = new Date(r.minute).toISOString();
    out.push({ at, queue: r.queue, succeeded: r.succeeded!, failed: r.failed!, latencyMs: percentiles(histogram(`${r.minute} ${r.queue}`)) });
    succeeded += r.succeeded!;
    failed += r.failed!;
    // The minute's last queue: its totals follow.
    if (rows[i + 1]?.minute !== r.minute) {
      if (queue === null) out.push({ at, queue: null, succeeded, failed, latencyMs: percentiles(histogram(`${r.minute}`)) });
      succeeded = failed = 0;
    }
  }
  return out;
}

/** Removes the minutes older than HISTORY_MS, up to `limit` rows of each table. */
export async function sweepHistory(db: D1Database, now: number, limit: number): Promise<number> {
  const cutoff = now - HISTORY_MS;
  const out = await db.batch([
    db.prepare(`DELETE FROM task_minutes WHERE rowid IN (SELECT rowid FROM task_minutes WHERE minute < ? LIMIT ?)`).bind(cutoff, limit),
    db.prepare(`DELETE FROM task_latency WHERE rowid IN (SELECT rowid FROM task_latency WHERE minute < ? LIMIT ?)`).bind(cutoff, limit),
  ]);
  return out.reduce((sum, r) => sum + r.meta.changes, 0);
}
