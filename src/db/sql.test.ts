// The SQL wrapper's helpers: a LIMIT written into SQL text takes whole numbers only.
import { describe, expect, it } from 'vitest';
import { limitOf } from './sql.ts';

describe('limitOf', () => {
  it('writes a whole number as it is, and refuses anything else rather than put it in SQL text', () => {
    expect(limitOf(0)).toBe('0');
    expect(limitOf(100)).toBe('100');
    for (const bad of [1.5, -1, NaN, Infinity, 2 ** 53, '1; DROP TABLE tasks' as unknown as number]) expect(() => limitOf(bad)).toThrow(/whole number/);
  });
});
