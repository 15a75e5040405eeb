// QueueClaims: the order queues are asked in, and what happens to jobs beyond the free slots.
import { describe, expect, it } from 'vitest';
import { QueueClaims } from './claims.ts';
import type { Job } from './client.ts';

const job = (queue: string, n: number) => ({ id: `${queue}-${n}`, queue }) as unknown as Job;

/** A stand-in hub: ready jobs per queue; a waiting claim waits until `arrive` or its wait ends (here: until the test ends it). */
function hub(ready: Record<string, number>) {
  const calls: string[] = [];
  const waiting: { queue: string; max: number; answer: (jobs: Job[]) => void }[] = [];
  const claim = async (queue: string, max: number, wait: number): Promise<Job[]> => {
    calls.push(`${queue}:${max}:${wait}`);
    const n = Math.min(max, ready[queue] ?? 0);
    ready[queue] = (ready[queue] ?? 0) - n;
    if (n > 0 || wait === 0) return Array.from({ length: n }, (_, i) => job(queue, i));
    return new Promise((answer) => waiting.push({ queue, max, answer }));
  };
  return { calls, waiting, claim };
}

describe('QueueClaims', () => {
  it('fills free slots from the first queue with ready work, then the next, without waiting', async () => {
    const h = hub({ a: 1, b: 5, c: 5 });
    const got: Job[] = [];
    let free = 4;
    const claims = new QueueClaims(h.claim, (jobs) => {
      got.push(...jobs);
      free -= jobs.length;
    });
    expect(await claims.round(['a', 'b', 'c'], () => free, 5, new AbortController().signal)).toEqual({ got: 4, full: true });
    expect(h.calls).toEqual(['a:4:0', 'b:3:0']);
    expect(got.map((j) => j.id)).toEqual(['a-0', 'b-0', 'b-1', 'b-2']);
  });

  it('with every queue empty, waits on all at once and delivers what comes, even beyond the free slots', async () => {
    const h = hub({});
    const delivered: string[][] = [];
    const claims = new QueueClaims(h.claim, (jobs) => jobs.length && delivered.push(jobs.map((j) => j.id)));
    const round = claims.round(['a', 'b'], () => 1, 5, new AbortController().signal);
    await new Promise((r) => setTimeout(r, 0));
    expect(h.calls).toEqual(['a:1:0', 'b:1:0', 'a:1:5', 'b:1:5']);
    h.waiting.find((w) => w.queue === 'b')!.answer([job('b', 0)]);
    expect(await round).toEqual({ got: 1, full: true });
    // a's long-poll is still out: the next round sends no second one to a.
    const next = claims.round(['a', 'b'], () => 1, 5, new AbortController().signal);
    await new Promise((r) => setTimeout(r, 0));
    expect(h.calls.slice(4)).toEqual(['b:1:0', 'b:1:5']);
    h.waiting.find((w) => w.queue === 'a')!.answer([job('a', 0)]);
    await next;
    // Both came: the worker's deliver() gets them all, and hands back what does not fit.
    expect(delivered).toEqual([['b-0'], ['a-0']]);
    for (const w of h.waiting) w.answer([]); // the last one still out ends empty
    await claims.settled();
  });
});
