// How tasks, jobs and dead letters look on the wire: times as RFC 3339, JSON text spliced in unparsed.
import type { TaskRow } from '../db/schema.ts';
import type { LiveTask, DeadTask } from '../queue/types.ts';
import { iso } from '../protocol/times.ts';
import type { AttemptRecord, DeadLetter, TaskRecord, WorkflowRecord } from '../protocol/records.ts';
import type { WorkflowView } from '../workflow/types.ts';
import type { TaskState } from '../core/states.ts';
import { ATTEMPT_LOG_LENGTH } from '../queue/transitions/attempts.ts';

/** JSON text as the value it holds; null stays null. */
export function parsed<T = unknown>(text: string | null): T | null {
  return text == null ? null : (JSON.parse(text) as T);
}

/** An attempt as the queue object logs it: times in epoch ms. */
type LoggedAttempt = Omit<AttemptRecord, 'startedAt' | 'finishedAt'> & { startedAt: number | null; finishedAt: number };

/**
 * A task's ended attempts, then the running one (from the task's own fields) while it runs. The
 * attempt that succeeded is not stored (src/queue/transitions/lease.ts): it is the task's own
 * fields, made into its entry here, as the object would have logged it.
 */
export function attemptsOf(
  log: string | null,
  task: { state: string; attempts: number; worker: string | null; startedAt: number | null; finishedAt: number | null },
): AttemptRecord[] {
  const ended = (parsed<LoggedAttempt[]>(log) ?? []).map((a) => ({ ...a, startedAt: iso(a.startedAt), finishedAt: iso(a.finishedAt) }));
  /** The task's current (or last) attempt, from its own fields. */
  const current = (finishedAt: string | null, outcome: 'succeeded' | null): AttemptRecord =>
    ({ attempt: task.attempts, worker: task.worker, startedAt: iso(task.startedAt), finishedAt, outcome, error: null });
  if (task.state === 'succeeded' && ended[ended.length - 1]?.outcome !== 'succeeded') {
    ended.push(current(iso(task.finishedAt), 'succeeded'));
    if (ended.length > ATTEMPT_LOG_LENGTH) ended.shift();
  }
  if (task.state !== 'running') return ended;
  return [...ended, current(null, null)];
}

/**
 * The public task: D1's record, overlaid with the QueueObject's live fields when it has them.
 * Lists leave the attempt log out (`attempts: false`): a page of 500 tasks would carry 500 logs.
 */
export function presentTask(row: TaskRow & { jurisdiction?: TaskRecord['jurisdiction'] }, live: LiveTask | null, attempts = true): TaskRecord {
  const l = live;
  const state = l?.state ?? row.state;
  const worker = l ? l.worker : row.worker;
  return {
    id: row.id,
    task: row.task,
    args: parsed<unknown[]>(row.args)!,
    kwargs: parsed<Record<string, unknown>>(row.kwargs)!,
    queue: row.queue,
    region: row.region,
    priority: row.priority,
    state: state as TaskState,
    attempts: l?.attempts ?? row.attempts,
    maxRetries: row.maxRetries,
    headers: parsed<Record<string, unknown>>(row.headers) ?? {},
    result: parsed(l ? l.result : row.result),
    error: parsed<TaskRecord['error']>(l ? l.error : row.error),
    createdAt: iso(row.createdAt)!,
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
    rateKey: row.rateKey ?? null,
    jurisdiction: row.jurisdiction ?? null,
    progress: l ? parsed(l.progress) : null,
    revokeRequested: l?.revokeRequested ?? false,
    attemptLog: attempts
      ? attemptsOf(l ? l.attemptLog : row.attemptLog, { state, attempts: l?.attempts ?? row.attempts, worker, startedAt: l ? l.startedAt : row.startedAt, finishedAt: l ? l.finishedAt : row.finishedAt })
      : [],
  };
}

export function presentDead(d: DeadTask, queue: string): DeadLetter {
  return {
    id: d.id,
    task: d.task,
    args: parsed<unknown[]>(d.args)!,
    kwargs: parsed<Record<string, unknown>>(d.kwargs)!,
    queue,
    region: d.region,
    priority: d.priority,
    state: 'failed',
    attempts: d.attempts,
    maxRetries: d.maxRetries,
    error: parsed<DeadLetter['error']>(d.error),
    createdAt: iso(d.createdAt)!,
    finishedAt: iso(d.finishedAt),
  };
}

/** A workflow with every task of every step; `live` has the state of tasks not ended yet, from their records. */
export function presentWorkflow(w: WorkflowView, live: Map<string, string>): WorkflowRecord {
  type StepState = WorkflowRecord['tasks'][number]['state'];
  const tasks = w.steps.flatMap((s, step) =>
    s.tasks.map((t) => ({
      ...t,
      step,
      state: (t.state ?? live.get(t.id) ?? 'pending') as StepState,
      result: parsed(t.result),
      error: parsed<TaskRecord['error']>(t.error),
    })),
  );
  return {
    id: w.id,
    shape: w.shape as WorkflowRecord['shape'],
    state: w.state,
    result: parsed(w.result),
    ...(w.resultOmitted && { resultOmitted: true }),
    createdAt: iso(w.createdAt)!,
    finishedAt: iso(w.finishedAt),
    tasks,
  };
}
