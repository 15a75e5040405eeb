// regionalConsumer: a consumer that runs ON Cloudflare near a region, woken by the hub, claiming over RPC.
import { DurableObject } from 'cloudflare:workers';
import type { QueueObject } from '../queue/QueueObject.ts';
import type { ClaimedRow } from '../queue/transitions.ts';
import type { Job } from './client.ts';
import { executeJob, type JobTransport } from './execute.ts';
import type { TaskDefinition } from './task.ts';

export interface RegionalEnv {
  /** The hub's QueueObject class, bound across scripts (script_name = "drover"). */
  QUEUES: DurableObjectNamespace<QueueObject>;
  /** This script's own consumer object. */
  CONSUMER: DurableObjectNamespace;
}

export interface RegionalOptions {
  /** The region tag this consumer serves: tasks enqueued with this region. */
  region: string;
  /** Where to create the consumer object (best effort, decided at its first use). */
  locationHint?: DurableObjectLocationHint;
  /** A hard guarantee instead: the object and its storage stay in this jurisdiction. */
  jurisdiction?: DurableObjectJurisdiction;
  tasks: TaskDefinition[];
  /** Jobs claimed and run at once. Default 8. */
  concurrency?: number;
}

function toJob(r: ClaimedRow, queue: string): Job {
  return {
    id: r.id,
    leaseId: r.lease_id,
    task: r.task,
    args: JSON.parse(r.args),
    kwargs: JSON.parse(r.kwargs),
    queue,
    region: r.lane || null,
    priority: r.priority,
    attempt: r.attempts,
    maxRetries: r.max_retries,
    leaseExpiresAt: new Date(r.lease_expires_at).toISOString(),
    parentId: r.parent_id,
    rootId: r.root_id,
  };
}

/**
 * Builds a regional consumer Worker: its fetch handler takes the hub's wake-up call and
 * passes it to one consumer object per region, created near the region; the object
 * claims from the hub's QueueObject over RPC until the lane is empty, then sleeps.
 * No timer, no polling: an idle region makes no calls.
 *
 * @example
 * // workers/weur/index.ts
 * const { worker, RegionalConsumerObject } = regionalConsumer({ region: 'weur', locationHint: 'weur', tasks: [fetchPage] });
 * export { RegionalConsumerObject };
 * export default worker;
 */
export function regionalConsumer(options: RegionalOptions) {
  const registry = new Map(options.tasks.map((t) => [t.name, t]));
  const names = [...registry.keys()];
  const concurrency = options.concurrency ?? 8;
  const workerName = `${options.region}-regional`;

  class RegionalConsumerObject extends DurableObject<RegionalEnv> {
    private readonly pending = new Set<string>();
    private draining: Promise<void> | null = null;
    private readonly counts = { wakes: 0, claims: 0, succeeded: 0, failed: 0, abandoned: 0 };

    /** The hub says a queue has work for this region. */
    async wake(queue: string): Promise<void> {
      this.counts.wakes++;
      this.pending.add(queue);
      this.draining ??= this.drain().finally(() => (this.draining = null));
      this.ctx.waitUntil(this.draining);
    }

    async stats() {
      return { region: options.region, worker: workerName, tasks: names, ...this.counts };
    }

    private async drain(): Promise<void> {
      // A wake that arrives while draining is kept in `pending`, so no work is missed.
      while (this.pending.size) {
        const [queue] = this.pending;
        this.pending.delete(queue);
        try {
          await this.drainQueue(queue);
        } catch (err) {
          console.error(`${workerName}: draining ${queue} failed; the hub wakes this region again on its next change`, err);
        }
      }
    }

    private async drainQueue(queue: string): Promise<void> {
      const hub = this.env.QUEUES.get(this.env.QUEUES.idFromName(queue));
      const transport: JobTransport = {
        async heartbeat(job, progress) {
          const out = await hub.heartbeat(job.leaseId, null, null, progress === undefined ? null : JSON.stringify(progress));
          return out.ok ? { revoked: out.revoked, lost: false } : { revoked: false, lost: true };
        },
        async ack(job, result) {
          await hub.ack(job.leaseId, null, JSON.stringify(result));
        },
        async fail(job, error, retry, delaySeconds) {
          await hub.fail(job.leaseId, null, error, retry, delaySeconds ?? null);
        },
      };
      for (;;) {
        this.counts.claims++;
        const rows = await hub.claim(
          { queue, worker: workerName, region: options.region, tasks: names, max: concurrency, leaseSeconds: null, owner: null },
          0,
        );
        if (rows.length === 0) return;
        await Promise.all(
          rows.map(async (row) => {
            const outcome = await executeJob(toJob(row, queue), registry.get(row.task), transport, workerName);
            this.counts[outcome]++;
          }),
        );
      }
    }
  }

  function consumer(env: RegionalEnv) {
    const ns = options.jurisdiction ? env.CONSUMER.jurisdiction(options.jurisdiction) : env.CONSUMER;
    const stub = ns.get(ns.idFromName(options.region), options.locationHint ? { locationHint: options.locationHint } : undefined);
    return stub as unknown as DurableObjectStub<RegionalConsumerObject>;
  }

  const worker = {
    async fetch(request: Request, env: RegionalEnv): Promise<Response> {
      const url = new URL(request.url);
      if (request.method === 'POST' && url.pathname === '/wake') {
        const { queue } = (await request.json()) as { queue: string };
        await consumer(env).wake(queue);
        return new Response(null, { status: 202 });
      }
      if (request.method === 'GET' && url.pathname === '/stats') return Response.json(await consumer(env).stats());
      return new Response('not found', { status: 404 });
    },
  } satisfies ExportedHandler<RegionalEnv>;

  return { worker, RegionalConsumerObject };
}
