// Each task's attempt log: how its last attempts ended, appended in the transaction that ends each one.
// A plain ack's success is the exception: the task's own fields are its entry (attemptsOf, src/api/present.ts).
import type { TaskError } from '../../core/states.ts';
import type { Sql } from '../../db/sql.ts';

/** Attempts a task's log keeps: the last ones, the oldest dropped first. */
export const ATTEMPT_LOG_LENGTH = 25;

/**
 * An error message as the log keeps it. The log travels with the task's every D1 write, and a
 * message may be 10,000 characters: 25 of those would make each write of the task large.
 */
const LOG_MESSAGE_CHARS = 500;

export type AttemptOutcome = 'succeeded' | 'failed' | 'retry' | 'expired' | 'released' | 'revoked' | 'rateLimited';

/**
 * The SQL of a task's log with its current attempt appended, read from the row before the
 * statement changes it: `finishedAt`, `outcome` and `error` are SQL expressions (parameters or
 * literals). Times are epoch ms here; the API writes them as RFC 3339.
 */
export function appendedLog(finishedAt: string, outcome: string, error: string): string {
  return `(SELECT CASE WHEN json_array_length(x) > ${ATTEMPT_LOG_LENGTH} THEN json_remove(x, '$[0]') ELSE x END FROM (
    SELECT json_insert(COALESCE(attempt_log, '[]'), '$[#]', json_object('attempt', attempts, 'worker', worker,
      'startedAt', started_at, 'finishedAt', ${finishedAt}, 'outcome', ${outcome}, 'error', json(${error}))) AS x))`;
}

/** An attempt's error as the log keeps it (JSON text), or null. */
export function loggedError(error: TaskError | null | undefined): string | null {
  return error ? JSON.stringify({ type: error.type, message: error.message.slice(0, LOG_MESSAGE_CHARS) }) : null;
}

/**
 * Logs how the running attempt of task `id` ended: call before the change that ends it. A change
 * that ends the task itself (step.ts's finish) logs the attempt in its own UPDATE instead.
 */
export function logAttempt(s: { sql: Sql; now: number }, id: string, outcome: AttemptOutcome, error: TaskError | null = null): void {
  s.sql.run(`UPDATE tasks SET attempt_log = ${appendedLog('?', '?', '?')} WHERE id = ?`, s.now, outcome, loggedError(error), id);
}
