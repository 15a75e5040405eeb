// Claims that wait for work: the line of waiting claims, the wakes that end their wait, and a sharded queue's claims across its shards.
import type { Env } from '../env.ts';
import { Claimants } from './claimants.ts';
import type { Outbox } from './outbox.ts';
import type { Settings } from './settings.ts';
import type { Store } from './store.ts';
import { queueObject } from './stubs.ts';
import { jurisdictionOfObject } from '../core/shards.ts';
import type * as t from './transitions.ts';
import type { D1Writer } from './writer.ts';

/** What one look at a shard's own tasks found: jobs, or how long until a rate limit's next token. */
export type Look = { jobs: t.ClaimedRow[]; retryMs: number };

export class Claims {
  /**
   * Claims waiting for work, oldest first, each with its place in line. A wake carries the place
   * of the last claim waiting when it came (`baton`): a claim it finds nothing for passes it on to
   * the next of those.
   */
  private readonly waiters = new Map<(baton?: number) => void, number>();
  private waiterSeq = 0;
  /** Counts wakes of waiting claims: a claim that asked sibling shards meanwhile (awaiting them) missed none. */
  private wakes = 0;
  /** Sibling shards with a claim waiting for work, each until its claim's wait ends: told when work arrives here. */
  private readonly watchers = new Map<string, number>();
  /** Which shard a claim tries first; shards take turns, so no shard's work waits behind another's. */
  private turn = 0;
  /** The workers that claimed here lately, with the task names and region they claim for. */
  readonly claimants = new Claimants();
  /** Claim calls served, HTTP and RPC alike: an idle system should make none. */
  private claimCalls = 0;
  /** Worker sockets that closed, and until when a claim naming one is refused (it may still be on its way). */
  private readonly closedSockets = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly settings: Settings,
    private readonly env: Env,
    private readonly ctx: DurableObjectState,
    private readonly outbox: Outbox,
    private readonly d1: D1Writer,
    /** Claims from this shard's own tasks within its limits (the object's `claimHere`). */
    private readonly lookHere: (req: t.ClaimRequest) => Look,
  ) {}

  /** Claim calls served so far. */
  get calls(): number {
    return this.claimCalls;
  }

  /**
   * Claims jobs; with `waitMs`, holds the call until work arrives or the wait ends.
   * The queue's rate and concurrency limits cap `max`, so a claim over the limit reads
   * nothing and waits, rather than scanning past tasks it may not take.
   */
  async claim(req: t.ClaimRequest, waitMs: number): Promise<t.ClaimedRow[]> {
    this.claimCalls++;
    this.sighted(req);
    // Runners of HTTP tasks take only HTTP tasks: they serve no worker task name. An empty list of
    // names takes any name, as the claim itself reads it.
    if (!req.http) this.claimants.claimed(req.worker, req.region, req.tasks?.length ? req.tasks : null);
    const deadline = Date.now() + waitMs;
    const { names, index } = this.store.claimPlace(req.region);
    // A socket attached to this shard takes only from it: its worker holds a socket on each sibling too.
    // A region bound to a jurisdiction also takes from the shards there, which the worker holds no socket on.
    const shards = req.shardOnly && names.every((n) => jurisdictionOfObject(n) === null) ? 1 : Math.max(1, names.length);
    // The wake this claim holds and has found nothing for yet.
    let baton: number | null = null;
    try {
      for (;;) {
        // Its socket is gone: whatever this claim took would only wait for its leases to expire.
        if (req.socket && this.closedSockets.has(req.socket)) return [];
        // A sharded queue's claim tries each shard, from the one whose turn it is, until one has work.
        let jobs: t.ClaimedRow[] = [];
        let retryMs = Infinity;
        let fromHere = true;
        const wakes = this.wakes;
        const first = this.turn++ % shards;
        for (let k = 0; k < shards && jobs.length === 0; k++) {
          const i = (first + k) % shards;
          fromHere = shards === 1 || i === index;
          const out = fromHere ? this.lookHere(req) : await this.claimFrom(names[i], req, deadline);
          jobs = out.jobs;
          retryMs = Math.min(retryMs, out.retryMs);
        }
        const left = deadline - Date.now();
        if (jobs.length) {
          // A wake for work here that this claim spent on a sibling shard's work goes on too (below).
          if (fromHere) baton = null;
          return jobs;
        }
        // A wake this claim could not use goes to the next claim in line, before this one waits again.
        if (baton !== null) this.wakeWaiters(1, baton);
        baton = null;
        if (left <= 0) return jobs;
        // Work came, or a sibling said it has some, while this claim was asking the siblings: look again now.
        if (this.wakes !== wakes) continue;
        baton = await new Promise<number | null>((resolve) => {
          const wake = (held?: number) => {
            clearTimeout(timer);
            this.waiters.delete(wake);
            resolve(held ?? null);
          };
          const timer = setTimeout(wake, Math.min(left, retryMs));
          this.waiters.set(wake, ++this.waiterSeq);
        });
      }
    } finally {
      // Nor is a wake dropped when the claim ends without using it (its socket closed, a failure,
      // a sibling shard's work).
      if (baton !== null) this.wakeWaiters(1, baton);
    }
  }

  /** Claims from a sibling shard for a worker here; should the claim wait, the sibling says when it gains work. */
  private async claimFrom(name: string, req: t.ClaimRequest, until: number): Promise<Look> {
    try {
      return await queueObject(this.env, name).claimForSibling({ ...req, socket: undefined }, this.store.objectName!, until);
    } catch (err) {
      console.error(`claiming from shard ${name} failed`, err);
      return { jobs: [], retryMs: Infinity };
    }
  }

  /**
   * A sibling shard's claim for one of its workers: it never waits here. With nothing to hand
   * out, the sibling is told (`nudge`) when work arrives or a slot frees, up to `until`.
   */
  forSibling(req: t.ClaimRequest, sibling: string, until: number): Look {
    this.claimCalls++;
    const out = this.lookHere(req);
    if (out.jobs.length) this.sighted(req);
    if (out.jobs.length === 0 && until > Date.now()) this.watchers.set(sibling, Math.max(until, this.watchers.get(sibling) ?? 0));
    return out;
  }

  /** A worker claimed here (or through a sibling shard): the workers list shows it with its jobs in hand here. */
  private sighted(req: t.ClaimRequest): void {
    // Sightings are reported with the next D1 write; an idle worker's claims write nothing.
    if (this.outbox.sighted(req.worker, req.region)) this.d1.flushSoon();
  }

  /**
   * Wakes claims waiting here: `count` of them (as many as tasks became claimable), or all when
   * the queue has limits or is paused, where a claim may wait with work ready and so take older
   * work than the work that woke it.
   */
  wake(count = Infinity): void {
    this.wakes++;
    this.wakeWaiters(this.settings.limited() ? Infinity : count, this.waiterSeq);
    if (this.watchers.size === 0) return;
    // Sibling shards with claims waiting for work: each is told once, and asks again if it waits again.
    const now = Date.now();
    for (const [name, until] of this.watchers) {
      if (until > now) this.ctx.waitUntil(queueObject(this.env, name).nudge().catch((err) => console.error(`nudging shard ${name} failed`, err)));
    }
    this.watchers.clear();
  }

  /** A sibling shard gained work: claims waiting here look again. */
  nudge(): void {
    this.wakes++;
    this.wakeWaiters(Infinity, this.waiterSeq);
  }

  /** A worker socket closed: its waiting claims end empty, and later ones from it are refused for a minute. */
  cancel(socket: string): void {
    const now = Date.now();
    for (const [key, until] of this.closedSockets) if (until < now) this.closedSockets.delete(key);
    this.closedSockets.set(socket, now + 60_000);
    this.wake();
  }

  /** Wakes up to `count` of the claims that were waiting at place `upTo` or earlier, oldest first. */
  private wakeWaiters(count: number, upTo: number): void {
    const woken: ((baton: number) => void)[] = [];
    for (const [wake, place] of this.waiters) {
      if (woken.length >= count || place > upTo) break;
      woken.push(wake);
    }
    for (const wake of woken) wake(upTo);
  }
}
