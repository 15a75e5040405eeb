// PullWorker: a long-running Node consumer of one or more queues over HTTP, for any region (China, a data centre of your own).
import { createClient, type Client, type Job } from './client.ts';
import { HubError } from './errors.ts';
import { executeJob } from './execute.ts';
import { sleep } from './ack-batcher.ts';
import { Slots } from './autoscale.ts';
import { QueueClaims } from './claims.ts';
import { QueueLines } from './queue-lines.ts';
import { ControlLoop } from './control.ts';
import { leaseTransport } from './lease-transport.ts';
import { TaskRates } from './rate-limit.ts';
import { WorkerControls } from './worker-controls.ts';
import type { JobEvent, LogLevel, PullWorkerOptions } from './pull-options.ts';
import type { TaskDefinition } from './task.ts';

export type { JobEvent, LogLevel, PullWorkerOptions } from './pull-options.ts';

/** This process's id where there is one (Node, Bun, Deno's Node globals), else a random tag. */
function instance(): string {
  const pid = (globalThis as { process?: { pid?: number } }).process?.pid;
  return pid === undefined ? Math.random().toString(36).slice(2, 8) : String(pid);
}

/**
 * Claims jobs of its queues (in priority order), runs them with bounded or autoscaled
 * concurrency, heartbeats long ones, acks in batches, answers remote control, and drains
 * cleanly on stop() (warm) or hands everything back at once on stopNow() (cold).
 *
 * @example
 * const worker = new PullWorker({ url, token, queues: ['scrape', 'slow'], region: 'cn', tasks: [fetchPage], concurrency: 8 });
 * process.on('SIGTERM', () => void worker.stop());
 * await worker.run();
 */
export class PullWorker {
  readonly name: string;
  /** The queues claimed from, in priority order (remote control may cancel some). */
  readonly queues: string[];
  readonly slots: Slots;
  readonly rates = new TaskRates();
  readonly registry: Map<string, TaskDefinition>;
  readonly region: string | null;
  private readonly options: PullWorkerOptions;
  private readonly client: Client;
  /** Jobs claimed and not yet reported to the hub, by lease (two attempts of one task may overlap): running, or finished with their ack or fail on its way. */
  private readonly running = new Map<string, { job: Job; done: Promise<unknown>; startedAt: string }>();
  /**
   * Of those, the jobs whose handler has finished. Their slot is free at once: the next claim
   * goes out while their acks are still on the way, instead of after the hub confirmed them.
   */
  private readonly reporting = new Set<string>();
  private readonly lines: QueueLines;
  private readonly claims: QueueClaims;
  private readonly control: ControlLoop | null;
  readonly stopping = new AbortController();
  /** Hand-backs under way: a stop waits for them. */
  private readonly handingBack = new Set<Promise<void>>();
  /** The hub refused this worker's token (401 or 403): asking again would be refused again. */
  private refused: HubError | null = null;
  private slotFreed: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private stopped: Promise<void> | null = null;
  readonly log: (m: string, level?: LogLevel) => void;
  /** Tasks it may still start before it recycles (`maxTasks`). */
  private left: number;
  /** It stopped because it ran `maxTasks` tasks: its supervisor starts a fresh one. */
  recycled = false;
  /** Jobs this worker finished, by outcome. */
  readonly counts = { succeeded: 0, failed: 0, abandoned: 0, released: 0 };

  constructor(options: PullWorkerOptions) {
    this.options = options;
    this.queues = [...(options.queues ?? (options.queue ? [options.queue] : []))];
    if (this.queues.length === 0) throw new TypeError('a PullWorker needs a queue (or queues)');
    this.region = options.region ?? null;
    this.name = options.name ?? `${this.queues.join('+').slice(0, 150)}-${this.region ?? 'any'}-${instance()}`; // names: 1-200 chars
    this.client = createClient({ url: options.url, token: options.token, fetch: options.fetch });
    this.registry = new Map(options.tasks.map((t) => [t.name, t]));
    this.log = options.log ?? ((m, level = 'info') => level !== 'debug' && console.error(`[drover worker ${this.name}] ${m}`));
    this.lines = new QueueLines({ url: options.url, token: options.token, socket: options.socket !== false, client: this.client, log: this.log, late: (jobs) => this.deliver(jobs) });
    const a = options.autoscale;
    this.slots = a ? new Slots({ min: a.min, max: a.max, idleMs: (a.idleSeconds ?? 30) * 1000 }) : Slots.fixed(options.concurrency ?? 4);
    this.left = options.maxTasks ?? Infinity;
    this.claims = new QueueClaims((queue, max, wait) => this.claimOne(queue, max, wait), (jobs) => this.deliver(jobs));
    const c = options.control ?? true;
    this.control = c === false ? null : new ControlLoop({
      url: options.url, token: options.token, name: this.name, fetch: options.fetch, log: this.log, target: new WorkerControls(this),
      ...(c === true ? {} : c),
    });
  }

  /** The tasks a claim asks for: every registered one not held back by a rate limit now. */
  private openTasks(): string[] {
    return [...this.registry.keys()].filter((t) => this.rates.open(t));
  }

  private async claimOne(queue: string, max: number, waitSeconds: number): Promise<Job[]> {
    const claim = { worker: this.name, region: this.region, tasks: this.openTasks(), max: Math.min(100, max), waitSeconds };
    return claim.tasks.length === 0 || claim.max <= 0 ? [] : this.lines.claim(queue, claim);
  }

  /** Free slots: not running a handler, and no more than `slots` jobs awaiting their report besides (a hub slow to answer acks slows claims rather than piling them up). */
  private free(): number {
    const n = this.slots.current;
    return Math.max(0, Math.min(n - this.busy(), 2 * n - this.running.size, this.left));
  }

  /** Slots running a handler now. */
  busy(): number {
    return this.running.size - this.reporting.size;
  }

  /** Claimed jobs: started if a slot and rate allow, else handed back (a cancelled queue's too). */
  private deliver(jobs: Job[]): void {
    for (const job of jobs) {
      if (this.stopping.signal.aborted || this.free() <= 0 || !this.queues.includes(job.queue) || !this.rates.take(job.task)) this.handBack(job);
      else this.start(job);
    }
  }

  /**
   * Runs until stopped (stop(), stopNow(), `maxTasks` reached or a shutdown command); resolves
   * when drained. Rejects with the hub's HubError (status 401 or 403) when the hub refuses the
   * worker's token: it stops first, finishing what it runs.
   */
  async run(): Promise<void> {
    this.loop ??= this.claimLoop();
    this.control?.start();
    await this.loop;
    if (this.refused || this.recycled) await this.stop();
    await this.stopped;
    if (this.refused) throw this.refused;
  }

  private async claimLoop(): Promise<void> {
    let backoff = 0;
    const where = `${this.region ? ` in region ${this.region}` : ''}`;
    const slots = this.slots.autoscaling ? `${this.slots.min}-${this.slots.max} slots (autoscaled)` : `${this.slots.current} slot(s)`;
    this.log(`working ${this.queues.length > 1 ? 'queues' : 'queue'} ${this.queues.map((q) => `"${q}"`).join(', ')}${where} with ${slots}; tasks: ${[...this.registry.keys()].join(', ')}`);
    this.slots.watch(() => this.busy(), () => this.log(`autoscale: ${this.slots.current} slot(s) (idle)`, 'debug'));
    // A busy worker claims in batches: it gives all its slots (at most 100, a claim's limit)
    // up to 10 ms to free, so fast tasks cost one large claim per round instead of one claim
    // per job, while a slot freed beside long-running tasks is still filled 10 ms later. Busy:
    // its last claim found at least half a batch. Otherwise a freed slot claims at once, so a
    // lightly loaded queue does not wait for company that is not coming.
    let busy = false;
    while (!this.stopping.signal.aborted) {
      if (this.free() <= 0) {
        await new Promise<void>((r) => (this.slotFreed = r));
        continue;
      }
      if (this.openTasks().length === 0) {
        // Every task is at its rate limit: claim again when the first may start.
        await Promise.race([new Promise<void>((r) => (this.slotFreed = r)), sleep(this.rates.nextOpening(), this.stopping.signal)]);
        continue;
      }
      const batch = Math.min(100, this.slots.current);
      const gather = Date.now() + 10;
      while (busy && this.free() < batch && this.busy() > 0 && Date.now() < gather) {
        await Promise.race([new Promise<void>((r) => (this.slotFreed = r)), sleep(gather - Date.now())]);
      }
      try {
        const { got, full } = await this.claims.round([...this.queues], () => this.free(), this.options.waitSeconds ?? 5, this.stopping.signal);
        busy = got >= Math.ceil(batch / 2);
        if (this.slots.claimed(full, this.busy())) this.log(`autoscale: ${this.slots.current} slot(s) (work waiting)`, 'debug');
        if (backoff) this.log('the hub answers again; claiming');
        backoff = 0;
      } catch (err) {
        if (err instanceof HubError && (err.status === 401 || err.status === 403)) {
          this.refuse(err);
          break;
        }
        backoff = Math.min(30, backoff ? backoff * 2 : 0.5);
        const why = err instanceof HubError ? `${err.status} ${err.code}: ${err.message}` : `unreachable (${(err as Error).cause ?? (err as Error).message})`;
        this.log(`claim failed, hub ${why}; retrying in ${backoff}s`, 'warning');
        await sleep(backoff * 1000, this.stopping.signal);
      }
    }
  }

  /** The hub refused the token (a claim or a heartbeat): say what is needed and stop. */
  refuse(err: HubError): void {
    if (this.refused) return;
    const needs = `consume${this.region ? `@${this.region}` : ''}, consume or admin`;
    const where = `queue${this.queues.length > 1 ? 's' : ''} ${this.queues.map((q) => `"${q}"`).join(', ')}${this.region ? ` in region ${this.region}` : ''}`;
    this.log(`the hub refuses this worker's token (${err.status} ${err.code}: ${err.message}); claiming from ${where} needs a token with the scope ${needs}`, 'error');
    this.refused = err;
    this.stopping.abort();
    this.wake();
  }

  private start(job: Job): void {
    if (--this.left === 0) queueMicrotask(() => this.recycle());
    const began = performance.now();
    const told = { task: job.task, id: job.id, attempt: job.attempt, attempts: job.maxRetries + 1 };
    const emit = (e: Omit<JobEvent, keyof typeof told>) => this.options.onEvent?.({ ...e, ...told });
    emit({ event: 'received' });
    const transport = leaseTransport({
      client: this.client,
      ack: (j, result) => this.lines.ack(j, result),
      ran: (j) => {
        this.reporting.add(j.leaseId);
        this.wake();
      },
      revoked: () => emit({ event: 'revoked' }),
    });
    const done = executeJob(job, this.registry.get(job.task), transport, this.name, [...this.registry.keys()])
      .then((outcome) => {
        this.counts[outcome]++;
        for (const e of transport.outcome(outcome, (performance.now() - began) / 1000)) emit(e);
      })
      .catch((err) => this.log(`job ${job.id} could not be reported: ${(err as Error).message}`, 'error'))
      .finally(() => {
        this.running.delete(job.leaseId);
        this.reporting.delete(job.leaseId);
        this.wake();
      });
    this.running.set(job.leaseId, { job, done, startedAt: new Date().toISOString() });
  }

  /** `maxTasks` reached: stop claiming and drain, so a fresh process can take over. */
  private recycle(): void {
    this.recycled = true;
    this.log(`recycling: ran ${this.options.maxTasks} task(s) (--max-tasks); a fresh worker takes over`);
    void this.stop();
  }

  wake(): void {
    this.slotFreed?.();
    this.slotFreed = null;
  }

  private handBack(job: Job): void {
    const back = this.client.release(job.leaseId).then(
      () => void this.counts.released++,
      (err: Error) => this.log(`could not hand back ${job.id} (${err.message}); its lease will expire`, 'warning'),
    );
    this.handingBack.add(back);
    void back.finally(() => this.handingBack.delete(back));
  }

  /** The jobs whose handler runs now, with when each started. */
  active(): { job: Job; startedAt: string }[] {
    return [...this.running.values()].filter((r) => !this.reporting.has(r.job.leaseId));
  }

  private async flush(): Promise<void> {
    await Promise.all([...this.handingBack]);
    await this.lines.flush();
  }

  /**
   * Warm shutdown: stops claiming, lets running jobs finish within the grace period, hands back
   * the rest, sends the last acks and a last heartbeat.
   */
  stop(): Promise<void> {
    return (this.stopped ??= this.drain());
  }

  private async drain(): Promise<void> {
    this.log(`warm shutdown: no more claims; ${this.busy()} job(s) running get up to ${this.options.graceSeconds ?? 30}s to finish`);
    this.stopping.abort();
    this.wake();
    this.slots.unwatch();
    const graceOver = new AbortController();
    const all = Promise.all([...this.running.values()].map((r) => r.done));
    const timedOut = await Promise.race([all.then(() => false), sleep((this.options.graceSeconds ?? 30) * 1000, graceOver.signal).then(() => !graceOver.signal.aborted)]);
    graceOver.abort(); // its timer would keep the process alive
    if (timedOut) {
      // A job whose handler finished is being reported; only the ones still running go back.
      const unfinished = this.active();
      this.log(`grace period over: handing back ${unfinished.length} unfinished job(s)`, 'warning');
      for (const r of unfinished) this.handBack(r.job);
    }
    await this.loop;
    await this.claims.settled();
    await this.lines.settled();
    await this.flush();
    await this.lines.close();
    await this.control?.stop(!this.recycled);
    this.log(`stopped: ${JSON.stringify(this.counts)}`);
  }

  /**
   * Cold shutdown: every lease still running is released at once (other workers take the tasks
   * up), finished jobs' acks are sent, and it resolves within about 5 s whatever the hub does.
   */
  async stopNow(): Promise<void> {
    const held = this.active();
    this.log(`cold shutdown: releasing ${held.length} running job(s) at once`, 'warning');
    this.stopping.abort();
    this.wake();
    this.slots.unwatch();
    for (const r of held) this.handBack(r.job);
    void this.lines.close();
    const cap = new AbortController();
    await Promise.race([Promise.all([this.flush(), this.control?.stop(true)]), sleep(5000, cap.signal)]);
    cap.abort();
    this.log(`stopped: ${JSON.stringify(this.counts)}`, 'warning');
  }
}
