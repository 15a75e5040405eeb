// What a workflow object is told (a task's outcome) and answers (its state and view).

/**
 * Progress is pushed, never polled: a QueueObject writes a task's final state to an
 * outbox in the same transaction that ends the task, and delivers it here until it
 * is taken. Every task id is fixed in the plan, so starting a step twice (a retried
 * delivery, a crash between steps) records and queues nothing new. A result counts
 * once: a late ack of an expired lease is refused by the QueueObject, so a chord's
 * body starts exactly once, after every header task succeeded.
 */
export interface TaskOutcome {
  taskId: string;
  state: string;
  /** JSON text, as the QueueObject keeps it. */
  result: string | null;
  error: string | null;
}

export type WorkflowState = 'running' | 'succeeded' | 'failed' | 'revoked';

export interface WorkflowView {
  id: string;
  shape: string;
  state: WorkflowState;
  createdAt: number;
  finishedAt: number | null;
  /** JSON text, as are the tasks' results and errors; null and `resultOmitted` past the view's budget. */
  result: string | null;
  resultOmitted?: true;
  steps: {
    group: boolean;
    tasks: { id: string; task: string; queue: string; state: string | null; result: string | null; resultOmitted?: true; error: string | null }[];
  }[];
}
