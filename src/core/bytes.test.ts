// Capped body reads: what is read, what is left for the caller, and when discarding the rest gives up.
import { describe, expect, it } from 'vitest';
import { discardRest, readUpTo } from './bytes.ts';

/** A body of `chunks` chunks of `size` bytes, then an end (or, with `stall`, no end); it records a cancel. */
function body(chunks: number, size: number, stall = false) {
  const seen = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (seen.pulled < chunks) controller.enqueue(new Uint8Array(size).fill(seen.pulled++ % 256));
      else if (stall) return new Promise(() => {});
      else controller.close();
    },
    cancel() {
      seen.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, seen };
}

describe('readUpTo', () => {
  it('gives the whole body when it fits', async () => {
    const { stream } = body(3, 10);
    const bytes = await readUpTo(stream, 30);
    expect(bytes?.byteLength).toBe(30);
    expect([bytes![0], bytes![10], bytes![29]]).toEqual([0, 1, 2]);
  });

  it('stops past the cap and leaves the rest to the caller, unread and not cancelled', async () => {
    const { stream, seen } = body(10, 10);
    expect(await readUpTo(stream, 25)).toBeNull();
    expect(seen.pulled).toBe(3);
    expect(seen.cancelled).toBe(false);
    expect(await discardRest(stream, 1000, 1000)).toBe(true);
    expect(seen.pulled).toBe(10);
  });
});

describe('discardRest', () => {
  it('reads a body to its end', async () => {
    const { stream, seen } = body(5, 100);
    expect(await discardRest(stream, 500, 1000)).toBe(true);
    expect(seen).toEqual({ pulled: 5, cancelled: false });
    expect(await discardRest(null, 0, 0)).toBe(true);
  });

  it('gives up past its byte bound, and cancels the body', async () => {
    const { stream, seen } = body(50, 100);
    expect(await discardRest(stream, 1000, 1000)).toBe(false);
    expect(seen.pulled).toBe(11);
    expect(seen.cancelled).toBe(true);
  });

  it('gives up on a body that stops coming, after its time bound', async () => {
    const { stream, seen } = body(2, 100, true);
    const started = Date.now();
    expect(await discardRest(stream, 1000, 200)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(seen.cancelled).toBe(true);
  });

  it('leaves a body alone that something else is reading', async () => {
    const { stream, seen } = body(2, 100);
    const reader = stream.getReader();
    expect(await discardRest(stream, 1000, 1000)).toBe(false);
    expect(seen.cancelled).toBe(false);
    reader.releaseLock();
  });
});
