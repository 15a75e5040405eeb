// The autoscaler's rule and the per-task rate limits, on an injected clock.
import { describe, expect, it } from 'vitest';
import { Slots } from './autoscale.ts';
import { parseRate, TaskRates } from './rate-limit.ts';

describe('Slots with autoscale', () => {
  it('grows by one per full claim up to max, and shrinks by one per idle period down to min', () => {
    let now = 0;
    const slots = new Slots({ min: 2, max: 4, idleMs: 1000, now: () => now });
    expect(slots.current).toBe(2);
    expect(slots.claimed(false, 2)).toBe(false); // not full: nothing is waiting
    expect(slots.claimed(true, 2)).toBe(true);
    expect(slots.claimed(true, 3)).toBe(true);
    expect(slots.claimed(true, 4)).toBe(false); // at max
    expect(slots.current).toBe(4);
    now = 900;
    expect(slots.tick(1)).toBe(false); // idle, but not for a whole period yet
    now = 1000;
    expect(slots.tick(1)).toBe(true);
    expect(slots.current).toBe(3);
    now = 1500;
    expect(slots.tick(3)).toBe(false); // every slot busy: the idle clock starts again
    now = 2400;
    expect(slots.tick(1)).toBe(false);
    now = 2500;
    expect(slots.tick(1)).toBe(true);
    now = 10_000;
    expect(slots.tick(0)).toBe(false); // at min
    expect(slots.current).toBe(2);
  });

  it('keeps remote grow and shrink within its bounds', () => {
    const slots = new Slots({ min: 2, max: 5, idleMs: 1000 });
    expect(slots.resize(10)).toBe(5);
    expect(slots.resize(-10)).toBe(2);
    const fixed = Slots.fixed(4);
    expect(fixed.claimed(true, 4)).toBe(false); // a fixed number does not autoscale
    expect(fixed.resize(3)).toBe(7);
    expect(fixed.resize(-100)).toBe(1);
  });
});

describe('TaskRates', () => {
  it('parses N/s, N/m and N/h only', () => {
    expect(parseRate('10/s')).toEqual({ n: 10, perMs: 1000 });
    expect(parseRate('3/h')).toEqual({ n: 3, perMs: 3_600_000 });
    for (const bad of ['0/s', '1.5/s', '10/d', '/s', '10', ' 1/s']) expect(parseRate(bad)).toBeNull();
  });

  it('lets N starts through per period, refilling over time, and lifts the limit on null', () => {
    let now = 0;
    const rates = new TaskRates(() => now);
    expect(rates.set('t', '2/s')).toBe(true);
    expect(rates.set('t', 'often')).toBe(false);
    expect([rates.take('t'), rates.take('t'), rates.take('t')]).toEqual([true, true, false]);
    expect(rates.open('t')).toBe(false);
    expect(rates.nextOpening()).toBe(500);
    expect(rates.take('other')).toBe(true); // no limit
    now = 500;
    expect(rates.take('t')).toBe(true);
    expect(rates.take('t')).toBe(false);
    expect(rates.limits).toEqual({ t: '2/s' });
    rates.set('t', null);
    expect(rates.take('t')).toBe(true);
    expect(rates.nextOpening()).toBe(0);
  });
});
