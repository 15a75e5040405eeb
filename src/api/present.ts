// How tasks, jobs and dead letters look on the wire: times as RFC 3339, JSON text spliced in unparsed.
import type { TaskRow } from '../db/schema.ts';
import type { LiveTask, DeadTask } from '../queue/types.ts';
import { iso } from '../protocol/times.ts';

function parsed(text: string | null): unknown {
  return text == null ? null : JSON.parse(text);
}

/** The public task: D1's record, overlaid with the QueueObject's live fields when it has them. */
export function presentTask(row: TaskRow, live: LiveTask | null): Record<string, unknown> {
  const l = live;
  return {
    id: row.id,
    task: row.task,
    args: parsed(row.args),
    kwargs: parsed(row.kwargs),
    queue: row.queue,
    region: row.region,
    priority: row.priority,
    state: l?.state ?? row.state,
    attempts: l?.attempts ?? row.attempts,
    maxRetries: row.maxRetries,
    result: parsed(l ? l.result : row.result),
    error: parsed(l ? l.error : row.error),
    createdAt: iso(row.createdAt),
    startedAt: iso(l ? l.startedAt : row.startedAt),
    finishedAt: iso(l ? l.finishedAt : row.finishedAt),
    worker: l ? l.worker : row.worker,
    parentId: row.parentId,
    rootId: row.rootId,
    workflowId: row.workflowId,
    eta: iso(row.eta),
    expiresAt: iso(row.expiresAt),
    idempotencyKey: row.idempotencyKey,
    orderingKey: row.orderingKey,
    groupKey: row.groupKey,
    groupLimit: row.groupLimit,
    progress: l ? parsed(l.progress) : null,
    revokeRequested: l?.revokeRequested ?? false,
  };
}

export function presentDead(d: DeadTask, queue: string): Record<string, unknown> {
  return {
    id: d.id,
    task: d.task,
    args: parsed(d.args),
    kwargs: parsed(d.kwargs),
    queue,
    region: d.region,
    priority: d.priority,
    state: 'failed',
    attempts: d.attempts,
    maxRetries: d.maxRetries,
    error: parsed(d.error),
    createdAt: iso(d.createdAt),
    finishedAt: iso(d.finishedAt),
  };
}
