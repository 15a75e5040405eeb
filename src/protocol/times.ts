// RFC 3339 times as the API takes them: only real calendar instants, read to the millisecond.
// Date.parse is not enough: V8 reads 2026-02-30 as March 2nd and 24:00 as the next midnight.

/**
 * RFC 3339's date-time: date, time, optional fraction, then Z or an offset. Lower-case t and z
 * and a space for the T are RFC 3339's own allowances (its section 5.6).
 */
export const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

export type Instant = { ok: true; ms: number } | { ok: false; problem: string };

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * The instant an RFC 3339 time names, in milliseconds since the epoch (a finer fraction is cut
 * off: the hub's clock counts milliseconds), or what is wrong with it, said for a person.
 */
export function readInstant(text: string): Instant {
  const m = RFC3339.exec(text);
  if (!m) return { ok: false, problem: 'must be an RFC 3339 time such as 2026-11-21T08:00:00Z' };
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const bad = (problem: string): Instant => ({ ok: false, problem: `is not a real date and time: ${problem}` });
  if (year === 0) return bad('there is no year 0000');
  if (month < 1 || month > 12) return bad(`months run 01-12, not ${m[2]}`);
  if (day < 1 || day > daysIn(year, month)) return bad(`${MONTHS[month - 1]} ${m[1]} has ${daysIn(year, month)} days, not ${m[3]}`);
  // RFC 3339 writes midnight as 00:00 of the next day, never 24:00; leap seconds (:60) are refused
  // because the hub's clock, like every JavaScript clock, has none.
  if (hour > 23) return bad(`hours run 00-23, not ${m[4]} (midnight is 00:00 of the next day)`);
  if (minute > 59) return bad(`minutes run 00-59, not ${m[5]}`);
  if (second > 59) return bad(`seconds run 00-59, not ${m[6]} (leap seconds are not taken)`);
  let offset = 0;
  if (m[8]) {
    const [oh, om] = [Number(m[9]), Number(m[10])];
    if (oh > 23 || om > 59) return bad(`an offset runs from -23:59 to +23:59, not ${m[8]}${m[9]}:${m[10]}`);
    offset = (m[8] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999.
  const at = new Date(0);
  at.setUTCFullYear(year, month - 1, day);
  at.setUTCHours(hour, minute, second, Number(((m[7] ?? '') + '000').slice(0, 3)));
  return { ok: true, ms: at.getTime() - offset };
}

/** The instant of a time a schema has already checked (a time() field), in epoch ms. */
export function instant(checked: string): number {
  const read = readInstant(checked);
  if (!read.ok) throw new Error(`unchecked time: ${read.problem}`);
  return read.ms;
}

/** A time as the API writes it: RFC 3339 in UTC, or null. */
export function iso(ms: number | null | undefined): string | null {
  return ms == null ? null : new Date(ms).toISOString();
}
