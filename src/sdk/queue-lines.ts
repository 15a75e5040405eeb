// QueueLines: a pull worker's way to each of its queues: a socket where the hub takes one (else
// HTTP) for claims and acks, and acks batched per queue, since a queue's socket acks its own leases.
import { AckBatcher, type AckResults } from './ack-batcher.ts';
import { SocketLine } from './socket.ts';
import type { Client, Job } from './client.ts';

export interface ClaimBody {
  worker: string;
  region: string | null;
  tasks: string[];
  max: number;
  waitSeconds: number;
}

export class QueueLines {
  private readonly lines = new Map<string, { line: SocketLine | null; acks: AckBatcher }>();
  private readonly o: { url: string; token: string; socket: boolean; client: Client; log: (m: string) => void };

  constructor(options: { url: string; token: string; socket: boolean; client: Client; log: (m: string) => void }) {
    this.o = options;
  }

  private of(queue: string) {
    let entry = this.lines.get(queue);
    if (!entry) {
      const { url, token, client, log } = this.o;
      const line = this.o.socket ? new SocketLine(url, token, `/v1/queues/${encodeURIComponent(queue)}/connect`, log) : null;
      const acks = new AckBatcher(async (acks): Promise<AckResults> => {
        const socket = await line?.get();
        return socket ? (await socket.request<{ results: AckResults }>('ack', { acks })).results : client.ackMany(acks);
      }, log);
      this.lines.set(queue, (entry = { line, acks }));
    }
    return entry;
  }

  async claim(queue: string, claim: ClaimBody): Promise<Job[]> {
    const socket = await this.of(queue).line?.get();
    return socket
      ? (await socket.request<{ jobs: Job[] }>('claim', claim, claim.waitSeconds * 1000)).jobs
      : this.o.client.claim(queue, claim);
  }

  /** Acks the job, with others of its queue, in one call a few milliseconds later. */
  ack(job: Job, result: unknown): Promise<void> {
    return this.of(job.queue).acks.add(job, result);
  }

  /** Sends every ack still held. */
  async flush(): Promise<void> {
    await Promise.all([...this.lines.values()].map((l) => l.acks.flush()));
  }

  /** Closes the sockets: a socket's close ends its waiting claims without leasing anything more. */
  async close(): Promise<void> {
    await Promise.all([...this.lines.values()].map((l) => l.line?.close()));
  }
}
