// Retention in D1: finished task records past their queue's retention, expired idempotency keys, and history past 48 hours go.
import { DEFAULT_RETENTION_MS } from '../core/limits.ts';
import { sweepHistory } from './history.ts';

/** Rows removed per statement, and statements per queue per tick: small steps, so writers never wait long. */
const BATCH = 1000;
const ROUNDS = 5;

/**
 * Removes succeeded, revoked and expired task records older than each queue's
 * retention (failed ones are dead letters and stay until purged), and expired
 * idempotency keys, and the per-minute history older than HISTORY_MS (src/db/history.ts). Runs
 * from the cron trigger; returns how many rows went.
 */
export async function sweepRetention(db: D1Database, now: number): Promise<number> {
  const queues = await db.prepare(`SELECT name, retention_ms FROM queues`).all<{ name: string; retention_ms: number | null }>();
  let removed = 0;
  for (const q of queues.results) {
    const cutoff = now - (q.retention_ms ?? DEFAULT_RETENTION_MS);
    for (let round = 0; round < ROUNDS; round++) {
      const out = await db
        .prepare(
          `DELETE FROM tasks WHERE rowid IN (
             SELECT rowid FROM tasks WHERE queue = ? AND finished_at < ? AND state IN ('succeeded', 'revoked', 'expired') LIMIT ?)`,
        )
        .bind(q.name, cutoff, BATCH)
        .run();
      removed += out.meta.changes;
      if (out.meta.changes < BATCH) break;
    }
  }
  const keys = await db
    .prepare(`DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE expires_at < ? LIMIT ?)`)
    .bind(now, BATCH * ROUNDS)
    .run();
  // A minute holds a row per queue that had ends, and its latency buckets: a cron tick's bound is
  // far above what a minute of a busy deployment adds.
  const history = await sweepHistory(db, now, BATCH * ROUNDS);
  return removed + keys.meta.changes + history;
}
