// Slots of cron and `every` schedules, daylight saving in Europe/Paris, and the catch-up policies.
import { describe, expect, it } from 'vitest';
import { dueSlots, latestSlot, MAX_CATCH_UP, nextSlot, type Timing } from './slots.ts';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const cron = (expr: string, over: Partial<Timing> = {}): Timing => ({ cron: expr, every: null, timezone: 'UTC', anchorAt: at('2027-01-01T00:00:00Z'), catchUp: 'latest', ...over });

describe('cron slots', () => {
  it('follow local time across the spring change in Europe/Paris', () => {
    const t = cron('0 9 * * *', { timezone: 'Europe/Paris' });
    expect(iso(nextSlot(t, at('2027-03-26T12:00:00Z')))).toBe('2027-03-27T08:00:00.000Z'); // 09:00 CET
    expect(iso(nextSlot(t, at('2027-03-27T08:00:00Z')))).toBe('2027-03-28T07:00:00.000Z'); // 09:00 CEST
    expect(iso(latestSlot(t, at('2027-03-28T06:59:59Z')))).toBe('2027-03-27T08:00:00.000Z');
  });

  it('run a time that the spring change skips at the first valid time after it, once', () => {
    const t = cron('30 2 * * *', { timezone: 'Europe/Paris' });
    expect(iso(nextSlot(t, at('2027-03-27T12:00:00Z')))).toBe('2027-03-28T01:00:00.000Z'); // 03:00 CEST
    expect(iso(nextSlot(t, at('2027-03-28T01:00:00Z')))).toBe('2027-03-29T00:30:00.000Z');
  });

  it('run a time that the autumn change repeats only once', () => {
    const t = cron('30 2 * * *', { timezone: 'Europe/Paris' });
    const first = nextSlot(t, at('2027-10-30T12:00:00Z'))!;
    expect(iso(first)).toBe('2027-10-31T00:30:00.000Z');
    expect(iso(nextSlot(t, first))).toBe('2027-11-01T01:30:00.000Z');
  });

  it('come strictly after the anchor', () => {
    const t = cron('0 * * * *', { anchorAt: at('2027-01-01T10:00:00Z') });
    expect(latestSlot(t, at('2027-01-01T10:00:00Z'))).toBeNull();
    expect(iso(latestSlot(t, at('2027-01-01T10:59:00Z')))).toBeNull();
    expect(iso(latestSlot(t, at('2027-01-01T11:00:00Z')))).toBe('2027-01-01T11:00:00.000Z');
  });
});

describe('every', () => {
  it('counts whole periods from the anchor, below a minute too', () => {
    const t: Timing = { cron: null, every: 2, timezone: 'UTC', anchorAt: 1_000_000, catchUp: 'latest' };
    expect(nextSlot(t, 1_000_000)).toBe(1_002_000);
    expect(nextSlot(t, 1_003_999)).toBe(1_004_000);
    expect(latestSlot(t, 1_001_999)).toBeNull();
    expect(latestSlot(t, 1_005_000)).toBe(1_004_000);
  });
});

describe('catch-up', () => {
  const hourly = (catchUp: Timing['catchUp']) => cron('0 * * * *', { catchUp });
  const last = at('2027-01-10T10:00:00Z');

  it('runs nothing twice for the same slot', () => {
    expect(dueSlots(hourly('latest'), last, at('2027-01-10T10:00:30Z'))).toEqual([]);
  });

  it('runs only the latest missed slot by default', () => {
    expect(dueSlots(hourly('latest'), last, at('2027-01-10T13:20:00Z')).map(iso)).toEqual(['2027-01-10T13:00:00.000Z']);
  });

  it('runs every missed slot with "all", a bounded number at a time', () => {
    expect(dueSlots(hourly('all'), last, at('2027-01-10T13:20:00Z')).map(iso)).toEqual([
      '2027-01-10T11:00:00.000Z', '2027-01-10T12:00:00.000Z', '2027-01-10T13:00:00.000Z',
    ]);
    expect(dueSlots(hourly('all'), last, at('2027-03-10T00:00:00Z'))).toHaveLength(MAX_CATCH_UP);
  });

  it('skips missed slots with "none", but runs one that is on time', () => {
    expect(dueSlots(hourly('none'), last, at('2027-01-10T13:20:00Z'))).toEqual([]);
    expect(dueSlots(hourly('none'), last, at('2027-01-10T13:00:40Z')).map(iso)).toEqual(['2027-01-10T13:00:00.000Z']);
  });
});
