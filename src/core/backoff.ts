// Retry backoff: exponential in the attempt number, with jitter, as a pure function.

/** The longest a retry waits, whatever the base and attempt: one day. */
export const MAX_BACKOFF_SECONDS = 86_400;

/**
 * Seconds to wait before the next attempt after `attempt` failed (1 = the first try).
 * "Equal jitter": half the exponential step is fixed, half random, so retries of
 * many tasks that failed together spread out but never come back early.
 *
 * backoffSeconds(1, 1, () => 0) === 0.5; backoffSeconds(3, 1, () => 1) === 4
 */
export function backoffSeconds(attempt: number, base: number, random: () => number = Math.random): number {
  const step = Math.min(MAX_BACKOFF_SECONDS, base * 2 ** Math.max(0, attempt - 1));
  return step / 2 + (step / 2) * random();
}
