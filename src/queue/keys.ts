// Rate keys in a queue object: which have ready tasks, which have budget now (keyLimits, back-off, running), and their back-off kept in SQLite.
import {
  type Backoff, currentRate, KeyBucket, type KeyLimit, type KeyLimitEntry, matcher, recovered, reported,
} from '../core/key-limits.ts';
import { KeyRing } from '../core/key-ring.ts';
import { keyOfLane } from '../core/states.ts';
import type { Sql } from '../db/sql.ts';
import type { KeyTurn } from './transitions.ts';
import type { KeyRecord } from '../protocol/answers.ts';

/** What the keys route and metrics show of one key (its answer's schema, src/protocol/answers.ts). */
export type KeyView = KeyRecord;

/**
 * A claim visits only keys it may take from: this keeps, in memory, the keys with ready tasks and
 * which of them have budget (a ring of open keys per lane; keys without budget parked until they
 * have some, or until a lease of theirs ends: src/core/key-ring.ts), so a claim's cost does not
 * grow with the keys it may not take from. Rebuilt from the tables when the object starts (`load`).
 */
export class Keys {
  private limitOf: (key: string) => KeyLimit | null = matcher(null);
  private readonly limits = new Map<string, KeyLimit | null>();
  /** Keys with ready tasks: open ones in round-robin order, the others parked. */
  private ring = new KeyRing();
  /** Leased tasks of each key with a concurrency limit. */
  private readonly running = new Map<string, number>();
  private readonly buckets = new Map<string, KeyBucket>();
  private readonly backoffs = new Map<string, Backoff>();
  /** Rate-limited reports per key since the object started. */
  private readonly reports = new Map<string, number>();
  /** Where the tasks of no key take their turn in the next claim's round-robin. */
  private turn = 0;
  private entries: KeyLimitEntry[] | null = null;

  /** `sql`: the object's tables (read only once they exist: a key has ready tasks only then). */
  constructor(private readonly sql: Sql) {}

  /** The queue's keyLimits changed (or were loaded): limits are worked out again per key. */
  configure(entries: KeyLimitEntry[] | null): void {
    this.entries = entries;
    this.limitOf = matcher(entries);
    this.limits.clear();
    this.buckets.clear();
    // Counted again when next needed: only keys with a concurrency limit keep a count.
    this.running.clear();
    // Parked for limits that may be gone: each key's next turn looks at its budget again.
    this.ring.reopenAll();
  }

  /** Keys claims have looked at since the object started: what a test counts. */
  get visited(): number {
    return this.ring.visited;
  }

  get configured(): KeyLimitEntry[] | null {
    return this.entries;
  }

  /** Some key has a concurrency limit: an ended lease may let a waiting claim go on. */
  get hasConcurrency(): boolean {
    return (this.entries ?? []).some((e) => e.concurrency != null);
  }

  limit(key: string): KeyLimit | null {
    if (!this.limits.has(key)) this.limits.set(key, this.limitOf(key));
    return this.limits.get(key)!;
  }

  /** At start (the tables exist): keys with ready tasks and back-offs, from the tables; running counts are read when needed. */
  load(): void {
    const sql = this.sql;
    this.ring = new KeyRing();
    this.running.clear();
    this.backoffs.clear();
    // The ready index skipped lane by lane: one seek per lane, whatever the backlog.
    const lanes = sql.all<{ lane: string }>(
      `WITH RECURSIVE lanes(lane) AS (
         SELECT (SELECT MIN(lane) FROM tasks WHERE phase = 'ready')
         UNION ALL
         SELECT (SELECT MIN(lane) FROM tasks WHERE phase = 'ready' AND lane > lanes.lane) FROM lanes WHERE lane IS NOT NULL)
       SELECT lane FROM lanes WHERE lane IS NOT NULL AND instr(lane, char(31)) > 0`,
    );
    this.readied(lanes.map((l) => l.lane));
    for (const r of sql.all<{ key: string; rate_after: number | null; at: number; paused_until: number | null }>(`SELECT * FROM key_backoff`)) {
      this.backoffs.set(r.key, { rateAfter: r.rate_after, at: r.at, pausedUntil: r.paused_until });
      // A pause that is over by the first claim is undone by it (reopenDue).
      if (r.paused_until !== null) this.ring.park(r.key, r.paused_until);
    }
  }

  /** Lanes that gained ready tasks (a transaction's `readyLanes`): their keys may be claimed from. */
  readied(lanes: Iterable<string>): void {
    this.ring.readied(lanes);
  }

  /**
   * Parked keys whose time has come are open again (the wake timer's work); answers the lanes
   * (without their keys) that have keys open: the consumers to wake.
   */
  wakeDue(now: number): Set<string> {
    this.ring.reopenDue(now);
    return this.ring.openBaseLanes();
  }

  /** A claim read every ready task of these lanes of `key`: forgotten until a task is ready there again. */
  drained(key: string, lanes: string[]): void {
    if (!this.ring.drained(key, lanes)) return;
    // What memory a key holds goes with its last ready task, but a bucket still short of tokens
    // (a new one would hand out a token at once) and a running count.
    const rate = currentRate(this.limit(key)?.perSecond ?? null, this.backoffs.get(key), Date.now());
    if (rate === null || this.buckets.get(key)?.full(rate, Date.now())) this.buckets.delete(key);
    if (!this.running.has(key)) this.limits.delete(key);
  }

  /**
   * Leases of these keys ended: the running counts of those with a concurrency limit are read again
   * (an index count each). Answers the base lanes where a key at its concurrency opened again: the
   * consumers to wake, which may have drained and left while it was full.
   */
  freed(keys: Iterable<string>): Set<string> {
    const opened = new Set<string>();
    for (const key of keys) {
      if (!this.running.has(key)) continue;
      const n = this.countRunning(key);
      if (n > 0) this.running.set(key, n);
      else this.running.delete(key);
      for (const base of this.ring.freed(key)) opened.add(base);
    }
    return opened;
  }

  /** When the next parked key has budget again (null: none parked): the object's alarm wakes consumers then. */
  nextDue(): number | null {
    return this.ring.nextDue();
  }

  /** A key's leased tasks, counted by the index of its live tasks; kept while it has any. */
  private runningOf(key: string): number {
    let n = this.running.get(key);
    if (n === undefined) {
      n = this.countRunning(key);
      if (n > 0) this.running.set(key, n);
    }
    return n;
  }

  private countRunning(key: string): number {
    return this.sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM tasks WHERE rate_key = ? AND phase = 'leased'`, key)!.n;
  }

  /**
   * The claim's round-robin, pulled a turn at a time inside its transaction: open keys with ready
   * tasks in `lanes` (the claim's base lanes), each with what it may take, from the ring's head;
   * the tasks of no key (`key` null) take a turn like a key. A key found without budget is parked
   * and not looked at again until it has some, so keys a claim does not take from cost it nothing.
   */
  *turns(lanes: string[], now: number): Generator<KeyTurn> {
    this.ring.reopenDue(now);
    const nullAt = this.turn++ % (this.ring.openIn(lanes) + 1);
    let given = 0;
    for (const { key, lanes: mine } of this.ring.walk(lanes)) {
      const { max, waitMs } = this.budget(key, now);
      if (max <= 0) {
        this.shut(key, waitMs, now);
        continue;
      }
      if (given++ === nullAt) yield { key: null, lanes, max: Infinity };
      yield { key, lanes: mine, max };
    }
    if (given <= nullAt) yield { key: null, lanes, max: Infinity };
  }

  /**
   * After a claim: how long until a key parked in `lanes` (the claim's base lanes) has budget
   * again (Infinity: none is parked, or a freed slot wakes claims).
   */
  retryMs(lanes: string[], now: number): number {
    this.ring.reopenDue(now);
    const due = this.ring.nextDue(lanes);
    return due === null ? Infinity : Math.max(1, due - now);
  }

  /** `key` has no budget now: parked until it has (`waitMs`), or until a lease of it ends (Infinity). */
  private shut(key: string, waitMs: number, now: number): void {
    if (Number.isFinite(waitMs)) this.ring.park(key, now + waitMs);
    else this.ring.fill(key);
  }

  /** What `key` may take now, and if nothing, how long until it may (Infinity: a freed slot wakes claims). */
  private budget(key: string, now: number): { max: number; waitMs: number } {
    // A pause holds any key that was reported, limited or not.
    const b = this.backoffs.get(key);
    if (b?.pausedUntil && b.pausedUntil > now) return { max: 0, waitMs: b.pausedUntil - now };
    const limit = this.limit(key);
    if (!limit) return { max: Infinity, waitMs: 0 };
    let max = Infinity;
    let waitMs = Infinity;
    if (limit.concurrency !== null) max = Math.max(0, limit.concurrency - this.runningOf(key));
    const rate = currentRate(limit.perSecond, b, now);
    if (rate !== null) {
      const bucket = this.bucketOf(key, now);
      const tokens = bucket.available(rate, now);
      if (tokens < max) {
        max = tokens;
        if (tokens <= 0) waitMs = bucket.waitMs(rate, now);
      }
    }
    return { max, waitMs };
  }

  private bucketOf(key: string, now: number): KeyBucket {
    let bucket = this.buckets.get(key);
    if (!bucket) this.buckets.set(key, (bucket = new KeyBucket(now)));
    return bucket;
  }

  /** After a claim's transaction: lanes it read to the end are forgotten, and each key it took from spends its budget. */
  claimed(jobs: { lane: string }[], drained: [string, string[]][], now: number): void {
    for (const [key, lanes] of drained) this.drained(key, lanes);
    const taken = new Map<string, number>();
    for (const j of jobs) {
      const key = keyOfLane(j.lane);
      if (key !== null) taken.set(key, (taken.get(key) ?? 0) + 1);
    }
    for (const [key, n] of taken) this.took(key, n, now);
  }

  /** A claim took `n` tasks of `key`: its tokens are spent and its running count grows. */
  took(key: string, n: number, now: number): void {
    const limit = this.limit(key);
    if (!limit || n === 0) return;
    if (limit.concurrency !== null) {
      // Read after the claim committed, a count not kept yet already holds the tasks it took.
      const known = this.running.get(key);
      this.running.set(key, known === undefined ? this.countRunning(key) : known + n);
    }
    const rate = currentRate(limit.perSecond, this.backoffs.get(key), now);
    if (rate !== null) this.bucketOf(key, now).take(n, rate, now);
    // Spent: parked now, so the next claims do not look at it until it has budget again.
    const { max, waitMs } = this.budget(key, now);
    if (max <= 0) this.shut(key, waitMs, now);
  }

  /**
   * A rate-limited report for `key`: it pauses until `until` and its rate halves, in the caller's
   * transaction, so the pause outlives a restart of the object.
   */
  report(sql: Sql, key: string, now: number, until: number): void {
    this.forgetRecovered(sql, now);
    const b = reported(this.limit(key)?.perSecond ?? null, this.backoffs.get(key), now, until);
    this.backoffs.set(key, b);
    this.reports.set(key, (this.reports.get(key) ?? 0) + 1);
    if (b.pausedUntil !== null && b.pausedUntil > now) this.ring.park(key, b.pausedUntil);
    sql.run(
      `INSERT INTO key_backoff (key, rate_after, at, paused_until) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET rate_after = excluded.rate_after, at = excluded.at, paused_until = excluded.paused_until`,
      key, b.rateAfter, b.at, b.pausedUntil,
    );
  }

  /** Back-offs that are over are dropped, in memory and SQLite. */
  forgetRecovered(sql: Sql, now: number): void {
    for (const [key, b] of this.backoffs) {
      if (!recovered(this.limit(key)?.perSecond ?? null, b, now)) continue;
      this.backoffs.delete(key);
      sql.run(`DELETE FROM key_backoff WHERE key = ?`, key);
    }
  }

  /** Keys backing off (paused, or below their configured rate): the keys route lists them with nothing waiting too. */
  backingOff(): IterableIterator<string> {
    return this.backoffs.keys();
  }

  /** What the keys route and metrics show of `key`, given its tasks' counts. */
  view(key: string, counts: { running: number; waiting: number }, now: number): KeyView {
    const limit = this.limit(key);
    const b = this.backoffs.get(key);
    return {
      key,
      rate: limit?.rate ?? null,
      concurrency: limit?.concurrency ?? null,
      currentRate: currentRate(limit?.perSecond ?? null, b, now),
      pausedUntil: b?.pausedUntil && b.pausedUntil > now ? b.pausedUntil : null,
      running: counts.running,
      waiting: counts.waiting,
      rateLimited: this.reports.get(key) ?? 0,
    };
  }
}
