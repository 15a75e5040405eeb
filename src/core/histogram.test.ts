// Percentiles from log-bucketed counts: each is the upper edge of the bucket its rank falls in, never below the latency itself.
import { describe, expect, it } from 'vitest';
import { bucketOf, edgeOf, mergeInto, percentiles } from './histogram.ts';

/** The histogram of a list of latencies. */
function histogram(latencies: number[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const ms of latencies) mergeInto(counts, bucketOf(ms), 1);
  return counts;
}

describe('latency buckets', () => {
  it('hold each latency at or under their upper edge, within 10% of it', () => {
    for (let ms = 0; ms <= 200_000; ms += ms < 1000 ? 1 : 997) {
      const edge = edgeOf(bucketOf(ms));
      expect(edge).toBeGreaterThanOrEqual(ms);
      if (ms >= 20) expect(edge).toBeLessThanOrEqual(Math.ceil(ms * 1.1) + 1);
    }
  });
});

describe('percentiles', () => {
  it('are null when nothing ended', () => {
    expect(percentiles(new Map())).toBeNull();
    expect(percentiles(new Map([[5, 0]]))).toBeNull();
  });

  it('take the nearest rank: of 100 latencies 1..100 ms, p50 is about 50, p95 about 95, p99 about 99', () => {
    const p = percentiles(histogram(Array.from({ length: 100 }, (_, i) => i + 1)))!;
    expect(p.p50).toBe(edgeOf(bucketOf(50)));
    expect(p.p95).toBe(edgeOf(bucketOf(95)));
    expect(p.p99).toBe(edgeOf(bucketOf(99)));
    expect(p.p50).toBeGreaterThanOrEqual(50);
    expect(p.p50).toBeLessThan(56);
  });

  it('see a slow tail only when it is more than 1% of the tasks', () => {
    const fast = Array.from({ length: 990 }, () => 10);
    expect(percentiles(histogram([...fast, ...Array(10).fill(5000)]))!).toEqual({ p50: edgeOf(bucketOf(10)), p95: edgeOf(bucketOf(10)), p99: edgeOf(bucketOf(10)) });
    const p = percentiles(histogram([...fast, ...Array(11).fill(5000)]))!;
    expect(p.p99).toBe(edgeOf(bucketOf(5000)));
    expect(p.p95).toBe(edgeOf(bucketOf(10)));
  });

  it('of merged histograms are those of all the latencies together, not an average', () => {
    const a = histogram(Array(90).fill(20));
    const b = histogram(Array(10).fill(3000));
    const merged = new Map(a);
    for (const [bucket, n] of b) mergeInto(merged, bucket, n);
    const p = percentiles(merged)!;
    expect(p.p50).toBe(edgeOf(bucketOf(20)));
    expect(p.p95).toBe(edgeOf(bucketOf(3000)));
    expect(p.p50 <= p.p95 && p.p95 <= p.p99).toBe(true);
  });
});
