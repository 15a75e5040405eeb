// A small typed wrapper over a Durable Object's synchronous SQLite API.

import { overUtf8Bytes, utf8Bytes } from '../core/params.ts';

export type SqlValue = string | number | null;

/**
 * Durable Object SQLite takes a string, BLOB or row of at most 2 MB on Cloudflare ("SQL limits",
 * the Durable Objects limits page); the local runtime lets values of several times that through.
 * Values are checked here so that what would fail on the platform fails in tests too.
 */
export const MAX_VALUE_BYTES = 2_000_000;

function checkValues(params: SqlValue[]): void {
  for (const p of params) {
    // Most values are far below and cost one comparison.
    if (typeof p === 'string' && overUtf8Bytes(p, MAX_VALUE_BYTES)) {
      throw new Error(`a bound value of ${utf8Bytes(p)} bytes is over Durable Object SQLite's ${MAX_VALUE_BYTES} bytes: split it`);
    }
  }
}

/*
 * `= +?` where an ORDER BY follows an index: the runtime's SQLite (workerd 1.20261117, SQLite source
 * of 2026-10-16; older ones do not) marks a statement to be planned again whenever a parameter
 * compared `=` to a column of the index its ORDER BY follows is bound, as it does a bound LIMIT.
 * The unary plus leaves the value and the plan as they are (EXPLAIN QUERY PLAN reads the same) and
 * the statement is compiled once: a claim's lease measured 86-114 µs with `lane = ?` and 12-16 µs
 * with `lane = +?`, its read of a lane 32-36 µs and 12-15 µs.
 */

/**
 * A LIMIT for SQL text, written in as a literal: SQLite marks a statement whose LIMIT is a bound
 * parameter to be planned again whenever that parameter is bound (its value may change the plan),
 * so `LIMIT ?` is compiled afresh at every run, where the same text with a literal comes from the
 * runtime's statement cache. A claim's lease that found nothing measured about 170 µs with
 * `LIMIT ?` and 28 µs with the number written in. Use it where the values are few (claim sizes of
 * 1-100, fixed batch sizes), so the cache keeps them all.
 */
export function limitOf(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`a LIMIT is a whole number, not ${n}`);
  return String(n);
}

export class Sql {
  /** Rows written through this wrapper so far: a transaction that adds none changed nothing. */
  writes = 0;
  /** Statements run through this wrapper since the object started (GET /metrics). */
  statements = 0;

  constructor(private readonly storage: SqlStorage) {}

  /**
   * Rows as objects, built here from the cursor's arrays: about three times cheaper than the
   * cursor's own `toArray()`, which makes each object property by property through the runtime.
   */
  all<T>(query: string, ...params: SqlValue[]): T[] {
    checkValues(params);
    this.statements++;
    const cursor = this.storage.exec(query, ...params);
    const names = cursor.columnNames;
    const rows: T[] = [];
    for (const values of cursor.raw()) {
      const row: Record<string, SqlStorageValue> = {};
      for (let i = 0; i < names.length; i++) row[names[i]] = values[i];
      rows.push(row as T);
    }
    this.writes += cursor.rowsWritten;
    return rows;
  }

  one<T>(query: string, ...params: SqlValue[]): T | undefined {
    return this.all<T>(query, ...params)[0];
  }

  /** Whether the object's database has this table: an object that never wrote has none. */
  hasTable(name: string): boolean {
    return this.one(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`, name) !== undefined;
  }

  /**
   * Runs a statement; returns the number of rows it wrote. The cursor is read to its end: that
   * hands the compiled statement back to the runtime's cache. A cursor left open holds it until
   * it is garbage, and each run of the same SQL meanwhile is compiled again (a third of the
   * SQLite time of a task at 100/s went to compiling).
   */
  run(query: string, ...params: SqlValue[]): number {
    checkValues(params);
    this.statements++;
    const cursor = this.storage.exec(query, ...params);
    // The cursor's own next(), not raw(): a raw iterator is one more runtime object per
    // statement, and the runtime's wrapper objects are what start its full collections.
    while (!cursor.next().done);
    const written = cursor.rowsWritten;
    this.writes += written;
    return written;
  }
}
