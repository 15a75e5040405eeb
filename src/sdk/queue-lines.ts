// QueueLines: a pull worker's way to each of its queues: a socket on each of the queue's shards where the
// hub takes them (else HTTP) for claims and acks, and acks batched per shard, since a shard's socket acks its own leases.
import { QueueShards, type ClaimBody } from './queue-shards.ts';
import type { Client, Job } from './client.ts';

export type { ClaimBody } from './queue-shards.ts';

export class QueueLines {
  private readonly lines = new Map<string, QueueShards>();
  private readonly o: { url: string; token: string; socket: boolean; client: Client; log: (m: string) => void; late: (jobs: Job[]) => void };

  constructor(options: { url: string; token: string; socket: boolean; client: Client; log: (m: string) => void; late: (jobs: Job[]) => void }) {
    this.o = options;
  }

  private of(queue: string): QueueShards {
    let shards = this.lines.get(queue);
    if (!shards) this.lines.set(queue, (shards = new QueueShards(queue, this.o)));
    return shards;
  }

  claim(queue: string, claim: ClaimBody): Promise<Job[]> {
    return this.of(queue).claim(claim);
  }

  /** Acks the job, with others of its shard, in one call a few milliseconds later. */
  ack(job: Job, result: unknown): Promise<void> {
    return this.of(job.queue).ack(job, result);
  }

  /** Resolves when no claim waits on any shard of any queue (their jobs delivered). */
  async settled(): Promise<void> {
    await Promise.all([...this.lines.values()].map((l) => l.settled()));
  }

  /** Sends every ack still held. */
  async flush(): Promise<void> {
    await Promise.all([...this.lines.values()].map((l) => l.flush()));
  }

  /** Closes the sockets: a socket's close ends its waiting claims without leasing anything more. */
  async close(): Promise<void> {
    await Promise.all([...this.lines.values()].map((l) => l.close()));
  }
}
