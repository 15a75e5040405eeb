// Runs one claimed job: the handler with its context, heartbeats while it runs, then ack or fail.
import type { Job } from './client.ts';
import type { TaskContext, TaskDefinition } from './task.ts';

/** How a runner reaches the hub for one job: over HTTP (pull workers) or RPC (regional consumers). */
export interface JobTransport {
  /** Extends the lease; `lost` when the hub no longer knows it, `revoked` when the task was revoked. */
  heartbeat(job: Job, progress: unknown): Promise<{ revoked: boolean; lost: boolean }>;
  ack(job: Job, result: unknown): Promise<void>;
  /** `rateLimited`: the site said "too many requests"; the attempt does not count and the task's rate key pauses. */
  fail(job: Job, error: { type: string; message: string; stack?: string }, retry: boolean, delaySeconds?: number, rateLimited?: boolean): Promise<void>;
}

export type JobOutcome = 'succeeded' | 'failed' | 'abandoned';

/** A thrown value as the protocol's error: data, matched by type. */
export function toTaskError(err: unknown): { type: string; message: string; stack?: string } {
  if (err instanceof Error) return { type: err.name || 'Error', message: err.message.slice(0, 10_000), stack: err.stack?.slice(0, 60_000) };
  return { type: 'Error', message: String(err).slice(0, 10_000) };
}

/**
 * A retry delay a fail body takes (docs/protocol.md: 0, or 0.001 to 86,400 seconds), or undefined
 * for the hub's own (1 s for a rate-limited attempt): a Retry-After that did not parse (NaN) or
 * went negative is not the site's answer, so the hub's default stands.
 */
export function failDelay(seconds: number | undefined): number | undefined {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return undefined;
  return seconds === 0 ? 0 : Math.min(86_400, Math.max(0.001, seconds));
}

/** Heartbeat a third of the way through each lease, and at least every 10 s so a revoke is noticed soon. */
export function heartbeatEvery(job: Job, now = Date.now()): number {
  return Math.min(10_000, Math.max(500, (Date.parse(job.leaseExpiresAt) - now) / 3));
}

/** The failure of a job whose task this worker does not run: retried, since another worker may run it. */
export function notRegistered(task: string, known?: string[]): { type: string; message: string } {
  const runs = known === undefined ? '' : known.length ? ` (it runs ${known.map((k) => `"${k}"`).join(', ')})` : ' (it runs no tasks)';
  return { type: 'NotRegistered', message: `task "${task}" is not registered on this worker${runs}`.slice(0, 10_000) };
}

/** Runs one job; `known` (the names this worker runs) goes into the NotRegistered message when `task` is missing. */
export async function executeJob(job: Job, task: TaskDefinition | undefined, transport: JobTransport, worker: string, known?: string[]): Promise<JobOutcome> {
  if (!task) {
    await transport.fail(job, notRegistered(job.task, known), true);
    return 'failed';
  }
  const controller = new AbortController();
  let progress: unknown;
  const beat = async () => {
    const r = await transport.heartbeat(job, progress);
    if (r.revoked) controller.abort(new Error('the task was revoked'));
    else if (r.lost) controller.abort(new Error('the lease was lost'));
  };
  const timer = setInterval(() => void beat().catch(() => {}), heartbeatEvery(job));
  const ctx: TaskContext = {
    id: job.id,
    attempt: job.attempt,
    maxRetries: job.maxRetries,
    kwargs: job.kwargs,
    headers: job.headers ?? {},
    queue: job.queue,
    region: job.region,
    eta: job.eta ? new Date(job.eta) : null,
    workflowId: job.workflowId ?? null,
    worker,
    signal: controller.signal,
    heartbeat: async (p?: unknown) => {
      if (p !== undefined) progress = p;
      await beat();
    },
  };
  try {
    const result = await task.run(job.args as never, ctx);
    clearInterval(timer);
    await transport.ack(job, result === undefined ? null : result);
    return controller.signal.aborted ? 'abandoned' : 'succeeded';
  } catch (err) {
    clearInterval(timer);
    // NonRetryableError and RetryLaterError steer retries by name; any error may also carry
    // `retryable: false`, `delaySeconds` or `rateLimited: true` (HTTP tasks do) and keep its own type.
    const name = err instanceof Error ? err.name : '';
    const steer = (err ?? {}) as { retryable?: boolean; delaySeconds?: number; rateLimited?: boolean; retryAfterSeconds?: number };
    if (steer.rateLimited === true) {
      await transport.fail(job, toTaskError(err), true, failDelay(steer.retryAfterSeconds ?? steer.delaySeconds), true);
      return controller.signal.aborted ? 'abandoned' : 'failed';
    }
    const retry = name !== 'NonRetryableError' && steer.retryable !== false;
    const delay = typeof steer.delaySeconds === 'number' ? steer.delaySeconds : undefined;
    await transport.fail(job, toTaskError(err), retry, delay);
    return controller.signal.aborted ? 'abandoned' : 'failed';
  }
}
