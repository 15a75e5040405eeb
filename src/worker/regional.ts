// regionalConsumer: a consumer that runs ON Cloudflare near a region, woken by the hub, claiming over RPC.
import { DurableObject } from 'cloudflare:workers';
import type { QueueObject } from '../queue/QueueObject.ts';
import { drainQueue, WakeDrainer } from './drain.ts';
import type { TaskDefinition } from './task.ts';
import { queueOfObject } from '../core/shards.ts';

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

/**
 * Builds a regional consumer Worker: its fetch handler takes the hub's wake-up call and
 * passes it to one consumer object per region, created near the region; the object
 * claims from the hub's QueueObject over RPC until the region's lanes are empty (its
 * tasks, then its HTTP tasks), then sleeps. No timer, no polling: an idle region makes no calls.
 *
 * @example
 * // workers/weur/index.ts
 * const { worker, RegionalConsumerObject } = regionalConsumer({ region: 'weur', locationHint: 'weur', tasks: [fetchPage] });
 * export { RegionalConsumerObject };
 * export default worker;
 */
export function regionalConsumer(options: RegionalOptions) {
  const registry = new Map(options.tasks.map((t) => [t.name, t]));
  const concurrency = options.concurrency ?? 8;
  const workerName = `${options.region}-regional`;

  class RegionalConsumerObject extends DurableObject<RegionalEnv> {
    private readonly counts = { claims: 0, succeeded: 0, failed: 0, abandoned: 0 };
    private readonly drainer = new WakeDrainer(this.ctx, (queue) => this.drain(queue), workerName);

    /** The hub says a queue has work for this region. */
    async wake(queue: string): Promise<void> {
      this.drainer.wake(queue);
    }

    async stats() {
      return { region: options.region, worker: workerName, tasks: [...registry.keys()], wakes: this.drainer.wakes, ...this.counts };
    }

    /** `object`: the queue's object that woke it (a shard's name for a sharded queue). */
    private async drain(object: string): Promise<void> {
      const hub = this.env.QUEUES.get(this.env.QUEUES.idFromName(object));
      const common = { queue: queueOfObject(object), worker: workerName, region: options.region, concurrency, counts: this.counts };
      await drainQueue(hub, { ...common, tasks: registry, http: null });
      // The region's HTTP tasks, signed with the hub's keys (asked for, never copied here).
      const http = await hub.httpSettings();
      if (http.keys.length) await drainQueue(hub, { ...common, tasks: null, http });
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
