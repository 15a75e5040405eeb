// A queue object's one alarm, set for the earliest work its tables hold: a timer, a D1 write owed, a report, a callback.
import type { Settings } from './settings.ts';
import type { Store } from './store.ts';
import { LOOK_EVERYWHERE, SYNC_OWED_COLUMNS, syncOwedOf, type SyncOwed, type SyncOwedRow } from './sync.ts';
import * as t from './transitions.ts';

/** While D1 has not taken every change, the alarm tries again this often. */
const FLUSH_RETRY_MS = 2000;
/** The alarm comes for lazy `running`s at most this often (`firstLazy`). */
const LAZY_SPACING_MS = 100;

export class Alarm {
  /** When the alarm is set for, as far as this object knows (null: none). */
  private at: number | null = null;
  /**
   * What the outboxes held at the last rearm, which follows every transaction that writes (and
   * so every one that adds to them): reports owed to workflows, and when the first callback is
   * due (null: none). The outbox reads its tables only when these say there is something: two
   * statements fewer for each D1 write of a queue without workflows or callbacks. Until the
   * first rearm, both say "look".
   */
  workflowsOwed = true;
  firstCallbackAt: number | null = 0;
  /** What D1 was owed at the last rearm, in the same way: a D1 write reads only the logs this says hold something. */
  syncOwed: SyncOwed = { ...LOOK_EVERYWHERE };
  /** When the first scheduled task falls due, at the last rearm (null: none; undefined: not read yet). A claim looks only from then on. */
  scheduledFrom: number | null | undefined = undefined;
  /** When the first task never started may expire, in the same way. A claim that may meet none picks and leases in one statement. */
  expiresFrom: number | null | undefined = undefined;

  constructor(
    private readonly store: Store,
    private readonly settings: Settings,
    private readonly storage: DurableObjectStorage,
  ) {}

  /** At start: the alarm a previous run of the object set. */
  async load(): Promise<void> {
    this.at = await this.storage.getAlarm();
  }

  /**
   * Leases given out, by task: the lease, and when D1 is to learn of its `running` if it is still
   * held then (LAZY_RUNNING_MS after the claim; in that order, as a Map keeps what it was given).
   * A task's entry goes when it changes again (an ack, mostly), whose own change D1 gets: so a
   * queue whose tasks end within the second has nothing here when the alarm comes. In memory only:
   * at a restart the object logs every lease held (sync.ts `logAllHeld`).
   */
  private lazyRunning = new Map<string, { lease: string; due: number }>();

  /**
   * After a transaction: the tasks it changed (`touched`) leave the list, and the leases it gave
   * out (`leases`, [task id, lease id]) join it, owed from `due` on.
   */
  lazy(touched: Set<string>, leases: [string, string][], due: number): void {
    if (this.lazyRunning.size) for (const id of touched) this.lazyRunning.delete(id);
    if (leases.length === 0) return;
    for (const [id, lease] of leases) this.lazyRunning.set(id, { lease, due });
    if (this.store.stored) this.setFor(due, false);
  }

  /** The leases whose `running` D1 is owed by `now`, [task id, lease id], which leave the list (the writer logs those still held). */
  lazyDue(now: number): [string, string][] {
    const out: [string, string][] = [];
    for (const [id, { lease, due }] of this.lazyRunning) {
      if (due > now) break;
      out.push([id, lease]);
      this.lazyRunning.delete(id);
    }
    return out;
  }

  /**
   * When the alarm comes for the first lazy `running`, or null: when it falls due, but not within
   * LAZY_SPACING_MS of `now`, so that long tasks claimed one by one wake the alarm a few times a
   * second, each time for all that fell due meanwhile, not once a claim.
   */
  private firstLazy(now: number): number | null {
    for (const { due } of this.lazyRunning.values()) return Math.max(now + LAZY_SPACING_MS, due);
    return null;
  }

  /** The object just made its tables: they hold nothing, so nothing is owed or scheduled. */
  madeTables(): void {
    this.workflowsOwed = false;
    this.firstCallbackAt = null;
    this.syncOwed = { changes: false, inserts: false };
    this.scheduledFrom = null;
    this.expiresFrom = null;
  }

  /** The alarm fired: none is set until the next `rearm`. */
  rang(): void {
    this.at = null;
  }

  /**
   * Keeps ONE alarm, computed from the tables. An alarm that fires early is
   * harmless (it recomputes), so it only ever moves earlier outside the alarm handler.
   * With `wake` (what a transaction added, each of its writes described: step.ts `Wake`), the
   * tables are not read: what was known moves by what was added, since the writes that say
   * nothing of a timer or a log add none and a write to D1 only empties the logs.
   */
  rearm(force: boolean, wake?: t.Wake): void {
    if (!this.store.stored) return;
    if (wake && !force) return this.add(wake);
    // One statement, as this runs after every transaction that writes.
    const owed = this.store.sql.one<t.NextWakeRow & SyncOwedRow & { workflow: number; callback: number | null }>(
      `SELECT ${t.NEXT_WAKE_COLUMNS}, ${SYNC_OWED_COLUMNS},
         EXISTS (SELECT 1 FROM workflow_outbox) AS workflow, (SELECT MIN(next_at) FROM callback_outbox) AS callback`,
    )!;
    this.workflowsOwed = owed.workflow === 1;
    this.scheduledFrom = owed.scheduled;
    this.expiresFrom = owed.expires;
    this.firstCallbackAt = owed.callback;
    let at = t.nextWakeOf(owed, this.settings.retentionMs());
    // Changes owed are retried after an interval, so a failing D1 never makes the alarm spin; a
    // lease's lazy `running` is logged by the first write after it falls due.
    const now = Date.now();
    const sync = (this.syncOwed = syncOwedOf(owed));
    if (owed.workflow || sync.changes || sync.inserts) at = t.earlier(at, now + FLUSH_RETRY_MS);
    at = t.earlier(at, this.firstLazy(now));
    // Outbox work is retried by the flush; a due callback waits at least a retry interval, so a
    // flush that keeps failing never makes the alarm fire again at once.
    if (owed.callback != null) {
      const due = Math.max(owed.callback, Date.now() + FLUSH_RETRY_MS);
      at = at === null ? due : Math.min(at, due);
    }
    // A rate key's budget coming back wakes the consumers that left it (QueueObject.alarm).
    const key = this.settings.keys.nextDue();
    if (key !== null) at = at === null ? key : Math.min(at, key);
    if (at === null) {
      if (force && this.at !== null) {
        this.at = null;
        void this.storage.deleteAlarm();
      }
      return;
    }
    this.setFor(at, force);
  }

  /** Sets the alarm for `at` if it comes sooner than the one set (or `force`: whatever is set). */
  private setFor(at: number, force: boolean): void {
    if (!force && this.at !== null && at >= this.at) return;
    this.at = at;
    void this.storage.setAlarm(at);
  }

  /** `rearm` by what one transaction added: the alarm moves earlier if a new time comes first. */
  private add(w: t.Wake): void {
    if (w.scheduled !== null && this.scheduledFrom !== undefined) this.scheduledFrom = t.earlier(this.scheduledFrom, w.scheduled);
    if (w.expires !== null && this.expiresFrom !== undefined) this.expiresFrom = t.earlier(this.expiresFrom, w.expires);
    const owed = this.syncOwed;
    owed.changes ||= w.changes;
    owed.inserts ||= w.inserts;
    // As `rearm` reads them: owed writes are tried within a retry interval.
    const now = Date.now();
    let at = t.earlier(t.earlier(w.at, w.scheduled), t.earlier(w.expires, w.done === null ? null : w.done + this.settings.retentionMs()));
    if (w.changes || w.inserts) at = t.earlier(at, now + FLUSH_RETRY_MS);
    at = t.earlier(at, this.settings.keys.nextDue());
    if (at !== null) this.setFor(at, false);
  }
}
