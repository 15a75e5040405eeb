// WorkerControls: what remote control commands do to a PullWorker, kept apart from its claiming and running.
import type { Controlled } from './control-commands.ts';
import type { WorkerStatus } from './control.ts';
import type { HubError } from './errors.ts';
import type { TaskDefinition } from './task.ts';
import type { Slots } from './autoscale.ts';
import type { TaskRates } from './rate-limit.ts';
import type { LogLevel } from './pull-options.ts';

/** The parts of a PullWorker remote control reaches (an interface, so this file does not import the worker). */
export interface ControlledWorker {
  readonly name: string;
  readonly region: string | null;
  readonly queues: string[];
  readonly slots: Slots;
  readonly rates: TaskRates;
  readonly registry: Map<string, TaskDefinition>;
  log(message: string, level?: LogLevel): void;
  readonly counts: { succeeded: number; failed: number; abandoned: number };
  active(): { job: { id: string; task: string; queue: string }; startedAt: string }[];
  stop(): Promise<void>;
  refuse(err: HubError): void;
  /** Something changed that may let the claim loop claim again. */
  wake(): void;
}

export class WorkerControls implements Controlled {
  private readonly w: ControlledWorker;

  constructor(worker: ControlledWorker) {
    this.w = worker;
  }

  /** What a heartbeat says about the worker. */
  status(): WorkerStatus {
    const { counts } = this.w;
    return {
      region: this.w.region,
      queues: this.w.queues.slice(0, 100), // the heartbeat's bounds
      tasks: [...this.w.registry.keys()].slice(0, 1000),
      concurrency: this.w.slots.current,
      active: this.w.active().map((r) => ({ id: r.job.id, task: r.job.task, queue: r.job.queue, startedAt: r.startedAt })),
      processed: counts.succeeded + counts.failed + counts.abandoned,
      failed: counts.failed,
    };
  }

  refused(err: HubError): void {
    this.w.refuse(err);
  }

  shutdown(): void {
    this.w.log('remote control asked for a shutdown');
    void this.w.stop();
  }

  resize(n: number): number {
    const now = this.w.slots.resize(n);
    this.w.log(`remote control: ${now} slot(s)`);
    this.w.wake();
    return now;
  }

  rateLimit(task: string, rate: string | null): 'ok' | 'NotRegistered' | 'InvalidRate' {
    if (!this.w.registry.has(task)) return 'NotRegistered';
    if (!this.w.rates.set(task, rate)) return 'InvalidRate';
    this.w.log(rate === null ? `remote control: no rate limit on ${task}` : `remote control: ${task} starts at most ${rate}`);
    this.w.wake();
    return 'ok';
  }

  cancelConsumer(queue: string): string[] | 'NotConsuming' | 'LastQueue' {
    const at = this.w.queues.indexOf(queue);
    if (at < 0) return 'NotConsuming';
    // The heartbeat must name at least one queue; a worker with none to claim from should stop instead.
    if (this.w.queues.length === 1) return 'LastQueue';
    this.w.queues.splice(at, 1);
    this.w.log(`remote control: no more claims from queue "${queue}"; claiming from ${this.w.queues.map((q) => `"${q}"`).join(', ')}`);
    return [...this.w.queues];
  }

  async runTask(task: string, args: unknown[], kwargs: Record<string, unknown>, broadcast: string | null): Promise<unknown> {
    const def = this.w.registry.get(task);
    if (!def) {
      const err = new Error(`task "${task}" is not registered on this worker (it runs ${[...this.w.registry.keys()].map((k) => `"${k}"`).join(', ')})`);
      err.name = 'NotRegistered';
      throw err;
    }
    this.w.log(`remote control: running ${task} once${broadcast ? ` (broadcast ${broadcast})` : ''}`);
    return def.run(args as never, {
      id: broadcast ?? `run-${Date.now()}`,
      attempt: 1,
      maxRetries: 0,
      kwargs,
      headers: {},
      queue: '',
      region: this.w.region,
      eta: null,
      workflowId: null,
      worker: this.w.name,
      signal: new AbortController().signal, // a broadcast has no lease to lose and cannot be revoked
      heartbeat: async () => {},
    });
  }
}
