// The soak's tasks: what each does is written in its arguments, so the soak knows what every task should end as.
import { defineTask, NonRetryableError } from '../../src/sdk/index.ts';
import type { TaskContext, TaskDefinition } from '../../src/sdk/index.ts';

/** How a `soak.work` task behaves, chosen by the load generator. */
export interface WorkSpec {
  /** Milliseconds the handler takes (a worker killed meanwhile leaves the job to its lease). */
  ms?: number;
  /** The first attempt throws a retryable error; later ones succeed. */
  flaky?: true;
  /** Every attempt fails for good: the task ends failed, in the dead letters. */
  doomed?: true;
  /** The result carries the padding back: results as large as the arguments travel on ack. */
  echo?: true;
}

/** Told of every handler start and end, to write them down (the worker's journal). */
export type RunHook = (what: 'run' | 'ran', ctx: TaskContext, ok?: boolean) => void;
let hook: RunHook = () => {};
export function onRun(h: RunHook): void {
  hook = h;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** Wraps a handler so its start and its end (with success or not) reach the journal. */
function journaled<A extends unknown[], R>(run: (args: A, ctx: TaskContext) => Promise<R>) {
  return async (args: A, ctx: TaskContext): Promise<R> => {
    hook('run', ctx);
    try {
      const result = await run(args, ctx);
      hook('ran', ctx, true);
      return result;
    } catch (err) {
      hook('ran', ctx, false);
      throw err;
    }
  };
}

/**
 * args: [spec, padding]. The result names the execution that produced it (task id, attempt,
 * process), so a recorded result can be matched to the run the worker journaled.
 */
export const work = defineTask(
  'soak.work',
  journaled(async ([spec, pad]: [WorkSpec, string?], ctx) => {
    if (spec.ms) await sleep(spec.ms, ctx.signal);
    if (spec.doomed) throw new NonRetryableError('this task is made to fail');
    if (spec.flaky && ctx.attempt === 1) throw new Error('the first attempt of this task is made to fail');
    return { id: ctx.id, attempt: ctx.attempt, pid: process.pid, bytes: pad?.length ?? 0, ...(spec.echo && { pad }) };
  }),
);

/** A group or chord header member: returns its number. */
export const num = defineTask('soak.num', journaled(async ([n]: [number]) => n));

/** A chord body: adds up the header's results (its first argument) and its own. */
export const sum = defineTask('soak.sum', journaled(async ([results, extra]: [number[], number]) => results.reduce((a, b) => a + b, 0) + extra));

/** A chain step: the step before's total plus its increment. The first step is given 0 itself. */
export const add = defineTask('soak.add', journaled(async ([total, inc]: [number, number]) => total + inc));

/** The schedule's task: says which run it was. */
export const beat = defineTask('soak.beat', journaled(async (_args: unknown[], ctx) => ({ id: ctx.id, attempt: ctx.attempt, pid: process.pid })));

export const TASKS = [work, num, sum, add, beat] as TaskDefinition[];
