// The pure core: backoff, claim order and ids, each a plain function with an injected clock or random.
import { describe, expect, it } from 'vitest';
import { backoffSeconds, MAX_BACKOFF_SECONDS } from './backoff.ts';
import { compareClaimOrder, mergeLanes } from './claim-order.ts';
import { newTaskId, ULID_PATTERN } from './ids.ts';

describe('backoff', () => {
  it('doubles per attempt, with jitter between half and all of the step', () => {
    expect(backoffSeconds(1, 1, () => 0)).toBe(0.5);
    expect(backoffSeconds(1, 1, () => 1)).toBe(1);
    expect(backoffSeconds(3, 1, () => 0)).toBe(2);
    expect(backoffSeconds(3, 1, () => 1)).toBe(4);
    expect(backoffSeconds(2, 10, () => 0.5)).toBe(15);
  });

  it('never exceeds a day, however many attempts', () => {
    expect(backoffSeconds(80, 5, () => 1)).toBe(MAX_BACKOFF_SECONDS);
  });

  it('spreads retries of tasks that failed together', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffSeconds(4, 1)));
    expect(delays.size).toBeGreaterThan(40);
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(4);
      expect(d).toBeLessThanOrEqual(8);
    }
  });
});

describe('claim order', () => {
  const t = (id: string, priority: number, readyAt: number) => ({ id, priority, readyAt });

  it('puts higher priority first, then earlier ready time, then enqueue order', () => {
    const items = [t('03', 5, 10), t('01', 5, 20), t('02', 9, 30), t('00', 5, 10)];
    expect([...items].sort(compareClaimOrder).map((i) => i.id)).toEqual(['02', '00', '03', '01']);
  });

  it('merges a region lane with the untagged lane and keeps the first max', () => {
    const region = [t('a', 9, 5), t('c', 5, 5)];
    const untagged = [t('b', 7, 1), t('d', 5, 1)];
    expect(mergeLanes([region, untagged], 3).map((i) => i.id)).toEqual(['a', 'b', 'd']);
  });
});

describe('task ids', () => {
  it('are ULIDs that sort in creation order, even within one millisecond', () => {
    const ids = Array.from({ length: 1000 }, () => newTaskId(1_700_000_000_000));
    for (const id of ids) expect(id).toMatch(ULID_PATTERN);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(1000);
    expect(newTaskId(1_700_000_000_001) > ids[999]).toBe(true);
  });
});
