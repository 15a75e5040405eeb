// A queue object's writes to D1: one at a time, changes that come meanwhile joining the next, and enqueues waiting for theirs.
import type { Env } from '../env.ts';
import type { Alarm } from './alarm.ts';
import type { Outbox } from './outbox.ts';
import type { Store } from './store.ts';
import { flushToD1, logStillHeld, LOOK_EVERYWHERE } from './sync.ts';
import { dbOfObject } from '../db/stores.ts';
import { shardCount } from '../core/shards.ts';

/**
 * A D1 write of changes nobody waits on (acks, fails, state changes, enqueues over a producer's
 * socket) waits this long for more to join it. A write an HTTP enqueue's answer waits on starts
 * at once instead (group commit): enqueues that come while a write runs share the next one, so
 * concurrent producers still share writes without each paying the gap.
 */
const FLUSH_GAP_MS = 25;
/**
 * A shard of a queue of k shards waits k gaps (up to this): the queue's objects together send D1
 * about as many writes a second as one object would, so sharding a queue adds no statements to
 * D1's one writer (docs/scaling.md), nor, locally, writes to the runtime's one thread. What waits
 * longer is a sharded queue's list, its events, and a read by id of a task enqueued over a
 * producer's socket; a write owed to a workflow or a callback keeps the one gap.
 */
const MAX_FLUSH_GAP_MS = 200;

/** How long a D1 write of a shard of a queue of `shards` waits for company; `urgent`: a workflow or a callback waits on it. */
export function flushGap(shards: number, urgent: boolean): number {
  return urgent ? FLUSH_GAP_MS : Math.min(MAX_FLUSH_GAP_MS, FLUSH_GAP_MS * shards);
}

/** Whether D1 holds an enqueue's tasks: a failed write says why (the tasks stay, durable in the object). */
export type Recorded = { ok: true } | { ok: false; message: string };

export class D1Writer {
  private flushing: Promise<void> | null = null;
  private flushAgain = false;
  /** The last D1 write failed: new enqueues are refused (`take`), so the hub writes D1 first and a failure changes nothing. */
  private d1Failing = false;
  /** Enqueues waiting for D1 to hold their tasks: each until the insert log's place `upTo` is written. */
  private recordWaiters: { upTo: number; ok: () => void; fail: (err: unknown) => void }[] = [];
  /** Ends the gap of a write that has not started yet: an enqueue now waits on it. */
  private hurry: (() => void) | null = null;
  /** The gap going on ends within FLUSH_GAP_MS of its start or of the change that shortened it. */
  private shortened = false;
  /** D1 has the queue's row (an insert's batch made sure of it): later inserts need not say it again. */
  private queueInD1 = false;
  /** Its queue's shard count, read at the first write (the object knows its name by then). */
  private shards: number | null = null;

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
      // A workflow's report or a callback came during a longer gap: the write goes after the one gap.
      const hurry = this.hurry;
      if (hurry && !this.shortened && this.urgent()) {
        this.shortened = true;
        void scheduler.wait(FLUSH_GAP_MS).then(hurry);
      }
      return;
    }
    this.flushing = (async () => {
      let synced = false;
      try {
        // Changes that come within the gap join the write; an enqueue waiting for its record ends
        // the gap (or skips it), since its producer waits for the answer.
        if (this.recordWaiters.length === 0) {
          await new Promise<void>((go) => {
            this.hurry = go;
            const gap = this.gap();
            this.shortened = gap === FLUSH_GAP_MS;
            void scheduler.wait(gap).then(go);
          });
        }
        this.hurry = null;
        this.flushAgain = false;
        // An object without tables owes D1 nothing; it still reports the workers that claimed here.
        for (; this.store.stored; ) {
          // An object in a jurisdiction writes its tasks' records to that jurisdiction's D1 alone.
          const db = dbOfObject(this.env, this.store.objectName);
          // The logs that hold something, as the alarm knows after every transaction that writes;
          // and the claims' `running` that fell due, for leases still held.
          const owed = this.alarm.syncOwed;
          const held = this.alarm.lazyDue(Date.now());
          if (held.length) {
            logStillHeld(this.store.sql, held);
            owed.changes = true;
          }
          const queue = this.queueInD1 ? null : this.store.name;
          const { written, insertedThrough } = await flushToD1(this.store.sql, db, 500, Date.now(), queue, owed);
          if (insertedThrough !== null) {
            this.queueInD1 ||= queue !== null;
            this.answerRecorded(insertedThrough);
          }
          if (written < 500) break;
        }
        while (this.store.stored && (await this.outbox.reportToWorkflows()) === 200);
        synced = true;
      } catch (err) {
        console.error('D1 sync failed; the alarm retries', err);
        // The write marked the logs it read as emptied: they are not, so the next looks at all.
        this.alarm.syncOwed = { ...LOOK_EVERYWHERE };
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

  /** The gap the next write waits for company (`flushGap`). */
  private gap(): number {
    if (this.shards === null && this.store.name !== null) this.shards = shardCount(this.env, this.store.name);
    return flushGap(this.shards ?? 1, this.urgent());
  }

  /** A workflow waits for a report of its tasks' ends, or a callback is due: each goes out after the next write. */
  private urgent(): boolean {
    const callback = this.alarm.firstCallbackAt;
    return this.alarm.workflowsOwed || (callback !== null && callback <= Date.now() + FLUSH_GAP_MS);
  }

  /**
   * Answers once D1 holds the tasks just taken up to the insert log's place `upTo`: an HTTP
   * enqueue's 2xx waits for this; its write starts at once, or right after the one running. If
   * the write fails the answer says so; the tasks stay all the same (they are durable here), and
   * reach D1 with a later write.
   */
  async recorded(upTo: number): Promise<Recorded> {
    const failed = await new Promise<unknown>((ok) => {
      this.recordWaiters.push({ upTo, ok: () => ok(null), fail: ok });
      if (!this.flushing) this.flushSoon();
      else this.hurry?.();
    });
    return failed === null ? { ok: true } : { ok: false, message: `D1 did not take the tasks: ${String(failed)}` };
  }

  /** Answers the enqueues whose tasks D1 now holds: the insert log's places up to `through`, and the places before them. */
  private answerRecorded(through: number): void {
    if (this.recordWaiters.length === 0) return;
    const still = this.recordWaiters.filter((w) => w.upTo > through);
    for (const w of this.recordWaiters) if (w.upTo <= through) w.ok();
    this.recordWaiters = still;
  }
}
