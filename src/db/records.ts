// Reads and batched writes of the D1 task record: enqueue with idempotency, lookups, lists, the undelivered.
import { and, desc, eq, gte, lt, sql, type SQL } from 'drizzle-orm';
import { LIST_CURSOR } from '../core/ids.ts';
import { drizzle } from 'drizzle-orm/d1';
import type { TaskSpec } from '../core/states.ts';
import { jsonChunks } from '../core/params.ts';
import { queues, tasks, type TaskRow } from './schema.ts';

/** How long an idempotency key holds its first task. */
export const IDEMPOTENCY_MS = 24 * 3600 * 1000;

export interface Recorded {
  /** One per input, in input order. */
  results: { id: string; state: string; duplicate?: true }[];
  /** The tasks this call created (not duplicates), to send on the bus. */
  created: TaskSpec[];
}

const CLAIM_KEYS = `INSERT INTO idempotency_keys (key, task_id, expires_at)
  SELECT j.value->>'idempotencyKey', j.value->>'id', ?1 FROM json_each(?2) AS j WHERE true
  ON CONFLICT (key) DO UPDATE SET task_id = excluded.task_id, expires_at = excluded.expires_at
  WHERE idempotency_keys.expires_at <= ?3`;

/**
 * The fields of a task's D1 row, in the order its JSON array (recordJson) carries them: a row
 * read by position costs SQLite less than one read by key, which looks each key up by name.
 */
const RECORD_FIELDS = [
  'id', 'task', 'queue', 'region', 'priority', 'args', 'kwargs', 'maxRetries', 'retryDelay', 'timeout', 'eta',
  'expiresAt', 'idempotencyKey', 'orderingKey', 'parentId', 'rootId', 'workflowId', 'http', 'callback',
  'groupKey', 'groupLimit', 'createdAt', 'shard', 'headers', 'rateKey',
] as const satisfies readonly (keyof TaskSpec)[];

/** A field of the row: `->>` for SQL values, `->` for the JSON ones (http, callback). */
const at = (field: (typeof RECORD_FIELDS)[number], json = false) => `v->${json ? '' : '>'}${RECORD_FIELDS.indexOf(field)}`;

// Each row's JSON is read once (MATERIALIZED), into SQLite's binary form (jsonb): `j.value->>0`
// straight off json_each turns the row back into text for every field, which was most of a
// batch's SQLite time. The rows come as recordJson makes them. Rows are made at `version`: 0 by
// the hub (the redelivery sweep's mark of a task no queue object has confirmed), 1 by the object
// that holds the task (INSERT_TAKEN_TASKS), which also confirms a row the hub made first.
const insertTasks = (version: 0 | 1) => `WITH rows AS MATERIALIZED (SELECT jsonb(value) AS v FROM json_each(?2))
  INSERT ${version === 0 ? 'OR IGNORE ' : ''}INTO tasks (id, task, queue, region, priority, state, args, kwargs,
    max_retries, retry_delay, timeout, eta, expires_at, idempotency_key, ordering_key, parent_id, root_id,
    workflow_id, http, callback, group_key, group_limit, created_at, version, shard, headers, rate_key)
  SELECT ${at('id')}, ${at('task')}, ${at('queue')}, ${at('region')}, ${at('priority')},
    CASE WHEN ${at('eta')} > ?1 THEN 'delayed' ELSE 'queued' END,
    ${at('args')}, ${at('kwargs')}, ${at('maxRetries')}, ${at('retryDelay')}, ${at('timeout')},
    ${at('eta')}, ${at('expiresAt')}, ${at('idempotencyKey')}, ${at('orderingKey')},
    ${at('parentId')}, ${at('rootId')}, ${at('workflowId')}, ${at('http', true)}, ${at('callback', true)},
    ${at('groupKey')}, ${at('groupLimit')}, ${at('createdAt')}, ${version}, ${at('shard')}, ${at('headers')}, ${at('rateKey')}
  FROM rows
  WHERE ${at('idempotencyKey')} IS NULL
     OR (SELECT task_id FROM idempotency_keys WHERE key = ${at('idempotencyKey')}) = ${at('id')}
  ${version === 0 ? '' : 'ON CONFLICT (id) DO UPDATE SET version = 1 WHERE tasks.version = 0'}`;

/** Inserts the tasks of a JSON array of rows (?2) the hub records: delayed while their eta is after ?1 (now). */
export const INSERT_TASKS = insertTasks(0);
/**
 * INSERT_TASKS for the object that holds the tasks: their rows are made confirmed (version 1), and
 * a row of one the hub recorded first (its `take` did not answer, so the hub wrote D1 itself) is
 * confirmed, or the redelivery sweep would send it again. The primary key is the only conflict
 * (the object takes no task with an idempotency key), and the one the upsert names.
 */
export const INSERT_TAKEN_TASKS = insertTasks(1);

/** A task's row for INSERT_TASKS: a JSON array of its RECORD_FIELDS, null where unset. */
export function recordJson(spec: Partial<TaskSpec>): string {
  const row: unknown[] = [];
  for (const field of RECORD_FIELDS) row.push(spec[field] ?? null);
  return JSON.stringify(row);
}

/**
 * A row logged by an object as recordJson made it, for INSERT_TASKS. Objects that logged rows
 * before rows were arrays kept them as objects of their non-null fields: those are made arrays.
 */
export function recordRow(logged: string): string {
  return logged.startsWith('{') ? recordJson(JSON.parse(logged)) : logged;
}

/** The state a new task is enqueued in: delayed until an eta still to come, else queued. */
export function enqueuedState(spec: Pick<TaskSpec, 'eta'>, now: number): 'delayed' | 'queued' {
  return spec.eta !== null && spec.eta > now ? 'delayed' : 'queued';
}

/**
 * Records new tasks in one D1 batch (one transaction): all or nothing. A task whose
 * idempotency key is held by another task within 24 h is not created; its result
 * names the first task instead. Safe to repeat with the same ids; a repeat of a spec whose id
 * the producer chose answers a duplicate, and the redelivery sweep hands its task to its queue if
 * the first call did not (undeliveredSpecs).
 */
export async function recordTasks(db: D1Database, specs: TaskSpec[], now = Date.now()): Promise<Recorded> {
  // A chosen id repeated within the call: its later entries are repeats of its first.
  const firstOf = new Map<string, TaskSpec>();
  const fresh = specs.filter((s) => !firstOf.has(s.id) && firstOf.set(s.id, s));
  const recorded = await recordNew(db, fresh, now);
  if (fresh.length === specs.length) return recorded;
  const answers = new Map(fresh.map((s, i) => [s, recorded.results[i]]));
  const results = specs.map((s) => answers.get(s) ?? { ...answers.get(firstOf.get(s.id)!)!, duplicate: true as const });
  return { results, created: recorded.created };
}

async function recordNew(db: D1Database, specs: TaskSpec[], now: number): Promise<Recorded> {
  if (specs.length === 0) return { results: [], created: [] };
  const json = specs.map(recordJson);
  const keyed = specs.filter((s) => s.idempotencyKey !== null);
  const statements: D1PreparedStatement[] = [];
  for (const c of jsonChunks(keyed.map((s) => JSON.stringify({ id: s.id, idempotencyKey: s.idempotencyKey })))) {
    statements.push(db.prepare(CLAIM_KEYS).bind(now + IDEMPOTENCY_MS, c, now));
  }
  // With ids the producer chose, the insert names the rows it made (RETURNING gives only rows
  // OR IGNORE did not skip): a chosen id is this call's task only if this transaction made its
  // row. Comparing the row to the spec could not tell two calls of one queue and task in the same
  // millisecond apart (workerd's clock stands still between I/O), and both would make the task.
  const chosen = specs.filter((s) => s.chosenId);
  const inserts = jsonChunks(json).map((c) => db.prepare(chosen.length ? `${INSERT_TASKS} RETURNING id` : INSERT_TASKS).bind(now, c));
  const firstInsert = statements.length;
  statements.push(...inserts);
  statements.push(
    db
      .prepare(`INSERT OR IGNORE INTO queues (name, created_at) SELECT DISTINCT value, ? FROM json_each(?)`)
      .bind(now, JSON.stringify([...new Set(specs.map((s) => s.queue))])),
  );
  if (keyed.length) {
    statements.push(
      db
        .prepare(
          `SELECT k.key AS key, k.task_id AS id, t.state AS state FROM idempotency_keys k
           LEFT JOIN tasks t ON t.id = k.task_id WHERE k.key IN (SELECT value FROM json_each(?))`,
        )
        .bind(JSON.stringify(keyed.map((s) => s.idempotencyKey))),
    );
  }
  // An id the producer chose that a task had already: the insert left that task's row alone; its
  // state is read back in the same transaction for the repeat's answer. Two calls racing with one
  // new id: one insert makes the row, and the other call answers a repeat.
  if (chosen.length) {
    statements.push(
      db
        .prepare(`SELECT id, state FROM tasks WHERE id IN (SELECT value FROM json_each(?))`)
        .bind(JSON.stringify(chosen.map((s) => s.id))),
    );
  }
  type Read = { key: string; id: string; state: string | null };
  const out = await db.batch<Read>(statements);
  const rows = new Map<string, Read>();
  if (chosen.length) for (const r of out.pop()!.results) rows.set(r.id, r);
  const made = new Set<string>();
  if (chosen.length) for (const r of out.slice(firstInsert, firstInsert + inserts.length).flatMap((o) => o.results)) made.add(r.id);
  const holders = new Map<string, { id: string; state: string | null }>();
  if (keyed.length) for (const r of out[out.length - 1].results) holders.set(r.key, r);
  const results: Recorded['results'] = [];
  const created: TaskSpec[] = [];
  for (const s of specs) {
    const holder = s.idempotencyKey === null ? undefined : holders.get(s.idempotencyKey);
    if (holder && holder.id !== s.id) {
      results.push({ id: holder.id, state: holder.state ?? 'queued', duplicate: true });
      continue;
    }
    const row = s.chosenId && !made.has(s.id) ? rows.get(s.id) : undefined;
    if (row) {
      results.push({ id: s.id, state: row.state ?? 'queued', duplicate: true });
      continue;
    }
    results.push({ id: s.id, state: enqueuedState(s, now) });
    created.push(s);
  }
  return { results, created };
}

/**
 * Records tasks that end before they could be made, with `error`: failed (a workflow step whose
 * input grew past a task's size limit), or revoked (a step its workflow's end left unstarted). In
 * D1 only, as a dead letter its queue no longer holds reads, so no queue runs them and the
 * redelivery sweep (version 0) passes them by. One D1 batch.
 */
export async function recordRefused(
  db: D1Database,
  specs: TaskSpec[],
  error: { type: string; message: string },
  now = Date.now(),
  state: 'failed' | 'revoked' = 'failed',
): Promise<void> {
  const ids = JSON.stringify(specs.map((s) => s.id));
  await db.batch([
    ...jsonChunks(specs.map(recordJson)).map((c) => db.prepare(INSERT_TASKS).bind(now, c)),
    db
      .prepare(`UPDATE tasks SET state = ?, error = ?, finished_at = ?, version = 1 WHERE id IN (SELECT value FROM json_each(?)) AND version = 0`)
      .bind(state, JSON.stringify(error), now, ids),
    db.prepare(`INSERT OR IGNORE INTO queues (name, created_at) SELECT DISTINCT value, ? FROM json_each(?)`).bind(now, JSON.stringify([...new Set(specs.map((s) => s.queue))])),
  ]);
}

export function rowToSpec(r: TaskRow): TaskSpec {
  return {
    id: r.id,
    task: r.task,
    args: r.args,
    kwargs: r.kwargs,
    queue: r.queue,
    region: r.region,
    priority: r.priority,
    eta: r.eta,
    expiresAt: r.expiresAt,
    maxRetries: r.maxRetries,
    retryDelay: r.retryDelay,
    timeout: r.timeout,
    idempotencyKey: r.idempotencyKey,
    orderingKey: r.orderingKey,
    groupKey: r.groupKey,
    groupLimit: r.groupLimit,
    parentId: r.parentId,
    rootId: r.rootId,
    workflowId: r.workflowId,
    http: r.http ? JSON.parse(r.http) : null,
    callback: r.callback ? JSON.parse(r.callback) : null,
    ...(r.headers !== null && { headers: r.headers }),
    ...(r.shard !== null && { shard: r.shard }),
    ...(r.rateKey !== null && { rateKey: r.rateKey }),
    createdAt: r.createdAt,
  };
}

/** Tasks by id, as the bus would carry them (for messages that carried only ids). */
export async function loadSpecs(db: D1Database, ids: string[]): Promise<TaskSpec[]> {
  const found = await db
    .prepare(`SELECT * FROM tasks WHERE id IN (SELECT value FROM json_each(?))`)
    .bind(JSON.stringify(ids))
    .all<Record<string, unknown>>();
  return found.results.map((r) => rowToSpec(fromSqlRow(r)));
}

/** Tasks recorded before `before` that no QueueObject has confirmed, oldest first, after a cursor. */
export async function undeliveredSpecs(
  db: D1Database,
  before: number,
  after: { createdAt: number; id: string },
  limit: number,
): Promise<TaskSpec[]> {
  const found = await db
    .prepare(
      `SELECT * FROM tasks WHERE version = 0 AND created_at < ? AND (created_at, id) > (?, ?)
       ORDER BY created_at, id LIMIT ?`,
    )
    .bind(before, after.createdAt, after.id, limit)
    .all<Record<string, unknown>>();
  return found.results.map((r) => rowToSpec(fromSqlRow(r)));
}

/** A raw SQL row (snake_case) as drizzle's typed row. */
function fromSqlRow(r: Record<string, unknown>): TaskRow {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(r)) out[key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = value;
  return out as TaskRow;
}

export async function getTaskRow(db: D1Database, id: string): Promise<TaskRow | undefined> {
  return drizzle(db).select().from(tasks).where(eq(tasks.id, id)).get();
}

export interface TaskFilter {
  queue?: string;
  task?: string;
  state?: string;
  region?: string;
  /** Tasks a schedule made: their idempotency keys are schedule:<id>:<slot>. */
  schedule?: string;
  /** Tasks created at or after this time (epoch ms). */
  since?: number;
  /** Tasks created before this time (epoch ms). */
  until?: number;
  cursor?: string;
  limit: number;
}

/** Newest first by creation time; the cursor is the creation time and id of the previous page's last task. */
export async function listTaskRows(db: D1Database, f: TaskFilter): Promise<{ rows: TaskRow[]; cursor: string | null }> {
  const where: SQL[] = [];
  if (f.queue) where.push(eq(tasks.queue, f.queue));
  if (f.task) where.push(eq(tasks.task, f.task));
  if (f.state) where.push(eq(tasks.state, f.state));
  if (f.region) where.push(eq(tasks.region, f.region));
  if (f.schedule) where.push(gte(tasks.idempotencyKey, `schedule:${f.schedule}:`), lt(tasks.idempotencyKey, `schedule:${f.schedule};`));
  if (f.since !== undefined) where.push(gte(tasks.createdAt, f.since));
  if (f.until !== undefined) where.push(lt(tasks.createdAt, f.until));
  const after = f.cursor ? LIST_CURSOR.exec(f.cursor) : null;
  if (after) where.push(sql`(${tasks.createdAt}, ${tasks.id}) < (${Number(after[1])}, ${after[2]})`);
  const rows = await drizzle(db)
    .select()
    .from(tasks)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(tasks.createdAt), desc(tasks.id))
    .limit(f.limit + 1)
    .all();
  const more = rows.length > f.limit;
  if (more) rows.pop();
  const last = rows[rows.length - 1];
  return { rows, cursor: more ? `${last.createdAt}.${last.id}` : null };
}

export async function queueNames(db: D1Database): Promise<string[]> {
  const rows = await drizzle(db).select({ name: queues.name }).from(queues).orderBy(queues.name).all();
  return rows.map((r) => r.name);
}
