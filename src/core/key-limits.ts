// Limits per rate key as pure functions of an injected clock: which entry of keyLimits applies, and one key's budget (AIMD, pause, tokens).
import { parseRate } from './limits.ts';

/** One entry of a queue's `keyLimits`, as configured. */
export interface KeyLimitEntry {
  match: string;
  rate?: string;
  concurrency?: number;
}

/** The limit that applies to one key: a rate in tasks per second (null: none) and a concurrency (null: none). */
export interface KeyLimit {
  rate: string | null;
  perSecond: number | null;
  concurrency: number | null;
}

/** The lowest a key's rate falls to after rate-limited reports: one task a minute. */
export const MIN_RATE_PER_SECOND = 1 / 60;

/**
 * Whether `key` matches a glob of `keyLimits` (`*` is any characters, everything else itself), in
 * time linear in their lengths: a client chooses the key, and a backtracking regular expression
 * of a glob with many stars would let one key hold the queue's object for seconds.
 */
export function globMatch(glob: string, key: string): boolean {
  let g = 0;
  let k = 0;
  // The last star seen, and where in the key its match now ends: a mismatch widens that star by one.
  let star = -1;
  let resume = 0;
  while (k < key.length) {
    if (g < glob.length && glob[g] === '*') {
      star = g++;
      resume = k;
    } else if (g < glob.length && glob[g] === key[k]) {
      g++;
      k++;
    } else if (star >= 0) {
      g = star + 1;
      k = ++resume;
    } else return false;
  }
  while (g < glob.length && glob[g] === '*') g++;
  return g === glob.length;
}

/** Rates per second of "N/s", "N/m", "N/h". */
export function perSecond(rate: string): number | null {
  const r = parseRate(rate);
  return r ? r.perMs * 1000 : null;
}

/**
 * Which entry applies to a key: an exact entry wins over globs; among globs the first that
 * matches. Compiled once per config (`matcher`), asked once per key (callers cache it).
 */
export function matcher(entries: KeyLimitEntry[] | null): (key: string) => KeyLimit | null {
  const exact = new Map<string, KeyLimitEntry>();
  const globs: KeyLimitEntry[] = [];
  for (const e of entries ?? []) {
    if (!e.match.includes('*')) {
      if (!exact.has(e.match)) exact.set(e.match, e);
    } else globs.push(e);
  }
  return (key) => {
    const e = exact.get(key) ?? globs.find((g) => globMatch(g.match, key));
    if (!e) return null;
    const rate = e.rate ?? null;
    return { rate, perSecond: rate ? perSecond(rate) : null, concurrency: e.concurrency ?? null };
  };
}

/**
 * What a key's back-off leaves of it: the rate after its last report (`rateAfter`, tasks per second),
 * when that was (`at`), and until when it is paused. Kept in the object's SQLite (keys.ts).
 */
export interface Backoff {
  rateAfter: number | null;
  at: number;
  pausedUntil: number | null;
}

/**
 * The rate a key may run at now: after a report, its rate recovers toward the configured one by a
 * tenth of it per second (additive increase); with no report, the configured one.
 */
export function currentRate(configured: number | null, b: Backoff | undefined, now: number): number | null {
  if (configured === null) return null;
  if (!b || b.rateAfter === null) return configured;
  const recovered = b.rateAfter + (configured / 10) * (Math.max(0, now - b.at) / 1000);
  return Math.min(configured, Math.max(MIN_RATE_PER_SECOND, recovered));
}

/**
 * A rate-limited report: the key pauses until `until` and its rate halves (multiplicative
 * decrease, from the rate it had now, never under one a minute). A key with no rate only pauses.
 */
export function reported(configured: number | null, b: Backoff | undefined, now: number, until: number): Backoff {
  const rate = currentRate(configured, b, now);
  return {
    rateAfter: rate === null ? null : Math.max(MIN_RATE_PER_SECOND, rate / 2),
    // Recovery starts when the pause ends: a key does not regain rate while it may not run.
    at: Math.max(now, until),
    pausedUntil: Math.max(until, b?.pausedUntil ?? 0),
  };
}

/** The back-off is over: not paused and back at the configured rate. Its stored row can go. */
export function recovered(configured: number | null, b: Backoff, now: number): boolean {
  const paused = b.pausedUntil !== null && b.pausedUntil > now;
  const rate = currentRate(configured, b, now);
  return !paused && (rate === null || configured === null || rate >= configured);
}

/**
 * A key's tokens: one task per 1/rate seconds, with a burst of a quarter second's worth (at least
 * one), so a key's tasks start spread out, as a site that limits per second expects, while a
 * consumer woken at most every 200 ms (src/queue/wake.ts) still keeps up with the rate.
 * The rate may change between calls (back-off); tokens earned so far are kept.
 */
export class KeyBucket {
  private tokens = 1;
  private at: number;

  constructor(now: number) {
    this.at = now;
  }

  private refill(rate: number, now: number): void {
    if (now <= this.at) return;
    const burst = Math.max(1, rate / 4);
    this.tokens = Math.min(burst, this.tokens + ((now - this.at) / 1000) * rate);
    this.at = now;
  }

  available(rate: number, now: number): number {
    this.refill(rate, now);
    return Math.floor(this.tokens);
  }

  take(n: number, rate: number, now: number): void {
    this.refill(rate, now);
    this.tokens -= n;
  }

  /** As many tokens as it can hold: a new bucket would grant no more. */
  full(rate: number, now: number): boolean {
    this.refill(rate, now);
    return this.tokens >= Math.max(1, rate / 4);
  }

  waitMs(rate: number, now: number): number {
    this.refill(rate, now);
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / rate) * 1000);
  }
}
