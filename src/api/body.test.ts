// The one check every parsed body and socket message passes: nesting depth, and numbers that overflowed to Infinity.
import { describe, expect, it } from 'vitest';
import { checkJson, MAX_DEPTH } from '../protocol/parse.ts';
import { DroverError } from '../protocol/errors.ts';

function refusal(text: string): DroverError | null {
  try {
    checkJson(JSON.parse(text));
    return null;
  } catch (err) {
    return err as DroverError;
  }
}

function nested(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

describe('checkJson', () => {
  it('refuses a number JSON.parse read as Infinity, naming where it sits', () => {
    const cases: [string, string][] = [
      ['{"task": "t", "args": [1, 1e400]}', 'args[1]'],
      ['{"kwargs": {"x": {"y": [0, 0, -1e400]}}}', 'kwargs.x.y[2]'],
      ['{"tasks": [{}, {"delay": 1e999}]}', 'tasks[1].delay'],
      [`{"result": ${'9'.repeat(400)}}`, 'result'],
      ['1e400', ''],
    ];
    for (const [text, path] of cases) {
      const err = refusal(text);
      expect(err?.code, text).toBe('invalid_request');
      expect(err?.details).toEqual({ path });
      expect(err?.message).toMatch(/must be a number between -1\.8e308 and 1\.8e308/);
      expect(err?.message.startsWith(path || 'the body')).toBe(true);
    }
  });

  it('takes the largest and smallest doubles, zero, and numbers that underflow', () => {
    for (const text of ['[1.7976931348623157e308, -1.7976931348623157e308, 5e-324, -0, 1e-400, 9007199254740993]', '{"a": null, "b": "1e400"}']) {
      expect(refusal(text), text).toBeNull();
    }
  });

  it(`refuses nesting past ${MAX_DEPTH} levels and takes ${MAX_DEPTH}`, () => {
    expect(refusal(nested(MAX_DEPTH))).toBeNull();
    expect(refusal(nested(MAX_DEPTH + 1))?.message).toMatch(/nests deeper than 64 levels/);
    expect(refusal(`{"a": ${nested(10_000)}}`)?.message).toMatch(/nests deeper/);
  });

  it('walks a wide body of 200,000 numbers and finds the one bad number at its end', () => {
    const tasks = Array.from({ length: 1000 }, (_, i) => ({ task: 't', args: Array.from({ length: 200 }, (_, j) => i * j + 0.5), kwargs: { s: 'x' } }));
    expect(refusal(JSON.stringify({ tasks }))).toBeNull();
    const text = JSON.stringify({ tasks }).replace(/\]\}$/, ', {"args": [-1e400]}]}');
    expect(refusal(text)?.details).toEqual({ path: 'tasks[1000].args[0]' });
  });
});
