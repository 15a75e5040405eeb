// From a validated enqueue body to a task spec: defaults applied, times resolved, size checked.
import { newTaskId } from '../core/ids.ts';
import { overUtf8Bytes, utf8Bytes } from '../core/params.ts';
import { rateKeyOf, type TaskSpec } from '../core/states.ts';
import { jurisdictionOf, type JurisdictionEnv } from '../core/jurisdictions.ts';
import { allowList, refusal } from '../http-tasks/call.ts';
import { DroverError } from '../protocol/errors.ts';
import { MAX_TASK_BYTES } from '../protocol/sizes.ts';
import { readInstant } from '../protocol/times.ts';
import type { EnqueueBody } from '../protocol/schemas.ts';


/** Seconds from now, or an RFC 3339 time the schema has checked: read by readInstant, not Date.parse, which bends impossible dates. */
function resolveTime(value: number | string | undefined, now: number): number | null {
  if (value === undefined) return null;
  if (typeof value === 'number') return now + Math.round(value * 1000);
  const read = readInstant(value);
  if (!read.ok) throw new DroverError('invalid_request', `invalid time ${JSON.stringify(value)}: ${read.problem}`);
  return read.ms;
}

export function toSpec(body: EnqueueBody, now: number): TaskSpec {
  const eta = resolveTime(body.eta ?? (body.delay || undefined), now);
  return {
    id: body.id ?? newTaskId(now),
    ...(body.id && { chosenId: true }),
    task: body.task,
    args: JSON.stringify(body.args),
    kwargs: JSON.stringify(body.kwargs),
    queue: body.queue,
    region: body.region,
    priority: body.priority,
    eta,
    expiresAt: resolveTime(body.expires, now),
    maxRetries: body.maxRetries,
    retryDelay: body.retryDelay,
    timeout: body.timeout,
    idempotencyKey: body.idempotencyKey ?? null,
    orderingKey: body.orderingKey ?? null,
    ...(body.groupKey && { groupKey: body.groupKey, groupLimit: body.groupLimit ?? 1 }),
    parentId: null,
    rootId: null,
    ...(body.http && { http: body.http }),
    ...(body.callback && { callback: body.callback }),
    ...(body.headers && Object.keys(body.headers).length > 0 && { headers: JSON.stringify(body.headers) }),
    ...(rateKeyOf(body) && { rateKey: rateKeyOf(body) }),
    createdAt: now,
  };
}

/**
 * Refuses, at the door, an HTTP task or callback the hub could not make: a URL that is
 * not https or points at a private address (unless DROVER_HTTP_ALLOW lists it), or no
 * signing key to sign it with. `where` names the task within a batch or workflow.
 */
export function checkTargets(env: { DROVER_SIGNING_KEYS?: string; DROVER_HTTP_ALLOW?: string }, body: Pick<EnqueueBody, 'http' | 'callback'>, where = ''): void {
  if (!body.http && !body.callback) return;
  const at = where ? `${where}.` : '';
  if (allowList(env.DROVER_SIGNING_KEYS).length === 0) {
    throw new DroverError('invalid_request', `${at}http and callbacks need signing keys, and this hub has none: set DROVER_SIGNING_KEYS`);
  }
  const allow = allowList(env.DROVER_HTTP_ALLOW);
  for (const [field, url] of [['http.url', body.http?.url], ['callback.url', body.callback?.url]] as const) {
    const refused = url === undefined ? null : refusal(url, allow);
    if (refused) throw new DroverError('invalid_request', `${at}${field} ${refused}`, { field: `${at}${field}` });
  }
}

/**
 * Refuses a region bound to a jurisdiction where the task's spec would rest outside it: a
 * workflow's steps wait in their WorkflowObject, a schedule's task in the hub's D1 and BeatObject.
 */
export function refuseJurisdiction(env: JurisdictionEnv, region: string | null | undefined, what: string, field: string): void {
  const j = jurisdictionOf(env, region);
  if (j) throw new DroverError('invalid_request', `${field}: region "${region}" keeps its tasks in the ${j} jurisdiction, and ${what} would store this task's args outside it; enqueue such tasks directly (POST /v1/tasks)`, { field });
}

/**
 * Refuses a task whose JSON, as the client sent it, is over the bus's message limit. `at` names
 * it: an index within a batch, or a path within a workflow.
 */
export function checkSize(raw: unknown, at?: number | string): void {
  const text = JSON.stringify(raw);
  if (overUtf8Bytes(text, MAX_TASK_BYTES)) {
    const bytes = utf8Bytes(text);
    const where = at === undefined ? 'the task' : typeof at === 'number' ? `tasks[${at}]` : at;
    const details = at === undefined ? undefined : typeof at === 'number' ? { index: at } : { path: at };
    throw new DroverError('payload_too_large', `${where} is ${Math.ceil(bytes / 1024)} KiB of JSON; a task may be at most 128 KiB`, details);
  }
}
