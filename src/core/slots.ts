// Schedule slots as pure functions of an injected clock: which slots are due, and when the next one is.
import { Cron } from 'croner';

export type CatchUp = 'latest' | 'all' | 'none';

export interface Timing {
  cron: string | null;
  /** Seconds between slots, counted from anchorAt. */
  every: number | null;
  timezone: string;
  /** Slots come strictly after this instant (ms): the schedule's creation, or its last change. */
  anchorAt: number;
  catchUp: CatchUp;
}

/** With catchUp 'none', a slot counts as on time if the trigger comes this soon after it. */
export const ON_TIME_MS = 65_000;
/** With catchUp 'all', at most this many missed slots run per trigger; the rest follow on the next. */
export const MAX_CATCH_UP = 100;

/** Parses a five-field cron expression in a time zone; throws with a readable message if either is wrong. */
export function parseCron(expression: string, timezone: string): Cron {
  return new Cron(expression, { timezone, paused: true, mode: '5-part' });
}

/** Throws unless `timezone` is an IANA zone this runtime knows. */
export function checkTimezone(timezone: string): void {
  new Intl.DateTimeFormat('en', { timeZone: timezone });
}

/** The first slot strictly after `after`. */
export function nextSlot(t: Timing, after: number): number | null {
  const from = Math.max(after, t.anchorAt);
  if (t.every !== null) {
    const period = t.every * 1000;
    return t.anchorAt + (Math.floor((from - t.anchorAt) / period) + 1) * period;
  }
  return parseCron(t.cron!, t.timezone).nextRun(new Date(from))?.getTime() ?? null;
}

/** The latest slot at or before `now` (and after the anchor), or null. */
export function latestSlot(t: Timing, now: number): number | null {
  if (now <= t.anchorAt) return null;
  if (t.every !== null) {
    const period = t.every * 1000;
    const k = Math.floor((now - t.anchorAt) / period);
    return k >= 1 ? t.anchorAt + k * period : null;
  }
  const [slot] = parseCron(t.cron!, t.timezone).previousRuns(1, new Date(now + 1));
  return slot && slot.getTime() > t.anchorAt ? slot.getTime() : null;
}

/**
 * The slots a trigger at `now` should run, oldest first, given the last slot already run.
 *   latest (default): after downtime, only the most recent missed slot runs, once.
 *   all: every missed slot runs, up to MAX_CATCH_UP per trigger.
 *   none: a slot runs only if the trigger is on time for it; missed ones are skipped.
 */
export function dueSlots(t: Timing, lastSlotAt: number | null, now: number): number[] {
  const after = Math.max(lastSlotAt ?? t.anchorAt, t.anchorAt);
  if (t.catchUp === 'all') {
    const out: number[] = [];
    for (let slot = nextSlot(t, after); slot !== null && slot <= now && out.length < MAX_CATCH_UP; slot = nextSlot(t, slot)) out.push(slot);
    return out;
  }
  const latest = latestSlot(t, now);
  if (latest === null || latest <= after) return [];
  if (t.catchUp === 'none' && now - latest > ON_TIME_MS) return [];
  return [latest];
}
