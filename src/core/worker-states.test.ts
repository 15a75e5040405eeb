// Worker states as a pure function of the last sign of life and the clock.
import { describe, expect, it } from 'vitest';
import { livenessOf, workerState } from './worker-states.ts';

const live = livenessOf(undefined, undefined);
const at = (ageMs: number, more: Partial<{ leaving: boolean; holding: boolean; claimsOnly: boolean }> = {}) =>
  workerState({ lastSeen: 1_000_000 - ageMs, leaving: false, holding: false, claimsOnly: false, ...more }, 1_000_000, live);

describe('worker states', () => {
  it('are alive within three intervals, stale within five minutes, gone after', () => {
    expect(at(0)).toBe('alive');
    expect(at(30_000)).toBe('alive');
    expect(at(30_001)).toBe('stale');
    expect(at(300_000)).toBe('stale');
    expect(at(300_001)).toBe('gone');
  });

  it('hold a worker alive while its heartbeat waits at the hub, and gone once it said it was leaving', () => {
    expect(at(200_000, { holding: true })).toBe('alive');
    expect(at(0, { leaving: true, holding: true })).toBe('gone');
  });

  it('give a worker seen only claiming the longest claim wait on top', () => {
    expect(at(59_000, { claimsOnly: true })).toBe('alive');
    expect(at(61_000, { claimsOnly: true })).toBe('stale');
  });

  it('take their thresholds from the settings, and the defaults for values that are not positive seconds', () => {
    expect(livenessOf('1', '6')).toEqual({ intervalMs: 1000, staleMs: 6000 });
    expect(livenessOf('0', 'soon')).toEqual({ intervalMs: 10_000, staleMs: 300_000 });
    expect(livenessOf('', '-5')).toEqual({ intervalMs: 10_000, staleMs: 300_000 });
  });
});
