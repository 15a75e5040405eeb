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

/** The region a lane serves ('' for untagged), whatever else the lane says. */
export function regionOfLane(lane: string): string {
  return lane.replace(/^http:/, '').replace(/#.*$/, '');
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
