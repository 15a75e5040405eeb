// The body of POST /v1/tasks for a task, its arguments and the caller's options.

export interface EnqueueOptions {
  /** The task's id, chosen here: a UUID or a ULID. A task that has it already is answered instead (`duplicate: true`). */
  id?: string;
  kwargs?: Record<string, unknown>;
  /** Kept with the task and handed to its workers (`ctx.headers`). */
  headers?: Record<string, unknown>;
  queue?: string;
  region?: string | null;
  priority?: number;
  /** Seconds before it may run; or `eta`, not both. */
  delay?: number;
  eta?: Date | string;
  /** Seconds from now, or a time: not started by then, it expires. */
  expires?: number | Date | string;
  maxRetries?: number;
  retryDelay?: number;
  timeout?: number;
  idempotencyKey?: string;
  orderingKey?: string;
}

export function enqueueBody(task: string, args: unknown[], options: EnqueueOptions, defaults: object): Record<string, unknown> {
  const { eta, expires, ...rest } = options;
  const body: Record<string, unknown> = { ...defaults, ...rest, task, args };
  if (eta !== undefined) body.eta = eta instanceof Date ? eta.toISOString() : eta;
  if (expires !== undefined) body.expires = expires instanceof Date ? expires.toISOString() : expires;
  for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
  return body;
}
