// Errors a task handler throws to steer retries, and errors the client reports.

/**
 * Thrown by a handler when trying again cannot help (bad input, a 404): the task
 * fails at once and goes to the dead letters.
 *
 * @example
 * if (res.status === 404) throw new NonRetryableError(`no page at ${url}`);
 */
export class NonRetryableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NonRetryableError';
  }
}

/**
 * Thrown by a handler to be retried after a given delay instead of the backoff
 * (a rate limit that says when to come back).
 *
 * @example
 * throw new RetryLaterError('rate limited', Number(res.headers.get('retry-after')));
 */
export class RetryLaterError extends Error {
  readonly delaySeconds: number;
  constructor(message: string, delaySeconds: number) {
    super(message);
    this.name = 'RetryLaterError';
    this.delaySeconds = delaySeconds;
  }
}

/**
 * Thrown by a handler when the site it called said "too many requests" (a 429, or a 503 with
 * Retry-After). The attempt does not count against the task's retries: the task waits
 * `retryAfterSeconds` (1 s when not given) and the hub pauses its rate key until then, and
 * lowers that key's rate, for every worker in every region.
 *
 * @example
 * if (res.status === 429) throw new RateLimitedError(`429 from ${host}`, Number(res.headers.get('retry-after')) || undefined);
 */
export class RateLimitedError extends Error {
  readonly rateLimited = true;
  readonly retryAfterSeconds: number | undefined;
  constructor(message: string, retryAfterSeconds?: number) {
    super(message);
    this.name = 'RateLimited';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** An error answer from the hub, with the protocol's error code. */
export class HubError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.name = 'HubError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** `.wait()` on a task that ended without succeeding. */
export class TaskFailedError extends Error {
  readonly state: string;
  readonly error: unknown;
  constructor(id: string, state: string, error: unknown) {
    const detail = error && typeof error === 'object' && 'message' in error ? `: ${(error as { message: string }).message}` : '';
    super(`task ${id} ended ${state}${detail}`);
    this.name = 'TaskFailedError';
    this.state = state;
    this.error = error;
  }
}
