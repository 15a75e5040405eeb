// QueueClaims: how a worker serving several queues in priority order finds its next jobs without
// starving the later queues or leaving claimed jobs to expire.
import type { Job } from './client.ts';

/** Claims up to `max` jobs of one queue, holding the request up to `waitSeconds` when none is ready. */
export type ClaimOne = (queue: string, max: number, waitSeconds: number) => Promise<Job[]>;

/**
 * One round of claiming. With one queue: one long-poll claim, as a single-queue worker does. With
 * several: first an ordered pass that does not wait (the first queue with ready work fills the
 * free slots, then the next), so an earlier queue always wins while it has work. When every queue
 * was empty, a long-poll on each at once, each for all the free slots, so work arriving on any
 * queue starts at once. That can claim more than the free slots (two queues answering together);
 * every job goes to `deliver`, which starts what fits and releases the rest at once (the attempt
 * does not count and the job keeps its place). A long-poll still waiting when the round ends is
 * left to finish (its jobs are delivered when they come) and no second one is sent to its queue.
 */
export class QueueClaims {
  private readonly waiting = new Map<string, Promise<number>>();
  private readonly claim: ClaimOne;
  private readonly deliver: (jobs: Job[]) => void;

  constructor(claim: ClaimOne, deliver: (jobs: Job[]) => void) {
    this.claim = claim;
    this.deliver = deliver;
  }

  /** Claims for the free slots; resolves with how many jobs came and whether a claim came back full. */
  async round(queues: string[], free: () => number, waitSeconds: number, stop: AbortSignal): Promise<{ got: number; full: boolean }> {
    let got = 0;
    let full = false;
    const take = (jobs: Job[], asked: number) => {
      got += jobs.length;
      if (jobs.length >= asked) full = true;
      this.deliver(jobs);
      return jobs.length;
    };
    if (queues.length === 1) {
      const asked = Math.min(100, free()); // a claim's limit
      take(await this.claim(queues[0], asked, waitSeconds), asked);
      return { got, full };
    }
    for (const queue of queues) {
      const asked = Math.min(100, free()); // a claim's limit
      if (asked <= 0 || stop.aborted) break;
      if (this.waiting.has(queue)) continue;
      take(await this.claim(queue, asked, 0), asked);
    }
    if (got > 0 || free() <= 0 || stop.aborted) return { got, full };
    for (const queue of queues) {
      if (this.waiting.has(queue)) continue;
      const asked = Math.min(100, free()); // a claim's limit
      const poll = this.claim(queue, asked, waitSeconds)
        .then((jobs) => take(jobs, asked))
        .finally(() => this.waiting.delete(queue));
      poll.catch(() => {}); // reported through the race below, or by a later round
      this.waiting.set(queue, poll);
    }
    await firstWork([...this.waiting.values()], stop);
    return { got, full };
  }

  /** Resolves when no long-poll is in flight (their jobs delivered). */
  async settled(): Promise<void> {
    while (this.waiting.size) await Promise.allSettled([...this.waiting.values()]);
  }
}

/** Resolves when one poll brought work, when all ended empty, or on stop; rejects with the first poll's error. */
function firstWork(polls: Promise<number>[], stop: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let left = polls.length;
    if (left === 0 || stop.aborted) return resolve();
    stop.addEventListener('abort', () => resolve(), { once: true });
    for (const poll of polls) {
      poll.then((n) => {
        if (n > 0 || --left === 0) resolve();
      }, reject);
    }
  });
}
