// What a queue object tells of its tasks without changing them: one task (now or once it ends), counts, metrics, dead letters.
import { regionOfLane } from '../core/states.ts';
import type { Sql } from '../db/sql.ts';
import type { Store } from './store.ts';
import { LOGGED_COUNTS } from './sync.ts';
import { unserved, type Claimant, type ReadyGroup } from '../core/unserved.ts';
import * as t from './transitions.ts';
import type { DeadTask, LiveTask, QueueStats } from './types.ts';

/** A task's live fields; none for a task this object does not hold. */
export function liveTask(store: Store, id: string): LiveTask | null {
  if (!store.stored) return null;
  const r = store.sql.one<t.LiveRow>(`SELECT * FROM tasks WHERE id = ?`, id);
  if (!r) return null;
  return {
    id: r.id,
    state: r.state,
    attempts: r.attempts,
    result: r.result,
    error: r.error,
    progress: r.progress,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    worker: r.worker,
    leaseExpiresAt: r.lease_expires_at,
    revokeRequested: r.revoke_requested === 1,
    attemptLog: r.attempt_log,
  };
}

/** Calls waiting for tasks to end, each woken by the transaction that ends its task. */
export class EndWaits {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Resolves once task `id` ends, or when `waitMs` runs out. */
  wait(id: string, waitMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const set = this.waiters.get(id) ?? new Set();
      this.waiters.set(id, set);
      const wake = () => {
        clearTimeout(timer);
        set.delete(wake);
        if (set.size === 0) this.waiters.delete(id);
        resolve();
      };
      const timer = setTimeout(wake, waitMs);
      set.add(wake);
    });
  }

  ended(ids: Iterable<string>): void {
    for (const id of ids) {
      const waiters = this.waiters.get(id);
      if (waiters) for (const wake of [...waiters]) wake();
    }
  }
}

/**
 * The queue's unfinished tasks by state and region, with its settings and the object's own counts,
 * and the ready tasks none of `claimants` would take. One scan: ready worker tasks (not HTTP
 * tasks, which runners take) are grouped by name too.
 */
export function taskCounts(
  store: Store, settings: Pick<QueueStats, 'paused' | 'config'>, claimCalls: number, regionWakes: number, claimants: Claimant[],
): QueueStats {
  const rows = store.rows<{ lane: string; state: string; task: string | null; n: number }>(
    `SELECT lane, state, CASE WHEN state = 'queued' AND http IS NULL THEN task END AS task, COUNT(*) AS n
     FROM tasks WHERE phase != 'done' GROUP BY lane, state, 3`,
  );
  const stats: QueueStats = {
    ready: 0, delayed: 0, running: 0, failed: 0, paused: settings.paused, regions: {}, unserved: [],
    claimCalls, regionWakes, config: settings.config,
  };
  const named: ReadyGroup[] = [];
  for (const { lane, state, task, n } of rows) {
    if (task !== null) named.push({ task, region: regionOfLane(lane) || null, ready: n });
    const key = state === 'queued' ? 'ready' : state === 'delayed' ? 'delayed' : state === 'running' ? 'running' : 'failed';
    stats[key] += n;
    if (key === 'ready' || key === 'running') {
      const region = (stats.regions[regionOfLane(lane) || '_any'] ??= { ready: 0, running: 0 });
      region[key] += n;
    }
  }
  stats.unserved = unserved(named, claimants);
  return stats;
}

/** The counters the transitions keep, when the oldest ready task became ready, and how many dead letters wait. */
export function metricRows(sql: Sql): { counters: Record<string, number>; oldest: number | null; dead: number } {
  // The counters, and what the change log carries for them until the next D1 write adds it (sync.ts).
  const counters: Record<string, number> = {};
  for (const r of sql.all<{ key: string; value: string | number }>(
    `SELECT substr(key, 3) AS key, value FROM meta WHERE key LIKE 'm:%' UNION ALL ${LOGGED_COUNTS} GROUP BY j.key`,
  )) counters[r.key] = (counters[r.key] ?? 0) + Number(r.value);
  const oldest = t.oldestReady(t.newStep(sql));
  const dead = sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM tasks WHERE phase = 'dead'`)!.n;
  return { counters, oldest, dead };
}

/** Dead letters, the latest first. */
export function deadTasks(store: Store, limit: number): DeadTask[] {
  return store
    .rows<t.LiveRow>(`SELECT * FROM tasks WHERE phase = 'dead' ORDER BY finished_at DESC LIMIT ?`, limit)
    .map((r) => ({
      id: r.id,
      task: r.task ?? '',
      args: r.args ?? '[]',
      kwargs: r.kwargs ?? '{}',
      region: regionOfLane(r.lane) || null,
      priority: r.priority,
      attempts: r.attempts,
      maxRetries: r.max_retries,
      error: r.error,
      createdAt: r.created_at,
      finishedAt: r.finished_at,
    }));
}
