// Who claimed from this queue object lately, in memory: the task names and region of each worker's latest claim.
import type { Claimant } from '../core/unserved.ts';

/** Workers remembered at most; past it the one seen longest ago is forgotten first. */
export const MAX_CLAIMANTS = 1000;
/**
 * A worker not seen claiming (or heartbeating a lease) for this long is forgotten, and serves no
 * task in "waiting for a worker": one waiting for work claims again at least every 30 s (a
 * claim's longest wait), and a busy one heartbeats its leases.
 */
export const CLAIMANT_TTL_MS = 60_000;

export class Claimants {
  /** By worker name, the one seen longest ago first (a sighting moves its worker to the end). */
  private readonly seen = new Map<string, Claimant>();

  /** A worker claimed: it runs `tasks` (null: any name) in `region`. */
  claimed(worker: string, region: string | null, tasks: string[] | null, now = Date.now()): void {
    this.seen.delete(worker);
    this.seen.set(worker, { worker, region, tasks, at: now });
    if (this.seen.size > MAX_CLAIMANTS) this.seen.delete(this.seen.keys().next().value!);
  }

  /** A worker heartbeated a lease: it is still there, with what it last claimed with. */
  alive(worker: string, now = Date.now()): void {
    const known = this.seen.get(worker);
    if (known) this.claimed(worker, known.region, known.tasks, now);
  }

  /** The workers seen within the last CLAIMANT_TTL_MS; the others are forgotten. */
  recent(now = Date.now()): Claimant[] {
    for (const [name, c] of this.seen) {
      if (c.at > now - CLAIMANT_TTL_MS) break;
      this.seen.delete(name);
    }
    return [...this.seen.values()];
  }
}
