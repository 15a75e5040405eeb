// A claim's answer as JSON text: each job's own region, times and payload, whatever its neighbours'.
import { describe, expect, it } from 'vitest';
import { jobsJson } from './calls.ts';
import type { ClaimedRow } from './transitions.ts';
import { keyedLane, laneOf } from '../core/states.ts';

const T = Date.UTC(2026, 11, 7, 12, 0, 0);
const row = (over: Partial<ClaimedRow>): ClaimedRow => ({
  id: 'T', task: 'noop', args: '[]', kwargs: '{}', lane: '', priority: 0, attempts: 1, max_retries: 3,
  parent_id: null, root_id: null, lease_id: 'q.T.0', lease_expires_at: T, http: null, timeout: 60, headers: null, eta: null, workflow_id: null,
  ...over,
});

describe('jobsJson', () => {
  it('gives each job its own region, lease expiry and eta in a claim of several lanes and expiries', () => {
    const rows = [
      row({ id: 'a', lane: laneOf('eu', false), lease_expires_at: T }),
      row({ id: 'b', lane: laneOf(null, false), lease_expires_at: T }),
      row({ id: 'c', lane: keyedLane(laneOf('eu', false, 'scrape'), 'example.com'), lease_expires_at: T + 1500, eta: T - 60_000 }),
      row({ id: 'd', lane: laneOf('eu', false), lease_expires_at: T + 1500, args: '[1,{"x":"y"}]', headers: '{"h":"v"}' }),
    ];
    const { jobs } = JSON.parse(jobsJson(rows, 'q'));
    expect(jobs.map((j: Record<string, unknown>) => [j.id, j.region, j.leaseExpiresAt, j.eta])).toEqual([
      ['a', 'eu', '2026-12-07T12:00:00.000Z', null],
      ['b', null, '2026-12-07T12:00:00.000Z', null],
      ['c', 'eu', '2026-12-07T12:00:01.500Z', '2026-12-07T11:59:00.000Z'],
      ['d', 'eu', '2026-12-07T12:00:01.500Z', null],
    ]);
    expect(jobs[3]).toMatchObject({ queue: 'q', args: [1, { x: 'y' }], kwargs: {}, headers: { h: 'v' }, attempt: 1, maxRetries: 3 });
  });
});
