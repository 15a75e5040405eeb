// `drover worker`: a Node pull worker over a module of defineTask()s, logging a line per task event.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { PullWorker } from '../src/sdk/pull.ts';
import { HubError } from '../src/sdk/errors.ts';
import { tasksOf } from '../src/sdk/task.ts';
import { UsageError, type Command } from './command.ts';
import { LEVELS, workerLog, type Level } from './worker-log.ts';
import { isRecycledChild, leaveSupervisor, supervise } from './worker-supervisor.ts';
import { statusLine } from './worker-status.ts';

const usage = `usage: drover worker [--url URL] [--token TOKEN] --queue QUEUE[,QUEUE...] [--region R]
                     [--concurrency N | --autoscale MAX,MIN] [--max-tasks N] [--name NAME]
                     [--grace SECONDS] [--loglevel LEVEL] [--json] [--no-status] ./tasks.ts
Runs the tasks a module exports. --url and --token default to $DROVER_URL and $DROVER_TOKEN.
--queue (or -Q) takes several queues in priority order: a free slot takes a job from the first that
has one ready. --autoscale MAX,MIN: start with MIN slots, add one while claims come back full,
drop one per 30 s idle. --max-tasks N: after N tasks the worker process is replaced by a fresh one.
Logs a line per task received, succeeded, failed, retried, revoked or abandoned, on stderr;
--loglevel debug|info|warning|error (default info) hides what is below it, --json writes one
JSON object per line. On a terminal a status line stays at the bottom (--no-status: none).
The first SIGTERM or SIGINT is a warm shutdown: no more claims, running tasks finish (up to
--grace seconds, default 30), exit 0. A second is a cold one: running tasks are handed back to
the hub at once for other workers, exit 1. Exits 2 when the hub refuses its token.`;

const whole = (text: string, flag: string, min: number, max: number) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}`);
  return n;
};

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: 'string', default: process.env.DROVER_URL },
      token: { type: 'string', default: process.env.DROVER_TOKEN },
      queue: { type: 'string', short: 'Q' },
      region: { type: 'string' },
      concurrency: { type: 'string' },
      autoscale: { type: 'string' },
      'max-tasks': { type: 'string' },
      name: { type: 'string' },
      grace: { type: 'string', default: '30' },
      loglevel: { type: 'string', default: 'info' },
      json: { type: 'boolean', default: false },
      'no-status': { type: 'boolean', default: false },
    },
  });
  if (!values.url) throw new UsageError('--url (or DROVER_URL) is needed');
  if (!values.token) throw new UsageError('--token (or DROVER_TOKEN) is needed');
  const queues = (values.queue ?? '').split(',').map((q) => q.trim()).filter(Boolean);
  if (queues.length === 0) throw new UsageError('-Q/--queue is needed (one queue, or several comma-separated)');
  if (new Set(queues).size !== queues.length) throw new UsageError('-Q/--queue names a queue twice');
  if (positionals.length !== 1) throw new UsageError('one module of tasks is needed, e.g. ./tasks.ts');
  if (values.concurrency !== undefined && values.autoscale !== undefined) throw new UsageError('--concurrency and --autoscale do not go together');
  const concurrency = whole(values.concurrency ?? '4', '--concurrency', 1, 100);
  let autoscale: { max: number; min: number } | undefined;
  if (values.autoscale !== undefined) {
    const [max, min = '1', ...more] = values.autoscale.split(',');
    if (more.length) throw new UsageError('--autoscale takes MAX,MIN');
    autoscale = { max: whole(max, '--autoscale MAX', 1, 100), min: whole(min, '--autoscale MIN', 1, 100) };
    if (autoscale.min > autoscale.max) throw new UsageError('--autoscale MAX,MIN: MIN must not be above MAX');
  }
  const maxTasks = values['max-tasks'] === undefined ? undefined : whole(values['max-tasks'], '--max-tasks', 1, 1_000_000_000);
  const grace = Number(values.grace);
  if (!(grace >= 0)) throw new UsageError('--grace must be a number of seconds');
  const level = values.loglevel!.toLowerCase() as Level;
  if (!LEVELS.includes(level)) throw new UsageError(`--loglevel must be one of ${LEVELS.join(', ')}`);
  // One name across recycles: the supervisor's pid, not each fresh process's.
  const name = values.name ?? `${queues.join('+').slice(0, 150)}-${values.region ?? 'any'}-${process.env.DROVER_WORKER_SUPERVISOR ?? process.pid}`;
  const status = !values.json && !values['no-status'] && process.stderr.isTTY ? statusLine(process.stderr) : null;
  const out = workerLog(() => name, { level, json: values.json!, write: status ? (line) => status.print(line) : undefined });

  if (maxTasks !== undefined && !isRecycledChild()) return supervise((m) => out.message(m));

  let recycled = false;
  try {
    return await runWorker();
  } finally {
    status?.close();
    await leaveSupervisor(recycled);
    // Stopped: what a task module left open (a pool, a timer) is no reason to stay.
    setTimeout(() => process.exit(), 2000).unref();
  }

  async function runWorker(): Promise<number> {
    const module = await import(pathToFileURL(resolve(positionals[0])).href);
    const tasks = tasksOf(module);
    if (tasks.length === 0) throw new UsageError(`${positionals[0]} exports no tasks made with defineTask()`);

    const worker = new PullWorker({
      url: values.url!,
      token: values.token!,
      queues,
      region: values.region ?? null,
      concurrency,
      autoscale,
      maxTasks,
      name,
      graceSeconds: grace,
      tasks,
      log: (message, lvl) => out.message(message, lvl),
      onEvent: (e) => {
        out.event(e);
        status?.event(e);
      },
    });
    status?.follow(() => {
      const c = worker.counts;
      return { processed: c.succeeded + c.failed + c.abandoned, failed: c.failed, active: worker.busy(), slots: worker.slots.current };
    });
    let signals = 0;
    let cold: Promise<void> | null = null;
    const onSignal = (signal: string) => {
      if (++signals === 1) {
        out.message(`${signal}: warm shutdown (a second signal makes it cold)`, 'warning');
        void worker.stop();
      } else {
        out.message(`${signal} again: cold shutdown`, 'warning');
        cold ??= worker.stopNow().finally(() => {
          status?.close();
          process.exit(1);
        });
      }
    };
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => onSignal(signal));
    // A supervisor that dies leaves its worker to finish what it runs and stop.
    process.on('disconnect', () => onSignal('supervisor gone'));
    try {
      await worker.run();
    } catch (err) {
      // A token the hub refuses (401, 403): usage or auth, exit 2. The worker logged what it needs.
      if (err instanceof HubError && (err.status === 401 || err.status === 403)) {
        out.message(`exiting: the hub refused the token (${err.status} ${err.code})`, 'error');
        return 2;
      }
      throw err;
    } finally {
      if (cold) await cold;
    }
    recycled = worker.recycled;
    return 0;
  }
}

export const worker: Command = { name: 'worker', summary: 'run a pull worker over a module of tasks', usage, run };
