// How tasks, jobs and dead letters look on the wire: times as RFC 3339, JSON text spliced in unparsed.
import { regionOfLane } from '../core/states.ts';
import type { TaskRow } from '../db/schema.ts';
import type { LiveTask, DeadTask } from '../queue/QueueObject.ts';
import type { ClaimedRow } from '../queue/transitions.ts';

export function iso(ms: number | null | undefined): string | null {
  return ms == null ? null : new Date(ms).toISOString();
}

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

/** One claimed job as JSON text: args and kwargs go out exactly as they came in. */
export function jobJson(r: ClaimedRow, queue: string): string {
  const head = JSON.stringify({
    id: r.id,
    leaseId: r.lease_id,
    task: r.task,
    queue,
    region: regionOfLane(r.lane) || null,
    priority: r.priority,
    attempt: r.attempts,
    maxRetries: r.max_retries,
    leaseExpiresAt: iso(r.lease_expires_at),
    parentId: r.parent_id,
    rootId: r.root_id,
  });
  return `${head.slice(0, -1)},"args":${r.args},"kwargs":${r.kwargs}}`;
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
