// What the object's alarm does: scheduled tasks fall due, expiries and lease ends, retention; and when to wake next.
import { UNSYNCED_IDS } from '../sync.ts';
import { type Step, logNow, readied, type LiveRow, touch, finish } from './step.ts';
import { expireLease } from './lease.ts';
import { limitOf } from '../../db/sql.ts';

/** Scheduled tasks whose time came become ready (eta reached, backoff over). */
export function promoteDue(s: Step, limit: number): number {
  // Every claim comes here: what the last rearm read answers most; else a read finds out ~10x
  // cheaper than an UPDATE that changes nothing.
  if (s.scheduledFrom !== undefined && (s.scheduledFrom === null || s.scheduledFrom > s.now)) return 0;
  if (!s.sql.one(`SELECT 1 FROM tasks WHERE phase = 'scheduled' AND ready_at <= ? LIMIT 1`, s.now)) return 0;
  const due = s.sql.all<{ id: string; lane: string }>(
    `UPDATE tasks SET phase = 'ready', state = 'queued', version = version + 1
     WHERE rowid IN (SELECT rowid FROM tasks WHERE phase = 'scheduled' AND ready_at <= ? ORDER BY ready_at LIMIT ${limitOf(limit)})
     RETURNING id, lane`,
    s.now,
  );
  for (const { id, lane } of due) {
    touch(s, id);
    readied(s, lane);
  }
  return due.length;
}

/** Tasks never started whose expiry passed end `expired`. */
export function expireDue(s: Step, limit: number): number {
  const due = s.sql.all<{ id: string }>(
    `SELECT id FROM tasks WHERE expires_at IS NOT NULL AND attempts = 0 AND phase IN ('ready', 'scheduled', 'blocked')
       AND expires_at <= ? LIMIT ${limitOf(limit)}`,
    s.now,
  );
  for (const { id } of due) finish(s, id, 'done', 'expired', { error: { type: 'Expired', message: 'the task expired before it started' } });
  return due.length;
}

/** Leases whose time ran out count as failed attempts (`LeaseExpired`) and retry like any failure. */
export function expireLeases(s: Step, limit: number): number {
  const due = s.sql.all<LiveRow>(
    `SELECT * FROM tasks WHERE phase = 'leased' AND lease_expires_at <= ? ORDER BY lease_expires_at LIMIT ${limitOf(limit)}`,
    s.now,
  );
  for (const r of due) expireLease(s, r);
  return due.length;
}

/**
 * The oldest ready time of any ready task, for metrics. The claim index holds each lane and
 * priority in ready order, so the first entry of each (lane, priority) group is its oldest:
 * one index seek per group, however many tasks wait (no index of its own to keep up).
 */
export function oldestReady(s: Step): number | null {
  type First = { lane: string; priority: number; ready_at: number };
  const from = `SELECT lane, priority, ready_at FROM tasks WHERE phase = 'ready'`;
  const order = `ORDER BY lane, priority DESC, ready_at LIMIT 1`;
  let oldest: number | null = null;
  let group = s.sql.one<First>(`${from} ${order}`);
  while (group) {
    if (oldest === null || group.ready_at < oldest) oldest = group.ready_at;
    group =
      s.sql.one<First>(`${from} AND lane = +? AND priority < ? ${order}`, group.lane, group.priority) ??
      s.sql.one<First>(`${from} AND lane > ? ${order}`, group.lane);
  }
  return oldest;
}

/** The earliest time the object has work of its own to do, or null. */
export function nextWakeAt(s: Step, retentionMs: number): number | null {
  return nextWakeOf(s.sql.one<NextWakeRow>(`SELECT ${NEXT_WAKE_COLUMNS}`)!, retentionMs);
}

/** The columns `nextWakeAt` reads: a SELECT list, for one statement with others after every transaction that writes. */
export const NEXT_WAKE_COLUMNS = `(SELECT MIN(ready_at) FROM tasks WHERE phase = 'scheduled') AS scheduled,
  (SELECT MIN(lease_expires_at) FROM tasks WHERE phase = 'leased') AS leased,
  (SELECT MIN(expires_at) FROM tasks WHERE expires_at IS NOT NULL AND attempts = 0 AND phase IN ('ready', 'scheduled', 'blocked')) AS expires,
  (SELECT MIN(finished_at) FROM tasks WHERE phase = 'done') AS done`;
export type NextWakeRow = { scheduled: number | null; leased: number | null; expires: number | null; done: number | null };

/** `nextWakeAt` from a row of NEXT_WAKE_COLUMNS. */
export function nextWakeOf(at: NextWakeRow, retentionMs: number): number | null {
  const times = [at.scheduled, at.leased, at.expires, at.done === null ? null : at.done + retentionMs];
  const present = times.filter((t): t is number => t != null);
  return present.length ? Math.min(...present) : null;
}

/** Finished tasks past retention leave the object (D1 keeps their record); never one D1 has not seen. */
export function purgeFinished(s: Step, retentionMs: number, limit: number): number {
  logNow(s); // this step's changes are in the log it reads
  return s.sql.run(
    `DELETE FROM tasks WHERE id IN (
       SELECT id FROM tasks WHERE phase = 'done' AND finished_at <= ? AND id NOT IN (${UNSYNCED_IDS}) LIMIT ${limitOf(limit)})`,
    s.now - retentionMs,
  );
}
