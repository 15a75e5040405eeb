// A D1 binding for unit tests that notes the rows each statement read, as D1 reports them (and bills them).

export interface Read {
  sql: string;
  rowsRead: number;
}

/** `db`, noting into `reads` the SQL and rows read of each statement run through it, batches included. */
export function rowsReadOf(db: D1Database, reads: Read[]): D1Database {
  const real = new WeakMap<object, { statement: D1PreparedStatement; sql: string }>();
  const note = <T extends D1Result | D1Response>(sql: string, result: T): T => {
    reads.push({ sql, rowsRead: result.meta.rows_read });
    return result;
  };
  const wrap = (statement: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const w = {
      bind: (...values: unknown[]) => wrap(statement.bind(...values), sql),
      run: async () => note(sql, await statement.run()),
      all: async () => note(sql, await statement.all()),
    };
    real.set(w, { statement, sql });
    return w as unknown as D1PreparedStatement;
  };
  return {
    prepare: (sql: string) => wrap(db.prepare(sql), sql),
    batch: async (statements: D1PreparedStatement[]) => {
      const inner = statements.map((s) => real.get(s)!);
      const out = await db.batch(inner.map((s) => s.statement));
      out.forEach((r, i) => note(inner[i].sql, r));
      return out;
    },
  } as unknown as D1Database;
}
