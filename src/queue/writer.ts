// A queue object's writes to D1: one at a time, changes that come meanwhile joining the next.
import type { Env } from '../env.ts';
import type { Alarm } from './alarm.ts';
import type { Outbox } from './outbox.ts';
import type { Store } from './store.ts';
import { flushToD1 } from './sync.ts';
import { dbOfObject } from '../db/stores.ts';

/**
 * A D1 write waits this long for more changes to join it: enqueues, acks, fails, state changes.
 * Nobody's answer waits on it (an enqueue is answered once the object holds its tasks, and a read
 * by id waits for the record), so concurrent enqueues share a write instead of each making one.
 */
const FLUSH_GAP_MS = 25;

export class D1Writer {
  private flushing: Promise<void> | null = null;
  private flushAgain = false;
  /** The last D1 write failed: new enqueues are refused (`take`), so the hub writes D1 first and a failure changes nothing. */
  private d1Failing = false;

  constructor(
    private readonly store: Store,
    private readonly env: Env,
    private readonly ctx: DurableObjectState,
    private readonly outbox: Outbox,
    private readonly alarm: Alarm,
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
        // Changes that come within the gap join the write.
        await scheduler.wait(FLUSH_GAP_MS);
        this.flushAgain = false;
        // An object without tables owes D1 nothing; it still reports the workers that claimed here.
        for (; this.store.stored; ) {
          // An object in a jurisdiction writes its tasks' records to that jurisdiction's D1 alone.
          const db = dbOfObject(this.env, this.store.objectName);
          // The logs the last rearm saw holding something (it follows every transaction that writes).
          const owed = this.alarm.syncOwed;
          const written = await flushToD1(this.store.sql, db, 500, Date.now(), this.store.name, owed);
          if (written < 500) break;
        }
        while (this.store.stored && (await this.outbox.reportToWorkflows()) === 200);
        synced = true;
      } catch (err) {
        console.error('D1 sync failed; the alarm retries', err);
        // Their tasks stay in the insert log, and reach D1 when a later write succeeds.
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
}
