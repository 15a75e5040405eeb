// A claim's turn of one rate key: the key's ready lanes read by index walks, its tasks picked within its budget.
import { mergeLanes } from '../../core/claim-order.ts';
import { type Step, finish } from './step.ts';
import { limitOf } from '../../db/sql.ts';

/** A participant of a claim's round-robin: a key with budget and its ready lanes, or (key null) the tasks of no key. */
export interface KeyTurn {
  key: string | null;
  lanes: string[];
  max: number;
}

/** What of a claim a key's turn reads: the task names it is for (none: any), and the rate-limited names' tokens. */
type ClaimScope = { tasks: string[] | null; named?: { task: string; max: number }[] };

/** A ready task a claim may take, as its lane's index gives it. */
export type Candidate = { id: string; priority: number; readyAt: number; expires_at: number | null; attempts: number; name?: string };

/**
 * The ids of up to `n` ready tasks of `turn.key` (its budget is the caller's), in claim order.
 * A task of a rate-limited name counts against that name's tokens too. Lanes it read to the end
 * go in `s.drainedKeys`, so no claim reads them again until a task is ready there.
 */
export function claimKey(s: Step, req: ClaimScope, turn: KeyTurn & { key: string }, n: number, takenByName: Map<string, number>): string[] {
  const filter = req.tasks?.length ? ` AND task IN (${req.tasks.map(() => '?').join(', ')})` : '';
  const drained: string[] = [];
  const lanes = turn.lanes.map((lane) => {
    const rows = s.sql
      .all<{ id: string; task: string; priority: number; ready_at: number; expires_at: number | null; attempts: number; http: number }>(
        `SELECT id, task, priority, ready_at, expires_at, attempts, http IS NOT NULL AS http FROM tasks WHERE phase = 'ready' AND lane = +?${filter}
         ORDER BY priority DESC, ready_at, id LIMIT ${limitOf(n)}`,
        lane, ...(req.tasks ?? []),
      )
      .map((c) => ({ id: c.id, priority: c.priority, readyAt: c.ready_at, expires_at: c.expires_at, attempts: c.attempts, name: !c.http && s.limitedTasks.has(c.task) ? c.task : undefined }));
    // A claim for some task names saw only those: it asks whether any other task waits in the lane.
    if (rows.length < n && (!filter || !s.sql.one(`SELECT 1 FROM tasks WHERE phase = 'ready' AND lane = ? LIMIT 1`, lane))) drained.push(lane);
    return rows;
  });
  const caps = new Map((req.named ?? []).map((x) => [x.task, x.max]));
  const ids: string[] = [];
  let skipped = false;
  for (const c of mergeLanes(lanes, n * lanes.length)) {
    if (ids.length >= n) {
      skipped = true;
      break;
    }
    if (c.name) {
      const taken = takenByName.get(c.name) ?? 0;
      if (taken >= (caps.get(c.name) ?? 0)) {
        skipped = true;
        continue;
      }
      takenByName.set(c.name, taken + 1);
    }
    // Expiry is for tasks never started; a retry of a started one runs whatever the clock says.
    if (c.expires_at !== null && c.attempts === 0 && c.expires_at <= s.now) {
      finish(s, c.id, 'done', 'expired', { error: { type: 'Expired', message: 'the task expired before it started' } });
      continue;
    }
    ids.push(c.id);
  }
  if (drained.length && !skipped) s.drainedKeys.push([turn.key, drained]);
  return ids;
}
