// GET /metrics against npm start: Prometheus text a scraper can read, counting what really happened.
import { describe, expect, inject, it } from 'vitest';
import { Api, TOKENS, claimAll, uniqueQueue } from './system.ts';

const api = new Api(inject('hubUrl'));

function value(text: string, metric: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== metric) continue;
    const have = Object.fromEntries((m[2] ?? '').split(',').filter(Boolean).map((kv) => kv.split('=')).map(([k, v]) => [k, JSON.parse(v)]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe('metrics', () => {
  it('count finished tasks, retries, dead letters, depth by region, and claim-to-ack times', async () => {
    const queue = uniqueQueue('metrics');
    await api.post('/v1/tasks/batch', {
      tasks: [
        { task: 'ok', queue }, { task: 'ok', queue },
        { task: 'retried', queue, maxRetries: 1, retryDelay: 0.05 },
        { task: 'waits', queue, region: 'cn' },
      ],
    });
    const worker = api.as(TOKENS.consume);
    for (const job of await claimAll(worker, queue, 3, { max: 3 })) {
      if (job.task === 'ok') await worker.post(`/v1/leases/${job.leaseId}/ack`, { result: 1 });
      else await worker.post(`/v1/leases/${job.leaseId}/fail`, { error: { type: 'E', message: 'e' } });
    }
    const [again] = await claimAll(worker, queue, 1, {}, 5000);
    await worker.post(`/v1/leases/${again.leaseId}/fail`, { error: { type: 'E', message: 'e' } });

    const res = await api.request('GET', '/metrics');
    expect(res.status).toBe(200);
    const text = res.text;
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_]+="[^"]*",?)*\})? -?[0-9.e+-]+$/);
    }
    expect(value(text, 'drover_tasks_finished_total', { queue, state: 'succeeded' })).toBe(2);
    expect(value(text, 'drover_tasks_finished_total', { queue, state: 'failed' })).toBe(1);
    expect(value(text, 'drover_task_retries_total', { queue })).toBe(1);
    expect(value(text, 'drover_dead_letters', { queue })).toBe(1);
    expect(value(text, 'drover_queue_tasks', { queue, state: 'ready', region: 'cn' })).toBe(1);
    expect(value(text, 'drover_queue_oldest_ready_seconds', { queue })).toBeGreaterThan(0);
    expect(value(text, 'drover_claim_to_ack_seconds_count', { queue })).toBe(2);
    expect(value(text, 'drover_claim_to_ack_seconds_bucket', { queue, le: '+Inf' })).toBe(2);
    expect(value(text, 'drover_claim_to_ack_seconds_bucket', { queue, le: '300' })).toBe(2);

    expect((await api.as(null).get('/metrics')).status).toBe(401);
    expect((await api.as(TOKENS.enqueue).get('/metrics')).status).toBe(403);
  });

  it('count the SQLite statements the queue objects run and send to D1 as tasks run', async () => {
    const statements = async () => {
      const text = (await api.get('/metrics')).text;
      return {
        object: value(text, 'drover_sqlite_statements_total', { queue, store: 'object' }) ?? 0,
        d1: value(text, 'drover_sqlite_statements_total', { queue, store: 'd1' }) ?? 0,
        hub: value(text, 'drover_sqlite_statements_total', { queue: '_hub', store: 'd1' })!,
      };
    };
    const queue = uniqueQueue('statements');
    const before = await statements();
    // A queue nobody used yet has no series; the hub's own D1 statements have one from the start.
    expect(before).toMatchObject({ object: 0, d1: 0 });
    expect(before.hub).toBeGreaterThanOrEqual(0);
    const n = 5;
    // One at a time: each answer waits for D1 to hold its task, so each is a D1 write of its own.
    for (let i = 0; i < n; i++) expect((await api.post('/v1/tasks', { task: 'ok', queue })).status).toBe(202);
    const worker = api.as(TOKENS.consume);
    for (const job of await claimAll(worker, queue, n)) expect((await worker.post(`/v1/leases/${job.leaseId}/ack`, { result: 1 })).status).toBe(200);
    const after = await statements();
    expect(after.object - before.object).toBeGreaterThanOrEqual(n);
    expect(after.d1 - before.d1).toBeGreaterThanOrEqual(n);
  });
});
