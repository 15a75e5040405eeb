// A purge: the queue's waiting tasks end revoked, a bounded batch per transaction.
import { type Step, type LiveRow, LIVE_ORDERED, count, touchAll, finish } from './step.ts';

/**
 * Where waiting tasks are read, each through its own partial index (so a batch costs the same
 * however many tasks wait): those blocked behind a key first, so that ending a key's ready task
 * hands its place to none of them, then the scheduled, then the ready.
 */
export const WAITING = [
  `ordering_key IS NOT NULL AND ${LIVE_ORDERED} AND phase = 'blocked'`,
  `phase = 'scheduled'`,
  `phase = 'ready'`,
];

type Waiting = Pick<LiveRow, 'id' | 'phase' | 'ordering_key' | 'workflow_id' | 'callback'>;

/**
 * purgeWaiting: up to `limit` of the queue's waiting tasks (state queued or delayed, in any
 * region) end `revoked`, as a revoke of each would; running tasks are left alone.
 * Guarantee: each ends once, its workflow and callback told as a revoke tells them; its record
 * follows with the object's next D1 write. `more` says whether waiting tasks remain.
 */
export function purgeWaiting(s: Step, limit: number): { purged: number; more: boolean } {
  const picked: Waiting[] = [];
  for (const where of WAITING) {
    if (picked.length >= limit) break;
    picked.push(...s.sql.all<Waiting>(`SELECT id, phase, ordering_key, workflow_id, callback FROM tasks WHERE ${where} LIMIT ?`, limit - picked.length));
  }
  // Tasks nothing waits on end in one statement; the others end one by one, owing what `finish` pays.
  const plain = picked.filter((r) => r.ordering_key === null && r.workflow_id === null && r.callback === null).map((r) => r.id);
  if (plain.length) {
    s.sql.run(
      `UPDATE tasks SET phase = 'done', state = 'revoked', finished_at = ?, version = version + 1 WHERE id IN (SELECT value FROM json_each(?))`,
      s.now,
      JSON.stringify(plain),
    );
    touchAll(s, plain);
    s.finished.push(...plain);
    count(s, 'final:revoked', plain.length);
  }
  for (const r of picked) {
    if (r.ordering_key !== null || r.workflow_id !== null || r.callback !== null) finish(s, r.id, 'done', 'revoked', {}, r as LiveRow);
  }
  const more = picked.length >= limit && WAITING.some((where) => s.sql.one(`SELECT 1 FROM tasks WHERE ${where} LIMIT 1`) !== undefined);
  return { purged: picked.length, more };
}
