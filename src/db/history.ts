// The history of task ends in D1: counted per queue and minute as queue objects write their ends, read back for GET /v1/stats.
import { bucketSql, edgeOf, mergeInto, percentileSql, percentiles, type Percentiles } from '../core/histogram.ts';
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
  const range = `minute >= ?1 AND minute <= ?2${only}`;
  type Row = { minute: number; queue: string | null; succeeded?: number; failed?: number; p50?: number; p95?: number; p99?: number };
  // Percentiles are worked out in D1: a day's buckets are many times its rows of percentiles.
  const statements = [
    db.prepare(`SELECT minute, queue, succeeded, failed FROM task_minutes WHERE ${range} ORDER BY minute, queue`).bind(...params),
    db.prepare(percentileSql(`SELECT minute, queue, bucket, n FROM task_latency WHERE ${range}`)).bind(...params),
  ];
  // The totals' percentiles come from the queues' buckets added together.
  if (queue === null) {
    statements.push(db.prepare(percentileSql(`SELECT minute, NULL AS queue, bucket, SUM(n) AS n FROM task_latency WHERE ${range} GROUP BY minute, bucket`)).bind(...params));
  }
  const [counts, ...latencies] = await db.batch<Row>(statements);
  // Keyed by minute and queue, '' for the totals (no queue has that name).
  const key = (minute: number, q: string | null) => `${minute}/${q ?? ''}`;
  const latency = new Map<string, Percentiles>();
  for (const r of latencies.flatMap((l) => l.results)) latency.set(key(r.minute, r.queue), { p50: edgeOf(r.p50!), p95: edgeOf(r.p95!), p99: edgeOf(r.p99!) });
  const latencyOf = (minute: number, q: string | null) => latency.get(key(minute, q)) ?? null;
  const out: MinuteStats[] = [];
  const rows = counts.results;
  let succeeded = 0;
  let failed = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const at = new Date(r.minute).toISOString();
    out.push({ at, queue: r.queue, succeeded: r.succeeded!, failed: r.failed!, latencyMs: latencyOf(r.minute, r.queue) });
    succeeded += r.succeeded!;
    failed += r.failed!;
    // The minute's last queue: its totals follow.
    if (rows[i + 1]?.minute !== r.minute) {
      if (queue === null) out.push({ at, queue: null, succeeded, failed, latencyMs: latencyOf(r.minute, null) });
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

/**
 * readHistory over several D1 databases (the hub's and its jurisdictions'; each counts the ends
 * of the tasks it records): the minutes' counts added, and their percentiles from the buckets
 * added together, worked out here since no one database has them all.
 */
export async function readHistoryOf(dbs: D1Database[], since: number, until: number, queue: string | null): Promise<MinuteStats[]> {
  if (dbs.length === 1) return readHistory(dbs[0], since, until, queue);
  const from = Math.floor(since / MINUTE_MS) * MINUTE_MS;
  const only = queue === null ? '' : ' AND queue = ?3';
  const params = queue === null ? [from, until] : [from, until, queue];
  const range = `minute >= ?1 AND minute <= ?2${only}`;
  type Count = { minute: number; queue: string; succeeded: number; failed: number };
  type Bucket = { minute: number; queue: string; bucket: number; n: number };
  const reads = await Promise.all(
    dbs.map((db) =>
      db.batch<Count | Bucket>([
        db.prepare(`SELECT minute, queue, succeeded, failed FROM task_minutes WHERE ${range}`).bind(...params),
        db.prepare(`SELECT minute, queue, bucket, n FROM task_latency WHERE ${range}`).bind(...params),
      ]),
    ),
  );
  // Keyed by minute and queue, '' for a minute's totals (no queue has that name).
  const counts = new Map<string, { minute: number; queue: string | null; succeeded: number; failed: number; buckets: Map<number, number> }>();
  const entry = (minute: number, q: string | null) => {
    const key = `${minute}/${q ?? ''}`;
    let e = counts.get(key);
    if (!e) counts.set(key, (e = { minute, queue: q, succeeded: 0, failed: 0, buckets: new Map() }));
    return e;
  };
  for (const [c, b] of reads) {
    for (const r of c.results as Count[]) {
      for (const e of queue === null ? [entry(r.minute, r.queue), entry(r.minute, null)] : [entry(r.minute, r.queue)]) {
        e.succeeded += r.succeeded;
        e.failed += r.failed;
      }
    }
    for (const r of b.results as Bucket[]) {
      for (const e of queue === null ? [entry(r.minute, r.queue), entry(r.minute, null)] : [entry(r.minute, r.queue)]) mergeInto(e.buckets, r.bucket, r.n);
    }
  }
  // Oldest first, each minute's queues by name, then its totals: as readHistory answers.
  const order = (e: { minute: number; queue: string | null }) => [e.minute, e.queue === null ? 1 : 0, e.queue ?? ''] as const;
  return [...counts.values()]
    .filter((e) => e.succeeded + e.failed > 0)
    .sort((a, b) => {
      const [am, at, aq] = order(a);
      const [bm, bt, bq] = order(b);
      return am - bm || at - bt || (aq < bq ? -1 : aq > bq ? 1 : 0);
    })
    .map((e) => ({ at: new Date(e.minute).toISOString(), queue: e.queue, succeeded: e.succeeded, failed: e.failed, latencyMs: percentiles(e.buckets) }));
}
