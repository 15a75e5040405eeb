// Calls on a lease (heartbeat, ack, release, fail): answered here, or by the sibling shard that gave the lease out.
import type { TaskError } from '../core/states.ts';
import { LEASE_ID } from '../core/ids.ts';
import type { Env } from '../env.ts';
import type { Claims } from './claims.ts';
import type { Outbox } from './outbox.ts';
import type { Settings } from './settings.ts';
import type { Store } from './store.ts';
import { queueObject } from './stubs.ts';
import * as t from './transitions.ts';

/** Runs one transition in one transaction (the object's `transact`). */
export type Transact = <T>(fn: (s: t.Step) => T) => T;

export class Leases {
  constructor(
    private readonly store: Store,
    private readonly settings: Settings,
    private readonly env: Env,
    private readonly claims: Claims,
    private readonly outbox: Outbox,
    private readonly transact: Transact,
  ) {}

  /**
   * The sibling shard that gave out a lease, when not this one: a claim here may hand out a
   * sibling's jobs, and a caller holding only this object (a socket, a drain) sends their calls here.
   */
  private holder(leaseId: string) {
    const holder = LEASE_ID.exec(leaseId)?.[1];
    const objectName = this.store.objectName;
    return holder && objectName && holder !== objectName ? queueObject(this.env, holder) : null;
  }

  /** A lease that ended frees a concurrency slot: claims waiting on the limit may go on. */
  freeingSlot<T>(out: T): T {
    if (this.settings.config.concurrency !== null || this.settings.keys.hasConcurrency) this.claims.wake();
    return out;
  }

  async heartbeat(leaseId: string, owner: string | null, extendSeconds: number | null, progress: string | null): Promise<t.Outcome<{ leaseExpiresAt: number; revoked: boolean; worker: string | null }>> {
    const holder = this.holder(leaseId);
    if (holder) return holder.heartbeat(leaseId, owner, extendSeconds, progress);
    if (!this.store.stored) return t.LEASE_ENDED;
    // A heartbeat that arrives after the lease expired ends it: a concurrency slot frees.
    const out = this.freeingSlot(this.transact((s) => t.heartbeat(s, leaseId, owner, extendSeconds, progress)));
    if (out.ok && out.worker) this.outbox.heardFrom(out.worker);
    return out;
  }

  async ack(leaseId: string, owner: string | null, result: string): Promise<t.Outcome<{ state: string }>> {
    const holder = this.holder(leaseId);
    if (holder) return holder.ack(leaseId, owner, result);
    if (!this.store.stored) return t.LEASE_ENDED;
    return this.freeingSlot(this.transact((s) => t.ack(s, leaseId, owner, result)));
  }

  /** Acks many leases in one transaction; each gets its own outcome. */
  async ackMany(acks: { leaseId: string; result: string }[], owner: string | null): Promise<t.Outcome<{ state: string }>[]> {
    if (!this.store.stored) return acks.map(() => t.LEASE_ENDED);
    return this.freeingSlot(this.transact((s) => t.ackMany(s, acks, owner)));
  }

  async release(leaseId: string, owner: string | null): Promise<t.Outcome<{ state: string }>> {
    const holder = this.holder(leaseId);
    if (holder) return holder.release(leaseId, owner);
    if (!this.store.stored) return t.LEASE_ENDED;
    return this.freeingSlot(this.transact((s) => t.release(s, leaseId, owner)));
  }

  async fail(
    leaseId: string, owner: string | null, error: TaskError, retry: boolean, delaySeconds: number | null, rateLimited = false,
  ): Promise<t.Outcome<{ state: string; nextAttemptAt?: number }>> {
    const holder = this.holder(leaseId);
    if (holder) return holder.fail(leaseId, owner, error, retry, delaySeconds, rateLimited);
    if (!this.store.stored) return t.LEASE_ENDED;
    if (!rateLimited) return this.freeingSlot(this.transact((s) => t.fail(s, leaseId, owner, error, retry, delaySeconds)));
    // The task waits and its key pauses in one transaction: neither happens without the other.
    return this.freeingSlot(
      this.transact((s) => {
        const out = t.failRateLimited(s, leaseId, owner, error, delaySeconds);
        if (!out.ok) return out;
        if (out.rateKey !== null && out.nextAttemptAt !== undefined) this.settings.keys.report(s.sql, out.rateKey, s.now, out.nextAttemptAt);
        return { ok: true as const, state: out.state, ...(out.nextAttemptAt !== undefined && { nextAttemptAt: out.nextAttemptAt }) };
      }),
    );
  }
}
