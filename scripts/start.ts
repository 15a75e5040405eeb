// `npm start`: the whole drover system on this machine (hub + regional workers in one wrangler), on persistent state.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileShards } from '../src/core/shards.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const wrangler = join(root, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const port = Number(process.env.PORT ?? 8787);
const stateDir = resolve(process.env.DROVER_STATE_DIR ?? join(root, '.wrangler', 'state'));
const url = `http://127.0.0.1:${port}`;
/** Locally the bus only loses messages when the process dies, so undelivered work is resent soon after. */
const redeliverAfter = process.env.DROVER_REDELIVER_AFTER ?? '3';

function log(message: string): void {
  process.stdout.write(`[drover] ${message}\n`);
}

// A shard table that could never be applied stops the start, not every enqueue after it.
try {
  compileShards(process.env.DROVER_SHARDS);
} catch (err) {
  log((err as Error).message);
  process.exit(1);
}

/** The dev token lives in the state directory, so a restart keeps it. */
function tokens(): { value: string; printed: string | null } {
  if (process.env.DROVER_TOKENS) return { value: process.env.DROVER_TOKENS, printed: null };
  const file = join(stateDir, 'dev-token');
  let token = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  if (!token) {
    token = `dev-${randomBytes(16).toString('hex')}`;
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
  }
  return { value: `${token}:admin`, printed: token };
}

/** A dev signing key for HTTP tasks and callbacks, kept in the state directory like the token. */
function signingKeys(): string {
  if (process.env.DROVER_SIGNING_KEYS) return process.env.DROVER_SIGNING_KEYS;
  const file = join(stateDir, 'dev-signing-key');
  let key = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  if (!key) {
    key = `whsec_${randomBytes(24).toString('base64')}`;
    writeFileSync(file, `${key}\n`, { mode: 0o600 });
  }
  return key;
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port: p } = server.address() as { port: number };
      server.close(() => ok(p));
    });
  });
}

/** Every Worker of the system: the hub first, then each regional consumer under workers/. */
function configs(): string[] {
  const dir = join(root, 'workers');
  const regional = existsSync(dir)
    ? readdirSync(dir)
        .map((name) => join(dir, name, 'wrangler.toml'))
        .filter((file) => existsSync(file))
        .sort()
    : [];
  return [join(root, 'wrangler.toml'), ...regional];
}

// Wrangler's local trace collector records a span for every SQL statement, RPC and fetch, and
// took more than half the runtime's CPU under load: off unless X_LOCAL_OBSERVABILITY=true.
const childEnv = {
  ...process.env,
  WRANGLER_SEND_METRICS: 'false',
  NO_D1_WARNING: 'true',
  FORCE_COLOR: '0',
  X_LOCAL_OBSERVABILITY: process.env.X_LOCAL_OBSERVABILITY ?? 'false',
};

mkdirSync(stateDir, { recursive: true });
const { value: tokenList, printed } = tokens();

log(`applying D1 migrations in ${stateDir}`);
const migrate = spawnSync(
  process.execPath,
  [wrangler, 'd1', 'migrations', 'apply', 'drover', '--local', '--persist-to', stateDir, '-c', join(root, 'wrangler.toml')],
  { cwd: root, env: { ...childEnv, CI: 'true' }, encoding: 'utf8' },
);
if (migrate.status !== 0) {
  process.stderr.write(migrate.stdout + migrate.stderr);
  log('D1 migrations failed');
  process.exit(1);
}

// DROVER_INSPECTOR_PORT fixes the DevTools port (the bench's profiler connects there).
const inspectorPort = Number(process.env.DROVER_INSPECTOR_PORT) || (await freePort());
const args = [wrangler, 'dev'];
for (const config of configs()) args.push('-c', config);
args.push(
  '--ip', '127.0.0.1',
  '--port', String(port),
  '--inspector-port', String(inspectorPort),
  '--persist-to', stateDir,
  '--show-interactive-dev-session=false',
  '--var', `DROVER_TOKENS:${tokenList}`,
  '--var', `DROVER_REDELIVER_AFTER:${redeliverAfter}`,
);
// Regional consumers ask the hub for the signing keys over RPC, so only the hub gets them.
args.push('--var', `DROVER_SIGNING_KEYS:${signingKeys()}`);
for (const name of ['DROVER_HTTP_ALLOW', 'DROVER_CORS_ORIGINS', 'DROVER_SOCKET_SECONDS', 'DROVER_SHARDS']) {
  if (process.env[name]) args.push('--var', `${name}:${process.env[name]}`);
}
// DROVER_LOG_LEVEL=warn quiets wrangler's line per request (each costs the runtime a call out to log).
if (process.env.DROVER_LOG_LEVEL) args.push('--log-level', process.env.DROVER_LOG_LEVEL);
const child = spawn(process.execPath, args, { cwd: root, env: childEnv, stdio: ['ignore', 'inherit', 'inherit'] });

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopping = true;
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}
child.on('exit', (code, signal) => {
  if (!stopping) log(`wrangler exited (${signal ?? code})`);
  process.exit(stopping ? 0 : (code ?? 1));
});

/** Local wrangler never fires cron triggers: fire them as Cloudflare would, once a minute. */
async function fireScheduled(time: number): Promise<void> {
  const cron = encodeURIComponent('* * * * *');
  try {
    const res = await fetch(`${url}/cdn-cgi/handler/scheduled?cron=${cron}&time=${time}`);
    await res.arrayBuffer();
  } catch (err) {
    log(`scheduled trigger failed: ${(err as Error).message}`);
  }
}

async function waitHealthy(): Promise<void> {
  for (;;) {
    try {
      const res = await fetch(`${url}/healthz`);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

await waitHealthy();
log(`hub ready at ${url}`);
if (printed) log(`dev token (admin): ${printed}`);
log(`state in ${stateDir}`);
// A run after a crash may find recorded tasks the bus dropped: sweep them now, then every minute.
await fireScheduled(Date.now());
const tick = () => {
  const now = Date.now();
  const next = Math.ceil((now + 1) / 60_000) * 60_000;
  setTimeout(() => {
    void fireScheduled(next);
    tick();
  }, next - now);
};
tick();
