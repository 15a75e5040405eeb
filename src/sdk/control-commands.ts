// The remote control commands a worker runs (docs/protocol.md, "Worker heartbeats"): what each
// does to the worker and the reply it sends back on its next heartbeat.
import { toTaskError } from './execute.ts';

/** What a command gets to act on: the worker, seen through what remote control may change. */
export interface Controlled {
  /** Warm shutdown, as on SIGTERM. Called after the reply has reached the hub. */
  shutdown(): void;
  /** n more slots (negative: fewer), within the worker's bounds; answers the slots now. */
  resize(n: number): number;
  /** Sets or lifts a start limit on one task of this worker's. */
  rateLimit(task: string, rate: string | null): 'ok' | 'NotRegistered' | 'InvalidRate';
  /** Stops claiming from a queue; answers the queues left, or why not. */
  cancelConsumer(queue: string): string[] | 'NotConsuming' | 'LastQueue';
  /** Runs a task's handler once, outside any queue (a broadcast); throws what the handler throws. */
  runTask(task: string, args: unknown[], kwargs: Record<string, unknown>, broadcast: string | null): Promise<unknown>;
}

export interface Command {
  id: string;
  command: string;
  args?: Record<string, unknown>;
}

export type Reply = { id: string; ok: true; reply: unknown } | { id: string; ok: false; error: { type: string; message: string } };

const refuse = (id: string, type: string, message: string): Reply => ({ id, ok: false, error: { type, message } });

/** A whole number from 1 to 1,000, as grow and shrink take. */
const count = (n: unknown) => (Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 1000 ? (n as number) : null);

/** Runs one command; never throws (a failure is an error reply). */
export async function runCommand(target: Controlled, c: Command): Promise<Reply> {
  const args = c.args ?? {};
  switch (c.command) {
    case 'ping':
      return { id: c.id, ok: true, reply: 'pong' };
    case 'shutdown':
      return { id: c.id, ok: true, reply: { stopping: true } };
    case 'grow':
    case 'shrink': {
      const n = count(args.n);
      if (n === null) return refuse(c.id, 'InvalidArgs', `${c.command} takes {"n": 1-1000}`);
      return { id: c.id, ok: true, reply: { concurrency: target.resize(c.command === 'grow' ? n : -n) } };
    }
    case 'rate-limit': {
      const { task, rate } = args as { task?: unknown; rate?: unknown };
      if (typeof task !== 'string' || !(rate === null || typeof rate === 'string')) {
        return refuse(c.id, 'InvalidArgs', 'rate-limit takes {"task": name, "rate": "N/s" | "N/m" | "N/h" | null}');
      }
      const outcome = target.rateLimit(task, rate);
      if (outcome === 'NotRegistered') return refuse(c.id, 'NotRegistered', `task "${task}" is not registered on this worker`);
      if (outcome === 'InvalidRate') return refuse(c.id, 'InvalidArgs', `rate "${rate}" is not N/s, N/m or N/h`);
      return { id: c.id, ok: true, reply: { task, rate } };
    }
    case 'cancel-consumer': {
      const queue = args.queue;
      if (typeof queue !== 'string') return refuse(c.id, 'InvalidArgs', 'cancel-consumer takes {"queue": name}');
      const left = target.cancelConsumer(queue);
      if (left === 'NotConsuming') return refuse(c.id, 'NotConsuming', `this worker does not consume queue "${queue}"`);
      if (left === 'LastQueue') return refuse(c.id, 'LastQueue', `queue "${queue}" is the last this worker consumes; use shutdown to stop it`);
      return { id: c.id, ok: true, reply: { queues: left } };
    }
    case 'run': {
      const { task, args: taskArgs = [], kwargs = {}, broadcast = null } = args as { task?: unknown; args?: unknown; kwargs?: unknown; broadcast?: unknown };
      if (typeof task !== 'string' || !Array.isArray(taskArgs) || typeof kwargs !== 'object' || kwargs === null || Array.isArray(kwargs)) {
        return refuse(c.id, 'InvalidArgs', 'run takes {"task": name, "args": [...], "kwargs": {...}}');
      }
      try {
        const result = await target.runTask(task, taskArgs, kwargs as Record<string, unknown>, typeof broadcast === 'string' ? broadcast : null);
        return { id: c.id, ok: true, reply: result === undefined ? null : result };
      } catch (err) {
        const { type, message } = toTaskError(err);
        return refuse(c.id, type, message);
      }
    }
    default:
      return refuse(c.id, 'UnknownCommand', `this worker has no command "${c.command}"`);
  }
}
