// Limits per rate key, clock driven: AIMD, pause, concurrency, round-robin across keys, and a restart of the object.
import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { taskSpec } from '../../test/specs.ts';
import { currentRate, KeyBucket, matcher, MIN_RATE_PER_SECOND, reported } from '../core/key-limits.ts';
import { shardOf } from '../core/shards.ts';
import { keyOfLane } from '../core/states.ts';
import { Sql } from '../db/sql.ts';
import { listKeys } from './key-views.ts';
import { Keys } from './keys.ts';
import { migrate } from './tables.ts';
import * as t from './transitions.ts';

const T0 = 1_800_000_000_000;

describe('which keyLimits entry applies', () => {
  const of = matcher([
    { match: '*.example.com', rate: '10/s', concurrency: 4 },
    { match: 'api.example.com', rate: '2/s' },
    { match: '*.com', rate: '7/s' },
    { match: '*', rate: '5/s' },
  ]);
  it('an exact entry wins over globs, then the first glob that matches; "*" takes the rest', () => {
    expect(of('api.example.com')).toMatchObject({ rate: '2/s', concurrency: null });
    expect(of('a.example.com')).toMatchObject({ rate: '10/s', perSecond: 10, concurrency: 4 });
    expect(of('other.com')).toMatchObject({ rate: '7/s' });
    expect(of('127.0.0.1:8081')).toMatchObject({ rate: '5/s' });
    expect(matcher([{ match: 'x', concurrency: 1 }])('y')).toBeNull();
    // A glob's other characters are themselves, not regular expression syntax.
    expect(matcher([{ match: 'a.b*', rate: '1/s' }])('axb1')).toBeNull();
  });
});

describe('back-off (AIMD)', () => {
  it('halves the rate on a report, pauses until the Retry-After, then regains a tenth of the configured rate per second', () => {
    const b = reported(10, undefined, T0, T0 + 2000);
    expect(b.pausedUntil).toBe(T0 + 2000);
    expect(currentRate(10, b, T0 + 2000)).toBe(5);
    expect(currentRate(10, b, T0 + 3000)).toBe(6);
    expect(currentRate(10, b, T0 + 7000)).toBe(10);
    expect(currentRate(10, b, T0 + 60_000)).toBe(10);
    // A second report halves what the key had regained, not the configured rate.
    const again = reported(10, b, T0 + 3000, T0 + 3000);
    expect(currentRate(10, again, T0 + 3000)).toBe(3);
  });

  it('never goes under one task a minute, and a key with no rate only pauses', () => {
    let b = reported(1, undefined, T0, T0);
    for (let i = 0; i < 20; i++) b = reported(1, b, T0, T0);
    expect(currentRate(1, b, T0)).toBe(MIN_RATE_PER_SECOND);
    const noRate = reported(null, undefined, T0, T0 + 5000);
    expect(noRate).toMatchObject({ rateAfter: null, pausedUntil: T0 + 5000 });
    expect(currentRate(null, noRate, T0)).toBeNull();
  });

  it('a key bucket grants the rate over time, whatever the clock steps', () => {
    const bucket = new KeyBucket(T0);
    let granted = 0;
    for (let now = T0; now <= T0 + 10_000; now += 37) {
      const n = bucket.available(20, now);
      bucket.take(n, 20, now);
      granted += n;
    }
    expect(granted).toBeGreaterThanOrEqual(199);
    expect(granted).toBeLessThanOrEqual(201 + 5);
  });
});

/** A fresh object's tables, with a Keys fed as the QueueObject feeds it after each transaction. */
async function withKeys(limits: Parameters<Keys['configure']>[0], fn: (h: Harness) => void): Promise<void> {
  const stub = env.QUEUES.get(env.QUEUES.newUniqueId());
  await runInDurableObject(stub, (_instance, state) => {
    const sql = new Sql(state.storage.sql);
    migrate(sql);
    const keys = new Keys(sql);
    keys.configure(limits);
    const at = <R>(now: number, step: (s: t.Step) => R): R => {
      const s = t.newStep(sql, now, () => 0.5);
      const out = state.storage.transactionSync(() => t.commit(s, step));
      keys.readied(s.readyLanes);
      keys.freed(s.freedKeys);
      return out;
    };
    const claim = (now: number, max: number) => {
      const turns = keys.turns([''], now);
      let drained: [string, string[]][] = [];
      const jobs = at(now, (s) => {
        const out = t.claim(s, { queue: 'unit', worker: 'w', region: null, tasks: null, max, leaseSeconds: null, owner: null, keyTurns: turns });
        drained = s.drainedKeys;
        return out;
      });
      keys.claimed(jobs, drained, now);
      return { jobs, keysOf: jobs.map((j) => keyOfLane(j.lane)), retryMs: keys.retryMs([''], now) };
    };
    const deliver = (now: number, rateKeys: (string | null)[]) =>
      at(now, (s) => t.deliver(s, rateKeys.map((rateKey, i) => taskSpec({ createdAt: now - 1000 + i, rateKey }))));
    fn({ sql, keys, at, claim, deliver });
  });
}

interface Harness {
  sql: Sql;
  keys: Keys;
  at: <R>(now: number, step: (s: t.Step) => R) => R;
  claim: (now: number, max: number) => { jobs: t.ClaimedRow[]; keysOf: (string | null)[]; retryMs: number };
  deliver: (now: number, rateKeys: (string | null)[]) => number;
}

const count = (keys: (string | null)[]) => keys.reduce<Record<string, number>>((m, k) => ({ ...m, [k ?? '-']: (m[k ?? '-'] ?? 0) + 1 }), {});

describe('claims across rate keys', () => {
  it('take keys round-robin, the tasks of no key taking a turn like a key', () =>
    withKeys(null, ({ claim, deliver }) => {
      deliver(T0, ['a', 'a', 'a', 'a', 'b', 'b', 'b', 'b', 'c', 'c', 'c', 'c', null, null, null, null]);
      expect(count(claim(T0, 4).keysOf)).toEqual({ a: 1, b: 1, c: 1, '-': 1 });
      expect(count(claim(T0, 8).keysOf)).toEqual({ a: 2, b: 2, c: 2, '-': 2 });
      // One task per claim: each key in turn.
      const one = [claim(T0, 1), claim(T0, 1), claim(T0, 1), claim(T0, 1)].map((c) => c.keysOf[0]);
      expect(new Set(one).size).toBe(4);
    }));

  it('go round the keys in order, one task a claim, passing over a key out of budget until it has some', () =>
    withKeys([{ match: 'b', rate: '1/m' }], ({ claim, deliver }) => {
      deliver(T0, ['a', 'a', 'a', 'a', 'b', 'b', 'b', 'c', 'c', 'c', 'c']);
      const order = (now: number, n: number) => Array.from({ length: n }, () => claim(now, 1).keysOf[0]);
      expect(order(T0, 7)).toEqual(['a', 'b', 'c', 'a', 'c', 'a', 'c']);
      // A minute on, b has a token again and takes its turn at the ring's tail.
      expect(order(T0 + 60_000, 3)).toEqual(['a', 'c', 'b']);
    }));

  it('hold each key to its rate; a throttled key is skipped and the claim says when it may run again', () =>
    withKeys([{ match: 'slow', rate: '2/s' }], ({ claim, deliver }) => {
      deliver(T0, [...Array(10).fill('slow'), ...Array(10).fill('fast')]);
      const first = claim(T0, 10);
      expect(count(first.keysOf)).toEqual({ slow: 1, fast: 9 });
      const second = claim(T0, 10);
      expect(count(second.keysOf)).toEqual({ fast: 1 });
      const none = claim(T0 + 10, 10);
      expect(none.jobs).toEqual([]);
      expect(none.retryMs).toBeGreaterThan(400);
      expect(none.retryMs).toBeLessThanOrEqual(500);
      // Over 4 s the key gets its 2/s, no more.
      let slow = 1;
      for (let now = T0 + 100; now <= T0 + 4000; now += 100) slow += claim(now, 10).jobs.length;
      expect(slow).toBeGreaterThanOrEqual(8);
      expect(slow).toBeLessThanOrEqual(9);
    }));

  it('hold each key to its concurrency: an ended lease frees a slot', () =>
    withKeys([{ match: '*', concurrency: 2 }], ({ at, claim, deliver }) => {
      deliver(T0, ['x', 'x', 'x', 'x', 'y', 'y', 'y']);
      const first = claim(T0, 10);
      expect(count(first.keysOf)).toEqual({ x: 2, y: 2 });
      expect(claim(T0, 10).jobs).toEqual([]);
      const x = first.jobs.find((j) => keyOfLane(j.lane) === 'x')!;
      at(T0 + 1, (s) => t.ack(s, x.lease_id, null, 'null'));
      expect(count(claim(T0 + 2, 10).keysOf)).toEqual({ x: 1 });
    }));

  it('read only the lanes of keys with budget: 1,000 keys of which 900 are paused', () =>
    withKeys([{ match: '*', rate: '100/s' }], ({ sql, keys, at, claim, deliver }) => {
      const all = Array.from({ length: 1000 }, (_, i) => `k${String(i).padStart(4, '0')}`);
      deliver(T0, all);
      at(T0, (s) => {
        for (const k of all.slice(100)) keys.report(s.sql, k, s.now, T0 + 60_000);
      });
      const lanesRead: string[] = [];
      const read = sql.all.bind(sql);
      sql.all = ((query: string, ...params: Parameters<Sql['all']>[1][]) => {
        for (const p of params) if (typeof p === 'string' && keyOfLane(p) !== null) lanesRead.push(p);
        return read(query, ...params);
      }) as Sql['all'];
      const got = claim(T0 + 1, 100);
      expect(new Set(got.keysOf)).toEqual(new Set(all.slice(0, 100)));
      expect(lanesRead.length).toBeGreaterThan(0);
      expect(lanesRead.every((lane) => all.slice(0, 100).includes(keyOfLane(lane)!))).toBe(true);
    }));

  it('look at none of 900 keys out of budget: a claim touches the keys it takes from, and the throttled ones come back when due', () =>
    withKeys([{ match: 'slow*', rate: '1/m' }, { match: 'capped*', concurrency: 1 }], ({ keys, at, claim, deliver }) => {
      const slow = Array.from({ length: 850 }, (_, i) => `slow${i}`);
      const capped = Array.from({ length: 50 }, (_, i) => `capped${i}`);
      const open = Array.from({ length: 100 }, (_, i) => `open${i}`);
      // In batches the harness makes ready at once (it spreads a batch's enqueue times over the second before).
      [slow, slow, [...capped, ...capped, ...open, ...open, ...open]].forEach((batch) => deliver(T0, batch));
      // The first claim takes a task of each key: the slow keys spend their token, the capped ones their slot.
      const first = claim(T0, 1000);
      expect(first.jobs).toHaveLength(1000);
      const before = keys.visited;
      const next = claim(T0 + 10, 50);
      expect(next.jobs).toHaveLength(50);
      expect(next.keysOf.every((k) => k!.startsWith('open'))).toBe(true);
      // Fifty keys looked at for fifty tasks, whatever the 900 others.
      expect(keys.visited - before).toBeLessThanOrEqual(51);
      expect(claim(T0 + 20, 1000).jobs).toHaveLength(150);
      const none = claim(T0 + 30, 1000);
      expect(none.jobs).toEqual([]);
      expect(none.retryMs).toBeGreaterThan(59_000);
      expect(none.retryMs).toBeLessThanOrEqual(60_000);
      // A lease of a capped key ends: that key, and no other, may run again.
      const lease = first.jobs.find((j) => keyOfLane(j.lane) === 'capped7')!;
      at(T0 + 40, (s) => t.ack(s, lease.lease_id, null, 'null'));
      expect(claim(T0 + 50, 1000).keysOf).toEqual(['capped7']);
      // A minute on, the slow keys have a token each again.
      const later = claim(T0 + 60_000, 1000);
      expect(count(later.keysOf.map((k) => k!.replace(/\d+$/, '')))).toEqual({ slow: 850 });
    }));

  it('place a task with a rate key on its key\'s shard, after a group or ordering key', () => {
    const shards = new Set(Array.from({ length: 20 }, (_, i) => shardOf({ id: `id-${i}`, orderingKey: null, rateKey: 'site.test' }, 7)));
    expect(shards.size).toBe(1);
    const ordered = shardOf({ id: 'x', orderingKey: 'o', rateKey: 'site.test' }, 7);
    expect(ordered).toBe(shardOf({ id: 'y', orderingKey: 'o', rateKey: 'other.test' }, 7));
  });

  it('a pause holds a key no entry limits; a restart reads running counts back from the tables', () =>
    withKeys([{ match: 'c*', concurrency: 1 }], ({ sql, keys, at, claim, deliver }) => {
      deliver(T0, ['free', 'free', 'capped', 'capped']);
      const first = claim(T0, 10);
      expect(count(first.keysOf)).toEqual({ free: 2, capped: 1 });
      deliver(T0, ['free']);
      at(T0, (s) => keys.report(s.sql, 'free', s.now, T0 + 1000));
      expect(claim(T0 + 500, 10).jobs).toEqual([]);
      const after = new Keys(sql);
      after.configure([{ match: 'c*', concurrency: 1 }]);
      after.load();
      expect([...after.turns([''], T0 + 500)].map((x) => x.key)).toEqual([null]);
      expect([...after.turns([''], T0 + 1000)].map((x) => x.key).sort()).toEqual(['free', null].sort());
    }));

  it('a rate-limited fail does not count the attempt, and pauses its key only, across a restart', () =>
    withKeys([{ match: '*', rate: '10/s' }], ({ sql, keys, at, claim, deliver }) => {
      deliver(T0, ['site', 'site', 'other', 'other', 'other']);
      const job = claim(T0, 2).jobs.find((j) => keyOfLane(j.lane) === 'site')!;
      expect(job.attempts).toBe(1);
      const out = at(T0 + 100, (s) => t.failRateLimited(s, job.lease_id, null, { type: 'Http429', message: 'slow down' }, 2));
      expect(out).toMatchObject({ ok: true, state: 'delayed', nextAttemptAt: T0 + 2100, rateKey: 'site' });
      at(T0 + 100, (s) => keys.report(s.sql, 'site', s.now, T0 + 2100));
      const row = sql.one<{ attempts: number; attempt_log: string }>(`SELECT attempts, attempt_log FROM tasks WHERE id = ?`, job.id)!;
      expect(row.attempts).toBe(0);
      expect(JSON.parse(row.attempt_log)).toMatchObject([{ attempt: 1, outcome: 'rateLimited', error: { type: 'Http429' } }]);

      // The object restarts: the pause and the halved rate come back from its tables.
      const after = new Keys(sql);
      after.configure([{ match: '*', rate: '10/s' }]);
      after.load();
      const view = listKeys(after, sql, T0 + 200, null, 10).find((k) => k.key === 'site')!;
      expect(view).toMatchObject({ pausedUntil: T0 + 2100, currentRate: 5, waiting: 2, rate: '10/s' });
      const turns = [...after.turns([''], T0 + 200)].map((x) => x.key);
      expect(turns).not.toContain('site');
      expect(turns).toContain('other');
      expect(after.retryMs([''], T0 + 200)).toBe(1900);
      expect([...after.turns([''], T0 + 2100)].map((x) => x.key)).toContain('site');
    }));
});
