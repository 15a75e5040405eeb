// Every state change of a live task: synchronous functions run inside one SQLite transaction each.
import { backoffSeconds, MAX_BACKOFF_SECONDS } from '../core/backoff.ts';
import { mergeLanes } from '../core/claim-order.ts';
import { taskOfLease } from '../core/ids.ts';
import { keyOf, laneOf, type TaskError, type TaskSpec } from '../core/states.ts';
import { jsonChunks } from '../core/params.ts';
import type { Sql } from '../db/sql.ts';
import { logChanges, UNSYNCED_IDS } from './sync.ts';

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
  /** Counter increments, written once per transaction by `commit` (an ack touches ~16 of them). */
  counters: Map<string, number>;
  /** Tasks this step changed (each `touch`): event subscribers hear of each. */
  touched: Set<string>;
}

export function newStep(sql: Sql, now = Date.now(), random: () => number = Math.random): Step {
  return { sql, now, random, readyLanes: new Set(), readyCount: 0, finished: [], limitedTasks: new Set(), counters: new Map(), touched: new Set() };
}

/** A task in `lane` became claimable. */
function readied(s: Step, lane: string): void {
  s.readyLanes.add(lane);
  s.readyCount++;
}

/** Runs a transition and writes what it counted; call inside the transaction. */
export function commit<T>(s: Step, fn: (s: Step) => T): T {
  const out = fn(s);
  if (s.counters.size) {
    // One statement for all of them: an ack alone moves ~16 (its histogram buckets).
    s.sql.run(
      `INSERT INTO meta (key, value) SELECT 'm:' || j.key, j.value FROM json_each(?) AS j WHERE true
       ON CONFLICT (key) DO UPDATE SET value = CAST(value AS REAL) + excluded.value`,
      JSON.stringify(Object.fromEntries(s.counters)),
    );
  }
  s.counters.clear();
  return out;
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
  version: number;
}

const LIVE_ORDERED = `phase IN ('ready', 'scheduled', 'leased', 'blocked')`;

/** Upper bounds of the claim-to-ack histogram, seconds (Prometheus `le`). */
export const ACK_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** Adds to one of the object's counters (metrics); `commit` writes them in the transition's own transaction. */
function count(s: Step, key: string, by = 1): void {
  s.counters.set(key, (s.counters.get(key) ?? 0) + by);
}

/**
 * How long D1 may lag behind a change that only the object's own readers need at once. A claimed
 * task's `running` is usually overtaken by its end within this time, so D1 gets one write, not two.
 */
export const LAZY_RUNNING_MS = 1000;

/**
 * Queues the row's current version for the next D1 write, due after `lazyMs`. Call after every
 * change. A lazy change never holds back one due now: D1 may hold a final state a replay has just
 * undone, and a read by id trusts D1's final states.
 */
function touch(s: Step, id: string, lazyMs = 0): void {
  touchAll(s, [id], lazyMs);
}

/** `touch` for many rows in one statement. */
function touchAll(s: Step, ids: string[], lazyMs = 0): void {
  if (ids.length === 0) return;
  for (const id of ids) s.touched.add(id);
  logChanges(s.sql, ids, s.now, s.now + lazyMs);
}

function row(s: Step, id: string): LiveRow | undefined {
  return s.sql.one<LiveRow>(`SELECT * FROM tasks WHERE id = ?`, id);
}

/**
 * Puts a task that enters the live set (new, replayed, or unblocked) in its phase:
 * expired if its expiry passed before it started; blocked while its key (an
 * orderingKey, or a group key) has `key_limit` tasks active or others already waiting,
 * so waiters keep their enqueue order; scheduled until ready_at; else ready.
 */
function place(s: Step, id: string, readyAt: number, key: string | null, expiresAt: number | null, attempts: number): void {
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
function activeWithKey(s: Step, key: string, except = ''): number {
  return s.sql.one<{ n: number }>(
    `SELECT COUNT(*) AS n FROM tasks WHERE ordering_key = ? AND ${LIVE_ORDERED} AND phase != 'blocked' AND id != ?`,
    key,
    except,
  )!.n;
}

/** Hands a key's free places to its waiting tasks, oldest first. */
function passKey(s: Step, key: string | null): void {
  while (key !== null) {
    const next = s.sql.one<LiveRow>(
      `SELECT id, ready_at, expires_at, attempts, key_limit FROM tasks WHERE ordering_key = ? AND ${LIVE_ORDERED} AND phase = 'blocked' ORDER BY id LIMIT 1`,
      key,
    );
    if (!next || activeWithKey(s, key) >= next.key_limit) return;
    // Out of the waiting line first, so `place` neither waits behind itself nor counts itself.
    s.sql.run(`UPDATE tasks SET phase = 'scheduled' WHERE id = ?`, next.id);
    place(s, next.id, next.ready_at, null, next.expires_at, next.attempts);
  }
}

/** Ends a task: it leaves the live set, its lease ends, its key passes on. A task already ended is left alone. */
function finish(
  s: Step,
  id: string,
  phase: 'done' | 'dead',
  state: string,
  fields: { result?: string | null; error?: TaskError | null } = {},
  known?: LiveRow,
): void {
  const before = known ?? row(s, id);
  if (before && (before.phase === 'done' || before.phase === 'dead')) return;
  s.sql.run(
    `UPDATE tasks SET phase = ?, state = ?, finished_at = ?, lease_id = NULL, lease_expires_at = NULL,
       result = COALESCE(?, result), error = CASE WHEN ? THEN ? ELSE error END, version = version + 1
     WHERE id = ?`,
    phase,
    state,
    s.now,
    fields.result ?? null,
    fields.error === undefined ? 0 : 1,
    fields.error ? JSON.stringify(fields.error) : null,
    id,
  );
  touch(s, id);
  ended(s, id, state, true, before);
  if (before && before.phase !== 'blocked') passKey(s, before.ordering_key);
}

/**
 * What every end of a task owes, in the transaction that ends it: its `?wait` readers,
 * its counter, its workflow's outbox row, and its callback (keyed by the row's version,
 * so a later end of the same task is a new callback and an old delivery cannot settle it).
 */
function ended(s: Step, id: string, state: string, counted = true, known?: LiveRow): void {
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

function limited(s: Step, t: TaskSpec): string | undefined {
  return !t.http && s.limitedTasks.has(t.task) ? t.task : undefined;
}

/**
 * Moves a task name's waiting tasks (and dead letters, which may be replayed) into its
 * own lanes (a rate limit was set) or back (it was cleared). Once per change.
 */
export function relane(s: Step, task: string, limitedNow: boolean): number {
  const moved = limitedNow
    ? s.sql.run(`UPDATE tasks SET lane = lane || '#' || task WHERE task = ? AND http IS NULL AND instr(lane, '#') = 0 AND phase != 'done'`, task)
    : s.sql.run(`UPDATE tasks SET lane = substr(lane, 1, instr(lane, '#') - 1) WHERE task = ? AND instr(lane, '#') > 0 AND phase != 'done'`, task);
  return moved;
}

/**
 * deliver: tasks carried by the bus enter the queue.
 * Guarantee: idempotent by task id (the bus delivers at least once); a task revoked
 * before it arrived keeps its revocation and gains its data.
 */
export function deliver(s: Step, specs: TaskSpec[]): number {
  let added = 0;
  const known = new Map(
    s.sql
      .all<{ id: string; task: string | null }>(`SELECT id, task FROM tasks WHERE id IN (SELECT value FROM json_each(?))`, JSON.stringify(specs.map((t) => t.id)))
      .map((r) => [r.id, r.task]),
  );
  // Tasks with no key that have not expired go in as they are, all in one statement.
  const plain: unknown[][] = [];
  for (const t of specs) {
    if (known.has(t.id)) {
      if (known.get(t.id) === null) {
        // Revoked before it arrived: it keeps its revocation, gains its data, and now that it
        // knows its workflow and callback, tells them it ended.
        s.sql.run(
          `UPDATE tasks SET task = ?, args = ?, kwargs = ?, lane = ?, priority = ?, created_at = ?, workflow_id = ?, http = ?,
             callback = ?, parent_id = ?, root_id = ?, max_retries = ?, version = version + 1 WHERE id = ?`,
          t.task, t.args, t.kwargs, laneOf(t.region, !!t.http, limited(s, t)), t.priority, t.createdAt, t.workflowId ?? null,
          t.http ? JSON.stringify(t.http) : null, t.callback ? JSON.stringify(t.callback) : null, t.parentId, t.rootId, t.maxRetries, t.id,
        );
        touch(s, t.id);
        known.set(t.id, t.task);
        if (t.workflowId || t.callback) ended(s, t.id, 'revoked', false); // counted when revoked
      }
      continue;
    }
    known.set(t.id, t.task); // a repeat within the batch is a repeat too
    const readyAt = t.eta ?? t.createdAt;
    const key = keyOf(t);
    const lane = laneOf(t.region, !!t.http, limited(s, t));
    const http = t.http ? JSON.stringify(t.http) : null;
    const callback = t.callback ? JSON.stringify(t.callback) : null;
    added++;
    if (key.key === null && (t.expiresAt === null || t.expiresAt > s.now)) {
      const ready = readyAt <= s.now;
      plain.push([
        t.id, t.task, t.args, t.kwargs, lane, t.priority, ready ? 'ready' : 'scheduled', ready ? 'queued' : 'delayed', readyAt, t.expiresAt,
        t.maxRetries, t.retryDelay, t.timeout, t.parentId, t.rootId, t.workflowId ?? null, http, callback, t.createdAt,
      ]);
      if (ready) readied(s, lane);
      continue;
    }
    s.sql.run(
      `INSERT INTO tasks (id, task, args, kwargs, lane, priority, phase, state, ready_at, expires_at,
         max_retries, retry_delay, timeout, ordering_key, key_limit, parent_id, root_id, workflow_id, http, callback, created_at, version)
       VALUES (?, ?, ?, ?, ?, ?, 'scheduled', 'delayed', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`,
      t.id, t.task, t.args, t.kwargs, lane, t.priority, readyAt, t.expiresAt,
      t.maxRetries, t.retryDelay, t.timeout, key.key, key.limit, t.parentId, t.rootId, t.workflowId ?? null, http, callback, t.createdAt,
    );
    place(s, t.id, readyAt, key.key, t.expiresAt, 0);
  }
  if (plain.length) {
    // Each row's JSON is read once (MATERIALIZED), not once per field.
    // In chunks under SQLite's 2 MB a value: a batch of large tasks is many times that.
    const v = (i: number) => `v->>'$[${i}]'`;
    for (const chunk of jsonChunks(plain.map((row) => JSON.stringify(row)))) {
      s.sql.run(
        `WITH rows AS MATERIALIZED (SELECT value AS v FROM json_each(?))
         INSERT INTO tasks (id, task, args, kwargs, lane, priority, phase, state, ready_at, expires_at,
           max_retries, retry_delay, timeout, parent_id, root_id, workflow_id, http, callback, created_at, version)
         SELECT ${Array.from({ length: 19 }, (_, i) => v(i)).join(', ')}, 1 FROM rows`,
        chunk,
      );
    }
    touchAll(s, plain.map((r) => r[0] as string));
  }
  return added;
}

export interface ClaimRequest {
  queue: string;
  worker: string;
  region: string | null;
  tasks: string[] | null;
  max: number;
  leaseSeconds: number | null;
  /** Who may later heartbeat, ack or fail the leases (a token's fingerprint). */
  owner: string | null;
  /** Runners of HTTP tasks claim their lanes ("http:", "http:<region>") instead of a worker's. */
  http?: boolean;
  /** Rate-limited task names this claim may take, and how many of each (their tokens now). */
  named?: { task: string; max: number }[];
  /** The worker socket that sent the claim: a waiting claim ends empty once cancelClaims names it. */
  socket?: string;
}

export interface ClaimedRow {
  id: string;
  task: string;
  args: string;
  kwargs: string;
  lane: string;
  priority: number;
  attempts: number;
  max_retries: number;
  parent_id: string | null;
  root_id: string | null;
  lease_id: string;
  lease_expires_at: number;
  /** JSON of the request, for an HTTP task. */
  http: string | null;
  timeout: number;
}

/**
 * claim: leases up to `max` ready tasks to one worker.
 * Guarantee: a task tagged R goes only to a claim of region R; order is priority,
 * then ready time, then enqueue order; each lane is read by an index walk of at most
 * `max` rows, so the cost does not grow with the backlog.
 */
export function claim(s: Step, req: ClaimRequest): ClaimedRow[] {
  promoteDue(s, 1000);
  const regions = req.region ? [req.region, null] : [null];
  const filter = req.tasks?.length ? ` AND task IN (${req.tasks.map(() => '?').join(', ')})` : '';
  // The plain lanes of the claim's regions, then each rate-limited name's lanes, capped by its tokens.
  const lanes: { lane: string; cap: number; name?: string }[] = regions.map((r) => ({ lane: laneOf(r, !!req.http), cap: Infinity }));
  if (!req.http) {
    for (const n of req.named ?? []) {
      if (req.tasks && !req.tasks.includes(n.task)) continue;
      for (const r of regions) lanes.push({ lane: laneOf(r, false, n.task), cap: n.max, name: n.task });
    }
  }
  const takenByName = new Map<string, number>();
  const out: ClaimedRow[] = [];
  for (let round = 0; round < 20 && out.length < req.max; round++) {
    const need = req.max - out.length;
    type Candidate = { id: string; priority: number; readyAt: number; expires_at: number | null; attempts: number; name?: string };
    // A lane that gave fewer rows than asked has none left; when every lane did and all were
    // picked, another round would only read nothing again.
    let exhausted = true;
    const candidates = lanes.map(({ lane, cap, name }): Candidate[] => {
      const limit = Math.min(need, name ? cap - (takenByName.get(name) ?? 0) : need);
      if (limit <= 0) {
        exhausted = false;
        return [];
      }
      const rows = s.sql
        .all<{ id: string; priority: number; ready_at: number; expires_at: number | null; lane: string; attempts: number }>(
          `SELECT id, priority, ready_at, expires_at, lane, attempts FROM tasks WHERE phase = 'ready' AND lane = ?${name ? '' : filter}
           ORDER BY priority DESC, ready_at, id LIMIT ?`,
          lane,
          ...(name ? [] : (req.tasks ?? [])),
          limit,
        )
        .map((c) => ({ id: c.id, priority: c.priority, readyAt: c.ready_at, expires_at: c.expires_at, attempts: c.attempts, name }));
      if (rows.length >= limit) exhausted = false;
      return rows;
    });
    const picked: Candidate[] = [];
    for (const c of mergeLanes(candidates, need + lanes.length * need)) {
      if (picked.length >= need) break;
      if (c.name) {
        const taken = takenByName.get(c.name) ?? 0;
        if (taken >= (lanes.find((l) => l.name === c.name)?.cap ?? 0)) continue;
        takenByName.set(c.name, taken + 1);
      }
      picked.push(c);
    }
    if (picked.length === 0) break;
    if (picked.length < candidates.reduce((n, c) => n + c.length, 0)) exhausted = false;
    // Expiry is for tasks never started; a retry of a started one runs whatever the clock says.
    const take: string[] = [];
    for (const c of picked) {
      if (c.expires_at !== null && c.attempts === 0 && c.expires_at <= s.now) {
        finish(s, c.id, 'done', 'expired', { error: { type: 'Expired', message: 'the task expired before it started' } });
        // A finish may make the next task of its ordering key or group ready: look again.
        exhausted = false;
      } else take.push(c.id);
    }
    if (take.length === 0) {
      if (exhausted) break;
      continue;
    }
    // One statement leases them all; each lease id is queue.taskId.<24 random hex digits>.
    const leased = s.sql.all<ClaimedRow>(
      `UPDATE tasks SET phase = 'leased', state = 'running', attempts = attempts + 1,
         lease_id = ? || '.' || id || '.' || lower(hex(randomblob(12))),
         lease_expires_at = ? + CAST(COALESCE(?, timeout) * 1000 AS INTEGER), lease_owner = ?, worker = ?,
         started_at = ?, progress = NULL, version = version + 1
       WHERE id IN (SELECT value FROM json_each(?))
       RETURNING id, task, args, kwargs, lane, priority, attempts, max_retries, parent_id, root_id, lease_id, lease_expires_at, http, timeout`,
      req.queue, s.now, req.leaseSeconds, req.owner, req.worker, s.now, JSON.stringify(take),
    );
    touchAll(s, take, LAZY_RUNNING_MS);
    // RETURNING comes in no promised order: hand them out in claim order.
    const byId = new Map(leased.map((r) => [r.id, r]));
    for (const id of take) out.push(byId.get(id)!);
    if (exhausted) break;
  }
  return out;
}

/** A call on a lease that is not live: ended, never given out, or of an object that holds nothing. */
export const LEASE_ENDED = { ok: false, code: 'lease_lost', message: 'this lease has ended (acked, failed or expired); the task is no longer yours' } as const;

/** Finds the live lease, ending it first if it has expired; checks its owner. */
function leaseOf(s: Step, leaseId: string, owner: string | null): Outcome<{ row: LiveRow }> {
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
function endingLease(s: Step, leaseId: string, owner: string | null): Outcome<{ state: string }> | LiveRow {
  const found = leaseOf(s, leaseId, owner);
  if (!found.ok) return found;
  if (found.row.revoke_requested) {
    finish(s, found.row.id, 'done', 'revoked', {}, found.row);
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

/** The claim-to-ack histogram's share of one ack. */
function countAck(s: Step, startedAt: number | null): void {
  const seconds = (s.now - (startedAt ?? s.now)) / 1000;
  for (const le of ACK_BUCKETS) if (seconds <= le) count(s, `ack_le:${le}`);
  count(s, 'ack_count');
  count(s, 'ack_sum', seconds);
}

/**
 * ack: the attempt succeeded.
 * Guarantee: the result is recorded once; a task revoked while running ends revoked.
 */
export function ack(s: Step, leaseId: string, owner: string | null, result: string): Outcome<{ state: string }> {
  const r = endingLease(s, leaseId, owner);
  if ('ok' in r) return r;
  countAck(s, r.started_at);
  finish(s, r.id, 'done', 'succeeded', { result, error: null }, r);
  return { ok: true, state: 'succeeded' };
}

/**
 * ackMany: `ack` for a batch of leases, each with its own outcome.
 * Guarantee: as `ack`, one by one. The common case (a live lease of the caller's, no
 * revoke, key, workflow or callback waiting on its end) is done in three statements for
 * the whole batch; every other lease, and a lease named twice, goes through `ack`.
 */
export function ackMany(s: Step, acks: { leaseId: string; result: string }[], owner: string | null): Outcome<{ state: string }>[] {
  const rows = s.sql.all<LiveRow>(
    `SELECT id, lease_id, phase, lease_expires_at, lease_owner, revoke_requested, started_at, ordering_key, workflow_id, callback
     FROM tasks WHERE id IN (SELECT value FROM json_each(?))`,
    JSON.stringify(acks.map((a) => taskOfLease(a.leaseId))),
  );
  const byLease = new Map(rows.map((r) => [r.lease_id, r]));
  const out: Outcome<{ state: string }>[] = new Array(acks.length);
  const plain: [string, string][] = [];
  const slow: number[] = [];
  acks.forEach((a, i) => {
    const r = byLease.get(a.leaseId);
    byLease.delete(a.leaseId); // named twice: the second goes the slow way and finds the lease ended
    const simple = r && r.phase === 'leased' && r.lease_expires_at! > s.now && (owner === null || r.lease_owner === owner) &&
      !r.revoke_requested && r.ordering_key === null && r.workflow_id === null && r.callback === null;
    if (!simple) {
      slow.push(i);
      return;
    }
    countAck(s, r.started_at);
    count(s, 'final:succeeded');
    s.finished.push(r.id);
    plain.push([r.id, a.result]);
    out[i] = { ok: true, state: 'succeeded' };
  });
  // In chunks under SQLite's 2 MB a value: a hundred acks of large results are many times that.
  for (const chunk of jsonChunks(plain.map((p) => JSON.stringify(p)))) {
    s.sql.run(
      `WITH rows AS MATERIALIZED (SELECT value->>'$[0]' AS id, value->>'$[1]' AS result FROM json_each(?2))
       UPDATE tasks SET phase = 'done', state = 'succeeded', finished_at = ?1, lease_id = NULL, lease_expires_at = NULL,
         result = rows.result, error = NULL, version = version + 1
       FROM rows WHERE tasks.id = rows.id`,
      s.now,
      chunk,
    );
  }
  if (plain.length) {
    touchAll(s, plain.map((p) => p[0]));
  }
  for (const i of slow) out[i] = ack(s, acks[i].leaseId, owner, acks[i].result);
  return out;
}

/**
 * release: a worker hands back a job it has not started (it is shutting down).
 * Guarantee: the attempt is not counted and the task keeps its place in the queue.
 */
export function release(s: Step, leaseId: string, owner: string | null): Outcome<{ state: string }> {
  const r = endingLease(s, leaseId, owner);
  if ('ok' in r) return r;
  s.sql.run(
    `UPDATE tasks SET phase = 'ready', state = 'queued', attempts = attempts - 1, lease_id = NULL,
       lease_expires_at = NULL, worker = NULL, started_at = NULL, version = version + 1 WHERE id = ?`,
    r.id,
  );
  touch(s, r.id);
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

function failAttempt(s: Step, r: LiveRow, error: TaskError, retry: boolean, delaySeconds: number | null): { state: string; nextAttemptAt?: number } {
  if (r.revoke_requested) {
    finish(s, r.id, 'done', 'revoked', { error }, r);
    return { state: 'revoked' };
  }
  if (retry && r.attempts <= r.max_retries) {
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
    count(s, 'retries');
    if (phase === 'ready') readied(s, r.lane);
    return { state, nextAttemptAt: readyAt };
  }
  finish(s, r.id, 'dead', 'failed', { error }, r);
  return { state: 'failed' };
}

function expireLease(s: Step, r: LiveRow): void {
  const seconds = Math.round((r.lease_expires_at! - (r.started_at ?? r.lease_expires_at!)) / 1000);
  failAttempt(s, r, { type: 'LeaseExpired', message: `the worker held the task ${seconds}s without ack, fail or heartbeat` }, true, null);
}

/**
 * revoke: a task not yet running never runs; a running one is flagged, its worker
 * learns it at the next heartbeat, and it ends revoked whatever it reports.
 * A task not yet delivered by the bus is remembered as revoked and never runs.
 */
export function revoke(s: Step, id: string): Outcome<{ state: string }> {
  const r = row(s, id);
  if (!r) {
    s.sql.run(
      `INSERT INTO tasks (id, lane, priority, phase, state, ready_at, created_at, finished_at, version)
       VALUES (?, '', 0, 'done', 'revoked', 0, ?, ?, 1)`,
      id, s.now, s.now,
    );
    touch(s, id);
    ended(s, id, 'revoked');
    return { ok: true, state: 'revoked' };
  }
  if (r.phase === 'done' || r.phase === 'dead') return { ok: false, code: 'conflict', message: `the task is already ${r.state}` };
  if (r.phase === 'leased') {
    s.sql.run(`UPDATE tasks SET revoke_requested = 1 WHERE id = ?`, id);
    return { ok: true, state: 'revoked' };
  }
  finish(s, id, 'done', 'revoked', {}, r);
  return { ok: true, state: 'revoked' };
}

/** Scheduled tasks whose time came become ready (eta reached, backoff over). */
export function promoteDue(s: Step, limit: number): number {
  // Every claim comes here: a read finds out ~10x cheaper than an UPDATE that changes nothing.
  if (!s.sql.one(`SELECT 1 FROM tasks WHERE phase = 'scheduled' AND ready_at <= ? LIMIT 1`, s.now)) return 0;
  const due = s.sql.all<{ id: string; lane: string }>(
    `UPDATE tasks SET phase = 'ready', state = 'queued', version = version + 1
     WHERE id IN (SELECT id FROM tasks WHERE phase = 'scheduled' AND ready_at <= ? ORDER BY ready_at LIMIT ?)
     RETURNING id, lane`,
    s.now, limit,
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
       AND expires_at <= ? LIMIT ?`,
    s.now, limit,
  );
  for (const { id } of due) finish(s, id, 'done', 'expired', { error: { type: 'Expired', message: 'the task expired before it started' } });
  return due.length;
}

/** Leases whose time ran out count as failed attempts (`LeaseExpired`) and retry like any failure. */
export function expireLeases(s: Step, limit: number): number {
  const due = s.sql.all<LiveRow>(
    `SELECT * FROM tasks WHERE phase = 'leased' AND lease_expires_at <= ? ORDER BY lease_expires_at LIMIT ?`,
    s.now, limit,
  );
  for (const r of due) expireLease(s, r);
  return due.length;
}

/** replay: dead letters run again from attempt 1. */
export function replay(s: Step, ids: string[] | null, limit: number): number {
  const rows = ids
    ? ids.map((id) => row(s, id)).filter((r): r is LiveRow => r?.phase === 'dead')
    : s.sql.all<LiveRow>(`SELECT * FROM tasks WHERE phase = 'dead' ORDER BY finished_at LIMIT ?`, limit);
  for (const r of rows) {
    s.sql.run(
      `UPDATE tasks SET phase = 'scheduled', attempts = 0, error = NULL, result = NULL, started_at = NULL,
         finished_at = NULL, worker = NULL, revoke_requested = 0, expires_at = NULL, ready_at = ? WHERE id = ?`,
      s.now, r.id,
    );
    place(s, r.id, s.now, r.ordering_key, null, 0);
  }
  return rows.length;
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
      s.sql.one<First>(`${from} AND lane = ? AND priority < ? ${order}`, group.lane, group.priority) ??
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
  return s.sql.run(
    `DELETE FROM tasks WHERE id IN (
       SELECT id FROM tasks WHERE phase = 'done' AND finished_at <= ? AND id NOT IN (${UNSYNCED_IDS}) LIMIT ?)`,
    s.now - retentionMs, limit,
  );
}
