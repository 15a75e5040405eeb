// Types flow from defineTask to enqueue and wait: `npm test` type-checks this file (tsc) before running it.
import { describe, expectTypeOf, it } from 'vitest';
import { chain, chord, createClient, defineTask, group, link, sig, type TaskHandle, type Workflow } from './index.ts';

const add = defineTask('math.add', async ([a, b]: [number, number]) => ({ sum: a + b }));
const client = createClient({ url: 'http://127.0.0.1:9', token: 'unused' });

describe('the typed client', () => {
  it('checks arguments against the task and types the result', () => {
    const good = () => client.enqueue(add, [1, 2], { priority: 9 });
    expectTypeOf(good).returns.resolves.toEqualTypeOf<TaskHandle<{ sum: number }>>();
    const waited = () => good().then((h) => h.wait());
    expectTypeOf(waited).returns.resolves.toEqualTypeOf<{ sum: number }>();

    // @ts-expect-error a string where the task takes a number
    void (() => client.enqueue(add, ['1', 2]));
    // @ts-expect-error the task takes two arguments
    void (() => client.enqueue(add, [1]));
    // @ts-expect-error priority is a number
    void (() => client.enqueue(add, [1, 2], { priority: 'high' }));
  });

  it('types a rateKey function by the task\'s args', () => {
    defineTask('key.typed', { rateKey: (url, depth) => (depth > 0 ? new URL(url).host : null) }, async ([url, depth]: [string, number]) => `${url}${depth}`);
    // @ts-expect-error the task's first argument is a string, not a number
    defineTask('key.wrong', { rateKey: (n: number) => String(n) }, async ([url]: [string]) => url);
    void (() => client.enqueue(add, [1, 2], { rateKey: 'api.example.com' }));
    // @ts-expect-error a call's rateKey is a string (or null), not a function
    void (() => client.enqueue(add, [1, 2], { rateKey: () => 'x' }));
  });

  it('gives the handler its context', () => {
    defineTask('ctx.check', async (_args: [], ctx) => {
      expectTypeOf(ctx.attempt).toEqualTypeOf<number>();
      expectTypeOf(ctx.signal).toEqualTypeOf<AbortSignal>();
      expectTypeOf(ctx.heartbeat).parameter(0).toEqualTypeOf<unknown>();
    });
  });
});

describe('typed workflows', () => {
  const count = defineTask('text.count', async ([text]: [string]) => text.length);
  const total = defineTask('math.total', async ([counts]: [number[]]) => counts.reduce((a, b) => a + b, 0));
  const label = defineTask('text.label', async ([n, unit]: [number, string]) => `${n} ${unit}`);

  it('carries each step\'s result type into the next', () => {
    expectTypeOf(chain(sig(count, ['abc']), link(label, ['chars']))).toEqualTypeOf<Workflow<string>>();
    expectTypeOf(chord([sig(count, ['a']), sig(count, ['bb'])], link(total, []))).toEqualTypeOf<Workflow<number>>();
    expectTypeOf(chain(group(sig(count, ['a']), sig(count, ['b'])), link(total, []), link(label, ['in all']))).toEqualTypeOf<Workflow<string>>();
    // @ts-expect-error label wants a number first, but count... then label gives a string
    void chain(sig(count, ['abc']), link(label, ['x']), link(label, ['y']));
    // @ts-expect-error the chord body must take the header's results as a list
    void chord([sig(count, ['a'])], link(label, ['x']));
  });
});
