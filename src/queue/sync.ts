// Writes QueueObject changes to D1 in batches: the change logs make them durable, versions keep them in order.
import type { TaskSpec } from '../core/states.ts';
import { jsonChunks, overUtf8Bytes } from '../core/params.ts';
import { INSERT_TAKEN_TASKS, recordJson, recordRow } from '../db/records.ts';
import { COUNT_ENDS, COUNT_LATENCIES } from '../db/history.ts';
import { limitOf, type Sql } from '../db/sql.ts';

/**
 * Two append-only logs, so that queueing a change and forgetting it once written are appends and
 * prefix deletes, never index upkeep. sync_log holds the ids of changed tasks, in the order they
 * changed; a task changed twice before a write is written once, as it is at the write. (A claim's
 * `running` is not logged at once: it waits in the object's memory, Alarm `lazy`, and is logged
 * only if the lease is still held then, so that a task acked soon after its claim costs D1 one
 * write.) sync_insert holds the whole task of an enqueue the object took before D1 had a record
 * of it: each write inserts those first, so the changes logged after them find their rows. Its
 * places are never reused (AUTOINCREMENT): an enqueue waits for D1 to pass its place.
 */
export const LOG_TABLES = [
  `CREATE TABLE IF NOT EXISTS sync_log (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, counts TEXT)`,
  `CREATE TABLE IF NOT EXISTS sync_insert (seq INTEGER PRIMARY KEY AUTOINCREMENT, spec TEXT NOT NULL)`,
];

/** Task ids whose latest change D1 may not have yet (for `id NOT IN (...)`): such tasks must stay. */
export const UNSYNCED_IDS = `SELECT id FROM sync_log`;

/**
 * Queues the tasks' current versions for the next D1 write, and the counter increments of the
 * same transaction (JSON, on the first row; a row of no task, '', when none changed): the write
 * that forgets the log adds them to the object's counters (`foldCounts`), so a transaction's
 * counters cost no statement of their own.
 */
export function logChanges(sql: Sql, ids: string[], counts: string | null = null): void {
  // One chunk for any step but the largest (a purge of many thousands), under SQLite's 2 MB a value.
  jsonChunks((ids.length ? ids : ['']).map((id) => JSON.stringify(id))).forEach((chunk, i) =>
    sql.run(`INSERT INTO sync_log (id, counts) SELECT value, CASE WHEN key = 0 THEN ?2 END FROM json_each(?1)`, chunk, i === 0 ? counts : null));
}

/** Counter increments logged and not yet added to the object's counters, by key (SUM of them). */
export const LOGGED_COUNTS = `SELECT j.key AS key, SUM(j.value) AS value FROM sync_log l, json_each(l.counts) j WHERE l.counts IS NOT NULL`;

/** Adds the counter increments logged up to `last` to the object's counters; just before those log rows go. */
function foldCounts(sql: Sql, last: number): void {
  sql.run(
    `INSERT INTO meta (key, value) SELECT 'm:' || key, value FROM (${LOGGED_COUNTS} AND l.seq <= ? GROUP BY j.key) WHERE true
     ON CONFLICT (key) DO UPDATE SET value = CAST(value AS REAL) + excluded.value`,
    last,
  );
}

/**
 * Queues for the next D1 write the `running` of the leases, [task id, lease id], that are still
 * held: a lease that ended since logged its task's change then.
 */
export function logStillHeld(sql: Sql, leases: [string, string][]): void {
  for (const chunk of jsonChunks(leases.map((l) => JSON.stringify(l)))) {
    sql.run(
      `INSERT INTO sync_log (id) SELECT t.id FROM json_each(?) j JOIN tasks t ON t.id = j.value->>'$[0]' AND t.lease_id = j.value->>'$[1]'`,
      chunk,
    );
  }
}

/** At an object's start: the `running` of every lease held, which D1 may not have (the leases a claim keeps in memory were lost). */
export function logAllHeld(sql: Sql): void {
  sql.run(`INSERT INTO sync_log (id) SELECT id FROM tasks WHERE phase = 'leased'`);
}

/** Queues tasks D1 has no record of yet for insertion; returns the last one's place in that log. */
export function logInserts(sql: Sql, specs: TaskSpec[]): number {
  // In chunks under SQLite's 2 MB a value: a batch of large tasks is many times that. Each insert
  // names the places it took; the last chunk's last is the last of all (places only grow).
  let last = 0;
  for (const chunk of jsonChunks(specs.map(recordJson))) {
    for (const r of sql.all<{ seq: number }>(`INSERT INTO sync_insert (spec) SELECT value FROM json_each(?) RETURNING seq`, chunk)) last = Math.max(last, r.seq);
  }
  return last;
}

/** What D1 is owed, as a SELECT list (QueueObject's rearm reads it with others in one statement). */
export const SYNC_OWED_COLUMNS = `EXISTS (SELECT 1 FROM sync_log) AS changes, EXISTS (SELECT 1 FROM sync_insert) AS inserts`;
export type SyncOwedRow = { changes: number; inserts: number };

/**
 * What D1 is owed: whether the change log and the insert log hold anything. A write reads only
 * the logs this says hold something (`flushToD1`); LOOK_EVERYWHERE, when nothing is known.
 */
export type SyncOwed = { changes: boolean; inserts: boolean };
export const LOOK_EVERYWHERE: SyncOwed = { changes: true, inserts: true };

/** SyncOwed from a row of SYNC_OWED_COLUMNS. */
export function syncOwedOf(r: SyncOwedRow): SyncOwed {
  return { changes: r.changes === 1, inserts: r.inserts === 1 };
}

/** Each row's JSON is read once (MATERIALIZED), not once per field. Exported for the history's tests. */
export const UPDATE = `WITH rows AS MATERIALIZED (SELECT value AS v FROM json_each(?))
  UPDATE tasks SET state = rows.v->>'s', attempts = rows.v->>'a', result = rows.v->>'r',
    error = rows.v->>'e', started_at = rows.v->>'st', finished_at = rows.v->>'f', worker = rows.v->>'w', version = rows.v->>'v',
    attempt_log = rows.v->>'l'
  FROM rows
  WHERE tasks.id = rows.v->>'id' AND tasks.version < rows.v->>'v'`;

/** A task as D1's UPDATE reads it. The attempt log goes as JSON, not a string of it: no quotes to escape. */
const ROW_JSON = `json_object('id', t.id, 'v', t.version, 's', t.state, 'a', t.attempts,
  'r', t.result, 'e', t.error, 'st', t.started_at, 'f', t.finished_at, 'w', t.worker, 'l', json(t.attempt_log))`;

/**
 * A task that ended in a way the history counts (src/db/history.ts), as its statements read it:
 * small (no result), so a batch's ends go in one parameter whatever the chunks of its rows, with
 * when the task was due (`d`: created, or its eta if later) for the latency.
 */
const END_JSON = `CASE WHEN t.state IN ('succeeded', 'failed') THEN json_object('id', t.id, 'v', t.version, 's', t.state,
  'f', t.finished_at, 'd', MAX(t.created_at, COALESCE(t.eta, 0))) END`;

/**
 * A task just delivered and not changed since: D1 holds it as the hub recorded it (queued, no eta,
 * no attempt yet), so all D1 needs is the version, which tells the redelivery sweep an object
 * has it. That write touches no index of D1's but the sweep's.
 */
const ARRIVED = `t.version = 1 AND t.state = 'queued' AND t.attempts = 0 AND t.ready_at = t.created_at`;

const CONFIRM = `UPDATE tasks SET version = 1 WHERE id IN (SELECT value FROM json_each(?)) AND version = 0`;

/**
 * The distinct tasks of the log up to seq ?1, as they are now (a purged task has nothing to
 * write): `j` for a full write, or `arrived` for an arrival.
 */
const PENDING = `SELECT CASE WHEN ${ARRIVED} THEN NULL ELSE ${ROW_JSON} END AS j, CASE WHEN ${ARRIVED} THEN t.id END AS arrived,
    ${END_JSON} AS ended
  FROM (SELECT DISTINCT id FROM sync_log WHERE seq <= ?1) l JOIN tasks t ON t.id = l.id`;

/**
 * D1 binds one value up to 2 MB. Rows of at most half of this go together by where they start
 * (a window of half this size), so a chunk of them stays under it; a larger row goes alone.
 */
const CHUNK_BYTES = 900_000;

/** Tasks inserted per D1 write at most, by count and by their JSON's size. */
const INSERT_ROWS = 1000;
const INSERT_BYTES = 4 * 1024 * 1024;

/**
 * The oldest logged enqueues, up to INSERT_ROWS and INSERT_BYTES (the first always), and the
 * insert log's last place. One statement: the running size is summed over the places and sizes
 * alone (the LIMIT keeps that subquery apart), so only the tasks taken are read whole.
 */
const INSERTS_DUE = `SELECT i.seq AS seq, i.spec AS spec, (SELECT MAX(seq) FROM sync_insert) AS tail
  FROM (SELECT seq, ROW_NUMBER() OVER (ORDER BY seq) AS n, SUM(bytes) OVER (ORDER BY seq ROWS UNBOUNDED PRECEDING) AS upto
        FROM (SELECT seq, length(spec) AS bytes FROM sync_insert ORDER BY seq LIMIT ${limitOf(INSERT_ROWS)})) w
  JOIN sync_insert i ON i.seq = w.seq
  WHERE w.n = 1 OR w.upto <= ?
  ORDER BY i.seq`;

/**
 * The D1 statements that insert the oldest logged enqueues (the queue's name with them), the
 * last place in the insert log they cover, and whether the log holds more after them; null when
 * there are none. Their rows are made confirmed (INSERT_TAKEN_TASKS): this object holds them, so
 * their arrival needs no write of its own.
 */
function insertsDue(
  sql: Sql,
  queue: string | null,
  now: number,
  read?: InsertDue[],
): { statements: [string, ...unknown[]][]; last: number; more: boolean } | null {
  const rows = read ?? sql.all<InsertDue>(INSERTS_DUE, INSERT_BYTES);
  if (rows.length === 0) return null;
  const last = rows[rows.length - 1].seq;
  const statements: [string, ...unknown[]][] = jsonChunks(rows.map((r) => recordRow(r.spec))).map((chunk) => [INSERT_TAKEN_TASKS, now, chunk]);
  if (queue !== null) statements.push([`INSERT OR IGNORE INTO queues (name, created_at) VALUES (?, ?)`, queue, now]);
  return { statements, last, more: rows[0].tail > last };
}

/**
 * Flushes up to `limit` logged changes in one D1 batch (after the oldest enqueues), then
 * forgets the log up to the last change read: a change made while the write was in flight is
 * logged after it and stays. Returns how many log entries were written (`limit` when the insert
 * log holds more) and the last place of the insert log D1 now has, or null when it had none to
 * take; throws if D1 failed (the logs keep all). SQLite writes the rows' JSON itself: no row
 * becomes a JavaScript object. `owed` says which logs may hold something: never less than they
 * hold (the alarm keeps it after every transaction that writes, and a write only empties them).
 * The write updates it as it reads, for the logs it will have emptied: a failed write must
 * mark them all owed again (the writer does).
 */
export async function flushToD1(
  sql: Sql,
  db: D1Database,
  limit = 500,
  now = Date.now(),
  queue: string | null = null,
  owed: SyncOwed = { ...LOOK_EVERYWHERE },
): Promise<{ written: number; insertedThrough: number | null }> {
  // Enqueues D1 has no record of go first, in the same batch as the changes after them when they
  // all fit; when they do not, this write is inserts only and the changes wait for the next.
  // Both logs hold something at once when tasks come and go within one gap (a few tasks a
  // second): then one statement reads both.
  const both = owed.inserts && owed.changes ? readBoth(sql, limit) : null;
  const inserts = owed.inserts ? insertsDue(sql, queue, now, both?.inserts) : null;
  owed.inserts = inserts?.more ?? false;
  const first = (inserts?.statements ?? []).map(([text, ...params]) => db.prepare(text).bind(...params));
  if (inserts?.more) {
    await db.batch(first);
    sql.run(`DELETE FROM sync_insert WHERE seq <= ?`, inserts.last);
    return { written: limit, insertedThrough: inserts.last };
  }
  const written = await flushLog(sql, db, limit, first, owed, both?.pending);
  if (inserts) sql.run(`DELETE FROM sync_insert WHERE seq <= ?`, inserts.last);
  return { written, insertedThrough: inserts?.last ?? null };
}

/** The pending rows up to the `head` of the change log, as one row of Pending (readPending). */
const PENDING_AGGREGATE = `SELECT head.last AS last, head.n AS n, head.counted AS counted, '[' || group_concat(p.j, ',') || ']' AS rows,
    json_group_array(p.arrived) FILTER (WHERE p.arrived IS NOT NULL) AS arrived, '[' || group_concat(p.ended, ',') || ']' AS ended
  FROM head LEFT JOIN (${PENDING.replace('?1', '(SELECT last FROM head)')}) p`;

/** SQLite refused a string or row over its limit (an aggregate of large results). */
const tooBig = (err: unknown) => /SQLITE_TOOBIG|too big/i.test(String(err));

type InsertDue = { seq: number; spec: string; tail: number };

/**
 * readPending and INSERTS_DUE in one statement: the pending aggregate first (its `seq` null),
 * then the enqueues due in order. Null when the aggregate is too big for SQLite: each is then
 * read on its own, the rows in windows.
 */
function readBoth(sql: Sql, limit: number): { pending: Pending; inserts: InsertDue[] } | null {
  let rows: (Pending & InsertDue)[];
  try {
    rows = sql.all<Pending & InsertDue>(
      `WITH head AS MATERIALIZED (${head(limit)})
       SELECT last, n, counted, rows, arrived, ended, NULL AS seq, NULL AS spec, NULL AS tail FROM (${PENDING_AGGREGATE})
       UNION ALL
       SELECT NULL, NULL, NULL, NULL, NULL, NULL, seq, spec, tail FROM (${INSERTS_DUE})
       ORDER BY seq`,
      INSERT_BYTES,
    );
  } catch (err) {
    if (!tooBig(err)) throw err;
    return null;
  }
  const [pending, ...inserts] = rows;
  return { pending, inserts };
}

/** The ends among the pending rows, as one JSON array of END_JSON (null when none). */
const ENDED = `'[' || group_concat(ended, ',') || ']' AS ended`;

/** The change log's first `limit` entries: the last place among them, and how many. */
const head = (limit: number) =>
  `SELECT MAX(seq) AS last, COUNT(*) AS n, COUNT(counts) AS counted FROM (SELECT seq, counts FROM sync_log ORDER BY seq LIMIT ${limitOf(limit)})`;

type Pending = { last: number | null; n: number; counted: number; rows: string | null; arrived: string | null; ended: string | null };

/**
 * The change log's first `limit` entries (the last place among them, and how many) and, up to
 * there, the pending rows as one JSON array (null when over SQLite's string limit, or none),
 * the arrivals' ids, and the ends the history counts (null when none). One statement, usually.
 */
function readPending(sql: Sql, limit: number): Pending {
  try {
    return sql.one<Pending>(`WITH head AS MATERIALIZED (${head(limit)}) ${PENDING_AGGREGATE}`)!;
  } catch (err) {
    if (!tooBig(err)) throw err;
    const { last, n, counted } = sql.one<{ last: number | null; n: number; counted: number }>(head(limit))!;
    const ids = sql.one<{ arrived: string | null; any: number; ended: string | null }>(
      `SELECT json_group_array(arrived) FILTER (WHERE arrived IS NOT NULL) AS arrived, COUNT(j) AS any, ${ENDED} FROM (${PENDING})`,
      last,
    )!;
    // Not null: the windows below read the rows.
    return { last, n, counted, rows: ids.any > 0 ? '' : null, arrived: ids.arrived, ended: ids.ended };
  }
}

async function flushLog(sql: Sql, db: D1Database, limit: number, first: D1PreparedStatement[], owed: SyncOwed, pending?: Pending): Promise<number> {
  // Usually all of it fits one parameter: one aggregate, no windows. Large results make the
  // aggregate itself too big for SQLite (2 MB a string on Cloudflare): then only the ids are read
  // here, and the rows in windows below.
  const read: Pending = !owed.changes
    ? { last: null, n: 0, counted: 0, rows: null, arrived: null, ended: null }
    : (pending ?? readPending(sql, limit));
  owed.changes = read.n >= limit;
  const last = read.last;
  if (last === null) {
    if (first.length) await db.batch(first);
    return 0;
  }
  let chunks: string[] = [];
  if (read.rows && !overUtf8Bytes(read.rows, CHUNK_BYTES)) chunks = [read.rows];
  else if (read.rows !== null) {
    read.rows = null; // large results: not held twice while the chunks are built
    chunks = sql
      .all<{ rows: string }>(
        `WITH sized AS (SELECT j, length(CAST(j AS BLOB)) AS bytes FROM (${PENDING}) WHERE j IS NOT NULL),
         placed AS (
           SELECT j, bytes, SUM(bytes + 1) OVER (ROWS UNBOUNDED PRECEDING) - bytes - 1 AS at,
             ROW_NUMBER() OVER (ROWS UNBOUNDED PRECEDING) AS n
           FROM sized)
         SELECT '[' || group_concat(j, ',') || ']' AS rows FROM placed
         GROUP BY CASE WHEN bytes > ?2 THEN -n ELSE CAST(at / ?2 AS INTEGER) END`,
        last,
        CHUNK_BYTES / 2,
      )
      .map((c) => c.rows);
  }
  // The history counts the batch's ends before the UPDATEs make them D1's (after the inserts,
  // whose rows they join): two statements more per batch, of one parameter each, none when no
  // task ended.
  const counted = read.ended === null ? [] : [db.prepare(COUNT_ENDS).bind(read.ended), db.prepare(COUNT_LATENCIES).bind(read.ended)];
  const statements = [...first, ...counted, ...chunks.map((rows) => db.prepare(UPDATE).bind(rows))];
  if (read.arrived !== null && read.arrived !== '[]') statements.push(db.prepare(CONFIRM).bind(read.arrived));
  if (statements.length) await db.batch(statements);
  // One transaction, no await between: the counters gain what the log rows carried as they go.
  if (read.counted > 0) foldCounts(sql, last);
  sql.run(`DELETE FROM sync_log WHERE seq <= ?`, last);
  return read.n;
}
