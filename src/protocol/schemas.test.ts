// The enqueue body's short way for plain bodies: what zod makes of them, and nothing else.
import { describe, expect, it } from 'vitest';
import { enqueueBody, plainEnqueueBody } from './schemas.ts';

describe('plainEnqueueBody', () => {
  const plain: Record<string, unknown>[] = [
    { task: 'a' },
    { task: 'send.mail:v2/x-y_z', args: [1, 'x', { y: [2, null] }] },
    { task: 'a', kwargs: { k: 1, nested: { deep: [true] } } },
    { task: 'a', args: [], kwargs: {}, queue: 'q-1_2', region: 'eu-west', priority: 9, maxRetries: 0, retryDelay: 0.5, timeout: 30 },
    { task: 'a', region: null, queue: 'default' },
    { task: 'a', maxRetries: 100, retryDelay: 0 },
  ];

  it('gives what zod gives, the first time and from the options it saw before, with each body\'s own arguments', () => {
    for (const body of plain) {
      expect(plainEnqueueBody(body)).toEqual(enqueueBody.parse(body));
      const again = { ...body, args: ['other', 2], kwargs: { other: true } };
      expect(plainEnqueueBody(again)).toEqual(enqueueBody.parse(again));
    }
  });

  it('leaves to zod every body with a field whose check is not plain, and every body zod refuses, however often it comes', () => {
    const others: unknown[] = [
      { task: 'a', eta: '2030-01-01T00:00:00Z' },
      { task: 'a', delay: 5 },
      { task: 'a', expires: 60 },
      { task: 'a', id: '01J0000000000000000000000A' },
      { task: 'a', idempotencyKey: 'k' },
      { task: 'a', headers: {} },
      { task: 'a', http: { url: 'https://example.com' } },
      { task: 'a', unknownField: 1 },
      { task: 'a', args: { not: 'an array' } },
      { task: 'a', kwargs: [1] },
      { task: 'a', kwargs: null },
      { task: 'a', queue: { name: 'q' } },
      { task: 'not a name!' },
      { task: 'a', queue: 'Upper' },
      { task: 'a', priority: 10 },
      { task: 'a', timeout: 0 },
      { task: 'a', retryDelay: null },
      { args: [] },
      null,
      'a',
      [{ task: 'a' }],
    ];
    for (const body of others) {
      expect(plainEnqueueBody(body)).toBeNull();
      expect(plainEnqueueBody(body)).toBeNull();
    }
  });
});
