#!/usr/bin/env node
// The drover command line: `drover worker` runs a Node pull worker over a module of defineTask()s;
// `drover init` lays out a project of one's own.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { PullWorker } from '../src/sdk/pull.ts';
import { HubError } from '../src/sdk/errors.ts';
import { tasksOf } from '../src/sdk/task.ts';
import { init } from './init.ts';
import { deployCommand } from './deploy.ts';
import { LEVELS, workerLog, type Level } from './worker-log.ts';

const USAGE = `usage: drover worker --url URL --token TOKEN --queue QUEUE [--region R] [--concurrency N]
                     [--name NAME] [--grace SECONDS] [--loglevel LEVEL] [--json] ./tasks.ts
         drover init DIR [--drover SPEC]
         drover deploy [--dry-run] [--tokens TOKENS]
  worker: runs the tasks a module exports; --url and --token default to $DROVER_URL and $DROVER_TOKEN.
          Logs a line per task received, succeeded, failed (with its retry) or abandoned, on stderr;
          --loglevel debug|info|warning|error (default info) hides what is below it, --json writes
          one JSON object per line. Exits 2 when the hub refuses its token.
  init:   lays out a new project in DIR (a hub Worker, tasks, a worker, a producer, a README);
          --drover sets its drover dependency (a version range, or a packed tarball's path).
  deploy: the hub of ./wrangler.toml and its regional consumers onto Cloudflare: creates its D1
          database and queues if missing, applies remote migrations, sets DROVER_TOKENS to TOKENS
          (the hub's; each regional consumer gets those that may consume from its region), deploys.
          --dry-run prints the plan and changes nothing.`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

const [command, ...rest] = process.argv.slice(2);
if (command === '--help' || command === '-h' || command === 'help' || rest.includes('--help')) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (command === 'init') {
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { drover: { type: 'string' } } });
  if (positionals.length !== 1) fail('init needs one folder, e.g. drover init my-app');
  // The package's own package.json: its version, and the wrangler and TypeScript it is built and tested with.
  const own = createRequire(import.meta.url)('../package.json') as { version: string; devDependencies: Record<string, string> };
  const made = init({
    dir: positionals[0],
    drover: values.drover ? (/^[./~]|^[A-Za-z]:/.test(values.drover) ? `file:${resolve(values.drover)}` : values.drover) : `^${own.version}`,
    versions: { wrangler: own.devDependencies.wrangler, workersTypes: own.devDependencies['@cloudflare/workers-types'], typescript: own.devDependencies.typescript },
  });
  process.stdout.write(`made ${made.dir}: ${made.written.join(', ')}\nlocal admin token (in .dev.vars): ${made.token}\nnext: cd ${positionals[0]} && npm install && npm run dev\n`);
  process.exit(0);
}
if (command === 'deploy') {
  const { values } = parseArgs({ args: rest, options: { 'dry-run': { type: 'boolean', default: false }, tokens: { type: 'string' } } });
  try {
    deployCommand({ dryRun: values['dry-run'], tokens: values.tokens });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
  process.exit(0);
}
if (command !== 'worker') fail(command ? `unknown command "${command}"` : 'a command is needed');

const { values, positionals } = parseArgs({
  args: rest,
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
if (!values.url) fail('--url (or DROVER_URL) is needed');
if (!values.token) fail('--token (or DROVER_TOKEN) is needed');
if (!values.queue) fail('--queue is needed');
if (positionals.length !== 1) fail('one module of tasks is needed, e.g. ./tasks.ts');
const concurrency = Number(values.concurrency);
if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 100) fail('--concurrency must be 1-100');
const level = values.loglevel!.toLowerCase() as Level;
if (!LEVELS.includes(level)) fail(`--loglevel must be one of ${LEVELS.join(', ')}`);

const module = await import(pathToFileURL(resolve(positionals[0])).href);
const tasks = tasksOf(module);
if (tasks.length === 0) fail(`${positionals[0]} exports no tasks made with defineTask()`);

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
    process.exit(2);
  }
  throw err;
}
