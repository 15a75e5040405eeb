// PullWorker: a long-running Node consumer of one queue over HTTP, for any region (China, a data centre of your own).
import { createClient, type Client, type Job } from './client.ts';
import { HubError } from './errors.ts';
import { executeJob, type JobTransport } from './execute.ts';
import { SocketLine } from './socket.ts';
import type { AnyTask, TaskDefinition } from './task.ts';

export interface PullWorkerOptions {
  url: string;
  token: string;
  queue: string;
  tasks: AnyTask[];
  /** Claim work of this region (and untagged work); null: untagged work only. */
  region?: string | null;
  /** Jobs run at once. Default 4. */
  concurrency?: number;
  /** The name recorded on tasks it runs. Default: queue-region-pid. */
  name?: string;
  /** On stop, how long running jobs may take to finish before they are handed back. Default 30. */
  graceSeconds?: number;
  /** How long one claim waits for work; a stop waits for the claim in flight. Default 5. */
  waitSeconds?: number;
  /**
   * Claim and ack over one WebSocket to the hub rather than an HTTP request each. Default
   * true; where the hub or a proxy refuses the socket, the worker uses HTTP, trying the
   * socket again every 30 s. Heartbeats, fails and releases always go over HTTP.
   */
  socket?: boolean;
  log?: (message: string) => void;
  /** Each job's life, one event at a time: received, then succeeded, failed or abandoned. */
  onEvent?: (event: JobEvent) => void;
  fetch?: typeof fetch;
}

/** One step of a job on this worker, as `drover worker` logs it. */
export interface JobEvent {
  event: 'received' | 'succeeded' | 'failed' | 'abandoned';
  task: string;
  id: string;
  /** This attempt, from 1. */
  attempt: number;
  /** Attempts the task may have in all: maxRetries + 1. */
  attempts: number;
  /** Seconds the handler ran (all but `received`). */
  runtime?: number;
  /** `failed`: the error reported, and whether the hub was asked to retry and attempts remain. */
  error?: { type: string; message: string };
  retrying?: boolean;
}

type AckResults = Awaited<ReturnType<Client['ackMany']>>;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** Collects acks for a few milliseconds and sends them in one call. */
class AckBatcher {
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

/** This process's id where there is one (Node, Bun, Deno's Node globals), else a random tag. */
function instance(): string {
  const pid = (globalThis as { process?: { pid?: number } }).process?.pid;
  return pid === undefined ? Math.random().toString(36).slice(2, 8) : String(pid);
}

/**
 * Claims jobs of one queue, runs them with bounded concurrency, heartbeats long ones,
 * acks in batches, and drains cleanly on stop().
 *
 * @example
 * const worker = new PullWorker({ url, token, queue: 'scrape', region: 'cn', tasks: [fetchPage], concurrency: 8 });
 * process.on('SIGTERM', () => worker.stop().then(() => process.exit(0)));
 * await worker.run();
 */
export class PullWorker {
  readonly name: string;
  private readonly options: PullWorkerOptions;
  private readonly client: Client;
  private readonly registry: Map<string, TaskDefinition>;
  /** Jobs claimed and not yet reported to the hub, by lease (two attempts of one task may overlap): running, or finished with their ack or fail on its way. */
  private readonly running = new Map<string, { job: Job; done: Promise<unknown> }>();
  /**
   * Of those, the jobs whose handler has finished. Their slot is free at once: the next claim
   * goes out while their acks are still on the way, instead of after the hub confirmed them.
   */
  private readonly reporting = new Set<string>();
  private readonly acks: AckBatcher;
  private readonly stopping = new AbortController();
  /** What each failing attempt reported, by lease (a retry of the task may run before the report is done), until its `failed` event is told. */
  private readonly failures = new Map<string, { error: { type: string; message: string }; retrying: boolean }>();
  /** The hub refused this worker's token (401 or 403): asking again would be refused again. */
  private refused: HubError | null = null;
  private slotFreed: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  /** Claims and acks go over this socket while the hub takes it (null: HTTP only). */
  private readonly line: SocketLine | null;
  private readonly log: (m: string) => void;
  /** Jobs this worker finished, by outcome. */
  readonly counts = { succeeded: 0, failed: 0, abandoned: 0, released: 0 };

  constructor(options: PullWorkerOptions) {
    this.options = options;
    this.name = options.name ?? `${options.queue}-${options.region ?? 'any'}-${instance()}`;
    this.client = createClient({ url: options.url, token: options.token, fetch: options.fetch });
    this.registry = new Map(options.tasks.map((t) => [t.name, t]));
    this.log = options.log ?? ((m) => console.error(`[drover worker ${this.name}] ${m}`));
    this.line = options.socket === false ? null : new SocketLine(options.url, options.token, `/v1/queues/${encodeURIComponent(options.queue)}/connect`, this.log);
    this.acks = new AckBatcher(async (acks) => {
      const socket = await this.line?.get();
      return socket ? (await socket.request<{ results: AckResults }>('ack', { acks })).results : this.client.ackMany(acks);
    }, this.log);
  }

  private transport(): JobTransport {
    const client = this.client;
    return {
      heartbeat: async (job, progress) => {
        try {
          const r = await client.heartbeat(job.leaseId, progress === undefined ? {} : { progress });
          return { revoked: r.revoked, lost: false };
        } catch (err) {
          if (err instanceof HubError && err.code === 'lease_lost') return { revoked: false, lost: true };
          throw err;
        }
      },
      ack: (job, result) => {
        this.ran(job);
        return this.acks.add(job, result);
      },
      fail: async (job, error, retry, delaySeconds) => {
        this.ran(job);
        this.failures.set(job.leaseId, { error: { type: error.type, message: error.message }, retrying: retry && job.attempt <= job.maxRetries });
        for (let attempt = 1; ; attempt++) {
          try {
            await client.fail(job.leaseId, error, { retry, delaySeconds });
            return;
          } catch (err) {
            if ((err instanceof HubError && err.status < 500) || attempt >= 6) return;
            await sleep(250 * 2 ** attempt);
          }
        }
      },
    };
  }

  /**
   * Runs until stop(); resolves when drained. Rejects with the hub's HubError (status 401 or 403)
   * when the hub refuses the worker's token: it stops first, finishing what it runs.
   */
  run(): Promise<void> {
    this.loop ??= this.claimLoop();
    return this.loop.then(async () => {
      if (!this.refused) return;
      await this.stop();
      throw this.refused;
    });
  }

  private async claimLoop(): Promise<void> {
    const { queue, region = null } = this.options;
    const concurrency = this.options.concurrency ?? 4;
    let backoff = 0;
    this.log(`working queue "${queue}"${region ? ` in region ${region}` : ''} with ${concurrency} slot(s); tasks: ${[...this.registry.keys()].join(', ')}`);
    // A busy worker claims in batches: it gives all its slots (at most 100, a claim's limit)
    // up to 10 ms to free, so fast tasks cost one large claim per round instead of one claim
    // per job, while a slot freed beside long-running tasks is still filled 10 ms later. Busy:
    // its last claim found at least half a batch. Otherwise a freed slot claims at once, so a
    // lightly loaded queue does not wait for company that is not coming.
    const batch = Math.min(100, concurrency);
    // Free slots: not running a handler, and no more than `concurrency` jobs awaiting their
    // report besides (a hub slow to answer acks slows claims rather than piling them up).
    const free = () => Math.min(concurrency - (this.running.size - this.reporting.size), 2 * concurrency - this.running.size);
    let busy = false;
    while (!this.stopping.signal.aborted) {
      if (free() <= 0) {
        await new Promise<void>((r) => (this.slotFreed = r));
        continue;
      }
      const gather = Date.now() + 10;
      while (busy && free() < batch && this.running.size > this.reporting.size && Date.now() < gather) {
        await Promise.race([new Promise<void>((r) => (this.slotFreed = r)), sleep(gather - Date.now())]);
      }
      let jobs: Job[];
      try {
        const claim = {
          worker: this.name,
          region,
          tasks: [...this.registry.keys()],
          max: Math.min(100, free()),
          waitSeconds: this.options.waitSeconds ?? 5,
        };
        const socket = await this.line?.get();
        jobs = socket
          ? (await socket.request<{ jobs: Job[] }>('claim', claim, claim.waitSeconds * 1000)).jobs
          : await this.client.claim(queue, claim);
        busy = jobs.length >= Math.ceil(batch / 2);
        if (backoff) this.log('the hub answers again; claiming');
        backoff = 0;
      } catch (err) {
        if (err instanceof HubError && (err.status === 401 || err.status === 403)) {
          const needs = `consume${region ? `@${region}` : ''}, consume or admin`;
          this.log(`the hub refuses this worker's token (${err.status} ${err.code}: ${err.message}); claiming from queue "${queue}"${region ? ` in region ${region}` : ''} needs a token with the scope ${needs}`);
          this.refused = err;
          break;
        }
        backoff = Math.min(30, backoff ? backoff * 2 : 0.5);
        const why = err instanceof HubError ? `${err.status} ${err.code}: ${err.message}` : `unreachable (${(err as Error).cause ?? (err as Error).message})`;
        this.log(`claim failed, hub ${why}; retrying in ${backoff}s`);
        await sleep(backoff * 1000, this.stopping.signal);
        continue;
      }
      for (const job of jobs) {
        if (this.stopping.signal.aborted) void this.handBack(job);
        else this.start(job);
      }
    }
  }

  private start(job: Job): void {
    const began = performance.now();
    const told = { task: job.task, id: job.id, attempt: job.attempt, attempts: job.maxRetries + 1 };
    this.options.onEvent?.({ event: 'received', ...told });
    const done = executeJob(job, this.registry.get(job.task), this.transport(), this.name)
      .then((outcome) => {
        this.counts[outcome]++;
        const failure = this.failures.get(job.leaseId);
        this.failures.delete(job.leaseId);
        this.options.onEvent?.({ event: outcome, ...told, runtime: (performance.now() - began) / 1000, ...(outcome === 'failed' && failure) });
      })
      .catch((err) => this.log(`job ${job.id} could not be reported: ${(err as Error).message}`))
      .finally(() => {
        this.running.delete(job.leaseId);
        this.reporting.delete(job.leaseId);
        this.wake();
      });
    this.running.set(job.leaseId, { job, done });
  }

  /** The job's handler has finished: its slot is free, though its ack or fail is still on the way. */
  private ran(job: Job): void {
    this.reporting.add(job.leaseId);
    this.wake();
  }

  private wake(): void {
    this.slotFreed?.();
    this.slotFreed = null;
  }

  private async handBack(job: Job): Promise<void> {
    try {
      await this.client.release(job.leaseId);
      this.counts.released++;
    } catch (err) {
      this.log(`could not hand back ${job.id} (${(err as Error).message}); its lease will expire`);
    }
  }

  /**
   * Stops claiming, lets running jobs finish within the grace period, hands back the
   * rest, and sends the last acks.
   */
  async stop(): Promise<void> {
    if (this.stopping.signal.aborted) return this.loop ?? undefined;
    this.log(`stopping: ${this.running.size - this.reporting.size} job(s) running`);
    this.stopping.abort();
    this.wake();
    const grace = (this.options.graceSeconds ?? 30) * 1000;
    const all = Promise.all([...this.running.values()].map((r) => r.done));
    const timedOut = await Promise.race([all.then(() => false), sleep(grace).then(() => true)]);
    if (timedOut) {
      // A job whose handler finished is being reported; only the ones still running go back.
      const unfinished = [...this.running.values()].filter((r) => !this.reporting.has(r.job.leaseId));
      this.log(`grace period over: handing back ${unfinished.length} unfinished job(s)`);
      await Promise.all(unfinished.map((r) => this.handBack(r.job)));
    }
    await this.loop;
    await this.acks.flush();
    await this.line?.close();
    this.log(`stopped: ${JSON.stringify(this.counts)}`);
  }
}
