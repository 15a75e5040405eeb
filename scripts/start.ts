// `npm start`: the whole drover system on this machine (hub + regional workers in one workerd), on persistent state.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { rootCertificates } from 'node:tls';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileShards } from '../src/core/shards.ts';
import { jurisdictions } from '../src/core/jurisdictions.ts';
import { bindingInUse, partitionBinding, partitionCount } from '../src/db/partitions.ts';
import { allowList } from '../src/http-tasks/call.ts';
import { canonicalHost, inCidr, NAT64, notGlobalCidrs, parseCidr } from '../src/http-tasks/hosts.ts';
import { isStopping, own, ownGroup, ownRuntime, stopWithParents } from './lifetime.ts';
import { regionalConfigs } from '../bin/deploy.ts';

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

// Before anything starts: a signal or a dead parent from here on stops all that this process started.
stopWithParents(log);

// A shard or jurisdiction table, or a D1 partition count, that could never be applied stops the start, not every enqueue after it.
let partitions = 1;
try {
  compileShards(process.env.DROVER_SHARDS);
  // The jurisdictions: the environment's table, else wrangler.toml's, against the D1 bindings wrangler.toml declares.
  const toml = readFileSync(join(root, 'wrangler.toml'), 'utf8');
  const table = process.env.DROVER_JURISDICTIONS ?? /^DROVER_JURISDICTIONS\s*=\s*'([^']*)'/m.exec(toml)?.[1];
  const bound = Object.fromEntries([...toml.matchAll(/^binding\s*=\s*"(DB_[A-Z]+)"/gm)].map((m) => [m[1], true]));
  jurisdictions({ DROVER_JURISDICTIONS: table, ...bound });
  // The D1 partitions: as many as the environment (else wrangler.toml) says, each with its binding there.
  partitions = partitionCount({ DROVER_D1_PARTITIONS: process.env.DROVER_D1_PARTITIONS ?? /^DROVER_D1_PARTITIONS\s*=\s*"([^"]*)"/m.exec(toml)?.[1] });
  const missing = Array.from({ length: partitions }, (_, i) => partitionBinding(i)).find((b) => !new RegExp(`^binding\\s*=\\s*"${b}"`, 'm').test(toml));
  if (missing) throw new Error(`DROVER_D1_PARTITIONS is ${partitions}, but wrangler.toml has no D1 binding ${missing}`);
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

/** Every Worker of the system: the hub first, then each regional consumer (those `npm run deploy` deploys). */
function configs(): string[] {
  return [join(root, 'wrangler.toml'), ...regionalConfigs(root)];
}

const childEnv = { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_D1_WARNING: 'true', FORCE_COLOR: '0' };

mkdirSync(stateDir, { recursive: true });
const { value: tokenList, printed } = tokens();

function wranglerRun(args: string[], timeoutMs = 0): Promise<void> {
  return new Promise((ok, fail) => {
    let output = '';
    const child = own(spawn(process.execPath, [wrangler, ...args], { cwd: root, env: { ...childEnv, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'], ...ownGroup }));
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = timeoutMs
      ? setTimeout(() => {
          try {
            process.kill(ownGroup.detached ? -child.pid! : child.pid!, 'SIGKILL');
          } catch {
            // already gone
          }
          fail(new Error(`wrangler ${args[0]} ${args[1]} took over ${timeoutMs / 1000} s and was stopped; it had said:\n${output}`));
        }, timeoutMs)
      : null;
    child.on('exit', (code) => {
      if (timer) clearTimeout(timer);
      if (code === 0) ok();
      else fail(new Error(`wrangler ${args[0]} ${args[1]} failed:\n${output}`));
    });
  });
}

/**
 * What a bundle is made from: every source a Worker may import (src/, workers/, examples/, the
 * root's hub.ts, routes.ts and schedules.ts), its config, and the locked dependencies. The same inputs make
 * the same bundle, so a restart (after a crash, in the tests' kill -9 runs) reuses the last one
 * instead of spending a wrangler process on each Worker again.
 */
function sourcesHash(): ReturnType<typeof createHash> {
  const hash = createHash('sha256');
  const add = (file: string) => hash.update(`${file}\0`).update(readFileSync(file)).update('\0');
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (/\.(ts|js|json|toml)$/.test(e.name)) add(path);
    }
  };
  for (const dir of ['src', 'workers', 'examples']) walk(join(root, dir));
  for (const file of ['hub.ts', 'routes.ts', 'schedules.ts', 'package-lock.json', 'tsconfig.json']) if (existsSync(join(root, file))) add(join(root, file));
  return hash;
}

/** The sources every Worker shares, read once per start; each Worker's stamp adds its config. */
let shared: ReturnType<typeof createHash> | null = null;
function sourceStamp(config: string): string {
  shared ??= sourcesHash();
  return shared.copy().update(`${config}\0`).update(readFileSync(config)).digest('hex');
}

/** Bundles a Worker as `wrangler deploy` would (a dry run), unless its last bundle was made from the same sources. */
async function bundle(config: string, out: string): Promise<void> {
  const stampFile = join(out, '.sources');
  const stamp = sourceStamp(config);
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp && readdirSync(out).some((f) => f.endsWith('.js'))) return;
  // A bundle takes about 3 s on an idle 2-core machine. Once, in a loaded test run,
  // one never finished and left npm start waiting, cause unknown: past a minute the wrangler run is
  // stopped, said so with what it had printed, and made again once.
  const args = ['deploy', '--dry-run', '--outdir', out, '-c', config];
  await wranglerRun(args, 60_000).catch((err: Error) => {
    if (!/took over/.test(err.message)) throw err;
    log(`${err.message}\ntrying once more`);
    return wranglerRun(args, 60_000);
  });
  writeFileSync(stampFile, stamp);
}

/** A D1 binding npm start migrates: all but the partitions past DROVER_D1_PARTITIONS (each costs the start time). */
function inUse(binding: string): boolean {
  return bindingInUse(binding, partitions);
}

/**
 * Whether the local D1 already has every migration in migrations/: then a restart asks the runtime
 * nothing about them. Read-only, before the runtime starts; anything unreadable means "apply
 * them", which applyMigrations does idempotently.
 */
async function migrationsApplied(): Promise<boolean> {
  const dir = join(stateDir, 'v3', 'd1', 'miniflare-D1DatabaseObject');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /^[0-9a-f]{64}\.sqlite$/.test(f)) : [];
  // One local database per D1 of the hub's wrangler.toml in use (DB, each jurisdiction's, the partitions counted).
  const databases = [...readFileSync(join(root, 'wrangler.toml'), 'utf8').matchAll(/^binding\s*=\s*"(DB\w*)"/gm)].filter((m) => inUse(m[1])).length;
  if (files.length < databases) return false;
  const wanted = readdirSync(join(root, 'migrations')).filter((f) => f.endsWith('.sql'));
  // node:sqlite warns once that it is experimental: not a line for npm start's output.
  const listeners = process.listeners('warning');
  process.removeAllListeners('warning');
  const { DatabaseSync } = await import('node:sqlite');
  await new Promise((r) => setImmediate(r));
  for (const l of listeners) process.on('warning', l);
  for (const file of files) {
    let db;
    try {
      db = new DatabaseSync(join(dir, file), { readOnly: true });
      const applied = new Set((db.prepare('SELECT name FROM d1_migrations').all() as { name: string }[]).map((r) => r.name));
      if (!wanted.every((name) => applied.has(name))) return false;
    } catch {
      return false;
    } finally {
      db?.close();
    }
  }
  return true;
}

/**
 * Applies the D1 migrations the local database lacks, through the runtime's own D1 binding, as
 * `wrangler d1 migrations apply --local` does: a file's statements (drizzle-kit parts them with
 * `--> statement-breakpoint`) and its row in the same d1_migrations table, in one batch, so wrangler
 * finds them applied too. A wrangler process for this took about 8 s of a first start on 2 cores,
 * most of a start; here it takes a fraction of a second, and a restart one query.
 */
async function applyMigrations(db: D1Database): Promise<string[]> {
  await db
    .prepare('CREATE TABLE IF NOT EXISTS d1_migrations(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)')
    .run();
  const applied = new Set((await db.prepare('SELECT name FROM d1_migrations').all<{ name: string }>()).results.map((r) => r.name));
  const dir = join(root, 'migrations');
  const pending = readdirSync(dir).filter((f) => f.endsWith('.sql') && !applied.has(f)).sort();
  for (const name of pending) {
    const statements = readFileSync(join(dir, name), 'utf8').split('--> statement-breakpoint').map((q) => q.trim()).filter(Boolean);
    await db.batch([...statements.map((q) => db.prepare(q)), db.prepare('INSERT INTO d1_migrations (name) VALUES (?)').bind(name)]);
  }
  return pending;
}

// Each Worker runs as `wrangler deploy` would upload it: bundled by wrangler (a dry run), beside the migrations.
const build = join(stateDir, 'build');
const workers = configs().map((config, i) => ({ config, out: join(build, String(i)) }));
log(`bundling ${workers.length} Workers in ${stateDir}`);
let migrationsDone = false;
try {
  [migrationsDone] = await Promise.all([migrationsApplied(), ...workers.map((w) => bundle(w.config, w.out))]);
} catch (err) {
  // A stop kills the wrangler runs; its own exit follows.
  if (isStopping()) await new Promise(() => {});
  process.stderr.write(`${(err as Error).message}\n`);
  log('could not prepare the system');
  process.exit(1);
}

// The Worker runtime (workerd) through Miniflare, as wrangler dev runs it, but with nothing in
// front: the hub answers on PORT from its own socket, as a deployed hub answers Cloudflare's edge.
// (Miniflare's entry Worker would re-make every response: it gzips JSON, calls out to log each
// request, and negotiates WebSocket compression whatever the hub answers.) So the hub serves the
// cron route of `wrangler dev --test-scheduled` itself (DROVER_LOCAL_CRON), and the entry Worker
// keeps a port of its own for Miniflare's routes (its cron route, MF-Route-Override to another
// Worker). wrangler's own Miniflare, so the two agree.
const fromWrangler = createRequire(join(root, 'node_modules', 'wrangler', 'package.json'));
const { unstable_readConfig: readConfig, unstable_getMiniflareWorkerOptions: workerOptionsOf } = fromWrangler('wrangler') as typeof import('wrangler');
const { Miniflare, Log, LogLevel, convertV4MiniflareOptions } = fromWrangler('miniflare') as typeof import('miniflare');

// DROVER_LOG_LEVEL: debug, info (default), warn, error or none; below info, no line per request.
const levels: Record<string, number> = { none: LogLevel.NONE, error: LogLevel.ERROR, warn: LogLevel.WARN, info: LogLevel.INFO, debug: LogLevel.DEBUG };
const level = levels[process.env.DROVER_LOG_LEVEL ?? 'info'] ?? LogLevel.INFO;

const hubVars: Record<string, string> = {
  DROVER_TOKENS: tokenList,
  DROVER_REDELIVER_AFTER: redeliverAfter,
  DROVER_SIGNING_KEYS: signingKeys(),
  DROVER_LOG_REQUESTS: String(level >= LogLevel.INFO),
  // The hub's own port serves /cdn-cgi/handler/scheduled, as `wrangler dev --test-scheduled` does; only here (src/local-cron.ts).
  DROVER_LOCAL_CRON: 'true',
  // workerd has no jurisdictions: objects in one are kept apart by name, records by their own local D1.
  DROVER_LOCAL_JURISDICTIONS: 'true',
};
for (const name of ['DROVER_HTTP_ALLOW', 'DROVER_CORS_ORIGINS', 'DROVER_SOCKET_SECONDS', 'DROVER_SHARDS', 'DROVER_JURISDICTIONS', 'DROVER_D1_PARTITIONS', 'DROVER_WORKER_INTERVAL_SECONDS', 'DROVER_WORKER_STALE_SECONDS']) {
  if (process.env[name]) hubVars[name] = process.env[name]!;
}

/**
 * Where the Workers' fetch() may connect under npm start: globally reachable addresses, and what
 * DROVER_HTTP_ALLOW lists (names in it resolved now, once). On Cloudflare, Cloudflare refuses a
 * subrequest to a name that resolves to a prohibited address (error 1000); workerd's own network
 * would connect anywhere. A workerd network service checks every address a name resolves to and
 * connects only to one that passes: no second lookup can answer differently (DNS rebinding).
 * Miniflare takes no network service as a Worker's outbound, so a small Worker hands requests to one.
 */
async function outboundNetwork(): Promise<{ allow: string[]; deny: string[] }> {
  const allowed: string[] = [];
  for (const entry of allowList(process.env.DROVER_HTTP_ALLOW)) {
    const host = canonicalHost(entry);
    const block = host === null ? null : parseCidr(host);
    if (block) allowed.push(`${host!.split('/')[0]}/${block.bits}`);
    else if (host) {
      try {
        for (const { address, family } of await lookup(host, { all: true })) allowed.push(`${address}/${family === 4 ? 32 : 128}`);
      } catch (err) {
        log(`DROVER_HTTP_ALLOW: ${host} does not resolve (${(err as Error).message}); Workers cannot reach it`);
      }
    }
  }
  // workerd lets an allowed block win only over a wider denied one: a denied block inside an allowed one goes.
  const blocks = allowed.map((c) => parseCidr(c)!);
  const deny = notGlobalCidrs().filter((c) => {
    const d = parseCidr(c)!;
    return !blocks.some((a) => a.bits <= d.bits && inCidr(d, a));
  });
  return { allow: ['0.0.0.0/0', '::/0', NAT64, ...allowed], deny };
}

/** The certificates Miniflare's own outbound network trusts beside the browsers' (Windows' store, NODE_EXTRA_CA_CERTS). */
function trustedCertificates(): string[] {
  const extra = process.env.NODE_EXTRA_CA_CERTS && existsSync(process.env.NODE_EXTRA_CA_CERTS) ? readFileSync(process.env.NODE_EXTRA_CA_CERTS, 'utf8') : '';
  return [...(process.platform === 'win32' ? rootCertificates : []), ...(extra.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [])];
}

const outbound = {
  name: 'drover-outbound',
  modules: true,
  // Redirects go back to the caller, which follows them (or not) through here again: every hop is filtered.
  script: `export default {
    async fetch(request, env) {
      try {
        return await env.NETWORK.fetch(new Request(request, { redirect: 'manual' }));
      } catch {
        throw new Error('could not connect to ' + new URL(request.url).host + ': nothing answered, or it resolves only to '
          + 'addresses that are not public, which Workers may not reach (DROVER_HTTP_ALLOW can allow them)');
      }
    },
  };`,
  compatibilityDate: '2026-10-01',
  serviceBindings: { NETWORK: { network: { ...(await outboundNetwork()), tlsOptions: { trustBrowserCas: true, trustedCertificates: trustedCertificates() } } } },
};

const workerList = workers.map(({ config, out }, i) => {
  const parsed = readConfig({ config });
  const { workerOptions } = workerOptionsOf(parsed);
  // Module rules and the root are for unbundled sources; the bundle is one module.
  const { modulesRules: _rules, rootPath: _root, ...options } = workerOptions as Record<string, unknown> & { bindings?: Record<string, unknown> };
  // Regional consumers ask the hub for the signing keys over RPC, so only the hub gets them; they
  // get the hub's tokens, to let in the hub's wakes (and an operator's token) and no one else.
  const hub = i === 0 ? { bindings: { ...options.bindings, ...hubVars }, unsafeDirectSockets: [{ host: '127.0.0.1', port }] } : { bindings: { ...options.bindings, DROVER_TOKENS: tokenList, DROVER_LOCAL_JURISDICTIONS: 'true' } };
  return { ...options, name: parsed.name, ...hub, modules: true, modulesRoot: out, scriptPath: join(out, `${basename(parsed.main!, '.ts')}.js`), outboundService: outbound.name };
});

// DROVER_INSPECTOR_PORT fixes the DevTools port (the bench's profiler connects there).
const inspectorPort = Number(process.env.DROVER_INSPECTOR_PORT) || (await freePort());
const triggersPort = await freePort();
const triggers = `http://127.0.0.1:${triggersPort}`;
const mf = new Miniflare(
  convertV4MiniflareOptions({
    host: '127.0.0.1',
    port: triggersPort,
    inspectorPort,
    resourcePersistencePath: join(stateDir, 'v3'),
    // GET /cdn-cgi/local/scheduled?cron=&time= on `triggers` runs the cron trigger (below, once a minute).
    unsafeTriggerHandlers: true,
    // The local trace collector records a span for every SQL statement, RPC and fetch, and took
    // more than half the runtime's CPU under load: off unless X_LOCAL_OBSERVABILITY=true.
    unsafeObservability: process.env.X_LOCAL_OBSERVABILITY === 'true',
    // Request.cf is not fetched from the network; drover reads none of it.
    cf: false,
    log: new Log(level),
    // The hub logs its own requests (DROVER_LOG_REQUESTS); the entry Worker serves only Miniflare's routes.
    logRequests: false,
    workers: [...workerList, outbound],
  } as Parameters<typeof convertV4MiniflareOptions>[0]),
);
ownRuntime(mf);
try {
  await mf.ready;
} catch (err) {
  // A stop disposes of the runtime while it starts; its own exit follows.
  if (isStopping()) await new Promise(() => {});
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  log('the Worker runtime did not start');
  process.exit(1);
}
try {
  // Every D1 of the hub (DB, and each jurisdiction's) has the same tables.
  const databases = migrationsDone ? [] : (readConfig({ config: workers[0].config }).d1_databases ?? []).map((d: { binding: string }) => d.binding).filter(inUse);
  for (const binding of databases) {
    const applied = await applyMigrations((await mf.getD1Database(binding, workerList[0].name)) as unknown as D1Database);
    if (applied.length) log(`applied ${applied.length} D1 migration(s) to ${binding}: ${applied.join(', ')}`);
  }
} catch (err) {
  if (isStopping()) await new Promise(() => {});
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  log('could not apply the D1 migrations');
  process.exit(1);
}

/** Nothing local fires cron triggers: fire them as Cloudflare would, once a minute. */
async function fireScheduled(time: number): Promise<void> {
  const cron = encodeURIComponent('* * * * *');
  try {
    const res = await fetch(`${triggers}/cdn-cgi/local/scheduled?cron=${cron}&time=${time}`);
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
log(`local triggers at ${triggers} (GET /cdn-cgi/local/scheduled?cron=&time= runs the cron trigger)`);
log(`cron trigger on the hub's port, as wrangler dev --test-scheduled serves it: GET ${url}/cdn-cgi/handler/scheduled?cron=&time=`);
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
