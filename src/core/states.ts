// The vocabulary of a task's life: public states, which are final, and the task spec the bus carries.

/** The states docs/protocol.md names. */
export const STATES = ['queued', 'delayed', 'running', 'succeeded', 'failed', 'revoked', 'expired'] as const;
export type TaskState = (typeof STATES)[number];

export const FINAL_STATES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'revoked', 'expired']);

export function isFinal(state: string): boolean {
  return FINAL_STATES.has(state);
}

/** A task failure is data, matched by `type`. */
export interface TaskError {
  type: string;
  message: string;
  stack?: string;
}

/**
 * A task as the bus carries it and a QueueObject stores it: validated, with
 * defaults applied and times resolved to epoch milliseconds. `args` and `kwargs`
 * stay JSON text end to end, so no hop parses them again.
 */
export interface TaskSpec {
  id: string;
  task: string;
  args: string;
  kwargs: string;
  queue: string;
  region: string | null;
  priority: number;
  /** Not before this time (ms); null: as soon as possible. */
  eta: number | null;
  /** Not started by this time (ms): expired. */
  expiresAt: number | null;
  maxRetries: number;
  /** Base of the exponential backoff, seconds. */
  retryDelay: number;
  /** Lease length of one attempt, seconds. */
  timeout: number;
  idempotencyKey: string | null;
  orderingKey: string | null;
  parentId: string | null;
  rootId: string | null;
  /** The workflow this task belongs to: its QueueObject reports the task's end there. */
  workflowId?: string | null;
  /** At most `groupLimit` tasks of one group key run (or wait to run) at once, across all workers. */
  groupKey?: string | null;
  groupLimit?: number | null;
  /** An HTTP task: the request a runner of its region makes instead of running worker code. */
  http?: HttpTarget | null;
  /** Where the task record is POSTed when the task ends, until a 2xx. */
  callback?: { url: string } | null;
  /** JSON text of the headers the producer gave (an object), handed to workers with every job; absent: none. */
  headers?: string | null;
  /** The producer chose the id: it may name a task that exists already (recordTasks reads the row back in its insert's transaction). */
  chosenId?: boolean;
  /** Tasks of one rate key share the key's limits (a queue's keyLimits); an HTTP task's default is its URL's host. */
  rateKey?: string | null;
  /** The shard of its queue it was placed on at enqueue (src/core/shards.ts); absent: placed when delivered. */
  shard?: number | null;
  createdAt: number;
}

export interface HttpTarget {
  url: string;
  method: string;
  headers: Record<string, string>;
}

/**
 * A task's lane in its QueueObject: region lanes keep regions apart; HTTP tasks sit in
 * lanes of their own ("http:" + region), so worker claims never see them; a task whose
 * name has a rate limit sits in "<lane>#<task>", read only while that name has tokens.
 */
export function laneOf(region: string | null, http: boolean, limitedTask?: string): string {
  return (http ? 'http:' : '') + (region ?? '') + (limitedTask ? `#${limitedTask}` : '');
}

/**
 * A task with a rate key sits in its key's own lane, "<lane>\u001f<key>": a claim reads it only
 * while the key has budget (src/queue/keys.ts). Keys hold no control characters, so the separator
 * is never part of one.
 */
export const KEY_SEPARATOR = '\u001f';

export function keyedLane(lane: string, rateKey: string | null | undefined): string {
  return rateKey ? `${lane}${KEY_SEPARATOR}${rateKey}` : lane;
}

/** A lane without its rate key: the lane a task of no key would have. */
export function baseLane(lane: string): string {
  const at = lane.indexOf(KEY_SEPARATOR);
  return at < 0 ? lane : lane.slice(0, at);
}

/** The rate key of a keyed lane, or null. */
export function keyOfLane(lane: string): string | null {
  const at = lane.indexOf(KEY_SEPARATOR);
  return at < 0 ? null : lane.slice(at + 1);
}

/** The region a lane serves ('' for untagged), whatever else the lane says. */
export function regionOfLane(lane: string): string {
  return baseLane(lane).replace(/^http:/, '').replace(/#.*$/, '');
}

/** A task's rate key: the one it was given, else an HTTP task's host (lowercased; a non-default port is part of it). */
export function rateKeyOf(spec: { rateKey?: string | null; http?: HttpTarget | null }): string | null {
  if (spec.rateKey) return spec.rateKey;
  if (!spec.http) return null;
  try {
    return new URL(spec.http.url).host.toLowerCase() || null;
  } catch {
    return null;
  }
}

/**
 * Ordering keys and group keys share one mechanism in a QueueObject: a key with a
 * limit (1 for an ordering key). Group keys are stored with a prefix that validated
 * keys can never contain, so the two never collide.
 */
export function keyOf(spec: Pick<TaskSpec, 'orderingKey' | 'groupKey' | 'groupLimit'>): { key: string | null; limit: number } {
  if (spec.groupKey) return { key: `\u0001${spec.groupKey}`, limit: spec.groupLimit ?? 1 };
  return { key: spec.orderingKey, limit: 1 };
}
