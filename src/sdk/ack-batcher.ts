// AckBatcher: a pull worker's acks, collected for a few milliseconds and sent in one call.
import { HubError } from './errors.ts';
import type { Client, Job } from './client.ts';

export type AckResults = Awaited<ReturnType<Client['ackMany']>>;

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

export class AckBatcher {
  private pending: { job: Job; result: unknown; done: () => void }[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly send: (acks: { leaseId: string; result: unknown }[]) => Promise<AckResults>;
  private readonly log: (m: string) => void;

  constructor(send: (acks: { leaseId: string; result: unknown }[]) => Promise<AckResults>, log: (m: string) => void) {
    this.send = send;
    this.log = log;
  }

  add(job: Job, result: unknown): Promise<void> {
    return new Promise((done) => {
      this.pending.push({ job, result, done });
      if (this.pending.length >= 100) void this.flush(); // a batch ack's limit
      else this.timer ??= setTimeout(() => void this.flush(), 5);
    });
  }

  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending.splice(0, 100);
    if (batch.length === 0) return;
    for (let attempt = 1; ; attempt++) {
      try {
        const results = await this.send(batch.map((b) => ({ leaseId: b.job.leaseId, result: b.result })));
        for (const r of results) if ('error' in r) this.log(`ack of ${r.leaseId} refused: ${r.error.message}`);
        break;
      } catch (err) {
        if (err instanceof HubError && err.status < 500) {
          this.log(`acks refused: ${err.message}`);
          break;
        }
        if (attempt >= 6) {
          this.log(`could not ack ${batch.length} job(s): ${(err as Error).message}; their leases will expire and they will run again`);
          break;
        }
        await sleep(250 * 2 ** attempt);
      }
    }
    for (const b of batch) b.done();
    if (this.pending.length) await this.flush();
  }
}
