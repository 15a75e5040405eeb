// Calls on a lease: heartbeat, ack (one or many), release, fail; and a lease that ran out.
import { backoffSeconds, MAX_BACKOFF_SECONDS } from '../../core/backoff.ts';
import { taskOfLease } from '../../core/ids.ts';
import type { TaskError } from '../../core/states.ts';
import { jsonChunks } from '../../core/params.ts';
import { type Step, described, readied, type Outcome, type LiveRow, ACK_BUCKETS, ACK_LE_KEYS, count, touch, touchAll, finish, leaseEnded } from './step.ts';
import { logAttempt } from './attempts.ts';

/** A call on a lease that is not live: ended, never given out, or of an object that holds nothing. */
export const LEASE_ENDED = { ok: false, code: 'lease_lost', message: 'this lease has ended (acked, failed or expired); the task is no longer yours' } as const;

/** Finds the live lease, ending it first if it has expired; checks its owner. */
export function leaseOf(s: Step, leaseId: string, owner: string | null): Outcome<{ row: LiveRow }> {
  const r = s.sql.one<LiveRow>(`SELECT * FROM tasks WHERE id = ? AND lease_id = ?`, taskOfLease(leaseId), leaseId);
  if (!r || r.phase !== 'leased') return LEASE_ENDED;
  if (r.lease_expires_at! <= s.now) {
    expireLease(s, r);
    return { ok: false, code: 'lease_lost', message: 'this lease expired before the call arrived; the attempt counts as failed' };
  }
  if (owner !== null && r.lease_owner !== owner) return { ok: false, code: 'forbidden', message: 'this lease was claimed with another token' };
  return { ok: true, row: r };
}

/**
 * The live lease a worker is ending, or the outcome already settled: the lease is
 * lost, or not the caller's, or its task was revoked meanwhile (which ends it revoked).
 */
export function endingLease(s: Step, leaseId: string, owner: string | null): Outcome<{ state: string }> | LiveRow {
  const found = leaseOf(s, leaseId, owner);
  if (!found.ok) return found;
  if (found.row.revoke_requested) {
    finish(s, found.row.id, 'done', 'revoked', { attempt: { outcome: 'revoked' } }, found.row);
    return { ok: true, state: 'revoked' };
  }
  return found.row;
}

/**
 * heartbeat: extends a live lease and records progress.
 * Guarantee: an ended lease is refused and nothing changes.
 */
export function heartbeat(
  s: Step, leaseId: string, owner: string | null, extendSeconds: number | null, progress: string | null,
): Outcome<{ leaseExpiresAt: number; revoked: boolean; worker: string | null }> {
  const found = leaseOf(s, leaseId, owner);
  if (!found.ok) return found;
  const r = found.row;
  const leaseExpiresAt = s.now + Math.round((extendSeconds ?? r.timeout) * 1000);
  s.sql.run(
    `UPDATE tasks SET lease_expires_at = MAX(lease_expires_at, ?), progress = COALESCE(?, progress) WHERE id = ?`,
    leaseExpiresAt, progress, r.id,
  );
  return { ok: true, leaseExpiresAt: Math.max(leaseExpiresAt, r.lease_expires_at!), revoked: r.revoke_requested === 1, worker: r.worker };
}

/**
 * The claim-to-ack histogram's share of the acks of tasks started at `startedAt` (one each):
 * each bucket's key counted once for them all, not once an ack (a hundred acks of a drain's
 * batch touched 1,600 keys).
 */
export function countAcks(s: Step, startedAt: (number | null)[]): void {
  if (startedAt.length === 0) return;
  const within = new Array<number>(ACK_BUCKETS.length).fill(0);
  let sum = 0;
  for (const at of startedAt) {
    const seconds = (s.now - (at ?? s.now)) / 1000;
    sum += seconds;
    const first = ACK_BUCKETS.findIndex((le) => seconds <= le);
    if (first >= 0) within[first]++;
  }
  // Buckets are cumulative: an ack within a bucket is within every larger one.
  let upTo = 0;
  ACK_LE_KEYS.forEach((key, i) => {
    upTo += within[i];
    if (upTo > 0) count(s, key, upTo);
  });
  count(s, 'ack_count', startedAt.length);
  count(s, 'ack_sum', sum);
}

/**
 * ack: the attempt succeeded.
 * Guarantee: the result is recorded once; a task revoked while running ends revoked.
 */
export function ack(s: Step, leaseId: string, owner: string | null, result: string): Outcome<{ state: string }> {
  return ackMany(s, [{ leaseId, result }], owner)[0];
}

/** `ack` of one lease the long way: it reads the task, then ends it as its row says. */
function ackOne(s: Step, leaseId: string, owner: string | null, result: string): Outcome<{ state: string }> {
  const r = endingLease(s, leaseId, owner);
  if ('ok' in r) return r;
  countAcks(s, [r.started_at]);
  finish(s, r.id, 'done', 'succeeded', { result, error: null, attempt: { outcome: 'succeeded' } }, r);
  return { ok: true, state: 'succeeded' };
}

/**
 * The common ack: a live lease of the caller's, its task neither revoked nor with an ordering
 * key, workflow or callback waiting on its end. The UPDATE checks all that itself and names the
 * tasks it ended: one statement ends them all, with no read before it.
 */
const ACK_PLAIN = `WITH rows AS MATERIALIZED (SELECT value->>'$[0]' AS id, value->>'$[1]' AS lease, value->>'$[2]' AS result FROM json_each(?2))
  UPDATE tasks SET phase = 'done', state = 'succeeded', finished_at = ?1, lease_id = NULL, lease_expires_at = NULL,
    result = rows.result, error = NULL, version = version + 1
  FROM rows
  WHERE tasks.id = rows.id AND tasks.lease_id = rows.lease AND tasks.phase = 'leased' AND tasks.lease_expires_at > ?1
    AND (?3 IS NULL OR tasks.lease_owner = ?3) AND tasks.revoke_requested = 0
    AND tasks.ordering_key IS NULL AND tasks.workflow_id IS NULL AND tasks.callback IS NULL
  RETURNING id, lane, started_at`;

/**
 * ackMany: `ack` for a batch of leases, each with its own outcome.
 * Guarantee: as `ack`, one by one. The common case (ACK_PLAIN) is done in two statements for
 * the whole batch (the end and its change log); every other lease, and a lease named twice,
 * goes the long way and finds out why.
 */
export function ackMany(s: Step, acks: { leaseId: string; result: string }[], owner: string | null): Outcome<{ state: string }>[] {
  const out: Outcome<{ state: string }>[] = new Array(acks.length);
  // Each task once (RETURNING names the task, not the lease): a lease named again, or a second
  // lease of the same task, goes the long way after the first.
  const first = new Map<string, number>();
  acks.forEach((a, i) => {
    const id = taskOfLease(a.leaseId);
    if (!first.has(id)) first.set(id, i);
  });
  // In chunks under SQLite's 2 MB a value: a hundred acks of large results are many times that.
  // The attempt that succeeded goes in no log: it is the task's own fields (attempts, worker, its
  // start and finish), which the API makes into its entry (attemptsOf, src/api/present.ts). Logging
  // it cost a drain a fifth of its rate: a JSON rewrite per task here and a larger row to D1.
  const ended: string[] = [];
  for (const chunk of jsonChunks([...first].map(([id, i]) => JSON.stringify([id, acks[i].leaseId, acks[i].result])))) {
    const rows = described(s, () => s.sql.all<{ id: string; lane: string; started_at: number | null }>(ACK_PLAIN, s.now, chunk, owner));
    countAcks(s, rows.map((r) => r.started_at));
    if (rows.length) count(s, 'final:succeeded', rows.length);
    for (const r of rows) {
      leaseEnded(s, r.lane);
      s.finished.push(r.id);
      ended.push(r.id);
      out[first.get(r.id)!] = { ok: true, state: 'succeeded' };
    }
  }
  if (ended.length) {
    s.wake.done = s.now;
    touchAll(s, ended);
  }
  acks.forEach((a, i) => {
    if (out[i] === undefined) out[i] = ackOne(s, a.leaseId, owner, a.result);
  });
  return out;
}

/**
 * release: a worker hands back a job it has not started (it is shutting down).
 * Guarantee: the attempt is not counted and the task keeps its place in the queue.
 */
export function release(s: Step, leaseId: string, owner: string | null): Outcome<{ state: string }> {
  const r = endingLease(s, leaseId, owner);
  if ('ok' in r) return r;
  logAttempt(s, r.id, 'released');
  s.sql.run(
    `UPDATE tasks SET phase = 'ready', state = 'queued', attempts = attempts - 1, lease_id = NULL,
       lease_expires_at = NULL, worker = NULL, started_at = NULL, version = version + 1 WHERE id = ?`,
    r.id,
  );
  touch(s, r.id);
  leaseEnded(s, r.lane);
  readied(s, r.lane);
  return { ok: true, state: 'queued' };
}

/**
 * fail: the attempt failed. It runs again after backoff while retries remain and the
 * worker allows it; otherwise the task is failed and kept as a dead letter.
 */
export function fail(
  s: Step, leaseId: string, owner: string | null, error: TaskError, retry: boolean, delaySeconds: number | null,
): Outcome<{ state: string; nextAttemptAt?: number }> {
  const found = leaseOf(s, leaseId, owner);
  if (!found.ok) return found;
  return { ok: true, ...failAttempt(s, found.row, error, retry, delaySeconds) };
}

/** Ends the attempt failed (`expired`: its lease ran out), to run again or for good. */
export function failAttempt(
  s: Step, r: LiveRow, error: TaskError, retry: boolean, delaySeconds: number | null, expired = false,
): { state: string; nextAttemptAt?: number } {
  if (r.revoke_requested) {
    finish(s, r.id, 'done', 'revoked', { error, attempt: { outcome: 'revoked', error } }, r);
    return { state: 'revoked' };
  }
  if (retry && r.attempts <= r.max_retries) {
    logAttempt(s, r.id, expired ? 'expired' : 'retry', error);
    // A delay that did not pass the API's checks (an HTTP task's Retry-After, read by the hub's
    // own runner) is held to the backoff's bounds too: never before now, never past a day.
    const asked = delaySeconds === null || !Number.isFinite(delaySeconds) ? null : Math.min(Math.max(delaySeconds, 0), MAX_BACKOFF_SECONDS);
    const delay = asked ?? backoffSeconds(r.attempts, r.retry_delay, s.random);
    const readyAt = s.now + Math.round(delay * 1000);
    const [phase, state] = readyAt > s.now ? ['scheduled', 'delayed'] : ['ready', 'queued'];
    s.sql.run(
      `UPDATE tasks SET phase = ?, state = ?, ready_at = ?, error = ?, lease_id = NULL, lease_expires_at = NULL,
         version = version + 1 WHERE id = ?`,
      phase, state, readyAt, JSON.stringify(error), r.id,
    );
    touch(s, r.id);
    leaseEnded(s, r.lane);
    count(s, 'retries');
    if (phase === 'ready') readied(s, r.lane);
    return { state, nextAttemptAt: readyAt };
  }
  finish(s, r.id, 'dead', 'failed', { error, attempt: { outcome: expired ? 'expired' : 'failed', error } }, r);
  return { state: 'failed' };
}

/** How long a rate-limited task waits when its report names no delay (the site sent no Retry-After). */
export const RATE_LIMITED_DEFAULT_SECONDS = 1;

/**
 * failRateLimited: the site or API said to slow down. The attempt does not count (attempts go
 * back to what they were before its claim, so maxRetries is not used up; `retry` does not apply),
 * and the task waits `delaySeconds` (default 1 s). Answers the task's rate key and until when it
 * waits: the caller pauses the key in the same transaction (keys.ts).
 * A task that is rate-limited on every attempt waits again every time. Its attempts stay as
 * they were, so one with no counted attempt still ends `expired` at its `expires` (expiry is
 * for tasks that never started); any other only a revoke ends.
 */
export function failRateLimited(
  s: Step, leaseId: string, owner: string | null, error: TaskError, delaySeconds: number | null,
): Outcome<{ state: string; nextAttemptAt?: number; rateKey: string | null }> {
  const r = endingLease(s, leaseId, owner);
  // Lost, not the caller's, or revoked meanwhile (it ends revoked): no key to pause.
  if ('ok' in r) return r.ok ? { ...r, rateKey: null } : r;
  const asked = delaySeconds === null || !Number.isFinite(delaySeconds) ? RATE_LIMITED_DEFAULT_SECONDS : delaySeconds;
  const readyAt = s.now + Math.round(Math.min(Math.max(asked, 0), MAX_BACKOFF_SECONDS) * 1000);
  logAttempt(s, r.id, 'rateLimited', error);
  const [phase, state] = readyAt > s.now ? ['scheduled', 'delayed'] : ['ready', 'queued'];
  const { rate_key } = s.sql.one<{ rate_key: string | null }>(
    `UPDATE tasks SET phase = ?, state = ?, ready_at = ?, attempts = MAX(0, attempts - 1), error = ?, lease_id = NULL,
       lease_expires_at = NULL, version = version + 1 WHERE id = ? RETURNING rate_key`,
    phase, state, readyAt, JSON.stringify(error), r.id,
  )!;
  touch(s, r.id);
  leaseEnded(s, r.lane);
  count(s, 'rate_limited');
  if (phase === 'ready') readied(s, r.lane);
  return { ok: true, state, nextAttemptAt: readyAt, rateKey: rate_key };
}

export function expireLease(s: Step, r: LiveRow): void {
  const seconds = Math.round((r.lease_expires_at! - (r.started_at ?? r.lease_expires_at!)) / 1000);
  failAttempt(s, r, { type: 'LeaseExpired', message: `the worker held the task ${seconds}s without ack, fail or heartbeat` }, true, null, true);
}
