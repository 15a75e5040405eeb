// defineTask: a task's name, options and typed handler, shared by producers (for types) and workers (to run it).

/** Where and how a task runs; each becomes the enqueue default for this task. */
export interface TaskOptions<A extends unknown[] = any[]> {
  queue?: string;
  /** Run only in this region (a consumer of region R); null or absent: anywhere. */
  region?: string | null;
  priority?: number;
  maxRetries?: number;
  /** Base seconds of exponential backoff between retries. */
  retryDelay?: number;
  /** Lease length of one attempt, seconds: heartbeats keep a longer run alive. */
  timeout?: number;
  /**
   * The key the queue's per-key limits (`keyLimits`) count this task under, e.g. the site it
   * calls: a string, or a function of the task's args (null: no key). An enqueue's own `rateKey` wins.
   *
   * @example
   * defineTask('scrape.page', { queue: 'scrape', rateKey: (url: string) => new URL(url).host }, async ([url]: [string]) => ...)
   */
  rateKey?: string | ((...args: A) => string | null);
}

/** What a handler gets besides its arguments. */
export interface TaskContext {
  id: string;
  /** 1 for the first try. */
  attempt: number;
  maxRetries: number;
  kwargs: Record<string, unknown>;
  /** What the producer gave as headers ({} for none). */
  headers: Record<string, unknown>;
  queue: string;
  region: string | null;
  /** When the task was due, as enqueued; null: at once. */
  eta: Date | null;
  /** The workflow (chain, group, chord) the task is a step of, or null. */
  workflowId: string | null;
  /** The worker's name, as recorded on the task. */
  worker: string;
  /** Fires when the task is revoked or its lease is lost: stop, the result will not count. */
  signal: AbortSignal;
  /** Extends the lease now and records progress (the runner also heartbeats on its own). */
  heartbeat(progress?: unknown): Promise<void>;
}

export type TaskHandler<A extends unknown[], R> = (args: A, ctx: TaskContext) => R | Promise<R>;

export interface TaskDefinition<A extends unknown[] = any[], R = unknown> {
  readonly name: string;
  readonly options: TaskOptions<A>;
  readonly run: TaskHandler<A, R>;
}

/**
 * Any task, whatever its argument and result types: what a list of tasks (a worker's `tasks`) holds.
 * `TaskDefinition` alone would refuse a task that takes `[number, number]` under strictFunctionTypes.
 */
export type AnyTask = TaskDefinition<any, any>;

const NAME = /^[A-Za-z0-9_.:/-]{1,200}$/;

/**
 * Defines a task. The handler's argument and result types flow to `client.enqueue`
 * and to the handle's `.wait()`.
 *
 * @example
 * export const fetchPage = defineTask('scrape.page', { queue: 'scrape', region: 'cn', timeout: 30 },
 *   async ([url]: [string], ctx) => {
 *     const res = await fetch(url, { signal: ctx.signal });
 *     return { status: res.status, bytes: (await res.text()).length };
 *   });
 */
export function defineTask<A extends unknown[], R>(name: string, options: TaskOptions<A>, run: TaskHandler<A, R>): TaskDefinition<A, Awaited<R>>;
export function defineTask<A extends unknown[], R>(name: string, run: TaskHandler<A, R>): TaskDefinition<A, Awaited<R>>;
export function defineTask<A extends unknown[], R>(
  name: string,
  optionsOrRun: TaskOptions<A> | TaskHandler<A, R>,
  maybeRun?: TaskHandler<A, R>,
): TaskDefinition<A, Awaited<R>> {
  if (!NAME.test(name)) throw new TypeError(`task name "${name}" must be 1-200 characters of letters, digits and _ . : / -`);
  const run = typeof optionsOrRun === 'function' ? optionsOrRun : maybeRun;
  const options = typeof optionsOrRun === 'function' ? {} : optionsOrRun;
  if (typeof run !== 'function') throw new TypeError(`task "${name}" needs a handler function`);
  const key = options.rateKey;
  // The hub checks a key's length and characters at each enqueue; here only what it cannot see.
  if (key !== undefined && typeof key !== 'function' && typeof key !== 'string') throw new TypeError(`task "${name}": rateKey must be a string or a function of the args`);
  return Object.freeze({ name, options: Object.freeze({ ...options }), run: run as TaskHandler<A, Awaited<R>> });
}

/** Collects the task definitions a module exports (the shape `drover worker ./tasks.ts` loads). */
export function tasksOf(module: Record<string, unknown>): TaskDefinition[] {
  const found = new Map<string, TaskDefinition>();
  const visit = (value: unknown) => {
    if (value && typeof value === 'object' && typeof (value as TaskDefinition).run === 'function' && typeof (value as TaskDefinition).name === 'string' && 'options' in value) {
      found.set((value as TaskDefinition).name, value as TaskDefinition);
    } else if (Array.isArray(value)) value.forEach(visit);
  };
  Object.values(module).forEach(visit);
  return [...found.values()];
}
