// `drover worker`: a Node pull worker over a module of defineTask()s, logging a line per task event.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { PullWorker } from '../src/sdk/pull.ts';
import { HubError } from '../src/sdk/errors.ts';
import { tasksOf } from '../src/sdk/task.ts';
import { UsageError, type Command } from './command.ts';
import { LEVELS, workerLog, type Level } from './worker-log.ts';

const usage = `usage: drover worker [--url URL] [--token TOKEN] --queue QUEUE [--region R] [--concurrency N]
                     [--name NAME] [--grace SECONDS] [--loglevel LEVEL] [--json] ./tasks.ts
Runs the tasks a module exports. --url and --token default to $DROVER_URL and $DROVER_TOKEN.
Logs a line per task received, succeeded, failed (with its retry) or abandoned, on stderr;
--loglevel debug|info|warning|error (default info) hides what is below it, --json writes one
JSON object per line. SIGTERM or SIGINT: running tasks finish (up to --grace seconds, default 30),
then it exits 0; a second signal exits at once. Exits 2 when the hub refuses its token.`;

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: 'string', default: process.env.DROVER_URL },
      token: { type: 'string', default: process.env.DROVER_TOKEN },
      queue: { type: 'string' },
      region: { type: 'string' },
      concurrency: { type: 'string', default: '4' },
      name: { type: 'string' },
      grace: { type: 'string', default: '30' },
      loglevel: { type: 'string', default: 'info' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values.url) throw new UsageError('--url (or DROVER_URL) is needed');
  if (!values.token) throw new UsageError('--token (or DROVER_TOKEN) is needed');
  if (!values.queue) throw new UsageError('--queue is needed');
  if (positionals.length !== 1) throw new UsageError('one module of tasks is needed, e.g. ./tasks.ts');
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 100) throw new UsageError('--concurrency must be 1-100');
  const level = values.loglevel!.toLowerCase() as Level;
  if (!LEVELS.includes(level)) throw new UsageError(`--loglevel must be one of ${LEVELS.join(', ')}`);

  const module = await import(pathToFileURL(resolve(positionals[0])).href);
  const tasks = tasksOf(module);
  if (tasks.length === 0) throw new UsageError(`${positionals[0]} exports no tasks made with defineTask()`);

  let named = '';
  const out = workerLog(() => named, { level, json: values.json! });
  const worker = new PullWorker({
    url: values.url,
    token: values.token,
    queue: values.queue,
    region: values.region ?? null,
    concurrency,
    name: values.name,
    graceSeconds: Number(values.grace),
    tasks,
    log: (message) => out.message(message),
    onEvent: (e) => out.event(e),
  });
  named = worker.name;
  let signals = 0;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (++signals > 1) process.exit(1); // a second signal: stop now
      void worker.stop().then(() => process.exit(0));
    });
  }
  try {
    await worker.run();
  } catch (err) {
    // A token the hub refuses (401, 403): usage or auth, exit 2. The worker logged what it needs.
    if (err instanceof HubError && (err.status === 401 || err.status === 403)) {
      out.message(`exiting: the hub refused the token (${err.status} ${err.code})`, 'error');
      return 2;
    }
    throw err;
  }
  return 0;
}

export const worker: Command = { name: 'worker', summary: 'run a pull worker over a module of tasks', usage, run };
