// regionalConsumer: a consumer that runs ON Cloudflare near a region, woken by the hub, claiming over RPC.
import { DurableObject } from 'cloudflare:workers';
import type { QueueObject } from '../queue/QueueObject.ts';
import { drainQueue, WakeDrainer } from './drain.ts';
import type { AnyTask } from '../sdk/task.ts';
import { queueOfObject } from '../core/shards.ts';
import { queueObject } from '../queue/stubs.ts';
import { principalOf, requireClaim } from '../protocol/principals.ts';
import { DroverError, errorOf, STATUS } from '../protocol/errors.ts';

export interface RegionalEnv {
  /** The hub's QueueObject class, bound across scripts (script_name = "drover"). */
  QUEUES: DurableObjectNamespace<QueueObject>;
  /** This script's own consumer object. */
  CONSUMER: DurableObjectNamespace;
  /**
   * The tokens that may call this Worker, as the hub's DROVER_TOKENS (a secret): one with admin,
   * consume or consume@<region>. The hub wakes it with one of its own; unset, every call is refused.
   */
  DROVER_TOKENS?: string;
  /** "true" under npm start: the hub's objects in a jurisdiction are found by name alone (workerd has none). */
  DROVER_LOCAL_JURISDICTIONS?: string;
}

export interface RegionalOptions {
  /** The region tag this consumer serves: tasks enqueued with this region. */
  region: string;
  /** Where to create the consumer object (best effort, decided at its first use). */
  locationHint?: DurableObjectLocationHint;
  /** A hard guarantee instead: the object and its storage stay in this jurisdiction. */
  jurisdiction?: DurableObjectJurisdiction;
  tasks: AnyTask[];
  /** Jobs claimed and run at once. Default 8. */
  concurrency?: number;
}

/**
 * Builds a regional consumer Worker: its fetch handler takes the hub's wake-up call (with a token
 * from DROVER_TOKENS that may consume from the region, as every route of it needs) and
 * passes it to one consumer object per region, created near the region; the object
 * claims from the hub's QueueObject over RPC until the region's lanes are empty (its
 * tasks, then its HTTP tasks), then sleeps. No timer, no polling: an idle region makes no calls.
 *
 * @example
 * // examples/scrape/workers/weur/index.ts
 * const { worker, RegionalConsumerObject } = regionalConsumer({ region: 'weur', locationHint: 'weur', tasks: [fetchPage] });
 * export { RegionalConsumerObject };
 * export default worker;
 */
/** What a regional consumer's stats say (GET /stats). */
export interface RegionalStats {
  region: string;
  worker: string;
  tasks: string[];
  wakes: number;
  claims: number;
  succeeded: number;
  failed: number;
  abandoned: number;
}

/** The consumer's Durable Object, as its Worker and the hub reach it. */
export interface RegionalConsumer extends DurableObject<RegionalEnv> {
  /** The hub says a queue has work for this region. */
  wake(queue: string): Promise<void>;
  stats(): Promise<RegionalStats>;
}

/** A regional consumer Worker: its handlers, and the object class to export as RegionalConsumerObject. */
export interface RegionalWorker {
  worker: { fetch(request: Request, env: RegionalEnv): Promise<Response> };
  RegionalConsumerObject: new (ctx: DurableObjectState, env: RegionalEnv) => RegionalConsumer;
}

export function regionalConsumer(options: RegionalOptions): RegionalWorker {
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

    async stats(): Promise<RegionalStats> {
      return { region: options.region, worker: workerName, tasks: [...registry.keys()], wakes: this.drainer.wakes, ...this.counts };
    }

    /** `object`: the queue's object that woke it (a shard's name for a sharded queue). */
    private async drain(object: string): Promise<void> {
      // An object in a jurisdiction (`eu:scrape`) is reached through that jurisdiction's namespace.
      const hub = queueObject(this.env, object);
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

  /** Every route needs a token that may consume from this region: the hub's wake, or an operator's. */
  async function route(request: Request, env: RegionalEnv): Promise<Response> {
    requireClaim(await principalOf(request.headers.get('authorization') ?? undefined, env.DROVER_TOKENS), options.region);
    const url = new URL(request.url);
    if (request.method === 'POST' && url.pathname === '/wake') {
      const body = (await request.json().catch(() => null)) as { queue?: unknown } | null;
      if (typeof body?.queue !== 'string' || body.queue === '') throw new DroverError('invalid_request', 'send {"queue": "<the queue object to drain>"}');
      await consumer(env).wake(body.queue);
      return new Response(null, { status: 202 });
    }
    if (request.method === 'GET' && url.pathname === '/stats') return Response.json(await consumer(env).stats());
    throw new DroverError('not_found', `no route ${request.method} ${url.pathname}`);
  }

  const worker = {
    async fetch(request: Request, env: RegionalEnv): Promise<Response> {
      try {
        return await route(request, env);
      } catch (err) {
        // The hub's error shape, and nothing of this runtime's internals.
        const { code, message, details } = errorOf(err, `${options.region} ${request.method} ${new URL(request.url).pathname}`);
        return Response.json({ error: { code, message, ...(details === undefined ? {} : { details }) } }, { status: STATUS[code] });
      }
    },
  } satisfies ExportedHandler<RegionalEnv>;

  return { worker, RegionalConsumerObject };
}
