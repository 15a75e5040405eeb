// A queue's settings and pause: stored, copied by shards added later, and turned into this shard's share of the limits.
import type { Env } from '../env.ts';
import { DEFAULT_RETENTION_MS, parseRate, TokenBucket } from '../core/limits.ts';
import type { QueueConfig } from './types.ts';
import type { Store } from './store.ts';
import { Keys } from './keys.ts';
import { queueObject } from './stubs.ts';
import * as t from './transitions.ts';

export class Settings {
  config: QueueConfig = { retentionMs: null, rateLimit: null, concurrency: null, taskRateLimits: null, keyLimits: null };
  paused = false;
  /** The queue's rate limit, this shard's share of it. */
  bucket: TokenBucket | null = null;
  /** Task names with a rate limit of their own, each with this shard's share of it. */
  readonly nameBuckets = new Map<string, TokenBucket>();
  /** Settings this shard took from shard 0 while it had no tables: written with them. */
  copied = false;
  /** Rate keys: their limits (the config's keyLimits), budgets and back-off. */
  readonly keys: Keys;

  constructor(
    private readonly store: Store,
    private readonly storage: DurableObjectStorage,
    private readonly env: Env,
  ) {
    this.keys = new Keys(store.sql);
  }

  /** At start: the stored settings, or, for a shard with none, shard 0's (`copyFrom` names the queue). */
  async load(copyFrom: string | null): Promise<void> {
    const pausedRow = this.store.meta('paused');
    const saved = this.store.meta('config');
    this.paused = pausedRow === '1';
    if (saved) this.apply(JSON.parse(saved));
    // A shard added to a queue takes the queue's settings (kept the same on every shard) from shard 0.
    if (copyFrom !== null && pausedRow === undefined && saved === undefined) await this.copy(copyFrom);
  }

  save(): void {
    this.store.sql.run(
      `INSERT INTO meta (key, value) VALUES ('config', ?), ('paused', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      JSON.stringify(this.config),
      this.paused ? '1' : '0',
    );
  }

  private async copy(queue: string): Promise<void> {
    try {
      const { config, paused } = await queueObject(this.env, queue).settings();
      this.paused = paused;
      this.apply(config);
      this.copied = true;
      if (this.store.stored) this.save();
    } catch (err) {
      console.error(`shard ${this.store.objectName} could not read its queue's settings from shard 0; it asks again when it next starts`, err);
    }
  }

  retentionMs(): number {
    return this.config.retentionMs ?? DEFAULT_RETENTION_MS;
  }

  /** The queue has limits or is paused: a claim may wait with work ready. */
  limited(): boolean {
    return this.paused || this.bucket !== null || this.config.concurrency !== null || this.nameBuckets.size > 0 || !!this.config.keyLimits;
  }

  /** Changes the queue's settings (the tables exist); fields left out keep their value, null clears one. */
  configure(patch: Partial<QueueConfig>): QueueConfig {
    const next = { ...this.config, ...patch };
    const was = new Set(Object.keys(this.config.taskRateLimits ?? {}));
    const now = new Set(Object.keys(next.taskRateLimits ?? {}));
    this.storage.transactionSync(() => {
      this.store.sql.run(`INSERT INTO meta (key, value) VALUES ('config', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, JSON.stringify(next));
      // Waiting tasks of a name move to its own lanes when it gains a limit, and back when it loses it.
      t.commit(t.newStep(this.store.sql), (step) => {
        for (const name of now) if (!was.has(name)) t.relane(step, name, true);
        for (const name of was) if (!now.has(name)) t.relane(step, name, false);
      });
    });
    this.apply(next);
    return next;
  }

  /** Pauses or resumes the queue (the tables exist). */
  setPaused(paused: boolean): void {
    this.store.sql.run(`INSERT INTO meta (key, value) VALUES ('paused', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, paused ? '1' : '0');
    this.paused = paused;
  }

  private apply(config: QueueConfig): void {
    const rateChanged = config.rateLimit !== this.config.rateLimit;
    const before = this.config.taskRateLimits ?? {};
    this.config = { ...config, taskRateLimits: config.taskRateLimits ?? null, keyLimits: config.keyLimits ?? null };
    this.keys.configure(this.config.keyLimits ?? null);
    if (rateChanged) {
      const rate = config.rateLimit ? parseRate(config.rateLimit) : null;
      this.bucket = rate ? new TokenBucket(this.shareOfRate(rate), Date.now()) : null;
    }
    const names = config.taskRateLimits ?? {};
    for (const name of [...this.nameBuckets.keys()]) if (!(name in names)) this.nameBuckets.delete(name);
    for (const [name, rate] of Object.entries(names)) {
      if (before[name] !== rate || !this.nameBuckets.has(name)) this.nameBuckets.set(name, new TokenBucket(this.shareOfRate(parseRate(rate)!), Date.now()));
    }
  }

  /** A sharded queue's limits are split among its shards: this shard's part of a rate. */
  private shareOfRate(rate: { perMs: number; burst: number }): { perMs: number; burst: number } {
    const { names } = this.store.shardPlace();
    if (names.length <= 1) return rate;
    return { perMs: rate.perMs / names.length, burst: Math.max(1, rate.burst / names.length) };
  }

  /** This shard's part of the queue's concurrency limit: an even split, at least one each. */
  private concurrencyShare(limit: number): number {
    const { names, index } = this.store.shardPlace();
    if (names.length <= 1) return limit;
    return Math.max(1, Math.floor(limit / names.length) + (index < limit % names.length ? 1 : 0));
  }

  /**
   * What a claim may take now: at most `max` jobs (none while paused), of the task names with a
   * rate limit of their own only those with a token (`named`); `retryMs`, if the queue's limits
   * allow none, is how long until they do.
   */
  claimable(want: number): { max: number; named: { task: string; max: number }[]; now: number; retryMs: number | null } {
    const { max, retryMs } = this.paused ? { max: 0, retryMs: null } : this.allowance(want);
    const now = Date.now();
    const named = [...this.nameBuckets].map(([task, b]) => ({ task, max: b.available(now) })).filter((n) => n.max > 0);
    return { max, named, now, retryMs };
  }

  /**
   * Spends the tokens of the jobs a claim took; answers when a claim should look again for the
   * next token (Infinity: a new task or a finished lease wakes claims).
   */
  spend(jobs: t.ClaimedRow[], now: number, queueRetryMs: number | null): number {
    if (jobs.length && this.bucket) this.bucket.take(jobs.length, now);
    // A keyed task of a limited name sits in its key's lane, not the name's, and spends the name's token too.
    for (const j of jobs) if (j.http === null) this.nameBuckets.get(j.task)?.take(1, now);
    // A limited name out of tokens gets a look again when its next token is due.
    const nameWaits = [...this.nameBuckets.values()].map((b) => b.waitMs(now)).filter((ms) => ms > 0);
    return [queueRetryMs, ...nameWaits].filter((ms): ms is number => ms !== null).reduce((a, b) => Math.min(a, b), Infinity);
  }

  /**
   * How many jobs a claim may take now under the queue's limits, and if none, how
   * long until one frees (a token comes due; a finished lease wakes claims itself).
   */
  private allowance(want: number): { max: number; retryMs: number | null } {
    let max = want;
    let retryMs: number | null = null;
    if (this.config.concurrency !== null) {
      const running = this.store.sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM tasks WHERE phase = 'leased'`)!.n;
      max = Math.min(max, this.concurrencyShare(this.config.concurrency) - running);
    }
    if (this.bucket) {
      const now = Date.now();
      const tokens = this.bucket.available(now);
      if (tokens < max) {
        max = tokens;
        if (tokens <= 0) retryMs = this.bucket.waitMs(now);
      }
    }
    return { max: Math.max(0, max), retryMs };
  }
}
