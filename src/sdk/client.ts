// createClient: a typed HTTP client of the hub, for producers and for pull workers.
import { HubError, TaskFailedError } from './errors.ts';
import { SocketLine } from './socket.ts';
import type { Workflow } from './canvas.ts';
import type { TaskDefinition } from './task.ts';
import type { Job, TaskRecord, WorkflowRecord } from '../protocol/records.ts';
import { enqueueBody, type EnqueueOptions } from './enqueue-body.ts';

export type { Job, TaskRecord, WorkflowRecord } from '../protocol/records.ts';
export type { EnqueueOptions } from './enqueue-body.ts';

export interface ClientOptions {
  /** The hub's base URL, e.g. http://127.0.0.1:8787 */
  url: string;
  token: string;
  /** A fetch of your own (tests, proxies); the global one by default. */
  fetch?: typeof fetch;
}

export interface TaskHandle<R> {
  id: string;
  /** The state at enqueue: queued or delayed (or the first task's, for a duplicate). */
  state: string;
  /** True when an idempotency key matched an earlier task: this handle is that task. */
  duplicate: boolean;
  get(): Promise<TaskRecord<R>>;
  /** The result once the task succeeded; throws TaskFailedError if it ended otherwise. */
  wait(options?: { timeoutSeconds?: number }): Promise<R>;
}

export interface WorkflowHandle<R> {
  id: string;
  /** Every task id of the workflow, in plan order (later steps exist once their turn comes). */
  tasks: string[];
  get(): Promise<WorkflowRecord<R>>;
  /** The workflow's result once it succeeded; throws TaskFailedError if it failed or was revoked. */
  wait(options?: { timeoutSeconds?: number }): Promise<R>;
}

const FINAL = new Set(['succeeded', 'failed', 'revoked', 'expired']);

/**
 * A client of one hub with one token.
 *
 * @example
 * const drover = createClient({ url: 'http://127.0.0.1:8787', token: process.env.DROVER_TOKEN! });
 * const handle = await drover.enqueue(fetchPage, ['https://example.cn']);   // args checked against the task
 * const page = await handle.wait({ timeoutSeconds: 60 });                     // typed as fetchPage's result
 */
export function createClient(options: ClientOptions) {
  const base = options.url.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await doFetch(base + path, {
      method,
      headers: { authorization: `Bearer ${options.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: any;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    if (!res.ok) {
      const e = parsed?.error;
      throw new HubError(res.status, e?.code ?? 'unavailable', e?.message ?? `the hub answered ${res.status}`, e?.details);
    }
    return parsed as T;
  }

  function handle<R>(id: string, state: string, duplicate: boolean): TaskHandle<R> {
    return {
      id,
      state,
      duplicate,
      get: () => call<TaskRecord<R>>('GET', `/v1/tasks/${id}`),
      async wait(opts = {}) {
        const deadline = Date.now() + (opts.timeoutSeconds ?? 300) * 1000;
        for (;;) {
          const left = Math.max(0, Math.min(60, Math.floor((deadline - Date.now()) / 1000)));
          const record = await call<TaskRecord<R>>('GET', `/v1/tasks/${id}?wait=${left}`);
          if (record.state === 'succeeded') return record.result as R;
          if (FINAL.has(record.state)) throw new TaskFailedError(id, record.state, record.error);
          if (Date.now() >= deadline) throw new Error(`task ${id} is still ${record.state} after the wait`);
        }
      },
    };
  }

  type Enqueued = { id: string; state: string; duplicate?: boolean };
  const postOne = (body: Record<string, unknown>) => call<Enqueued>('POST', '/v1/tasks', body);
  const postMany = (tasks: Record<string, unknown>[]) => call<{ tasks: Enqueued[] }>('POST', '/v1/tasks/batch', { tasks }).then((r) => r.tasks);

  /** enqueue() and enqueueMany() over a way of sending one body, or a batch of them. */
  function enqueuers(one: (body: Record<string, unknown>) => Promise<Enqueued>, many: (tasks: Record<string, unknown>[]) => Promise<Enqueued[]>) {
    return {
      /** Enqueues a task; with a definition, `args` are checked against its handler and its options are the defaults. */
      async enqueue<A extends unknown[], R>(task: TaskDefinition<A, R> | string, args: A, opts: EnqueueOptions = {}): Promise<TaskHandle<R>> {
        const def = typeof task === 'string' ? null : task;
        const res = await one(enqueueBody(def ? def.name : (task as string), args, opts, def?.options ?? {}));
        return handle<R>(res.id, res.state, res.duplicate === true);
      },

      /** Enqueues up to 1,000 calls of one task in one request: all or nothing. */
      async enqueueMany<A extends unknown[], R>(task: TaskDefinition<A, R> | string, calls: { args: A; options?: EnqueueOptions }[]): Promise<TaskHandle<R>[]> {
        const def = typeof task === 'string' ? null : task;
        const tasks = calls.map((c) => enqueueBody(def ? def.name : (task as string), c.args, c.options ?? {}, def?.options ?? {}));
        return (await many(tasks)).map((t) => handle<R>(t.id, t.state, t.duplicate === true));
      },
    };
  }

  return {
    url: base,

    /**
     * Any route of the protocol (docs/protocol.md), for what the methods here do not cover:
     * answers the parsed JSON; an error answer throws HubError.
     *
     * @example
     * await drover.request('POST', '/v1/queues/scrape/pause');
     */
    request: call,

    ...enqueuers(postOne, postMany),

    /**
     * A producer that enqueues over one socket (GET /v1/tasks/connect) instead of an HTTP
     * request each: the same checks and answers as enqueue() and enqueueMany(), cheaper for
     * the hub. Falls back to HTTP while the hub refuses the socket. close() when done.
     *
     * @example
     * const producer = drover.producer();
     * for (const url of urls) await producer.enqueue(fetchPage, [url]);
     * await producer.close();
     */
    producer(opts: { log?: (message: string) => void } = {}) {
      const line = new SocketLine(base, options.token, '/v1/tasks/connect', opts.log ?? ((m) => console.error(`[drover producer] ${m}`)));
      return {
        ...enqueuers(
          async (body) => {
            const socket = await line.get();
            return socket ? (await socket.request<{ task: Enqueued }>('enqueue', { task: body })).task : postOne(body);
          },
          async (tasks) => {
            const socket = await line.get();
            return socket ? (await socket.request<{ tasks: Enqueued[] }>('enqueueBatch', { tasks })).tasks : postMany(tasks);
          },
        ),
        close: () => line.close(),
      };
    },

    task<R = unknown>(id: string): TaskHandle<R> {
      return handle<R>(id, 'unknown', false);
    },

    revoke: (id: string) => call<{ state: string }>('POST', `/v1/tasks/${id}/revoke`, {}),

    claim: (queue: string, body: { worker: string; region?: string | null; tasks?: string[]; max?: number; leaseSeconds?: number; waitSeconds?: number }) =>
      call<{ jobs: Job[] }>('POST', `/v1/queues/${queue}/claim`, body).then((r) => r.jobs),

    heartbeat: (leaseId: string, body: { extendSeconds?: number; progress?: unknown } = {}) =>
      call<{ leaseExpiresAt: string; revoked: boolean }>('POST', `/v1/leases/${leaseId}/heartbeat`, body),

    ack: (leaseId: string, result: unknown) => call<{ state: string }>('POST', `/v1/leases/${leaseId}/ack`, { result }),

    ackMany: (acks: { leaseId: string; result: unknown }[]) =>
      call<{ results: ({ leaseId: string; state: string } | { leaseId: string; error: { code: string; message: string } })[] }>(
        'POST',
        '/v1/leases/ack',
        { acks },
      ).then((r) => r.results),

    /** `rateLimited: true`: the site said "too many requests"; the task waits `delaySeconds` (1 s if absent) without using an attempt. */
    fail: (leaseId: string, error: { type: string; message: string; stack?: string }, opts: { retry?: boolean; delaySeconds?: number; rateLimited?: boolean } = {}) =>
      call<{ state: string; nextAttemptAt?: string }>('POST', `/v1/leases/${leaseId}/fail`, { error, ...opts }),

    release: (leaseId: string) => call<{ state: string }>('POST', `/v1/leases/${leaseId}/release`, {}),

    /** Starts a workflow built with chain(), group() or chord(). */
    async workflow<R>(w: Workflow<R>): Promise<WorkflowHandle<R>> {
      const { id, tasks } = await call<{ id: string; tasks: string[] }>('POST', '/v1/workflows', w.request);
      const get = () => call<WorkflowRecord<R>>('GET', `/v1/workflows/${id}`);
      return {
        id,
        tasks,
        get,
        async wait(opts = {}) {
          const deadline = Date.now() + (opts.timeoutSeconds ?? 300) * 1000;
          for (let pause = 100; ; pause = Math.min(1000, pause * 2)) {
            const record = await get();
            if (record.state === 'succeeded') return record.result as R;
            if (record.state !== 'running') throw new TaskFailedError(id, record.state, record.tasks.find((t) => t.error)?.error ?? null);
            if (Date.now() >= deadline) throw new Error(`workflow ${id} is still running after the wait`);
            await new Promise((r) => setTimeout(r, pause));
          }
        },
      };
    },
  };
}

export type Client = ReturnType<typeof createClient>;
