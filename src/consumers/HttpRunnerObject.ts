// HttpRunnerObject: the hub's own runner of HTTP tasks that name no region, one per queue (per shard of a sharded one), woken by its QueueObject.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env.ts';
import { drainQueue, WakeDrainer } from './drain.ts';
import { allowList } from '../http-tasks/call.ts';
import { queueOfObject } from '../core/shards.ts';
import { queueObject } from '../queue/stubs.ts';

/** HTTP requests run at once per queue: they wait on the network, not on CPU. */
const CONCURRENCY = 16;

export class HttpRunnerObject extends DurableObject<Env> {
  private readonly counts = { claims: 0, succeeded: 0, failed: 0, abandoned: 0 };
  private readonly drainer = new WakeDrainer(this.ctx, (queue) => this.drain(queue), 'hub-http');

  async wake(queue: string): Promise<void> {
    this.drainer.wake(queue);
  }

  /** `object`: the queue's object that woke it (a shard's name for a sharded queue). */
  private async drain(object: string): Promise<void> {
    const keys = allowList(this.env.DROVER_SIGNING_KEYS);
    if (keys.length === 0) throw new Error('DROVER_SIGNING_KEYS is empty: HTTP tasks cannot be signed');
    await drainQueue(queueObject(this.env, object), {
      queue: queueOfObject(object),
      worker: 'hub-http',
      region: null,
      tasks: null,
      http: { keys, allow: allowList(this.env.DROVER_HTTP_ALLOW) },
      concurrency: CONCURRENCY,
      counts: this.counts,
    });
  }
}
