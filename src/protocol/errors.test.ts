// The one error shape: what a client sees for errors the hub did not throw itself.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { errorOf } from './errors.ts';

describe('errorOf', () => {
  it('answers 503 unavailable, not 500, while D1 lacks the hub\'s tables (migrations not yet applied)', async () => {
    const thrown = await env.DB.prepare('SELECT 1 FROM a_table_no_migration_makes LIMIT 0').run().then(
      () => null,
      (err: unknown) => err,
    );
    expect(thrown).toBeInstanceOf(Error);
    expect(errorOf(thrown, 'test')).toEqual({ code: 'unavailable', message: 'the database is not ready (have the D1 migrations been applied?)' });
  });

  it('keeps other failures internal, and their text out of the answer', () => {
    expect(errorOf(new Error('no such table: x: SQLITE_ERROR'), 'test')).toEqual({ code: 'internal', message: 'the hub failed to handle this request; it has been logged' });
  });
});
