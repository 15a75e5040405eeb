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
  /** The key the queue's per-key limits count it under (wins over the task's `rateKey`); null: none. */
  rateKey?: string | null;
}

/**
 * The body for `task(...args)`: the task's options as defaults, the call's over them. A task's
 * `rateKey` function is called here with the args (a link's: the args it was given, not the
 * result it will be passed); a null or absent answer sends no key.
 */
export function enqueueBody(task: string, args: unknown[], options: EnqueueOptions, defaults: { rateKey?: unknown }): Record<string, unknown> {
  const { eta, expires, ...rest } = options;
  const { rateKey: keyOf, ...fixed } = defaults;
  const body: Record<string, unknown> = { ...fixed, ...rest, task, args };
  if (options.rateKey === undefined) {
    const key = typeof keyOf === 'function' ? keyOf(...args) : keyOf;
    if (key !== null && key !== undefined) body.rateKey = key;
  }
  if (eta !== undefined) body.eta = eta instanceof Date ? eta.toISOString() : eta;
  if (expires !== undefined) body.expires = expires instanceof Date ? expires.toISOString() : expires;
  for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
  return body;
}
