// Writes QueueObject changes to D1 in batches: the outbox makes them durable, versions keep them in order.
import type { Sql } from './sql.ts';

/** Each row's JSON is read once (MATERIALIZED), not once per field. */
const UPDATE = `WITH rows AS MATERIALIZED (SELECT value AS v FROM json_each(?))
  UPDATE tasks SET state = rows.v->>'s', attempts = rows.v->>'a', result = rows.v->>'r',
    error = rows.v->>'e', started_at = rows.v->>'st', finished_at = rows.v->>'f', worker = rows.v->>'w', version = rows.v->>'v'
  FROM rows
  WHERE tasks.id = rows.v->>'id' AND tasks.version < rows.v->>'v'`;

/**
 * D1 binds one value up to 2 MB. Rows of at most half of this go together by where they start
 * (a window of half this size), so a chunk of them stays under it; a larger row goes alone.
 */
const CHUNK_BYTES = 900_000;

/**
 * Flushes up to `limit` pending changes due by `now` in one D1 batch and forgets those D1 now
 * holds. A change made while the write was in flight keeps its newer version in the
 * outbox. Returns how many changes were written; throws if D1 failed (the outbox keeps all).
 * SQLite writes the rows' JSON itself, in chunks: no row becomes a JavaScript object.
 */
export async function flushToD1(sql: Sql, db: D1Database, limit = 500, now = Date.now()): Promise<number> {
  const chunks = sql.all<{ rows: string; written: string; n: number }>(
    `WITH pending AS (
       SELECT o.id AS id, t.version AS v, json_object('id', o.id, 'v', t.version, 's', t.state, 'a', t.attempts,
         'r', t.result, 'e', t.error, 'st', t.started_at, 'f', t.finished_at, 'w', t.worker) AS j
       FROM sync_outbox o JOIN tasks t ON t.id = o.id WHERE o.due_at <= ?3 LIMIT ?1),
     sized AS (SELECT id, v, j, length(CAST(j AS BLOB)) AS bytes FROM pending),
     placed AS (
       SELECT id, v, j, bytes, SUM(bytes + 1) OVER (ROWS UNBOUNDED PRECEDING) - bytes - 1 AS at,
         ROW_NUMBER() OVER (ROWS UNBOUNDED PRECEDING) AS n
       FROM sized)
     SELECT '[' || group_concat(j, ',') || ']' AS rows, json_group_array(json_array(id, v)) AS written, COUNT(*) AS n FROM placed
     GROUP BY CASE WHEN bytes > ?2 THEN -n ELSE CAST(at / ?2 AS INTEGER) END`,
    limit,
    CHUNK_BYTES / 2,
    now,
  );
  if (chunks.length === 0) return 0;
  await db.batch(chunks.map((c) => db.prepare(UPDATE).bind(c.rows)));
  // Forgotten by [id, version] pairs, not by re-reading the rows (results and all) just written.
  for (const c of chunks) {
    sql.run(
      `WITH written AS MATERIALIZED (SELECT value->>0 AS id, value->>1 AS v FROM json_each(?))
       DELETE FROM sync_outbox WHERE rowid IN (
         SELECT o.rowid FROM written w JOIN sync_outbox o ON o.id = w.id AND o.version <= w.v)`,
      c.written,
    );
  }
  return chunks.reduce((n, c) => n + c.n, 0);
}
