// The Step every transition runs in (an injected clock, what it leaves for after commit), and the
// moves transitions share: placing a task, passing an ordering or group key on, ending a task.
import { keyOfLane, type TaskError, type TaskSpec } from '../../core/states.ts';
import type { Sql } from '../../db/sql.ts';
import { logChanges, logInserts } from '../sync.ts';
import { appendedLog, loggedError, type AttemptOutcome } from './attempts.ts';

/** What a transition needs (an injected clock) and what it leaves for the object to do after commit. */
export interface Step {
  sql: Sql;
  now: number;
  random: () => number;
  /** Region lanes ('' untagged) where work became claimable: wake their claims and consumers. */
  readyLanes: Set<string>;
  /** How many tasks became claimable (in `readyLanes`): as many waiting claims are woken. */
  readyCount: number;
  /** Tasks that reached a final state: answer their `?wait` readers. */
  finished: string[];
  /** Task names with a rate limit: they go to lanes of their own. */
  limitedTasks: { has(task: string): boolean };
  /** Counter increments, written with the change log once per transaction (`logNow`). */
  counters: Map<string, number>;
  /** Tasks changed since the last `logNow`, for the change log. */
  logged: string[];
  /** Tasks this step changed (each `touch`): event subscribers hear of each. */
  touched: Set<string>;
  /** Rate keys one of whose leases ended: a concurrency slot of the key freed. */
  freedKeys: Set<string>;
  /** Lanes of rate keys a claim read to the end: the object forgets them until a task is ready there. */
  drainedKeys: [key: string, lanes: string[]][];
  /**
   * The earliest time a scheduled task falls due, as the object's last rearm read it (it follows
   * every transaction that writes, so no scheduled task is due sooner), or null when none is
   * scheduled; undefined when not known. `promoteDue` looks only when this says one may be due.
   */
  scheduledFrom?: number | null;
  /** The same for the earliest expiry of a task never started (a claim that may meet none reads none first). */
  expiresFrom?: number | null;
  /** What the step's writes mean for the object's alarm, for the writes that say so. */
  wake: Wake;
  /**
   * Leases given out, [task id, lease id]: D1 learns of their `running` only if they are still
   * held LAZY_RUNNING_MS later (the object keeps them in memory till then: Alarm `lazy`).
   */
  lazy: [string, string][];
  /** Lanes with no ready task (by lane and a claim's task names, EmptyLanes in claim.ts), as the object knew them before this step. */
  emptyLanes?: { has(lane: string, names: string): boolean };
  /** Lanes a claim of this step found without a ready task: the object learns them after commit. */
  emptied: [lane: string, names: string][];
}

/**
 * What a step's writes add to the object's timers and to what D1 is owed, as far as the writes
 * that say so (`described`: the rows they wrote). When they are all the rows the step wrote, the
 * alarm moves by this alone (Alarm.rearm) instead of reading its tables again: the hot steps
 * (a take, a claim, an ack) save a statement each. Any other write leaves `described` short, and
 * the alarm reads its tables as before.
 */
export interface Wake {
  described: number;
  /** The earliest end of a new lease (null: none). */
  at: number | null;
  /** The earliest time of a task newly scheduled, the earliest new expiry (null: none). */
  scheduled: number | null;
  expires: number | null;
  /** When a task was made done (its retention runs from then), or null. */
  done: number | null;
  /** Rows were added to the change log, to the insert log. */
  changes: boolean;
  inserts: boolean;
}

export function newStep(sql: Sql, now = Date.now(), random: () => number = Math.random): Step {
  return {
    sql, now, random, readyLanes: new Set(), readyCount: 0, finished: [], limitedTasks: new Set(), counters: new Map(), logged: [], touched: new Set(), freedKeys: new Set(), drainedKeys: [],
    wake: { described: 0, at: null, scheduled: null, expires: null, done: null, changes: false, inserts: false },
    lazy: [], emptied: [],
  };
}

/** The earlier of two times, either of which may be none (null). */
export function earlier(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

/** Runs one write whose meaning for the alarm the caller notes in `s.wake`: its rows count as described. */
export function described<T>(s: Step, write: () => T): T {
  const since = s.sql.writes;
  const out = write();
  s.wake.described += s.sql.writes - since;
  return out;
}

/** Logs tasks the object took for their insert into D1 (sync.ts `logInserts`); returns the last one's place in that log. */
export function logTaken(s: Step, specs: TaskSpec[]): number {
  s.wake.inserts = true;
  return described(s, () => logInserts(s.sql, specs));
}

/** A lease of a task in `lane` ended: its rate key, if it has one, has a slot free. */
export function leaseEnded(s: Step, lane: string): void {
  const key = keyOfLane(lane);
  if (key !== null) s.freedKeys.add(key);
}

/** A task in `lane` became claimable. */
export function readied(s: Step, lane: string): void {
  s.readyLanes.add(lane);
  s.readyCount++;
}

/** Runs a transition and writes its change log and counters (`logNow`); call inside the transaction. */
export function commit<T>(s: Step, fn: (s: Step) => T): T {
  const out = fn(s);
  logNow(s);
  return out;
}

/**
 * Writes what the step has touched and counted so far, in one statement: the ids to the change
 * log, the counter increments with them (an ack moves ~16, its histogram buckets), which the next
 * D1 write adds to the object's counters as it forgets the log (sync.ts). `commit` calls it; so
 * does anything that reads the change log inside a step (a purge keeps tasks D1 is owed).
 */
export function logNow(s: Step): void {
  if (s.logged.length === 0 && s.counters.size === 0) return;
  s.wake.changes = true;
  const counts = s.counters.size ? JSON.stringify(Object.fromEntries(s.counters)) : null;
  described(s, () => logChanges(s.sql, s.logged, counts));
  s.logged = [];
  s.counters.clear();
}

/** Expected outcomes travel as codes; the API maps each to one error. */
export type Outcome<T> = ({ ok: true } & T) | { ok: false; code: 'lease_lost' | 'forbidden' | 'conflict' | 'not_found'; message: string };

export interface LiveRow {
  id: string;
  task: string | null;
  args: string | null;
  kwargs: string | null;
  lane: string;
  priority: number;
  phase: string;
  state: string;
  ready_at: number;
  expires_at: number | null;
  attempts: number;
  max_retries: number;
  retry_delay: number;
  timeout: number;
  ordering_key: string | null;
  key_limit: number;
  parent_id: string | null;
  root_id: string | null;
  workflow_id: string | null;
  http: string | null;
  callback: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  worker: string | null;
  result: string | null;
  error: string | null;
  progress: string | null;
  lease_id: string | null;
  lease_expires_at: number | null;
  lease_owner: string | null;
  revoke_requested: number;
  /** JSON: how the task's last attempts ended (attempts.ts). */
  attempt_log: string | null;
  version: number;
}

export const LIVE_ORDERED = `phase IN ('ready', 'scheduled', 'leased', 'blocked')`;

/** Upper bounds of the claim-to-ack histogram, seconds (Prometheus `le`). */
export const ACK_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** The object's counter of each of ACK_BUCKETS, in the same order: acks at most that many seconds after their claim. */
export const ACK_LE_KEYS = ACK_BUCKETS.map((le) => `ack_le:${le}`);

/** Adds to one of the object's counters (metrics); `commit` writes them in the transition's own transaction (`logNow`). */
export function count(s: Step, key: string, by = 1): void {
  s.counters.set(key, (s.counters.get(key) ?? 0) + by);
}

/**
 * How long D1 may lag behind a change that only the object's own readers need at once. A claimed
 * task's `running` is usually overtaken by its end within this time, so D1 gets one write, not two.
 */
export const LAZY_RUNNING_MS = 1000;

/** Queues the row's current version for the next D1 write. Call after every change (a claim's lazy `running` aside: `Step.lazy`). */
export function touch(s: Step, id: string): void {
  touchAll(s, [id]);
}

/** `touch` for many rows: they are logged together at commit (`logNow`). */
export function touchAll(s: Step, ids: string[]): void {
  for (const id of ids) {
    s.touched.add(id);
    s.logged.push(id);
  }
}

export function row(s: Step, id: string): LiveRow | undefined {
  return s.sql.one<LiveRow>(`SELECT * FROM tasks WHERE id = ?`, id);
}

/**
 * Puts a task that enters the live set (new, replayed, or unblocked) in its phase:
 * expired if its expiry passed before it started; blocked while its key (an
 * orderingKey, or a group key) has `key_limit` tasks active or others already waiting,
 * so waiters keep their enqueue order; scheduled until ready_at; else ready.
 */
export function place(s: Step, id: string, readyAt: number, key: string | null, expiresAt: number | null, attempts: number): void {
  if (expiresAt !== null && attempts === 0 && expiresAt <= s.now) {
    finish(s, id, 'done', 'expired', { error: { type: 'Expired', message: 'the task expired before it started' } });
    return;
  }
  if (key !== null) {
    const limit = s.sql.one<{ key_limit: number }>(`SELECT key_limit FROM tasks WHERE id = ?`, id)?.key_limit ?? 1;
    const waiting = s.sql.one(`SELECT 1 FROM tasks WHERE ordering_key = ? AND ${LIVE_ORDERED} AND phase = 'blocked' AND id != ? LIMIT 1`, key, id);
    if (waiting || activeWithKey(s, key, id) >= limit) {
      const state = readyAt > s.now ? 'delayed' : 'queued';
      s.sql.run(`UPDATE tasks SET phase = 'blocked', state = ?, version = version + 1 WHERE id = ?`, state, id);
      touch(s, id);
      return;
    }
  }
  const [phase, state] = readyAt > s.now ? ['scheduled', 'delayed'] : ['ready', 'queued'];
  const placed = s.sql.one<{ lane: string }>(
    `UPDATE tasks SET phase = ?, state = ?, version = version + 1 WHERE id = ? RETURNING lane`, phase, state, id,
  );
  touch(s, id);
  if (phase === 'ready' && placed) readied(s, placed.lane);
}

/** Tasks of a key that hold one of its places: ready, waiting for their time, or running. */
export function activeWithKey(s: Step, key: string, except = ''): number {
  return s.sql.one<{ n: number }>(
    `SELECT COUNT(*) AS n FROM tasks WHERE ordering_key = ? AND ${LIVE_ORDERED} AND phase != 'blocked' AND id != ?`,
    key,
    except,
  )!.n;
}

/** Hands a key's free places to its waiting tasks, oldest first. */
export function passKey(s: Step, key: string | null): void {
  while (key !== null) {
    const next = s.sql.one<LiveRow>(
      `SELECT id, ready_at, expires_at, attempts, key_limit FROM tasks WHERE ordering_key = +? AND ${LIVE_ORDERED} AND phase = 'blocked' ORDER BY id LIMIT 1`,
      key,
    );
    if (!next || activeWithKey(s, key) >= next.key_limit) return;
    // Out of the waiting line first, so `place` neither waits behind itself nor counts itself.
    s.sql.run(`UPDATE tasks SET phase = 'scheduled' WHERE id = ?`, next.id);
    place(s, next.id, next.ready_at, null, next.expires_at, next.attempts);
  }
}

/** Ends a task: it leaves the live set, its lease ends, its key passes on. A task already ended is left alone. */
export function finish(
  s: Step,
  id: string,
  phase: 'done' | 'dead',
  state: string,
  fields: { result?: string | null; error?: TaskError | null; attempt?: { outcome: AttemptOutcome; error?: TaskError | null } } = {},
  known?: LiveRow,
): void {
  const before = known ?? row(s, id);
  if (before && (before.phase === 'done' || before.phase === 'dead')) return;
  // The running attempt that this end ends is logged in the same UPDATE (attempts.ts), not a second one.
  const attempt = fields.attempt ?? null;
  // A done task's retention runs from now (the alarm purges it then); a dead one waits for no timer.
  if (phase === 'done') s.wake.done = earlier(s.wake.done, s.now);
  described(s, () => s.sql.run(
    `UPDATE tasks SET phase = ?, state = ?, finished_at = ?, lease_id = NULL, lease_expires_at = NULL,
       result = COALESCE(?, result), error = CASE WHEN ? THEN ? ELSE error END, version = version + 1,
       attempt_log = CASE WHEN ? IS NULL THEN attempt_log ELSE ${appendedLog('?', '?', '?')} END
     WHERE id = ?`,
    phase,
    state,
    s.now,
    fields.result ?? null,
    fields.error === undefined ? 0 : 1,
    fields.error ? JSON.stringify(fields.error) : null,
    attempt?.outcome ?? null,
    s.now,
    attempt?.outcome ?? null,
    loggedError(attempt?.error),
    id,
  ));
  touch(s, id);
  if (before?.phase === 'leased') leaseEnded(s, before.lane);
  ended(s, id, state, true, before);
  if (before && before.phase !== 'blocked') passKey(s, before.ordering_key);
}

/**
 * What every end of a task owes, in the transaction that ends it: its `?wait` readers,
 * its counter, its workflow's outbox row, and its callback (keyed by the row's version,
 * so a later end of the same task is a new callback and an old delivery cannot settle it).
 */
export function ended(s: Step, id: string, state: string, counted = true, known?: LiveRow): void {
  s.finished.push(id);
  if (counted) count(s, `final:${state}`);
  // A row read before this change tells whether there is a workflow or callback to owe at all.
  if (known && known.workflow_id === null && known.callback === null) return;
  s.sql.run(
    `INSERT INTO workflow_outbox (task_id, workflow_id, state, result, error)
       SELECT id, workflow_id, state, result, error FROM tasks WHERE id = ? AND workflow_id IS NOT NULL
     ON CONFLICT (task_id) DO UPDATE SET state = excluded.state, result = excluded.result, error = excluded.error`,
    id,
  );
  s.sql.run(
    `INSERT INTO callback_outbox (task_id, url, attempts, next_at)
       SELECT id, callback->>'url', version, ? FROM tasks WHERE id = ? AND callback IS NOT NULL
     ON CONFLICT (task_id) DO UPDATE SET url = excluded.url, attempts = excluded.attempts, next_at = excluded.next_at`,
    s.now, id,
  );
}

export function limited(s: Step, t: TaskSpec): string | undefined {
  return !t.http && s.limitedTasks.has(t.task) ? t.task : undefined;
}
