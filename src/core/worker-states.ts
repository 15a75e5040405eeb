// A worker's state in the workers list (alive, stale, gone), as a pure function of its last sign of life and the clock.

export type WorkerState = 'alive' | 'stale' | 'gone';

export interface Liveness {
  /** The longest gap the hub expects between the end of one heartbeat and the next (`intervalSeconds`). */
  intervalMs: number;
  /** Past this since its last sign of life, a worker is gone (5 minutes). */
  staleMs: number;
}

export const DEFAULT_INTERVAL_SECONDS = 10;
export const DEFAULT_STALE_SECONDS = 300;
/** A claim may wait this long at the hub (claim's `waitSeconds`): a worker that only claims is silent meanwhile. */
const LONGEST_CLAIM_MS = 30_000;

/**
 * The thresholds from the hub's settings (DROVER_WORKER_INTERVAL_SECONDS, DROVER_WORKER_STALE_SECONDS),
 * so that tests can see a worker go stale and gone without waiting minutes. Values that do not
 * read as positive seconds fall back to the defaults.
 */
export function livenessOf(interval: string | undefined, stale: string | undefined): Liveness {
  const read = (v: string | undefined, fallback: number) => {
    const n = Number(v);
    return v !== undefined && v !== '' && Number.isFinite(n) && n > 0 ? n : fallback;
  };
  return { intervalMs: read(interval, DEFAULT_INTERVAL_SECONDS) * 1000, staleMs: read(stale, DEFAULT_STALE_SECONDS) * 1000 };
}

/**
 * alive: a heartbeat within intervalSeconds x 3 (a heartbeat held at the hub counts as one now);
 * a worker seen only by its claims gets the longest claim wait on top, since it says nothing
 * while its claim waits. stale: within the stale window. gone: older, or it said it was leaving.
 */
export function workerState(
  seen: { lastSeen: number; leaving: boolean; holding: boolean; claimsOnly: boolean },
  now: number,
  live: Liveness,
): WorkerState {
  if (seen.leaving) return 'gone';
  if (seen.holding) return 'alive';
  const age = now - seen.lastSeen;
  if (age <= live.intervalMs * 3 + (seen.claimsOnly ? LONGEST_CLAIM_MS : 0)) return 'alive';
  if (age <= live.staleMs) return 'stale';
  return 'gone';
}
