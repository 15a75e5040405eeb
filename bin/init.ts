// `drover init <dir>`: lays out a project of one's own: a hub Worker with its wrangler config, the D1
// migrations from the package, a tasks file, a pull worker, a producer and a README.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError, type Command } from './command.ts';

export interface InitOptions {
  /** Where the project goes: a new or empty folder. */
  dir: string;
  /** The drover dependency as package.json writes it: a version range, or a path to a packed tarball. */
  drover: string;
  /** This drover's version: the wrangler and TypeScript the project gets are the ones it was built with. */
  versions: { wrangler: string; workersTypes: string; typescript: string };
}

/** The hub's Durable Objects, binding and class: the config binds them, migrates them, and the hub re-exports them. */
const OBJECTS = [
  ['QUEUES', 'QueueObject'],
  ['BEAT', 'BeatObject'],
  ['WORKFLOWS', 'WorkflowObject'],
  ['HTTP_RUNNER', 'HttpRunnerObject'],
  ['EVENTS', 'EventsObject'],
] as const;

/** A Worker name: lower case letters, digits and -, as Cloudflare takes it. */
function workerName(dir: string): string {
  const name = basename(resolve(dir)).toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return name || 'drover-hub';
}

function files(name: string, options: InitOptions, token: string): Record<string, string> {
  return {
    'package.json': `${JSON.stringify(
      {
        name,
        private: true,
        type: 'module',
        engines: { node: '>=22.18' },
        scripts: {
          dev: 'wrangler d1 migrations apply DB --local && wrangler dev',
          worker: 'drover worker --url ${DROVER_URL:-http://127.0.0.1:8787} --queue default ./src/tasks.ts',
          enqueue: 'node src/enqueue.ts',
          deploy: 'drover deploy',
          typecheck: 'tsc --noEmit',
        },
        dependencies: { drover: options.drover },
        devDependencies: {
          '@cloudflare/workers-types': options.versions.workersTypes,
          typescript: options.versions.typescript,
          wrangler: options.versions.wrangler,
        },
      },
      null,
      2,
    )}\n`,
    'wrangler.toml': `# The hub Worker: drover's HTTP API, bus consumer and beat, with this project's routes and schedules.
name = "${name}"
main = "src/hub.ts"
compatibility_date = "2026-10-01"
compatibility_flags = ["no_web_socket_compression"]

[[d1_databases]]
binding = "DB"
database_name = "${name}"
# Replace with the id printed by \`npx wrangler d1 create ${name}\` before the first deploy.
database_id = "00000000-0000-4000-8000-000000000000"
# The hub's tables, as the installed drover defines them.
migrations_dir = "node_modules/drover/migrations"

[[queues.producers]]
binding = "BUS"
queue = "${name}-bus"

[[queues.consumers]]
queue = "${name}-bus"
max_batch_size = 100
max_batch_timeout = 0
max_retries = 10

${OBJECTS.map(([binding, cls]) => `[[durable_objects.bindings]]\nname = "${binding}"\nclass_name = "${cls}"\n`).join('\n')}
[[migrations]]
tag = "v1"
new_sqlite_classes = [${OBJECTS.map(([, cls]) => `"${cls}"`).join(', ')}]

[triggers]
# Beat, the bus redelivery sweep and retention run every minute.
crons = ["* * * * *"]

[vars]
DROVER_REDELIVER_AFTER = "120"
DROVER_SHARDS = "{}"
# DROVER_TOKENS (and DROVER_SIGNING_KEYS, for HTTP tasks and callbacks) are secrets:
# \`npx wrangler secret put DROVER_TOKENS\`. Locally they come from .dev.vars.
`,
    '.dev.vars': `# Local secrets for \`npm run dev\` (wrangler dev); never deployed. name:scope, comma-separated.\nDROVER_TOKENS=${token}:admin\n`,
    '.gitignore': 'node_modules/\n.wrangler/\n.dev.vars\n',
    'tsconfig.json': `${JSON.stringify(
      {
        compilerOptions: {
          target: 'es2023',
          lib: ['es2023'],
          module: 'nodenext',
          moduleResolution: 'nodenext',
          types: ['@cloudflare/workers-types'],
          strict: true,
          noEmit: true,
          allowImportingTsExtensions: true,
          verbatimModuleSyntax: true,
        },
        // The Worker's sources; src/enqueue.ts is a Node script.
        files: ['src/hub.ts', 'src/tasks.ts'],
      },
      null,
      2,
    )}\n`,
    'src/hub.ts': `// The hub Worker (wrangler.toml's main): drover's hub, with this project's task routes and schedules.
import { createHub, defineSchedule } from 'drover/hub';

export { ${OBJECTS.map(([, cls]) => cls).sort().join(', ')} } from 'drover/hub';

export default createHub({
  // Where a task goes when its producer does not say; first match wins, \`*\` matches anything.
  routes: [{ match: 'reports.*', queue: 'reports' }],
  // Periodic tasks: exactly one task per slot.
  schedules: [defineSchedule({ id: 'nightly-report', cron: '0 3 * * *', timezone: 'UTC', task: 'reports.nightly' })],
});
`,
    'src/tasks.ts': `// The tasks: defined once, shared by producers (for their types) and workers (to run them).
import { defineTask } from 'drover';

export const greet = defineTask('hello.greet', async ([name]: [string]) => \`hello, \${name}\`);

export const nightly = defineTask('reports.nightly', { queue: 'reports' }, async () => ({ at: new Date().toISOString() }));
`,
    'src/enqueue.ts': `// A producer: enqueues a task, waits for its result and prints it.
import { createClient } from 'drover';
import { greet } from './tasks.ts';

const drover = createClient({ url: process.env.DROVER_URL ?? 'http://127.0.0.1:8787', token: process.env.DROVER_TOKEN! });
const handle = await drover.enqueue(greet, [process.argv[2] ?? 'world']);
console.log(await handle.wait({ timeoutSeconds: 60 }));
`,
    'README.md': `# ${name}

A task queue on Cloudflare, made with drover: a hub Worker (\`src/hub.ts\`), tasks
(\`src/tasks.ts\`), a pull worker that runs them, and a producer (\`src/enqueue.ts\`).

## Run it here

\`\`\`sh
npm install
npm run dev                       # the hub on http://127.0.0.1:8787 (applies the D1 migrations first)
export DROVER_TOKEN=${token}      # the local admin token, from .dev.vars
npm run worker                    # in a second terminal: runs the tasks of src/tasks.ts
npm run enqueue -- Ada            # in a third: prints "hello, Ada"
\`\`\`

## Deploy it

\`\`\`sh
npx wrangler login
npm run deploy -- --dry-run                                   # the plan: what it would create, set and deploy
npm run deploy -- --tokens s3cret-admin:admin,s3cret-worker:consume
\`\`\`

\`npm run deploy\` creates the D1 database (writing its id into wrangler.toml) and
the queue when the account lacks them, applies the D1 migrations, sets the
\`DROVER_TOKENS\` secret to the tokens given (left as it is without \`--tokens\`),
and deploys the hub.

Then run \`npm run worker\` with \`DROVER_URL\` set to the hub's address and
\`DROVER_TOKEN\` to a token with the consume scope, wherever the tasks should run.
`,
  };
}

/** Writes the project; refuses a folder that has files in it. Answers what it wrote and the dev token. */
export function init(options: InitOptions): { dir: string; written: string[]; token: string } {
  const dir = resolve(options.dir);
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new Error(`${options.dir} is not empty: give a new or empty folder`);
  const token = `dev-${randomBytes(12).toString('hex')}`;
  const layout = files(workerName(dir), options, token);
  for (const [path, text] of Object.entries(layout)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return { dir, written: Object.keys(layout), token };
}

const usage = `usage: drover init DIR [--drover SPEC]
Lays out a new project in DIR: a hub Worker, tasks, a worker, a producer, a README.
--drover sets its drover dependency (a version range, or a packed tarball's path).`;

export const initCommand: Command = {
  name: 'init',
  summary: 'lay out a new project of your own',
  usage,
  async run(args) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { drover: { type: 'string' } } });
    if (positionals.length !== 1) throw new UsageError('init needs one folder, e.g. drover init my-app');
    // The package's own package.json: its version, and the wrangler and TypeScript it is built and tested with.
    const own = createRequire(import.meta.url)('../package.json') as { version: string; devDependencies: Record<string, string> };
    // The tools go in at those very versions, not as ranges: a range takes the newest wrangler the
    // registry has, whose peer (a newer workers-types) the registry may not have yet, and then the
    // project's first `npm install` fails.
    const tested = (name: string) => own.devDependencies[name].replace(/^[\^~]/, '');
    const made = init({
      dir: positionals[0],
      drover: values.drover ? (/^[./~]|^[A-Za-z]:/.test(values.drover) ? `file:${resolve(values.drover)}` : values.drover) : `^${own.version}`,
      versions: { wrangler: tested('wrangler'), workersTypes: tested('@cloudflare/workers-types'), typescript: tested('typescript') },
    });
    process.stdout.write(`made ${made.dir}: ${made.written.join(', ')}\nlocal admin token (in .dev.vars): ${made.token}\nnext: cd ${positionals[0]} && npm install && npm run dev\n`);
    return 0;
  },
};
