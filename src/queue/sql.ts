// A small typed wrapper over a Durable Object's synchronous SQLite API.

export type SqlValue = string | number | null;

export class Sql {
  constructor(private readonly storage: SqlStorage) {}

  all<T>(query: string, ...params: SqlValue[]): T[] {
    return this.storage.exec(query, ...params).toArray() as T[];
  }

  one<T>(query: string, ...params: SqlValue[]): T | undefined {
    const cursor = this.storage.exec(query, ...params);
    for (const row of cursor) return row as T;
    return undefined;
  }

  /** Runs a statement; returns the number of rows it wrote. */
  run(query: string, ...params: SqlValue[]): number {
    return this.storage.exec(query, ...params).rowsWritten;
  }
}
