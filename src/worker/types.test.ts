// Types flow from defineTask to enqueue and wait: `npm test` type-checks this file (tsc) before running it.
import { describe, expectTypeOf, it } from 'vitest';
import { createClient, defineTask, type TaskHandle } from './index.ts';

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

  it('gives the handler its context', () => {
    defineTask('ctx.check', async (_args: [], ctx) => {
      expectTypeOf(ctx.attempt).toEqualTypeOf<number>();
      expectTypeOf(ctx.signal).toEqualTypeOf<AbortSignal>();
      expectTypeOf(ctx.heartbeat).parameter(0).toEqualTypeOf<unknown>();
    });
  });
});
