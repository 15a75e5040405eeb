// A queue object's writes to D1: one at a time, changes that come meanwhile joining the next, and enqueues waiting for theirs.
import type { Env } from '../env.ts';
import type { Outbox } from './outbox.ts';
import type { Store } from './store.ts';
import { flushToD1, insertedBefore } from './sync.ts';
import { dbOfObject } from '../db/stores.ts';

/** A D1 write waits this long for more changes to join it. */
const FLUSH_GAP_MS = 25;

export class D1Writer {
  private flushing: Promise<void> | null = null;
  private flushAgain = false;
  /** The last D1 write failed: new enqueues are refused (`take`), so the hub writes D1 first and a failure changes nothing. */
  private d1Failing = false;
  /** Enqueues waiting for D1 to hold their tasks: each until the insert log's place `upTo` is written. */
  private recordWaiters: { upTo: number; ok: () => void; fail: (err: unknown) => void }[] = [];

  constructor(
    private readonly store: Store,
    private readonly env: Env,
    private readonly ctx: DurableObjectState,
    private readonly outbox: Outbox,
  ) {}

  /** The D1 write going on, if one is. */
  get running(): Promise<void> | null {
    return this.flushing;
  }

  /** The last D1 write failed. */
  get failing(): boolean {
    return this.d1Failing;
  }

  /**
   * Starts a D1 write of pending changes unless one is running; a failure leaves them for the
   * alarm. One write is one pass over the logs (in chunks of 500); changes made meanwhile get the
   * next write, after its own gap, so a busy queue's writes still end and events and callbacks
   * go out between them.
   */
  flushSoon(): void {
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    this.flushing = (async () => {
      let synced = false;
      try {
        // Changes that come within the gap join the write, enqueues waiting for their record too:
        // single enqueues at a steady rate share writes with each other and their acks.
        await scheduler.wait(FLUSH_GAP_MS);
        this.flushAgain = false;
        // An object without tables owes D1 nothing; it still reports the workers that claimed here.
        for (; this.store.stored; ) {
          // An object in a jurisdiction writes its tasks' records to that jurisdiction's D1 alone.
          const db = dbOfObject(this.env, this.store.objectName);
          const written = await flushToD1(this.store.sql, db, 500, Date.now(), this.store.name);
          this.answerRecorded();
          if (written < 500) break;
        }
        while (this.store.stored && (await this.outbox.reportToWorkflows()) === 200);
        synced = true;
      } catch (err) {
        console.error('D1 sync failed; the alarm retries', err);
        // Their tasks stay in the insert log, and reach D1 when a later write succeeds.
        for (const w of this.recordWaiters.splice(0)) w.fail(err);
      } finally {
        this.d1Failing = !synced;
        this.flushing = null;
      }
      this.outbox.sendOut();
      // Changes made during the write: the next one (after a failed write the alarm retries, so
      // a failing D1 is not hammered).
      if (synced && this.flushAgain) this.flushSoon();
    })();
    this.ctx.waitUntil(this.flushing);
  }

  /**
   * Answers once D1 holds the tasks taken up to the insert log's place `upTo`: an enqueue's 2xx
   * waits for this, and its write waits for company like any other. If the write fails the
   * answer says so; the tasks stay all the same (they are durable here), and reach D1 with a
   * later write.
   */
  async recorded(upTo: number): Promise<{ ok: true } | { ok: false; message: string }> {
    if (!this.store.stored || upTo < insertedBefore(this.store.sql)) return { ok: true };
    const failed = await new Promise<unknown>((ok) => {
      this.recordWaiters.push({ upTo, ok: () => ok(null), fail: ok });
      if (!this.flushing) this.flushSoon();
    });
    return failed === null ? { ok: true } : { ok: false, message: `D1 did not take the tasks: ${String(failed)}` };
  }

  /** Answers the enqueues whose tasks D1 now holds. */
  private answerRecorded(): void {
    if (this.recordWaiters.length === 0) return;
    const before = insertedBefore(this.store.sql);
    const still = this.recordWaiters.filter((w) => w.upTo >= before);
    for (const w of this.recordWaiters) if (w.upTo < before) w.ok();
    this.recordWaiters = still;
  }
}
