// The shapes the HTTP API answers with, as TypeScript types: a claimed job, a task record, a workflow record.

/** What a task is, as both a job and a task record show it. */
interface TaskFields {
  id: string;
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  queue: string;
  region: string | null;
  priority: number;
  maxRetries: number;
  parentId: string | null;
  rootId: string | null;
}

/** A claimed attempt of a task, as the hub hands it to a worker. */
export interface Job extends TaskFields {
  leaseId: string;
  attempt: number;
  leaseExpiresAt: string;
}

/** A task as `GET /v1/tasks/:id` shows it. */
export interface TaskRecord<R = unknown> extends TaskFields {
  state: 'queued' | 'delayed' | 'running' | 'succeeded' | 'failed' | 'revoked' | 'expired';
  attempts: number;
  result: R | null;
  error: { type: string; message: string; stack?: string } | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  worker: string | null;
}

/** A workflow as `GET /v1/workflows/:id` shows it. */
export interface WorkflowRecord<R = unknown> {
  id: string;
  shape: 'chain' | 'group' | 'chord';
  state: 'running' | 'succeeded' | 'failed' | 'revoked';
  result: R | null;
  createdAt: string;
  finishedAt: string | null;
  tasks: { id: string; task: string; queue: string; step: number; state: string; result: unknown; error: { type: string; message: string } | null }[];
}
