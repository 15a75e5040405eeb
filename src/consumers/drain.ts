// Draining a queue over RPC: how consumers on Cloudflare (regional ones, the hub's HTTP runner) work.
import type { QueueObject } from '../queue/QueueObject.ts';
import type { ClaimedRow } from '../queue/transitions.ts';
import type { HttpTarget } from '../core/states.ts';
import { jobOf } from '../queue/calls.ts';
import { executeJob, type JobOutcome, type JobTransport } from '../sdk/execute.ts';
import { callHttpTask } from '../http-tasks/call.ts';
import type { TaskDefinition } from '../sdk/task.ts';

/** A runtime's location in a message: a file URL or absolute path to a script, with its line (a bundle's, the runtime's). */
const SCRIPT_PLACE = /(?:file:\/\/)?(?:\/[\w.@+-]+)+\.(?:[cm]?js|ts|wasm)(?::\d+){1,2}/g;

/**
 * The error stored for a job that ran here, on Cloudflare: its type and message. The stack of an
 * error thrown here is this runtime's (the runner's frames and the bundle's paths), not a task's
 * traceback, and any token that reads the task would see it; a message keeps no script paths.
 */
export function storedError(error: { type: string; message: string }): { type: string; message: string } {
  return { type: error.type, message: error.message.replace(SCRIPT_PLACE, '<script>') };
}

function rpcTransport(hub: DurableObjectStub<QueueObject>): JobTransport {
  return {
    async heartbeat(job, progress) {
      const out = await hub.heartbeat(job.leaseId, null, null, progress === undefined ? null : JSON.stringify(progress));
      return out.ok ? { revoked: out.revoked, lost: false } : { revoked: false, lost: true };
    },
    async ack(job, result) {
      await hub.ack(job.leaseId, null, JSON.stringify(result));
    },
    // A rate-limited fail (a task's RateLimitedError, an HTTP task's 429) does not count the attempt and pauses the task's key.
    async fail(job, error, retry, delaySeconds, rateLimited) {
      await hub.fail(job.leaseId, null, storedError(error), retry, delaySeconds ?? null, rateLimited === true);
    },
  };
}

/** An HTTP task as a task definition: its run is the signed request, its errors steer retries (a 429 is rate-limited). */
export function httpTask(row: ClaimedRow, keys: string[], allow: string[]): TaskDefinition {
  const target = JSON.parse(row.http!) as HttpTarget;
  return {
    name: row.task,
    options: {},
    run: async (args, ctx) => {
      const out = await callHttpTask({ id: row.id, task: row.task, args, kwargs: ctx.kwargs, attempt: ctx.attempt }, target, {
        keys,
        allow,
        timeoutMs: Math.min(row.timeout * 1000, 300_000),
        signal: ctx.signal,
      });
      if (out.ok) return out.result;
      throw Object.assign(new Error(out.error.message), { name: out.error.type, retryable: out.retry, delaySeconds: out.delaySeconds, rateLimited: out.rateLimited === true });
    },
  };
}

export interface DrainOptions {
  queue: string;
  worker: string;
  region: string | null;
  /** Worker tasks by name; null claims the HTTP lanes instead. */
  tasks: Map<string, TaskDefinition> | null;
  http: { keys: string[]; allow: string[] } | null;
  concurrency: number;
  counts: Record<JobOutcome | 'claims', number>;
}

/** Claims and runs jobs until the lane is empty. */
export async function drainQueue(hub: DurableObjectStub<QueueObject>, o: DrainOptions): Promise<void> {
  const transport = rpcTransport(hub);
  for (;;) {
    o.counts.claims++;
    const rows = await hub.claim(
      {
        queue: o.queue,
        worker: o.worker,
        region: o.region,
        tasks: o.tasks ? [...o.tasks.keys()] : null,
        max: o.concurrency,
        leaseSeconds: null,
        owner: null,
        http: o.tasks === null,
      },
      0,
    );
    if (rows.length === 0) return;
    await Promise.all(
      rows.map(async (row) => {
        const task = o.tasks ? o.tasks.get(row.task) : httpTask(row, o.http!.keys, o.http!.allow);
        o.counts[await executeJob(jobOf(row, o.queue), task, transport, o.worker)]++;
      }),
    );
  }
}

/**
 * Runs drains one queue at a time as wakes come in; a wake that arrives mid-drain is
 * kept, so no work is missed, and the object sleeps when there is nothing left.
 */
export class WakeDrainer {
  private readonly pending = new Set<string>();
  private draining: Promise<void> | null = null;
  wakes = 0;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly drainOne: (queue: string) => Promise<void>,
    private readonly name: string,
  ) {}

  wake(queue: string): void {
    this.wakes++;
    this.pending.add(queue);
    this.draining ??= this.run().finally(() => (this.draining = null));
    this.ctx.waitUntil(this.draining);
  }

  private async run(): Promise<void> {
    while (this.pending.size) {
      const [queue] = this.pending;
      this.pending.delete(queue);
      try {
        await this.drainOne(queue);
      } catch (err) {
        console.error(`${this.name}: draining ${queue} failed; the hub wakes it again on its next change`, err);
      }
    }
  }
}
