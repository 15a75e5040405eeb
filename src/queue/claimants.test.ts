// The memory of who claimed lately: bounded in size and in time, refreshed by heartbeats.
import { expect, it } from 'vitest';
import { CLAIMANT_TTL_MS, Claimants, MAX_CLAIMANTS } from './claimants.ts';

it('keeps each worker\'s latest claim, forgets it after the TTL unless a heartbeat refreshes it', () => {
  const c = new Claimants();
  c.claimed('a', null, ['x'], 0);
  c.claimed('a', 'cn', ['y'], 10);
  c.claimed('b', null, null, 20);
  expect(c.recent(30)).toEqual([
    { worker: 'a', region: 'cn', tasks: ['y'], at: 10 },
    { worker: 'b', region: null, tasks: null, at: 20 },
  ]);
  c.alive('a', CLAIMANT_TTL_MS);
  c.alive('nobody', CLAIMANT_TTL_MS); // a heartbeat alone does not make a claimant
  expect(c.recent(CLAIMANT_TTL_MS + 25).map((w) => w.worker)).toEqual(['a']);
  expect(c.recent(2 * CLAIMANT_TTL_MS + 1)).toEqual([]);
});

it(`remembers at most ${MAX_CLAIMANTS} workers, forgetting the one seen longest ago`, () => {
  const c = new Claimants();
  for (let i = 0; i <= MAX_CLAIMANTS; i++) c.claimed(`w${i}`, null, null, i);
  const names = c.recent(MAX_CLAIMANTS).map((w) => w.worker);
  expect(names).toHaveLength(MAX_CLAIMANTS);
  expect(names[0]).toBe('w1');
});
