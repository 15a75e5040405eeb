// Limits: the default retention, per-queue limits as pure functions (rate strings, a token bucket with an injected clock),
// and the bound on one socket's unanswered requests that the hub and the SDK share.

/** The per-minute history of task ends (GET /v1/stats) is kept this long. */
export const HISTORY_MS = 48 * 3600 * 1000;

/** Finished tasks are kept this long unless the queue's config says otherwise. */
export const DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000;

/** Requests one socket may have unanswered at the hub; it refuses more, so the SDK holds them back. */
export const SOCKET_MAX_IN_FLIGHT = 64;

/** "10/s", "100/m", "1000/h": at most N claims per second, minute or hour, across all workers. */
export function parseRate(rate: string): { perMs: number; burst: number } | null {
  const m = /^(\d{1,7})\/(s|m|h)$/.exec(rate);
  if (!m || Number(m[1]) === 0) return null;
  const n = Number(m[1]);
  const period = { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 's' | 'm' | 'h'];
  return { perMs: n / period, burst: n };
}

/**
 * A token bucket: full at the start, refilled continuously, never above its burst.
 * take(n, now) returns how many of n it granted; waitMs(now) how long until the next one.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;
  private readonly perMs: number;
  private readonly burst: number;

  constructor(rate: { perMs: number; burst: number }, now: number) {
    this.perMs = rate.perMs;
    this.burst = rate.burst;
    this.tokens = rate.burst;
    this.at = now;
  }

  /** Time only moves forward here: a clock that steps back refills nothing and is not remembered. */
  private refill(now: number): void {
    if (now <= this.at) return;
    this.tokens = Math.min(this.burst, this.tokens + (now - this.at) * this.perMs);
    this.at = now;
  }

  available(now: number): number {
    this.refill(now);
    return Math.floor(this.tokens);
  }

  take(n: number, now: number): void {
    this.refill(now);
    this.tokens -= n;
  }

  waitMs(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) / this.perMs);
  }
}
