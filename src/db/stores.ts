// Which D1 database holds a task's record: one of the hub's partitions (DROVER_D1_PARTITIONS), or its jurisdiction's (DROVER_JURISDICTIONS).
import { JURISDICTION_DB, jurisdictionOf, jurisdictions, type Jurisdiction } from '../core/jurisdictions.ts';
import type { Env } from '../env.ts';
import type { TaskSpec } from '../core/states.ts';
import { jurisdictionOfObject, taskShardName } from '../core/shards.ts';
import { getTaskRow, listTaskRows, queueNames, recordRefused, recordTasks, type Recorded, type TaskFilter } from './records.ts';
import { partitionCount, partitionDb, partitionDbs, partitionOf } from './partitions.ts';
import type { TaskRow } from './schema.ts';

type Stores = Pick<Env, 'DB' | `DB_P${number}` | 'DB_EU' | 'DB_FEDRAMP' | 'DROVER_JURISDICTIONS' | 'DROVER_D1_PARTITIONS' | 'DROVER_SHARDS'>;

/** The D1 database of a jurisdiction (null: the hub's partition 0, DB). The table checked that its binding exists. */
export function dbOf(env: Stores, j: Jurisdiction | null): D1Database {
  if (j === null) return env.DB;
  const db = env[JURISDICTION_DB[j]];
  if (!db) throw new Error(`no ${JURISDICTION_DB[j]} D1 binding for jurisdiction ${j}`);
  return db;
}

/**
 * The D1 database a queue object writes all its tasks' records to: its jurisdiction's, else its
 * partition of the hub's (a name not yet known: partition 0). Tasks recorded before they reach
 * the object go to the same one, so its later writes find them.
 */
export function dbOfObject(env: Stores, objectName: string | null | undefined): D1Database {
  const j = jurisdictionOfObject(objectName);
  if (j) return dbOf(env, j);
  return partitionDb(env, objectName ? partitionOf(objectName, partitionCount(env)) : 0);
}

/** Every D1 database tasks are recorded in: the hub's partitions first (DB first), then each jurisdiction's in use. */
export function everyDb(env: Stores): D1Database[] {
  return everyStore(env).map((s) => s.db);
}

/** Every D1 database tasks are recorded in, with its jurisdiction (null: one of the hub's partitions). */
export function everyStore(env: Stores): { db: D1Database; jurisdiction: Jurisdiction | null }[] {
  return [...partitionDbs(env).map((db) => ({ db, jurisdiction: null })), ...jurisdictions(env).used.map((j) => ({ db: dbOf(env, j), jurisdiction: j }))];
}

/** A task's D1 row, with the jurisdiction of the database that holds it (null: the hub's own). */
export type StoredRow = TaskRow & { jurisdiction: Jurisdiction | null };

/** Placed tasks by the D1 database that records them (their object's: dbOfObject), each group in the order given. */
export function byStore<T extends TaskSpec>(env: Stores, specs: T[]): { db: D1Database; specs: T[]; at: number[] }[] {
  const groups = new Map<D1Database, { db: D1Database; specs: T[]; at: number[] }>();
  specs.forEach((spec, i) => {
    const db = dbOfObject(env, taskShardName(env, spec));
    let g = groups.get(db);
    if (!g) groups.set(db, (g = { db, specs: [], at: [] }));
    g.specs.push(spec);
    g.at.push(i);
  });
  return [...groups.values()];
}

/**
 * recordTasks over the hub's partitions and each jurisdiction's D1: a placed task's record goes to
 * its object's database alone (dbOfObject). An idempotency key is held within one database: its
 * repeat is found there when it goes to the same object (same queue and region's jurisdiction;
 * shardOf places a key's tasks together). Results come in input order.
 */
export async function recordEverywhere(env: Stores, specs: TaskSpec[], now = Date.now()): Promise<Recorded> {
  const elsewhere = await chosenElsewhere(env, specs);
  const fresh = elsewhere.size ? specs.filter((s) => !elsewhere.has(s.id)) : specs;
  const recorded = await recordGrouped(env, fresh, now);
  if (fresh.length === specs.length) return recorded;
  const answers = new Map(fresh.map((s, i) => [s, recorded.results[i]]));
  return { results: specs.map((s) => answers.get(s) ?? { id: s.id, state: elsewhere.get(s.id)!, duplicate: true as const }), created: recorded.created };
}

/**
 * Ids the producer chose that a task of another of the hub's partitions has already (the id's
 * first went to another queue), with that task's state: such an enqueue is a repeat, as it is
 * within one database. One read per partition, only when partitions and chosen ids there are.
 */
async function chosenElsewhere(env: Stores, specs: TaskSpec[]): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const chosen = specs.filter((s) => s.chosenId && jurisdictionOf(env, s.region) === null);
  if (chosen.length === 0 || partitionCount(env) <= 1) return found;
  const targets = chosen.map((s) => dbOfObject(env, taskShardName(env, s)));
  await Promise.all(
    partitionDbs(env).map(async (db) => {
      const ids = chosen.filter((_, i) => targets[i] !== db).map((s) => s.id);
      if (ids.length === 0) return;
      for (const r of await statesIn(db, ids)) found.set(r.id, r.state);
    }),
  );
  return found;
}

async function recordGrouped(env: Stores, specs: TaskSpec[], now: number): Promise<Recorded> {
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

/** recordRefused over the databases of the placed tasks' objects, as recordEverywhere records them. */
export async function recordRefusedEverywhere(
  env: Stores,
  specs: TaskSpec[],
  error: { type: string; message: string },
  now: number,
  state: 'failed' | 'revoked' = 'failed',
): Promise<void> {
  await Promise.all(byStore(env, specs).map((g) => recordRefused(g.db, g.specs, error, now, state)));
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

/** The states of the tasks any database holds, of the ids given, by id. */
export async function taskStates(env: Stores, ids: string[]): Promise<Map<string, string>> {
  const states = new Map<string, string>();
  await Promise.all(everyDb(env).map(async (db) => {
    for (const r of await statesIn(db, ids)) states.set(r.id, r.state);
  }));
  return states;
}

/** The ids of `ids` one database holds, with their states. */
async function statesIn(db: D1Database, ids: string[]): Promise<{ id: string; state: string }[]> {
  return (await db.prepare(`SELECT id, state FROM tasks WHERE id IN (SELECT value FROM json_each(?))`).bind(JSON.stringify(ids)).all<{ id: string; state: string }>()).results;
}
