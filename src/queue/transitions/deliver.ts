// Tasks arriving (deliver), moving lanes (relane), revoked by a user, and dead letters replayed.
import { keyedLane, keyOf, laneOf, type TaskSpec } from '../../core/states.ts';
import { jsonChunks } from '../../core/params.ts';
import { type Step, described, earlier, readied, type Outcome, type LiveRow, touch, touchAll, row, place, finish, ended, limited } from './step.ts';

/**
 * Moves a task name's waiting tasks (and dead letters, which may be replayed) into its
 * own lanes (a rate limit was set) or back (it was cleared). Once per change.
 */
export function relane(s: Step, task: string, limitedNow: boolean): number {
  const moved = limitedNow
    ? s.sql.run(`UPDATE tasks SET lane = lane || '#' || task WHERE task = ? AND http IS NULL AND instr(lane, '#') = 0 AND rate_key IS NULL AND phase != 'done'`, task)
    : s.sql.run(`UPDATE tasks SET lane = substr(lane, 1, instr(lane, '#') - 1) WHERE task = ? AND instr(lane, '#') > 0 AND rate_key IS NULL AND phase != 'done'`, task);
  return moved;
}

/**
 * A task's lane: its region's, then its rate key's (a claim reads a key's lane only while the key
 * has budget) or else its rate-limited name's. A keyed task of a limited name is held to the
 * name's tokens by the claim itself (claim.ts).
 */
function laneFor(s: Step, t: TaskSpec): string {
  return t.rateKey ? keyedLane(laneOf(t.region, !!t.http), t.rateKey) : laneOf(t.region, !!t.http, limited(s, t));
}

/**
 * deliver: tasks carried by the bus enter the queue.
 * Guarantee: idempotent by task id (the bus delivers at least once); a task revoked
 * before it arrived keeps its revocation and gains its data.
 *
 * `taken`: tasks the object records in D1 itself (`take`, sync.ts's logInserts), whose rows it
 * makes confirmed there: a plain one's arrival owes D1 no write of its own.
 */
export function deliver(s: Step, specs: TaskSpec[], taken = false): number {
  let added = 0;
  // Tasks taken with ids the hub made for them (`take`) were never here and nobody could have
  // revoked them yet: when they all go in the plain way, the INSERT itself skips a repeat
  // (a call tried twice), and no read looks for one first.
  const fresh = taken && specs.every((t) => keyOf(t).key === null && (t.expiresAt === null || t.expiresAt > s.now));
  const known = new Map(
    fresh
      ? []
      : s.sql
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
             callback = ?, parent_id = ?, root_id = ?, max_retries = ?, headers = ?, eta = ?, rate_key = ?, version = version + 1 WHERE id = ?`,
          t.task, t.args, t.kwargs, laneFor(s, t), t.priority, t.createdAt, t.workflowId ?? null,
          t.http ? JSON.stringify(t.http) : null, t.callback ? JSON.stringify(t.callback) : null, t.parentId, t.rootId, t.maxRetries,
          t.headers ?? null, t.eta, t.rateKey ?? null, t.id,
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
    const lane = laneFor(s, t);
    const http = t.http ? JSON.stringify(t.http) : null;
    const callback = t.callback ? JSON.stringify(t.callback) : null;
    added++;
    if (key.key === null && (t.expiresAt === null || t.expiresAt > s.now)) {
      const ready = readyAt <= s.now;
      plain.push([
        t.id, t.task, t.args, t.kwargs, lane, t.priority, ready ? 'ready' : 'scheduled', ready ? 'queued' : 'delayed', readyAt, t.expiresAt,
        t.maxRetries, t.retryDelay, t.timeout, t.parentId, t.rootId, t.workflowId ?? null, http, callback, t.createdAt,
        t.headers ?? null, t.eta, t.rateKey ?? null,
      ]);
      if (ready) readied(s, lane);
      continue;
    }
    s.sql.run(
      `INSERT INTO tasks (id, task, args, kwargs, lane, priority, phase, state, ready_at, expires_at,
         max_retries, retry_delay, timeout, ordering_key, key_limit, parent_id, root_id, workflow_id, http, callback, created_at,
         headers, eta, rate_key, version)
       VALUES (?, ?, ?, ?, ?, ?, 'scheduled', 'delayed', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`,
      t.id, t.task, t.args, t.kwargs, lane, t.priority, readyAt, t.expiresAt,
      t.maxRetries, t.retryDelay, t.timeout, key.key, key.limit, t.parentId, t.rootId, t.workflowId ?? null, http, callback, t.createdAt,
      t.headers ?? null, t.eta, t.rateKey ?? null,
    );
    place(s, t.id, readyAt, key.key, t.expiresAt, 0);
  }
  if (plain.length) {
    // Each row's JSON is read once (MATERIALIZED), not once per field.
    // In chunks under SQLite's 2 MB a value: a batch of large tasks is many times that.
    const v = (i: number) => `v->>'$[${i}]'`;
    // Their timers, for the alarm: a scheduled one's time, an expiry.
    for (const r of plain) {
      if (r[6] === 'scheduled') s.wake.scheduled = earlier(s.wake.scheduled, r[8] as number);
      s.wake.expires = earlier(s.wake.expires, r[9] as number | null);
    }
    let inserted = 0;
    for (const chunk of jsonChunks(plain.map((row) => JSON.stringify(row)))) {
      // Unchecked (`fresh`), a repeat is skipped here and left out of what was added: the
      // RETURNING names those inserted (a take is under LARGE_ENQUEUE tasks, src/intake/enqueue.ts).
      const insert = `WITH rows AS MATERIALIZED (SELECT value AS v FROM json_each(?))
         INSERT INTO tasks (id, task, args, kwargs, lane, priority, phase, state, ready_at, expires_at,
           max_retries, retry_delay, timeout, parent_id, root_id, workflow_id, http, callback, created_at, headers, eta, rate_key, version)
         SELECT ${Array.from({ length: 22 }, (_, i) => v(i)).join(', ')}, 1 FROM rows WHERE true
         ON CONFLICT (id) DO NOTHING`;
      inserted += described(s, () => (fresh ? s.sql.all(`${insert} RETURNING 1`, chunk).length : s.sql.run(insert, chunk)));
    }
    if (fresh) added -= plain.length - inserted;
    const ids = plain.map((r) => r[0] as string);
    if (taken) for (const id of ids) s.touched.add(id);
    else touchAll(s, ids);
  }
  return added;
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
