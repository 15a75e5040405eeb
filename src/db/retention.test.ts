// Retention in D1 each minute: expired idempotency keys go, live ones stay, and finding the expired reads only them.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { rowsReadOf, type Read } from '../../test/rows-read.ts';
import { sweepRetention } from './retention.ts';

describe('the retention sweep', () => {
  it('removes expired idempotency keys without reading the live ones', async () => {
    const now = Date.now();
    const keys = (prefix: string, n: number, expiresAt: number) =>
      Array.from({ length: n }, (_, i) => ({ key: `${prefix}-${i}`, id: `${prefix}-task-${i}`, expiresAt }));
    const live = keys('live', 400, now + 60_000);
    const expired = keys('expired', 3, now - 1);
    await env.DB.prepare(
      `INSERT INTO idempotency_keys (key, task_id, expires_at) SELECT value->>'key', value->>'id', value->>'expiresAt' FROM json_each(?)`,
    )
      .bind(JSON.stringify([...live.slice(0, 200), ...expired, ...live.slice(200)]))
      .run();
    const reads: Read[] = [];
    await sweepRetention(rowsReadOf(env.DB, reads), now);
    const left = await env.DB.prepare(`SELECT key FROM idempotency_keys`).all<{ key: string }>();
    expect(left.results.map((r) => r.key).sort()).toEqual(live.map((k) => k.key).sort());
    const sweep = reads.filter((r) => r.sql.includes('FROM idempotency_keys'));
    expect(sweep).toHaveLength(1);
    expect(sweep[0].rowsRead).toBeLessThan(20);
  });
});
