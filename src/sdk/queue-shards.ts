// QueueShards: a pull worker's ways to one queue: a socket on each of its shards, so that every shard
// serves the worker's claims and takes its acks directly, without a hop through a sibling shard.
import { AckBatcher, type AckResults } from './ack-batcher.ts';
import { SocketLine, type Hello } from './socket.ts';
import type { Client, Job } from './client.ts';

export interface ClaimBody {
  worker: string;
  region: string | null;
  tasks: string[];
  max: number;
  waitSeconds: number;
}

export interface QueueShardsOptions {
  url: string;
  token: string;
  /** Use sockets; false: HTTP for everything, and one way to the queue (the hub claims across its shards). */
  socket: boolean;
  client: Client;
  log: (m: string) => void;
  /** Jobs a claim brought after its round had answered (a shard's waiting claim): started or handed back. */
  late: (jobs: Job[]) => void;
}

/** One shard's socket (null: HTTP) and the acks of the leases it gave. */
interface Shard {
  line: SocketLine | null;
  acks: AckBatcher;
}

/**
 * The first socket is opened on shard 0 (`?shard=0`, which every queue has); its hello says how many
 * shards the queue has, and a socket is opened on each of the others. A hub that sends no hello
 * (one that predates it) leaves the worker on that one socket, whose claims the hub serves from
 * every shard, as before.
 */
export class QueueShards {
  private readonly shards: Shard[] = [];
  /** Shards with a claim waiting for work on them, and the claim. */
  private readonly waiting = new Map<number, Promise<void>>();
  /** Which shard a claim tries first: shards take turns, so none waits behind another. */
  private turn = 0;
  /** The hub said how many shards the queue has (a hub that predates the hello never does). */
  private told = false;
  /** Claims sent before the hello came (or on a hub that sends none). */
  private claimed = 0;
  private readonly queue: string;
  private readonly o: QueueShardsOptions;

  constructor(queue: string, options: QueueShardsOptions) {
    this.queue = queue;
    this.o = options;
    this.add(0);
  }

  private add(i: number): void {
    const { url, token, client, log } = this.o;
    const path = `/v1/queues/${encodeURIComponent(this.queue)}/connect?shard=${i}`;
    const line = this.o.socket ? new SocketLine(url, token, path, log, (hello) => this.hello(hello)) : null;
    const acks = new AckBatcher(async (acks): Promise<AckResults> => {
      const socket = await line?.get();
      return socket ? (await socket.request<{ results: AckResults }>('ack', { acks })).results : client.ackMany(acks);
    }, log);
    this.shards[i] = { line, acks };
  }

  /** A shard's socket said how many shards the queue has: a socket for each not held yet. */
  private hello(hello: Hello): void {
    this.told = true;
    for (let i = this.shards.length; i < Math.min(hello.shards, 64); i++) this.add(i);
  }

  private async claimOn(i: number, body: ClaimBody): Promise<Job[]> {
    const socket = await this.shards[i].line?.get();
    return socket
      ? (await socket.request<{ jobs: Job[] }>('claim', body, body.waitSeconds * 1000)).jobs
      : this.o.client.claim(this.queue, body);
  }

  /**
   * Claims up to `max` jobs. Unsharded: one claim, as ever. Sharded: a pass that does not wait, the
   * free slots all asked of one shard (the next in turn), what it lacks of the next, so a busy queue
   * costs one claim per round as an unsharded one does. A shard found empty is not asked again each
   * round: a claim waits on it instead (for one job while others had work, for a share of the slots
   * when none had), so work arriving there starts at once, and its jobs go to `late`. When no shard
   * had work, the round ends when one of the waiting claims does. No second claim waits on a shard.
   */
  async claim(body: ClaimBody): Promise<Job[]> {
    const n = this.shards.length;
    // Until the hello came, the first socket may be one shard's of several: its claim does not wait
    // there while others may have work. The hello comes before any answer, so one such claim suffices.
    if (n === 1) return this.claimOn(0, this.told || this.claimed++ > 0 ? body : { ...body, waitSeconds: 0 });
    const first = this.turn++ % n;
    const open = Array.from({ length: n }, (_, k) => (first + k) % n).filter((i) => !this.waiting.has(i));
    const jobs: Job[] = [];
    const empty: number[] = [];
    for (const i of open) {
      if (jobs.length >= body.max) break;
      const got = await this.claimOn(i, { ...body, max: body.max - jobs.length, waitSeconds: 0 });
      if (got.length === 0) empty.push(i);
      jobs.push(...got);
    }
    if (body.waitSeconds <= 0) return jobs;
    const share = jobs.length ? 1 : Math.max(1, Math.floor(body.max / Math.max(1, empty.length)));
    for (const i of empty) this.waitOn(i, { ...body, max: share });
    if (jobs.length === 0 && this.waiting.size) await Promise.race(this.waiting.values());
    return jobs;
  }

  /** A claim that waits for work on shard `i`; its jobs go to `late`. */
  private waitOn(i: number, body: ClaimBody): void {
    const poll = this.claimOn(i, body).then(
      (jobs) => {
        if (jobs.length) this.o.late(jobs);
      },
      (err: Error) => this.o.log(`a claim waiting on shard ${i} of queue "${this.queue}" failed: ${err.message}`),
    ).finally(() => this.waiting.delete(i));
    this.waiting.set(i, poll);
  }

  /** Acks the job, with others of its shard, over the socket of the shard that gave its lease. */
  ack(job: Job, result: unknown): Promise<void> {
    return this.shards[this.shardOfLease(job.leaseId)].acks.add(job, result);
  }

  /** The shard a lease id names (`scrape~3.…`), if the worker holds a socket on it; else the first. */
  private shardOfLease(leaseId: string): number {
    const object = leaseId.slice(0, leaseId.indexOf('.'));
    const i = object === this.queue ? 0 : object.startsWith(`${this.queue}~`) ? Number(object.slice(this.queue.length + 1)) : 0;
    return Number.isInteger(i) && i < this.shards.length ? i : 0;
  }

  /** Resolves when no claim waits on any shard (their jobs delivered). */
  async settled(): Promise<void> {
    while (this.waiting.size) await Promise.allSettled([...this.waiting.values()]);
  }

  async flush(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.acks.flush()));
  }

  async close(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.line?.close()));
  }
}
