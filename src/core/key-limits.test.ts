import { describe, expect, it } from 'vitest';
import { globMatch, matcher } from './key-limits.ts';

describe('keyLimits globs', () => {
  it('match as globs: * is any characters, everything else itself', () => {
    expect(globMatch('*', '')).toBe(true);
    expect(globMatch('*', 'api.example.com')).toBe(true);
    expect(globMatch('*.example.com', 'a.example.com')).toBe(true);
    expect(globMatch('*.example.com', 'example.com')).toBe(false);
    expect(globMatch('*.example.com', 'a.example.com.evil')).toBe(false);
    expect(globMatch('api.*.com', 'api.x.y.com')).toBe(true);
    expect(globMatch('a*b*c', 'abc')).toBe(true);
    expect(globMatch('a*b*c', 'aXbYbZc')).toBe(true);
    expect(globMatch('a*b*c', 'aXbYbZ')).toBe(false);
    expect(globMatch('**', 'x')).toBe(true);
    expect(globMatch('a.b', 'aXb')).toBe(false);
    expect(globMatch('127.0.0.1:*', '127.0.0.1:8080')).toBe(true);
  });

  it('answer a key a client made to defeat a backtracking matcher (a regular expression takes seconds on it)', () => {
    const key = 'a'.repeat(250);
    expect(globMatch('*a*a*a*a*a*a*a*a*a*a*a*a*b', key)).toBe(false);
    expect(globMatch('*a*a*a*a*a*a*a*a*a*a*a*a*a', key)).toBe(true);
    const limitOf = matcher([{ match: '*a*a*a*a*a*a*a*a*b', rate: '1/s' }, { match: '*', concurrency: 2 }]);
    expect(limitOf(key)).toEqual({ rate: null, perSecond: null, concurrency: 2 });
  });

  it('prefers an exact entry to any glob, then the first glob that matches', () => {
    const limitOf = matcher([{ match: '*.example.com', rate: '10/s' }, { match: 'api.example.com', rate: '2/s' }, { match: '*', rate: '5/s' }]);
    expect(limitOf('api.example.com')?.rate).toBe('2/s');
    expect(limitOf('www.example.com')?.rate).toBe('10/s');
    expect(limitOf('other.org')?.rate).toBe('5/s');
    expect(matcher(null)('x')).toBeNull();
  });
});
