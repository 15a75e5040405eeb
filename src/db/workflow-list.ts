// The workflow list: recent workflows from the task records that carry their id, newest first.
import { STATES } from '../core/states.ts';

export interface WorkflowSummary {
  id: string;
  createdAt: number;
  /** Its tasks D1 holds: a chain's later steps count once their tasks are made. */
  tasks: number;
  states: Record<string, number>;
}

/**
 * A page of workflows before the cursor (a workflow id: ids are ULIDs, so they sort by their
 * start), and the cursor of the next page. Both statements walk the tasks_workflow index alone.
 * Over every database that holds task records: each gives its newest workflows and their counts
 * there; a workflow among the newest of all is among the newest of each that holds its tasks.
 */
export async function listWorkflows(dbs: D1Database[], limit: number, cursor: string | null): Promise<{ workflows: WorkflowSummary[]; cursor: string | null }> {
  const pages = await Promise.all(dbs.map((db) => db
    .prepare(
      `WITH page AS (
         SELECT DISTINCT workflow_id AS id FROM tasks WHERE workflow_id IS NOT NULL AND workflow_id < ?1
         ORDER BY workflow_id DESC LIMIT ?2)
       SELECT t.workflow_id AS id, t.state AS state, COUNT(*) AS n, MIN(t.created_at) AS created
       FROM page JOIN tasks t ON t.workflow_id = page.id AND t.workflow_id IS NOT NULL
       GROUP BY t.workflow_id, t.state`,
    )
    // Every id sorts before '~'.
    .bind(cursor ?? '~', limit + 1)
    .all<{ id: string; state: string; n: number; created: number }>()));
  const byId = new Map<string, WorkflowSummary>();
  for (const r of pages.flatMap((p) => p.results)) {
    const w = byId.get(r.id) ?? byId.set(r.id, { id: r.id, createdAt: r.created, tasks: 0, states: {} }).get(r.id)!;
    w.tasks += r.n;
    w.createdAt = Math.min(w.createdAt, r.created);
    w.states[r.state] = (w.states[r.state] ?? 0) + r.n;
  }
  const all = [...byId.values()].sort((a, b) => (a.id < b.id ? 1 : -1));
  const more = all.length > limit;
  const workflows = all.slice(0, limit);
  // States in their usual order, for people reading the answer.
  for (const w of workflows) w.states = Object.fromEntries(STATES.filter((s) => s in w.states).map((s) => [s, w.states[s]]));
  return { workflows, cursor: more ? workflows[workflows.length - 1].id : null };
}
