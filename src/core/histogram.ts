// Latency histograms with log-spaced buckets: which bucket a latency falls in, and percentiles of merged counts.

/** Each bucket's upper edge is this many times the one before it (edges 10% apart). */
export const BUCKET_RATIO = 1.1;

/**
 * The bucket of a latency in ms: the smallest b with BUCKET_RATIO^b >= ms (0 for 1 ms and less).
 * BUCKET_SQL is the same in SQL, for D1 to count a batch of ends without them passing through here.
 */
export function bucketOf(ms: number): number {
  return ms <= 1 ? 0 : Math.ceil(Math.log(ms) / Math.log(BUCKET_RATIO));
}

/** bucketOf in SQL, of the expression `ms` (D1's SQLite has ln and ceil). */
export const bucketSql = (ms: string) => `CASE WHEN ${ms} <= 1 THEN 0 ELSE CAST(ceil(ln(${ms}) / ln(${BUCKET_RATIO})) AS INTEGER) END`;

/** A bucket's upper edge in whole ms: every latency counted in it is at most this. */
export function edgeOf(bucket: number): number {
  return Math.ceil(BUCKET_RATIO ** bucket);
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

/** The percentiles given, in whole percent. */
export const PERCENTS = { p50: 50, p95: 95, p99: 99 } as const;

/**
 * Nearest rank: the percentile `pct` falls in the first bucket where the latencies seen so far
 * (`seen`, in bucket order) reach pct% of all of them. In whole numbers, as SQL does it too
 * (percentileSql), so no rounding of pct * total can move a rank.
 */
export const reached = (seen: number, total: number, pct: number) => seen * 100 >= total * pct;

/**
 * The 50th, 95th and 99th percentiles of counts per bucket, as the upper edge of the bucket the
 * percentile falls in; null when nothing was counted. Histograms merge by adding their counts,
 * so the percentiles of several queues together come from their summed buckets, not an average.
 */
export function percentiles(counts: Map<number, number>): Percentiles | null {
  const buckets = [...counts].filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]);
  const total = buckets.reduce((sum, [, n]) => sum + n, 0);
  if (total === 0) return null;
  const at = (pct: number) => {
    let seen = 0;
    for (const [bucket, n] of buckets) {
      seen += n;
      if (reached(seen, total, pct)) return edgeOf(bucket);
    }
    return edgeOf(buckets[buckets.length - 1][0]);
  };
  return { p50: at(PERCENTS.p50), p95: at(PERCENTS.p95), p99: at(PERCENTS.p99) };
}

/**
 * `percentiles` in SQL, over `source`: rows of (minute, queue, bucket, n), n > 0. One row per
 * (minute, queue) with the percentiles' buckets (p50, p95, p99; edgeOf makes them ms), so a
 * read of 48 hours returns a row per minute and queue, not one per bucket.
 */
export function percentileSql(source: string): string {
  const pick = (name: keyof typeof PERCENTS) => `MIN(CASE WHEN seen * 100 >= total * ${PERCENTS[name]} THEN bucket END) AS ${name}`;
  return `SELECT minute, queue, ${pick('p50')}, ${pick('p95')}, ${pick('p99')} FROM (
      SELECT minute, queue, bucket,
        SUM(n) OVER (PARTITION BY minute, queue ORDER BY bucket ROWS UNBOUNDED PRECEDING) AS seen,
        SUM(n) OVER (PARTITION BY minute, queue) AS total
      FROM (${source}))
    GROUP BY minute, queue`;
}

/** Adds one histogram's counts into another. */
export function mergeInto(into: Map<number, number>, bucket: number, n: number): void {
  into.set(bucket, (into.get(bucket) ?? 0) + n);
}
