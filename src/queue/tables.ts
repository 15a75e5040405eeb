// The QueueObject's own SQLite tables and indexes, created idempotently at start.
import type { Sql } from '../db/sql.ts';
import { LOG_TABLES } from './sync.ts';

/**
 * `phase` is where a task is in the object's machinery; `state` is what users see.
 *   ready     claimable now                      (state queued)
 *   scheduled waits for ready_at: eta or backoff (state delayed)
 *   blocked   waits behind its orderingKey or a full group key (state queued or delayed)
 *   leased    a worker holds it                  (state running)
 *   done      final: succeeded, revoked, expired
 *   dead      final: failed, kept as a dead letter until replayed
 * Every index is partial on the phase it serves, so each hot query is an index walk
 * that costs the same with a million tasks waiting as with none.
 */
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    task TEXT,
    args TEXT,
    kwargs TEXT,
    lane TEXT NOT NULL,
    priority INTEGER NOT NULL,
    phase TEXT NOT NULL,
    state TEXT NOT NULL,
    ready_at INTEGER NOT NULL,
    expires_at INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_retries INTEGER NOT NULL DEFAULT 0,
    retry_delay REAL NOT NULL DEFAULT 1,
    timeout REAL NOT NULL DEFAULT 60,
    ordering_key TEXT,
    key_limit INTEGER NOT NULL DEFAULT 1,
    parent_id TEXT,
    root_id TEXT,
    workflow_id TEXT,
    http TEXT,
    callback TEXT,
    headers TEXT,
    eta INTEGER,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    worker TEXT,
    result TEXT,
    error TEXT,
    progress TEXT,
    lease_id TEXT,
    lease_expires_at INTEGER,
    lease_owner TEXT,
    revoke_requested INTEGER NOT NULL DEFAULT 0,
    attempt_log TEXT,
    rate_key TEXT,
    version INTEGER NOT NULL DEFAULT 1
  )`,
  `CREATE INDEX IF NOT EXISTS tasks_ready ON tasks(lane, priority DESC, ready_at, id) WHERE phase = 'ready'`,
  `CREATE INDEX IF NOT EXISTS tasks_scheduled ON tasks(ready_at) WHERE phase = 'scheduled'`,
  // The oldest ready task's age is read from tasks_ready (oldestReady): objects made before
  // had an index of their own for it, which every delivery and claim had to update.
  `DROP INDEX IF EXISTS tasks_ready_age`,
  `CREATE INDEX IF NOT EXISTS tasks_leased ON tasks(lease_expires_at) WHERE phase = 'leased'`,
  // A lease is found by its task id, which the lease id carries: no index of lease ids to keep up
  // on every claim and ack (objects made before had one).
  `DROP INDEX IF EXISTS tasks_lease_id`,
  `CREATE INDEX IF NOT EXISTS tasks_expiry ON tasks(expires_at)
     WHERE expires_at IS NOT NULL AND attempts = 0 AND phase IN ('ready', 'scheduled', 'blocked')`,
  `CREATE INDEX IF NOT EXISTS tasks_ordering ON tasks(ordering_key, id)
     WHERE ordering_key IS NOT NULL AND phase IN ('ready', 'scheduled', 'leased', 'blocked')`,
  // A rate key's live tasks, by phase: its running count after a lease ends, and the keys route's counts.
  `CREATE INDEX IF NOT EXISTS tasks_rate_key ON tasks(rate_key, phase)
     WHERE rate_key IS NOT NULL AND phase IN ('ready', 'scheduled', 'blocked', 'leased')`,
  // Keys backing off after rate-limited reports (keys.ts): a pause and a lowered rate outlive a restart.
  `CREATE TABLE IF NOT EXISTS key_backoff (
    key TEXT PRIMARY KEY, rate_after REAL, at INTEGER NOT NULL, paused_until INTEGER)`,
  `CREATE INDEX IF NOT EXISTS tasks_dead ON tasks(finished_at) WHERE phase = 'dead'`,
  `CREATE INDEX IF NOT EXISTS tasks_done ON tasks(finished_at) WHERE phase = 'done'`,
  // Changes D1 has not seen yet (sync.ts).
  ...LOG_TABLES,
  `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)`,
  // Callbacks owed: a final task's record, POSTed until its URL answers 2xx.
  `CREATE TABLE IF NOT EXISTS callback_outbox (
    task_id TEXT PRIMARY KEY, url TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL)`,
  // Final states of workflow tasks, until their WorkflowObject has taken them.
  `CREATE TABLE IF NOT EXISTS workflow_outbox (
    task_id TEXT PRIMARY KEY, workflow_id TEXT NOT NULL, state TEXT NOT NULL, result TEXT, error TEXT)`,
];

/** Columns added after a table first shipped: objects made before get them here. */
const ADDED_COLUMNS: [table: string, column: string, type: string][] = [
  ['tasks', 'workflow_id', 'TEXT'],
  ['tasks', 'http', 'TEXT'],
  ['tasks', 'callback', 'TEXT'],
  ['tasks', 'key_limit', 'INTEGER NOT NULL DEFAULT 1'],
  ['tasks', 'headers', 'TEXT'],
  ['tasks', 'eta', 'INTEGER'],
  ['tasks', 'attempt_log', 'TEXT'],
  ['tasks', 'rate_key', 'TEXT'],
  ['sync_log', 'counts', 'TEXT'],
];

export function migrate(sql: Sql): void {
  for (const statement of SCHEMA) sql.run(statement);
  for (const [table, column, type] of ADDED_COLUMNS) {
    const has = sql.one(`SELECT 1 FROM pragma_table_info(?) WHERE name = ?`, table, column);
    if (!has) sql.run(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
  }
  // Objects made before the change logs kept one row per changed task, and before a claim's
  // `running` waited in memory, a table of waiting changes: their changes go to the log.
  for (const table of ['sync_outbox', 'sync_later']) {
    if (sql.one(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`, table)) {
      sql.run(`INSERT INTO sync_log (id) SELECT id FROM ${table}`);
      sql.run(`DROP TABLE ${table}`);
    }
  }
}
