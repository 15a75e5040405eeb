// Writes QueueObject changes to D1 in batches: the outbox makes them durable, versions keep them in order.
import { jsonChunks } from '../db/params.ts';
import type { Sql } from './sql.ts';

export interface Pending {
  id: string;
  v: number;
  s: string;
  a: number;
  r: string | null;
  e: string | null;
  st: number | null;
  f: number | null;
  w: string | null;
}

/** Each row's JSON is read once (MATERIALIZED), not once per field. */
const UPDATE = `WITH rows AS MATERIALIZED (SELECT value AS v FROM json_each(?))
  UPDATE tasks SET state = rows.v->>'s', attempts = rows.v->>'a', result = rows.v->>'r',
    error = rows.v->>'e', started_at = rows.v->>'st', finished_at = rows.v->>'f', worker = rows.v->>'w', version = rows.v->>'v'
  FROM rows
  WHERE tasks.id = rows.v->>'id' AND tasks.version < rows.v->>'v'`;

/**
 * Flushes up to `limit` pending changes in one D1 batch and forgets those D1 now
 * holds. A change made while the write was in flight keeps its newer version in the
 * outbox. Returns the changes written; throws if D1 failed (the outbox keeps all).
 */
export async function flushToD1(sql: Sql, db: D1Database, limit = 500): Promise<Pending[]> {
  const pending = sql.all<Pending>(
    `SELECT o.id AS id, t.version AS v, t.state AS s, t.attempts AS a, t.result AS r, t.error AS e,
       t.started_at AS st, t.finished_at AS f, t.worker AS w
     FROM sync_outbox o JOIN tasks t ON t.id = o.id LIMIT ?`,
    limit,
  );
  if (pending.length === 0) return pending;
  const statements = jsonChunks(pending.map((p) => JSON.stringify(p))).map((rows) => db.prepare(UPDATE).bind(rows));
  await db.batch(statements);
  sql.run(
    `DELETE FROM sync_outbox WHERE rowid IN (
       SELECT o.rowid FROM sync_outbox o JOIN json_each(?) j ON o.id = j.value->>'$[0]' AND o.version <= j.value->>'$[1]')`,
    JSON.stringify(pending.map((p) => [p.id, p.v])),
  );
  return pending;
}
