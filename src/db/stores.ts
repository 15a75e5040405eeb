// Which D1 database holds a task's record: the hub's, or its jurisdiction's (DROVER_JURISDICTIONS).
import { JURISDICTION_DB, jurisdictionOf, jurisdictions, type Jurisdiction } from '../core/jurisdictions.ts';
import type { Env } from '../env.ts';
import type { TaskSpec } from '../core/states.ts';
import { getTaskRow, listTaskRows, queueNames, recordTasks, type Recorded, type TaskFilter } from './records.ts';
import type { TaskRow } from './schema.ts';

type Stores = Pick<Env, 'DB' | 'DB_EU' | 'DB_FEDRAMP' | 'DROVER_JURISDICTIONS'>;

/** The D1 database of a jurisdiction (null: the hub's own). The table checked that its binding exists. */
export function dbOf(env: Stores, j: Jurisdiction | null): D1Database {
  if (j === null) return env.DB;
  const db = env[JURISDICTION_DB[j]];
  if (!db) throw new Error(`no ${JURISDICTION_DB[j]} D1 binding for jurisdiction ${j}`);
  return db;
}

/** Every D1 database tasks are recorded in: the hub's first, then each jurisdiction's in use. */
export function everyDb(env: Stores): D1Database[] {
  return everyStore(env).map((s) => s.db);
}

/** Every D1 database tasks are recorded in, with its jurisdiction (null: the hub's own). */
export function everyStore(env: Stores): { db: D1Database; jurisdiction: Jurisdiction | null }[] {
  return [{ db: env.DB, jurisdiction: null }, ...jurisdictions(env).used.map((j) => ({ db: dbOf(env, j), jurisdiction: j }))];
}

/** A task's D1 row, with the jurisdiction of the database that holds it (null: the hub's own). */
export type StoredRow = TaskRow & { jurisdiction: Jurisdiction | null };

/** Tasks by the D1 database that records them (their region's jurisdiction), each group in the order given. */
export function byStore<T extends { region?: string | null }>(env: Stores, specs: T[]): { db: D1Database; specs: T[]; at: number[] }[] {
  const groups = new Map<Jurisdiction | null, { db: D1Database; specs: T[]; at: number[] }>();
  specs.forEach((spec, i) => {
    const j = jurisdictionOf(env, spec.region);
    let g = groups.get(j);
    if (!g) groups.set(j, (g = { db: dbOf(env, j), specs: [], at: [] }));
    g.specs.push(spec);
    g.at.push(i);
  });
  return [...groups.values()];
}

/**
 * recordTasks over the hub's D1 and each jurisdiction's: a task's record goes to its region's
 * database alone. An idempotency key is held within one database (its repeat with a region of
 * another jurisdiction is not found there). Results come in input order.
 */
export async function recordEverywhere(env: Stores, specs: TaskSpec[], now = Date.now()): Promise<Recorded> {
  const groups = byStore(env, specs);
  if (groups.length <= 1) return recordTasks(groups[0]?.db ?? env.DB, specs, now);
  const results: Recorded['results'] = new Array(specs.length);
  const created: TaskSpec[] = [];
  const outs = await Promise.all(groups.map((g) => recordTasks(g.db, g.specs, now)));
  groups.forEach((g, k) => {
    outs[k].results.forEach((r, i) => (results[g.at[i]] = r));
    created.push(...outs[k].created);
  });
  return { results, created };
}

/** A task's D1 row, from whichever database holds it. */
export async function findTaskRow(env: Stores, id: string): Promise<StoredRow | undefined> {
  const all = await Promise.all(everyStore(env).map(async ({ db, jurisdiction }) => {
    const row = await getTaskRow(db, id);
    return row && { ...row, jurisdiction };
  }));
  return all.find((r) => r !== undefined);
}

/**
 * listTaskRows over every database: each gives its newest page, and the page is the newest of
 * them all. The cursor (creation time and id of the page's last task) means the same in each.
 */
export async function listEverywhere(env: Stores, f: TaskFilter): Promise<{ rows: StoredRow[]; cursor: string | null }> {
  const stores = everyStore(env);
  const pages = await Promise.all(stores.map(async ({ db, jurisdiction }) => {
    const page = await listTaskRows(db, f);
    return { rows: page.rows.map((r) => ({ ...r, jurisdiction })), cursor: page.cursor };
  }));
  if (pages.length === 1) return pages[0];
  const all = pages.flatMap((p) => p.rows).sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  const rows = all.slice(0, f.limit);
  const more = all.length > f.limit || pages.some((p) => p.cursor !== null);
  const last = rows[rows.length - 1];
  return { rows, cursor: more && last ? `${last.createdAt}.${last.id}` : null };
}

/** Every queue any database has recorded a task of, by name. */
export async function queueNamesEverywhere(env: Stores): Promise<string[]> {
  const all = await Promise.all(everyDb(env).map((db) => queueNames(db)));
  return [...new Set(all.flat())].sort();
}
