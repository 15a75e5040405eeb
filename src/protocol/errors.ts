// One error class with a code, one code-to-status table, one onError: every error body has one shape.
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export const STATUS = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  lease_lost: 409,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof STATUS;

export class DroverError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'DroverError';
  }
}

export function errorResponse(c: Context, code: ErrorCode, message: string, details?: unknown): Response {
  const error: Record<string, unknown> = { code, message };
  if (details !== undefined) error.details = details;
  return c.json({ error }, STATUS[code]);
}

/** The error body for anything thrown: known errors keep their code; anything else is logged, never shown. */
export function errorOf(err: unknown, where: string): { code: ErrorCode; message: string; details?: unknown } {
  if (err instanceof DroverError) return { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) };
  if (err instanceof HTTPException) {
    if (err.status === 413) return { code: 'payload_too_large', message: 'the request body is too large' };
    if (err.status < 500) return { code: 'invalid_request', message: err.message || 'the request could not be read' };
  }
  // D1 without the hub's tables: the migrations have not run yet (npm start applies them just after
  // the runtime starts; a deploy before them). Not the hub's fault, and over once they have run.
  if (/^D1_ERROR: no such table/.test((err as Error)?.message ?? '')) return { code: 'unavailable', message: 'the database is not ready (have the D1 migrations been applied?)' };
  // Storage or object errors that the platform marks as passing are worth a retry.
  const transient = (err as { retryable?: boolean; overloaded?: boolean }).retryable || (err as { overloaded?: boolean }).overloaded;
  console.error('unhandled error', where, err);
  if (transient) return { code: 'unavailable', message: 'the hub is briefly unable to serve this request; try again' };
  return { code: 'internal', message: 'the hub failed to handle this request; it has been logged' };
}

/** The app's onError: one error shape for every route. */
export function onError(err: Error, c: Context): Response {
  const { code, message, details } = errorOf(err, `${c.req.method} ${c.req.path}`);
  return errorResponse(c, code, message, details);
}
