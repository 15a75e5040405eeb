// What the soak's storage holds: the state directory's bytes by part, and D1's rows, read from its SQLite file
// (read-only, beside the runtime: the file is in WAL mode, so a reader never blocks the runtime's writer).
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface StorageSample {
  /** Seconds since the soak began. */
  t: number;
  /** Bytes under the state directory's v3/ (Miniflare's D1, Durable Objects, caches), by part: d1, do/<class>, ... */
  bytes: Record<string, number>;
  totalBytes: number;
  /** Durable Object SQLite files, by class: one per object. */
  objects: Record<string, number>;
  /** D1's rows (null when the file could not be read this time). */
  d1: null | {
    tasks: number;
    byState: Record<string, number>;
    /** Finished (succeeded, revoked, expired) records older than the queue's retention plus the sweep's slack: retention should have removed them. */
    pastRetention: number;
    /** Records the bus has not yet carried to their object (version 0). */
    undelivered: number;
    idempotencyKeys: number;
  };
  /** Rows of the QueueObjects' own task tables (null when unreadable this time). */
  queueObjects: null | {
    tasks: number;
    /** Finished rows older than retention plus slack: the object's alarm should have removed them. */
    pastRetention: number;
  };
  /** Workflow objects untouched for longer than retention plus slack that still hold rows: finished workflows kept past retention. */
  staleWorkflowObjects: { count: number; bytes: number };
}

/** Bytes of every file under dir, summed per part (the first two levels below v3/). */
function sizes(stateDir: string): { bytes: Record<string, number>; objects: Record<string, number> } {
  const v3 = join(stateDir, 'v3');
  const bytes: Record<string, number> = {};
  const objects: Record<string, number> = {};
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // gone meanwhile
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else {
        const part = relative(v3, dir).split('/').slice(0, 2).join('/');
        try {
          bytes[part] = (bytes[part] ?? 0) + statSync(path).size;
        } catch {
          continue;
        }
        if (part.startsWith('do/') && /^[0-9a-f]{64}\.sqlite$/.test(e.name)) objects[part.slice(3)] = (objects[part.slice(3)] ?? 0) + 1;
      }
    }
  };
  walk(v3);
  return { bytes, objects };
}

/** Every local D1 database's file: the hub's and each jurisdiction's (DB_EU), which hold tasks alike. */
function d1Files(stateDir: string): string[] {
  const dir = join(stateDir, 'v3', 'd1', 'miniflare-D1DatabaseObject');
  try {
    return readdirSync(dir).filter((f) => /^[0-9a-f]{64}\.sqlite$/.test(f)).map((f) => join(dir, f));
  } catch {
    return [];
  }
}

type Sqlite = typeof import('node:sqlite');
let sqlite: Sqlite | null = null;
/** node:sqlite warns that it is experimental once, on load (on the next tick): that line is not the soak's to print. */
async function loadSqlite(): Promise<Sqlite> {
  if (sqlite) return sqlite;
  const listeners = process.listeners('warning');
  process.removeAllListeners('warning');
  sqlite = await import('node:sqlite');
  await new Promise((r) => setImmediate(r));
  for (const l of listeners) process.on('warning', l);
  return sqlite;
}

async function d1Rows(stateDir: string, slackMs: number): Promise<StorageSample['d1']> {
  const files = d1Files(stateDir);
  if (files.length === 0) return null;
  let sum: NonNullable<StorageSample['d1']> | null = null;
  for (const file of files) {
    const one = await d1RowsOf(file, slackMs);
    if (!one) return null;
    if (!sum) sum = one;
    else {
      for (const [state, n] of Object.entries(one.byState)) sum.byState[state] = (sum.byState[state] ?? 0) + n;
      sum.tasks += one.tasks;
      sum.pastRetention += one.pastRetention;
      sum.undelivered += one.undelivered;
      sum.idempotencyKeys += one.idempotencyKeys;
    }
  }
  return sum;
}

async function d1RowsOf(file: string, slackMs: number): Promise<StorageSample['d1']> {
  const { DatabaseSync } = await loadSqlite();
  let db;
  try {
    db = new DatabaseSync(file, { readOnly: true });
    const one = (sql: string, ...params: number[]) => Number((db!.prepare(sql).get(...params) as { n: number }).n);
    const byState: Record<string, number> = {};
    for (const r of db.prepare(`SELECT state, count(*) AS n FROM tasks GROUP BY state`).all() as { state: string; n: number }[]) byState[r.state] = Number(r.n);
    const pastRetention = one(
      `SELECT count(*) AS n FROM tasks t JOIN queues q ON q.name = t.queue
        WHERE t.state IN ('succeeded', 'revoked', 'expired') AND q.retention_ms IS NOT NULL AND t.finished_at < ? - q.retention_ms`,
      Date.now() - slackMs,
    );
    return {
      tasks: Object.values(byState).reduce((a, b) => a + b, 0),
      byState,
      pastRetention,
      undelivered: one(`SELECT count(*) AS n FROM tasks WHERE version = 0`),
      idempotencyKeys: one(`SELECT count(*) AS n FROM idempotency_keys`),
    };
  } catch {
    return null; // busy or mid-checkpoint: the next sample reads it
  } finally {
    db?.close();
  }
}

function objectFiles(stateDir: string, className: string): string[] {
  const dir = join(stateDir, 'v3', 'do', `drover-${className}`);
  try {
    return readdirSync(dir).filter((f) => /^[0-9a-f]{64}\.sqlite$/.test(f)).map((f) => join(dir, f));
  } catch {
    return [];
  }
}

async function queueRows(stateDir: string, cutoff: number): Promise<StorageSample['queueObjects']> {
  const { DatabaseSync } = await loadSqlite();
  let tasks = 0;
  let pastRetention = 0;
  for (const file of objectFiles(stateDir, 'QueueObject')) {
    let db;
    try {
      db = new DatabaseSync(file, { readOnly: true });
      tasks += Number((db.prepare(`SELECT count(*) AS n FROM tasks`).get() as { n: number }).n);
      pastRetention += Number((db.prepare(`SELECT count(*) AS n FROM tasks WHERE phase = 'done' AND finished_at < ?`).get(cutoff) as { n: number }).n);
    } catch {
      return null;
    } finally {
      db?.close();
    }
  }
  return { tasks, pastRetention };
}

/** A file's last change, with its write-ahead log's. */
function lastWrite(file: string): number {
  let at = 0;
  for (const f of [file, `${file}-wal`]) {
    try {
      at = Math.max(at, statSync(f).mtimeMs);
    } catch {
      // no log
    }
  }
  return at;
}

/** Rows in an object's own tables (not the runtime's _cf_ ones): an object that deleted its storage has none. */
async function rowsIn(file: string): Promise<number> {
  const { DatabaseSync } = await loadSqlite();
  let db;
  try {
    db = new DatabaseSync(file, { readOnly: true });
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'`).all() as { name: string }[];
    let n = 0;
    for (const t of tables) n += Number((db.prepare(`SELECT count(*) AS n FROM "${t.name.replace(/"/g, '""')}"`).get() as { n: number }).n);
    return n;
  } catch {
    return 1; // unreadable this time: it is there, so it counts as kept
  } finally {
    db?.close();
  }
}

/** Workflow objects last written before the cutoff that still hold their workflow. */
async function staleWorkflows(stateDir: string, cutoff: number): Promise<{ count: number; bytes: number }> {
  let count = 0;
  let bytes = 0;
  for (const file of objectFiles(stateDir, 'WorkflowObject')) {
    if (lastWrite(file) >= cutoff || (await rowsIn(file)) === 0) continue;
    count++;
    for (const f of [file, `${file}-wal`, `${file}-shm`]) {
      try {
        bytes += statSync(f).size;
      } catch {
        // not there
      }
    }
  }
  return { count, bytes };
}

/**
 * One sample. Records finished longer ago than `retentionMs + slackMs` should be gone: D1's
 * sweep runs from the once-a-minute cron trigger, the objects' purge from their alarm.
 */
export async function sampleStorage(stateDir: string, t: number, retentionMs: number, slackMs: number): Promise<StorageSample> {
  const { bytes, objects } = sizes(stateDir);
  const cutoff = Date.now() - retentionMs - slackMs;
  return {
    t,
    bytes,
    totalBytes: Object.values(bytes).reduce((a, b) => a + b, 0),
    objects,
    d1: await d1Rows(stateDir, slackMs),
    queueObjects: await queueRows(stateDir, cutoff),
    staleWorkflowObjects: await staleWorkflows(stateDir, cutoff),
  };
}

/** The D1 record of some tasks, for the report on a task that did not end: its state, version (0: never reached its object), shard. */
export async function d1Records(stateDir: string, ids: string[]): Promise<Record<string, unknown>[]> {
  const files = d1Files(stateDir);
  if (files.length === 0 || ids.length === 0) return [];
  const { DatabaseSync } = await loadSqlite();
  const found = new Map<string, Record<string, unknown>>();
  for (const file of files) {
    const db = new DatabaseSync(file, { readOnly: true });
    try {
      const get = db.prepare(`SELECT id, task, queue, state, attempts, version, shard, workflow_id AS workflowId, created_at AS createdAt, started_at AS startedAt, finished_at AS finishedAt, error FROM tasks WHERE id = ?`);
      for (const id of ids) {
        const row = get.get(id) as Record<string, unknown> | undefined;
        if (row) found.set(id, row);
      }
    } finally {
      db.close();
    }
  }
  return ids.map((id) => found.get(id) ?? { id, missing: true });
}

/** Each task's D1 record as it stands, state and attempts; absent: no record (gone with retention, or never written). */
export async function d1States(stateDir: string, ids: string[]): Promise<Map<string, { state: string; attempts: number }>> {
  const out = new Map<string, { state: string; attempts: number }>();
  const { DatabaseSync } = await loadSqlite();
  for (const file of d1Files(stateDir)) {
    const db = new DatabaseSync(file, { readOnly: true });
    try {
      const get = db.prepare(`SELECT state, attempts FROM tasks WHERE id = ?`);
      for (const id of ids) {
        const row = get.get(id) as { state: string; attempts: number } | undefined;
        if (row) out.set(id, { state: row.state, attempts: Number(row.attempts) });
      }
    } finally {
      db.close();
    }
  }
  return out;
}

/** What storage holds, object by object and table by table: what a request that changes nothing must leave as it was. */
export interface Census {
  /** Rows in each Durable Object that holds any table, by `<class>/<file>`, table by table. */
  objects: Record<string, Record<string, number>>;
  /** Each of those objects' and D1's size: its pages as a reader sees them, write-ahead log included (so a checkpoint changes nothing). */
  bytes: Record<string, number>;
  /**
   * Durable Objects the runtime opened that hold no table. The local runtime keeps an empty
   * database file (a 4 KiB header) for every object it ever started; on Cloudflare an object
   * that never wrote anything has no storage.
   */
  empty: number;
  /** Each D1 database's rows (the hub's and each jurisdiction's, by `d1/<file>`), table by table. */
  d1: Record<string, Record<string, number>>;
}

/** Rows of each of a database's own tables (not SQLite's, not the runtime's `_cf_` ones). */
function tableRows(db: import('node:sqlite').DatabaseSync): Record<string, number> {
  const tables = db
    .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_%' ESCAPE '\\'`)
    .all() as { name: string }[];
  const out: Record<string, number> = {};
  for (const t of tables) out[t.name] = Number((db.prepare(`SELECT count(*) AS n FROM "${t.name.replace(/"/g, '""')}"`).get() as { n: number }).n);
  return out;
}

/** Every object's and D1's rows, read beside the running runtime (read-only, WAL mode). */
export async function census(stateDir: string): Promise<Census> {
  const { DatabaseSync } = await loadSqlite();
  const read = (file: string) => {
    const db = new DatabaseSync(file, { readOnly: true });
    try {
      const pages = db.prepare(`SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()`).get() as { n: number };
      return { rows: tableRows(db), bytes: Number(pages.n) };
    } finally {
      db.close();
    }
  };
  const out: Census = { objects: {}, bytes: {}, empty: 0, d1: {} };
  const doDir = join(stateDir, 'v3', 'do');
  let classes: string[] = [];
  try {
    classes = readdirSync(doDir).filter((d) => d.startsWith('drover-'));
  } catch {
    // no object yet
  }
  for (const dir of classes) {
    const className = dir.slice('drover-'.length);
    for (const file of objectFiles(stateDir, className)) {
      const { rows, bytes } = read(file);
      if (Object.keys(rows).length === 0) {
        out.empty++;
        continue;
      }
      const name = `${className}/${file.slice(file.lastIndexOf('/') + 1, file.lastIndexOf('/') + 13)}`;
      out.objects[name] = rows;
      out.bytes[name] = bytes;
    }
  }
  // Each D1 database (the hub's, each jurisdiction's) as an entry of its own.
  for (const file of d1Files(stateDir)) {
    const { rows, bytes } = read(file);
    const name = `d1/${file.slice(file.lastIndexOf('/') + 1, file.lastIndexOf('/') + 13)}`;
    out.d1[name] = rows;
    out.bytes[name] = bytes;
  }
  return out;
}
