// Wakes the consumer of a lane that gained work: a region's through REGION_<NAME>, or the hub's HTTP runner.
import type { Env } from '../env.ts';
import { regionOfLane } from '../core/states.ts';

/** At most one wake per lane in this window; a trailing wake covers work that came during it. */
const GAP_MS = 200;

/** The binding that reaches region `lane`'s consumer: REGION_WEUR for "weur", REGION_AP_EAST for "ap-east". */
export function regionBinding(env: object, lane: string): Fetcher | undefined {
  const binding = (env as Record<string, unknown>)[`REGION_${lane.toUpperCase().replace(/-/g, '_')}`];
  return binding && typeof (binding as Fetcher).fetch === 'function' ? (binding as Fetcher) : undefined;
}

/**
 * The token the hub shows a region's consumer, from its own DROVER_TOKENS: the narrowest that may
 * consume from the region (consume@<region>, then consume, then admin), which the consumer's
 * DROVER_TOKENS must hold too. Null if none may.
 */
export function wakeToken(tokens: string | undefined, region: string): string | null {
  let best: { token: string; rank: number } | null = null;
  for (const entry of (tokens ?? '').split(',')) {
    const at = entry.trim().lastIndexOf(':');
    if (at <= 0) continue;
    const scopes = entry.trim().slice(at + 1).split('+');
    const rank = scopes.includes(`consume@${region}`) ? 0 : scopes.includes('consume') ? 1 : scopes.includes('admin') ? 2 : 3;
    if (rank < 3 && (!best || rank < best.rank)) best = { token: entry.trim().slice(0, at), rank };
  }
  return best?.token ?? null;
}

/**
 * Consumers on Cloudflare do not poll: the queue tells them. Untagged work wakes no
 * region (pull workers serve it; a regional consumer that is awake takes it too).
 * A wake that is lost is repaired by the next change in that lane: a new task, a
 * retry coming due, or a lease expiring.
 */
export class RegionWaker {
  private readonly last = new Map<string, number>();
  private readonly trailing = new Set<string>();
  wakes = 0;

  constructor(
    private readonly env: object,
    private readonly ctx: DurableObjectState,
    /** The waking object's name: its queue's, or a shard's (the consumer drains that object). */
    private readonly queue: () => string | null,
  ) {}

  wake(lanes: Iterable<string>): void {
    for (const lane of lanes) {
      if (lane === '' || (lane !== 'http:' && !regionBinding(this.env, regionOfLane(lane)))) continue;
      const since = Date.now() - (this.last.get(lane) ?? 0);
      if (since >= GAP_MS) this.send(lane);
      else if (!this.trailing.has(lane)) {
        this.trailing.add(lane);
        setTimeout(() => {
          this.trailing.delete(lane);
          this.send(lane);
        }, GAP_MS - since);
      }
    }
  }

  private send(lane: string): void {
    const queue = this.queue();
    if (!queue) return;
    this.last.set(lane, Date.now());
    this.wakes++;
    if (lane === 'http:') {
      // HTTP tasks that name no region: the hub's own runner for this queue.
      const runners = (this.env as Pick<Env, 'HTTP_RUNNER'>).HTTP_RUNNER;
      this.ctx.waitUntil(runners.get(runners.idFromName(queue)).wake(queue).catch((err) => console.error('waking the HTTP runner failed', err)));
      return;
    }
    const region = regionOfLane(lane);
    const binding = regionBinding(this.env, region);
    if (!binding) return;
    const token = wakeToken((this.env as { DROVER_TOKENS?: string }).DROVER_TOKENS, region);
    if (!token) {
      console.error(`cannot wake region ${region}: no token in DROVER_TOKENS may consume from it (admin, consume or consume@${region})`);
      return;
    }
    const request = binding
      .fetch('https://drover.internal/wake', { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ queue, region }) })
      .then(async (res) => {
        if (!res.ok) console.error(`region ${region} refused its wake (${res.status}): does its DROVER_TOKENS hold the hub's token for it? ${await res.text()}`);
        else await res.body?.cancel();
      })
      .catch((err) => console.error(`waking region ${lane} failed`, err));
    this.ctx.waitUntil(request);
  }
}
