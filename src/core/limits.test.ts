// Rate strings and the token bucket, with an injected clock.
import { describe, expect, it } from 'vitest';
import { parseRate, TokenBucket } from './limits.ts';

describe('rates', () => {
  it('read N per second, minute or hour', () => {
    expect(parseRate('10/s')).toEqual({ perMs: 0.01, burst: 10 });
    expect(parseRate('120/m')).toEqual({ perMs: 0.002, burst: 120 });
    for (const bad of ['0/s', '10/d', '10 /s', 's/10', '', '1e3/s']) expect(parseRate(bad)).toBeNull();
  });

  it('grant a burst, then one token per interval, never more than the rate over time', () => {
    const b = new TokenBucket(parseRate('5/s')!, 0);
    expect(b.available(0)).toBe(5);
    b.take(5, 0);
    expect(b.available(0)).toBe(0);
    expect(b.waitMs(0)).toBe(200);
    expect(b.available(199)).toBe(0);
    expect(b.available(200)).toBe(1);
    let granted = 5;
    for (let t = 0; t <= 10_000; t += 50) {
      const n = b.available(t);
      b.take(n, t);
      granted += n;
    }
    expect(granted).toBeLessThanOrEqual(5 + 50);
    expect(granted).toBeGreaterThanOrEqual(5 + 49);
  });
});
