// The building blocks of the request schemas: names, strings, and numbers and times with their ranges.
// Each states its range in its refusal and in the OpenAPI document (`minimum`, `maximum`, `format`
// and `description` come from here). Nothing is clamped.
import { z } from 'zod';
import { readInstant, RFC3339 } from './times.ts';
import { HISTORY_MS } from '../core/limits.ts';

export const TASK_NAME = /^[A-Za-z0-9_.:/-]{1,200}$/;
export const QUEUE_NAME = /^[a-z0-9_-]{1,64}$/;
export const REGION_NAME = /^[a-z0-9-]{1,32}$/;
/** No control characters and no lone surrogates: these strings are matched, stored and shown. */
const PLAIN = /^[^\p{Cc}\p{Cs}]*$/u;

/** Upper bounds that keep times meaningful: a year ahead, a day of backoff, twelve hours of lease. */
export const MAX_DELAY_SECONDS = 365 * 86_400;
export const MAX_RETRY_DELAY_SECONDS = 86_400;
export const MAX_LEASE_SECONDS = 43_200;
/**
 * The shortest lease (timeout, leaseSeconds, extendSeconds): the SDK heartbeats no more often than every
 * 0.5 s (src/sdk/execute.ts), so a shorter lease cannot be kept alive and expires under any
 * attempt that takes longer than the claim's and the ack's round trips. 1e-9 is a unit mistake.
 */
export const MIN_LEASE_SECONDS = 1;
/** The hub's clock counts milliseconds: a shorter non-zero duration would round to nothing. */
export const MIN_STEP_SECONDS = 0.001;

export const taskName = z.string().regex(TASK_NAME, 'must be 1-200 characters of letters, digits and _ . : / -');
export const queueName = z.string().regex(QUEUE_NAME, 'must be 1-64 characters of a-z, 0-9, _ and -');
export const regionName = z.string().regex(REGION_NAME, 'must be 1-32 characters of a-z, 0-9 and -');
export const plainString = (max: number) =>
  z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`).regex(PLAIN, 'must not contain control characters or unpaired surrogates');

const inDays = (s: number) => (s >= 86_400 && s % 86_400 === 0 ? ` (${s / 86_400} day${s === 86_400 ? '' : 's'})` : '');

/** A whole number in [min, max]: priorities, counts, limits. Past 2^53 is past any max here. */
export const whole = (min: number, max: number, description: string) => {
  const range = `must be a whole number from ${min} to ${max}`;
  return z.number({ error: range }).int(range).min(min, range).max(max, range).meta({ description: `${description} A whole number, ${min}-${max}.` });
};

/** Seconds in [min, max], fractions allowed. */
export const seconds = (min: number, max: number, description: string) => {
  const range = `must be between ${min} and ${max} seconds${inDays(max)}`;
  return z.number({ error: range }).min(min, range).max(max, range).meta({ description: `${description} Seconds, ${min}-${max}${inDays(max)}.` });
};

/** Seconds that may be 0 (none); a non-zero value is at least a millisecond, the hub's clock's step. */
export const secondsOrNone = (max: number, description: string) => {
  const range = `must be 0, or between ${MIN_STEP_SECONDS} and ${max} seconds${inDays(max)}`;
  return z
    .number({ error: range })
    .min(0, range)
    .max(max, range)
    .refine((v) => v === 0 || v >= MIN_STEP_SECONDS, range)
    .meta({ description: `${description} Seconds: 0, or ${MIN_STEP_SECONDS}-${max}${inDays(max)}.` });
};

const WINDOW = `${MAX_DELAY_SECONDS / 86_400} days`;
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

interface Window {
  /** In words, for the description and the refusal. */
  words: string;
  /** The bounds at `now`, as a refusal states them. */
  bounds(now: number): string;
  holds(ms: number, now: number): boolean;
}

/** eta: a year either way. In the past, the task is ready at once and is ordered by that eta. */
export const ETA_WINDOW: Window = {
  words: `within ${WINDOW} of now, either way`,
  bounds: (now) => `between ${iso(now - MAX_DELAY_SECONDS * 1000)} and ${iso(now + MAX_DELAY_SECONDS * 1000)}`,
  holds: (ms, now) => Math.abs(ms - now) <= MAX_DELAY_SECONDS * 1000,
};

/**
 * How far a clock may be off the hub's: a page asking for the last 48 hours by its own clock is
 * not refused for asking a minute more.
 */
export const CLOCK_SLACK_MS = 5 * 60_000;

/** The history's since and until: within the 48 hours it keeps (HISTORY_MS), give or take CLOCK_SLACK_MS. */
export const HISTORY_WINDOW: Window = {
  words: `within the last ${HISTORY_MS / 3_600_000} hours`,
  bounds: (now) => `between ${iso(now - HISTORY_MS - CLOCK_SLACK_MS)} and ${iso(now + CLOCK_SLACK_MS)}`,
  holds: (ms, now) => ms >= now - HISTORY_MS - CLOCK_SLACK_MS && ms <= now + CLOCK_SLACK_MS,
};

/** expires: after now (a task expired at birth could never run), and at most a year ahead. */
export const EXPIRES_WINDOW: Window = {
  words: `after now and at most ${WINDOW} ahead`,
  bounds: (now) => `after ${iso(now)} and no later than ${iso(now + MAX_DELAY_SECONDS * 1000)}`,
  holds: (ms, now) => ms > now && ms <= now + MAX_DELAY_SECONDS * 1000,
};

/**
 * An RFC 3339 time (UTC or with an offset) that names a real instant inside `window`, checked
 * against the hub's clock when the request arrives.
 */
export const time = (window: Window, description: string) =>
  z
    .string({ error: 'must be an RFC 3339 time such as 2026-11-21T08:00:00Z' })
    .regex(RFC3339, 'must be an RFC 3339 time such as 2026-11-21T08:00:00Z')
    .superRefine((text, ctx) => {
      if (!RFC3339.test(text)) return;
      const read = readInstant(text);
      if (!read.ok) return void ctx.addIssue({ code: 'custom', message: read.problem });
      const now = Date.now();
      if (!window.holds(read.ms, now)) ctx.addIssue({ code: 'custom', message: `must be ${window.words}: ${window.bounds(now)}` });
    })
    .meta({ format: 'date-time', description: `${description} An RFC 3339 time in UTC or with an offset, such as 2026-11-21T08:00:00Z: a real date and time ${window.words}.` });

/**
 * A query parameter read as a number: digits only (no signs, exponents or hex), then the range
 * (hundreds of digits read as Infinity, which the range refuses too).
 * The document shows it as the number it stands for, with its range.
 */
export const numberParam = (pattern: RegExp, inner: z.ZodType<number, number>, range: string, meta: Record<string, unknown>) =>
  z
    .string()
    .regex(pattern, range)
    .transform(Number)
    .pipe(inner)
    .meta({ ...meta, pattern: undefined });

export const intParam = (min: number, max: number, description: string) => {
  const range = `must be a whole number from ${min} to ${max}`;
  return numberParam(/^\d+$/, z.number({ error: range }).min(min, range).max(max, range), range, {
    type: 'integer', minimum: min, maximum: max, description: `${description} A whole number, ${min}-${max}.`,
  });
};
