// What the keys route (GET /v1/queues/:queue/keys) and GET /metrics show of a queue object's rate keys: counts from its tables, limits and back-off from Keys.
import type { Sql } from '../db/sql.ts';
import type { Keys, KeyView } from './keys.ts';

/**
 * The keys route's list, ascending by key after `after`: keys with tasks waiting or running, or
 * paused, or below their configured rate. `limit` + 1 are read, so the caller knows of more.
 */
export function listKeys(keys: Keys, sql: Sql, now: number, after: string | null, limit: number): KeyView[] {
  keys.forgetRecovered(sql, now);
  const counted = sql.all<{ key: string; running: number; waiting: number }>(
    `SELECT rate_key AS key, SUM(phase = 'leased') AS running, SUM(phase != 'leased') AS waiting FROM tasks
     WHERE rate_key IS NOT NULL AND phase IN ('ready', 'scheduled', 'blocked', 'leased') AND rate_key > ?
     GROUP BY rate_key ORDER BY rate_key LIMIT ?`,
    after ?? '', limit + 1,
  );
  const byKey = new Map(counted.map((r) => [r.key, r]));
  for (const key of keys.backingOff()) if ((after === null || key > after) && !byKey.has(key)) byKey.set(key, { key, running: 0, waiting: 0 });
  return [...byKey.keys()]
    .sort()
    .slice(0, limit + 1)
    .map((key) => keys.view(key, byKey.get(key)!, now));
}

/**
 * The keys with the most waiting tasks, at most `limit` (GET /metrics): a label per key would
 * let a queue of a million keys make a scrape of a million series, which no Prometheus keeps.
 * Keys backing off with nothing waiting come after.
 */
export function topKeys(keys: Keys, sql: Sql, now: number, limit: number): KeyView[] {
  keys.forgetRecovered(sql, now);
  const counted = sql.all<{ key: string; running: number; waiting: number }>(
    `SELECT rate_key AS key, SUM(phase = 'leased') AS running, SUM(phase != 'leased') AS waiting FROM tasks
     WHERE rate_key IS NOT NULL AND phase IN ('ready', 'scheduled', 'blocked', 'leased')
     GROUP BY rate_key ORDER BY waiting DESC, rate_key LIMIT ?`,
    limit,
  );
  const seen = new Set(counted.map((r) => r.key));
  const idle = [...keys.backingOff()].filter((k) => !seen.has(k)).sort().map((key) => ({ key, running: 0, waiting: 0 }));
  return [...counted, ...idle].slice(0, limit).map((r) => keys.view(r.key, r, now));
}
