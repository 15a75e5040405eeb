// The RFC 3339 reader: real instants to the millisecond, and a reason for everything else.
import { describe, expect, it } from 'vitest';
import { readInstant } from './times.ts';

const ms = (text: string) => {
  const read = readInstant(text);
  if (!read.ok) throw new Error(`${text}: ${read.problem}`);
  return read.ms;
};
const problem = (text: string) => {
  const read = readInstant(text);
  return read.ok ? null : read.problem;
};

describe('readInstant', () => {
  it('reads UTC times and offsets to the same instant Date.parse gives for real dates', () => {
    for (const t of ['2026-11-21T08:00:00Z', '2026-11-21T08:00:00.5Z', '2026-11-21T09:30:00+01:30', '2026-11-21T03:00:00-05:00', '1970-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z']) {
      expect(ms(t), t).toBe(Date.parse(t));
    }
    expect(ms('2026-11-21t08:00:00z')).toBe(Date.parse('2026-11-21T08:00:00Z'));
    expect(ms('2026-11-21 08:00:00Z')).toBe(Date.parse('2026-11-21T08:00:00Z'));
    expect(ms('2026-11-21T08:00:00-00:00')).toBe(Date.parse('2026-11-21T08:00:00Z'));
  });

  it('keeps milliseconds and cuts off finer fractions', () => {
    expect(ms('2026-01-01T00:00:00.123456789Z') - ms('2026-01-01T00:00:00Z')).toBe(123);
    expect(ms('2026-01-01T00:00:00.1Z') - ms('2026-01-01T00:00:00Z')).toBe(100);
  });

  it('takes February 29th in leap years only', () => {
    expect(ms('2024-02-29T00:00:00Z')).toBe(Date.parse('2024-02-29T00:00:00Z'));
    expect(ms('2000-02-29T00:00:00Z')).toBe(Date.parse('2000-02-29T00:00:00Z'));
    expect(problem('2026-02-29T00:00:00Z')).toMatch(/February 2026 has 28 days/);
    expect(problem('1900-02-29T00:00:00Z')).toMatch(/February 1900 has 28 days/);
  });

  it('reads years below 100 as themselves, not as 19xx', () => {
    expect(new Date(ms('0001-01-01T00:00:00Z')).getUTCFullYear()).toBe(1);
    expect(new Date(ms('0099-06-01T00:00:00Z')).getUTCFullYear()).toBe(99);
  });

  it('refuses dates and times that do not exist, with the reason', () => {
    const cases: [string, RegExp][] = [
      ['2026-02-30T00:00:00Z', /February 2026 has 28 days, not 30/],
      ['2026-04-31T00:00:00Z', /April 2026 has 30 days/],
      ['2026-01-00T00:00:00Z', /January 2026 has 31 days, not 00/],
      ['2026-13-01T00:00:00Z', /months run 01-12, not 13/],
      ['2026-00-10T00:00:00Z', /months run 01-12, not 00/],
      ['0000-01-01T00:00:00Z', /no year 0000/],
      ['2026-01-01T24:00:00Z', /hours run 00-23/],
      ['2026-01-01T23:60:00Z', /minutes run 00-59/],
      ['2026-06-30T23:59:60Z', /leap seconds/],
      ['2026-01-01T00:00:00+24:00', /offset/],
      ['2026-01-01T00:00:00+01:60', /offset/],
    ];
    for (const [text, reason] of cases) {
      expect(problem(text), text).toMatch(/^is not a real date and time: /);
      expect(problem(text), text).toMatch(reason);
    }
  });

  it('refuses what is not RFC 3339 at all', () => {
    for (const text of ['tomorrow', '2026-01-01', '2026-01-01T00:00:00', '2026-1-01T00:00:00Z', '+002026-01-01T00:00:00Z', '2026-01-01T00:00Z', '2026-01-01T00:00:00+0100', ' 2026-01-01T00:00:00Z', '2026-01-01T00:00:00.Z', '１２３４-01-01T00:00:00Z']) {
      expect(problem(text), text).toMatch(/RFC 3339/);
    }
  });
});
