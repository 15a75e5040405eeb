// Rate keys in a queue object: which have ready tasks, which have budget now (keyLimits, back-off, running), and their back-off kept in SQLite.
import {
  type Backoff, currentRate, KeyBucket, type KeyLimit, type KeyLimitEntry, matcher, recovered, reported,
} from '../core/key-limits.ts';
import { baseLane, keyOfLane } from '../core/states.ts';
import type { Sql } from '../db/sql.ts';
import type { KeyTurn } from './transitions.ts';


/** What the keys route and metrics show of one key. */
export interface KeyView {
  key: string;
  rate: string | null;
  concurrency: number | null;
  currentRate: number | null;
  pausedUntil: number | null;
  running: number;
  waiting: number;
  rateLimited: number;
}

/**
 * A claim visits only keys it may take from: this keeps, in memory, the keys with ready tasks
 * (their lanes) and what each may take now, so 900 throttled keys cost a claim no read of
 * SQLite. Rebuilt from the tables when the object starts (`load`).
 */
export class Keys {
  private limitOf: (key: string) => KeyLimit | null = matcher(null);
  private readonly limits = new Map<string, KeyLimit | null>();
  /** Keys with ready tasks, each with the lanes that hold them. A lane a claim finds empty is forgotten. */
  private readonly ready = new Map<string, Set<string>>();
  /** Leased tasks of each key with a concurrency limit. */
  private readonly running = new Map<string, number>();
  private readonly buckets = new Map<string, KeyBucket>();
  private readonly backoffs = new Map<string, Backoff>();
  /** Rate-limited reports per key since the object started. */
  private readonly reports = new Map<string, number>();
  /** Whose turn comes first in the next claim's round-robin. */
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
    this.ready.clear();
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
    }
  }

  /** Lanes that gained ready tasks (a transaction's `readyLanes`): their keys may be claimed from. */
  readied(lanes: Iterable<string>): void {
    for (const lane of lanes) {
      const key = keyOfLane(lane);
      if (key === null) continue;
      let set = this.ready.get(key);
      if (!set) this.ready.set(key, (set = new Set()));
      set.add(lane);
    }
  }

  /** The lanes (without their keys) where keyed tasks are ready: the consumers to wake when a key may run again. */
  readyBaseLanes(): Set<string> {
    const lanes = new Set<string>();
    for (const set of this.ready.values()) for (const lane of set) lanes.add(baseLane(lane));
    return lanes;
  }

  /** A claim read every ready task of these lanes of `key`: forgotten until a task is ready there again. */
  drained(key: string, lanes: string[]): void {
    const set = this.ready.get(key);
    if (!set) return;
    for (const lane of lanes) set.delete(lane);
    if (set.size !== 0) return;
    this.ready.delete(key);
    // What memory a key holds goes with its last ready task, but a bucket still short of tokens
    // (a new one would hand out a token at once) and a running count.
    const rate = currentRate(this.limit(key)?.perSecond ?? null, this.backoffs.get(key), Date.now());
    if (rate === null || this.buckets.get(key)?.full(rate, Date.now())) this.buckets.delete(key);
    if (!this.running.has(key)) this.limits.delete(key);
  }

  /** Leases of these keys ended: the running counts of those with a concurrency limit are read again (an index count each). */
  freed(keys: Iterable<string>): void {
    for (const key of keys) {
      if (!this.running.has(key)) continue;
      const n = this.countRunning(key);
      if (n > 0) this.running.set(key, n);
      else this.running.delete(key);
    }
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
   * The claim's round-robin: keys with ready tasks in `lanes` (the claim's base lanes) and budget
   * now, each with what it may take, from the one whose turn it is; the tasks of no key (`key`
   * null) take a turn like a key. `retryMs`: when none may take, how long until one may.
   */
  turns(lanes: string[], now: number): { turns: KeyTurn[]; retryMs: number } {
    const wanted = new Set(lanes);
    const turns: KeyTurn[] = [];
    let retryMs = Infinity;
    for (const [key, set] of this.ready) {
      const mine = [...set].filter((l) => wanted.has(baseLane(l)));
      if (mine.length === 0) continue;
      const { max, waitMs } = this.budget(key, now);
      if (max > 0) turns.push({ key, lanes: mine, max });
      else retryMs = Math.min(retryMs, waitMs);
    }
    turns.push({ key: null, lanes, max: Infinity });
    const first = this.turn++ % turns.length;
    return { turns: [...turns.slice(first), ...turns.slice(0, first)], retryMs };
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
    if (limit.concurrency !== null) this.running.set(key, this.runningOf(key) + n);
    const rate = currentRate(limit.perSecond, this.backoffs.get(key), now);
    if (rate !== null) this.bucketOf(key, now).take(n, rate, now);
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

  /**
   * The keys route's list, ascending by key after `after`: keys with tasks waiting or running, or
   * paused, or below their configured rate. `limit` + 1 are read, so the caller knows of more.
   */
  list(sql: Sql, now: number, after: string | null, limit: number): KeyView[] {
    this.forgetRecovered(sql, now);
    const counted = sql.all<{ key: string; running: number; waiting: number }>(
      `SELECT rate_key AS key, SUM(phase = 'leased') AS running, SUM(phase != 'leased') AS waiting FROM tasks
       WHERE rate_key IS NOT NULL AND phase IN ('ready', 'scheduled', 'blocked', 'leased') AND rate_key > ?
       GROUP BY rate_key ORDER BY rate_key LIMIT ?`,
      after ?? '', limit + 1,
    );
    const byKey = new Map(counted.map((r) => [r.key, r]));
    for (const key of this.backoffs.keys()) if ((after === null || key > after) && !byKey.has(key)) byKey.set(key, { key, running: 0, waiting: 0 });
    return [...byKey.keys()]
      .sort()
      .slice(0, limit + 1)
      .map((key) => this.view(key, byKey.get(key)!, now));
  }

  /**
   * The keys with the most waiting tasks, at most `limit` (GET /metrics): a label per key would
   * let a queue of a million keys make a scrape of a million series, which no Prometheus keeps.
   * Keys backing off with nothing waiting come after.
   */
  top(sql: Sql, now: number, limit: number): KeyView[] {
    this.forgetRecovered(sql, now);
    const counted = sql.all<{ key: string; running: number; waiting: number }>(
      `SELECT rate_key AS key, SUM(phase = 'leased') AS running, SUM(phase != 'leased') AS waiting FROM tasks
       WHERE rate_key IS NOT NULL AND phase IN ('ready', 'scheduled', 'blocked', 'leased')
       GROUP BY rate_key ORDER BY waiting DESC, rate_key LIMIT ?`,
      limit,
    );
    const seen = new Set(counted.map((r) => r.key));
    const idle = [...this.backoffs.keys()].filter((k) => !seen.has(k)).sort().map((key) => ({ key, running: 0, waiting: 0 }));
    return [...counted, ...idle].slice(0, limit).map((r) => this.view(r.key, r, now));
  }

  private view(key: string, counts: { running: number; waiting: number }, now: number): KeyView {
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
