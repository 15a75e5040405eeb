// The package as a user gets it: `npm pack`ed, installed into an empty project outside this
// repository, every entry imported on Node 22 and 24 (the hub's and the regional consumer's bundled
// into Workers by wrangler), a consumer type-checked under `strict` without skipLibCheck, and the
// `drover` command run.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './system.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');
const versionOf = (name: string) => (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

function run(command: string, args: string[], cwd: string): string {
  const done = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', WRANGLER_SEND_METRICS: 'false' } });
  if (done.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${done.status}):\n${done.stdout}\n${done.stderr}`);
  return done.stdout;
}

let out: string;
let tarball: string;
let app: string;

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'drover-pack-'));
  [{ filename: tarball }] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', out], root)) as { filename: string }[];
  app = join(out, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'drover-user', private: true, type: 'module' }));
  // The same versions this repository has, so npm's cache serves them.
  run('npm', ['install', '--prefer-offline', join(out, tarball), `typescript@${versionOf('typescript')}`, `@types/node@${versionOf('@types/node')}`,
    `@cloudflare/workers-types@${versionOf('@cloudflare/workers-types')}`], app);
}, 300_000);

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('the packed package', () => {
  it('ships the built entries, the D1 migrations and the license, and no sources or tests', () => {
    const installed = join(app, 'node_modules', 'drover');
    expect(readdirSync(installed).sort()).toEqual(['LICENSE', 'README.md', 'dist', 'migrations', 'package.json']);
    for (const entry of ['index', 'worker', 'hub', 'regional']) {
      expect(existsSync(join(installed, 'dist', `${entry}.js`)), entry).toBe(true);
      expect(existsSync(join(installed, 'dist', `${entry}.d.ts`)), entry).toBe(true);
    }
    expect(readdirSync(join(installed, 'migrations')).every((f) => f.endsWith('.sql'))).toBe(true);
    expect(readdirSync(join(installed, 'dist')).some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toBe(false);
  });

  it.each([
    ['22', [join(root, 'node_modules', '.bin', 'node')]],
    ['24', ['npx', '-y', 'node@24']],
  ])('imports drover and drover/worker on Node %s and runs them', (major, [node, ...pre]) => {
    writeFileSync(
      join(app, 'use.mjs'),
      `import { createClient, defineTask, chain, sig, verifyWebhook } from 'drover';
import { PullWorker, defineTask as define } from 'drover/worker';
const hello = defineTask('hello.world', async ([name]) => 'hello ' + name);
const client = createClient({ url: 'http://127.0.0.1:9', token: 't' });
const worker = new PullWorker({ url: 'http://127.0.0.1:9', token: 't', queue: 'q', tasks: [define('x.y', async () => 1)] });
console.log(JSON.stringify({
  node: process.versions.node.split('.')[0],
  task: hello.name,
  client: typeof client.enqueue,
  workflow: Object.keys(chain(sig(hello, ['a']), sig(hello, ['b']))),
  verify: await verifyWebhook(['whsec_' + btoa('key-of-the-test-0123456789')], {}, '{}'),
  worker: typeof worker.start,
  hub: import.meta.resolve('drover/hub').endsWith('/node_modules/drover/dist/hub.js'),
  regional: import.meta.resolve('drover/regional').endsWith('/node_modules/drover/dist/regional.js'),
}));
`,
    );
    const printed = JSON.parse(run(node, [...pre, 'use.mjs'], app).trim().split('\n').pop()!);
    expect(printed).toEqual({ node: major, task: 'hello.world', client: 'function', workflow: ['request'], verify: false, worker: 'function', hub: true, regional: true });
  }, 120_000);

  it('bundles a deployment\'s own hub and regional consumer with wrangler, from drover/hub and drover/regional', () => {
    writeFileSync(
      join(app, 'hub.ts'),
      `import { createHub, defineSchedule } from 'drover/hub';
export { BeatObject, EventsObject, HttpRunnerObject, QueueObject, WorkflowObject } from 'drover/hub';
export default createHub({
  routes: [{ match: 'pages.*', queue: 'pages', region: 'weur' }],
  schedules: [defineSchedule({ id: 'nightly', cron: '0 3 * * *', task: 'reports.nightly' })],
});
`,
    );
    writeFileSync(
      join(app, 'regional.ts'),
      `import { regionalConsumer } from 'drover/regional';
import { defineTask } from 'drover';
const page = defineTask('pages.fetch', async ([url]: [string]) => (await fetch(url)).status);
const { worker, RegionalConsumerObject } = regionalConsumer({ region: 'weur', locationHint: 'weur', tasks: [page] });
export { RegionalConsumerObject };
export default worker;
`,
    );
    writeFileSync(join(app, 'wrangler.toml'), 'name = "my-hub"\nmain = "hub.ts"\ncompatibility_date = "2026-10-01"\n');
    writeFileSync(join(app, 'regional.toml'), 'name = "my-weur"\nmain = "regional.ts"\ncompatibility_date = "2026-10-01"\n');
    const wrangler = join(root, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
    for (const [config, main] of [['wrangler.toml', 'hub'], ['regional.toml', 'regional']]) {
      const outdir = join(app, `out-${main}`);
      run(process.execPath, [wrangler, 'deploy', '--dry-run', '--outdir', outdir, '-c', config], app);
      const bundle = readFileSync(join(outdir, `${main}.js`), 'utf8');
      // drover's code is in the bundle, read from the installed package.
      expect(bundle, config).toMatch(main === 'hub' ? /var QueueObject = class extends DurableObject/ : /class RegionalConsumerObject\d* extends DurableObject/);
      expect(bundle, config).toMatch(/from "cloudflare:workers"/);
      // The /docs viewer comes inside the package's hub, not from the installing project's node_modules.
      if (main === 'hub') expect(bundle.includes('SwaggerUIBundle'), 'the /docs viewer is in the hub bundle').toBe(true);
    }
  }, 120_000);

  it('type-checks a consumer under strict TypeScript with skipLibCheck off', () => {
    // lib es2023 without the DOM: Node's globals come from @types/node, a Worker's from workers-types.
    const strict = { strict: true, skipLibCheck: false, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2023', lib: ['es2023'], exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true };
    writeFileSync(
      join(app, 'producer.ts'),
      `import { createClient, defineTask, type TaskRecord } from 'drover';
import { PullWorker } from 'drover/worker';
export const add = defineTask('math.add', async ([a, b]: [number, number]) => a + b);
const client = createClient({ url: 'http://127.0.0.1:8787', token: 'dev' });
export async function total(): Promise<number> {
  const handle = await client.enqueue(add, [1, 2]);
  const record: TaskRecord = await handle.get();
  if (record.state === 'failed') throw new Error(record.error?.message ?? 'failed');
  return handle.wait({ timeoutSeconds: 10 });
}
export const worker = new PullWorker({ url: 'http://127.0.0.1:8787', token: 'dev', queue: 'default', tasks: [add] });
`,
    );
    writeFileSync(join(app, 'tsconfig.node.json'), JSON.stringify({ compilerOptions: { ...strict, types: ['node'] }, files: ['producer.ts'] }));
    writeFileSync(join(app, 'tsconfig.workers.json'), JSON.stringify({ compilerOptions: { ...strict, types: ['@cloudflare/workers-types'] }, files: ['hub.ts', 'regional.ts'] }));
    const tsc = join(app, 'node_modules', 'typescript', 'bin', 'tsc');
    for (const project of ['tsconfig.node.json', 'tsconfig.workers.json']) run(process.execPath, [tsc, '-p', project], app);
    // The check is a real one: a wrong argument type fails it.
    writeFileSync(join(app, 'wrong.ts'), `import { createClient, defineTask } from 'drover';\nconst add = defineTask('math.add', async ([a]: [number]) => a);\nawait createClient({ url: 'x', token: 'y' }).enqueue(add, ['one']);\n`);
    writeFileSync(join(app, 'tsconfig.wrong.json'), JSON.stringify({ compilerOptions: { ...strict, types: ['node'] }, files: ['wrong.ts'] }));
    const wrong = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.wrong.json'], { cwd: app, encoding: 'utf8' });
    expect(wrong.status).not.toBe(0);
    expect(wrong.stdout).toMatch(/wrong\.ts/);
  }, 120_000);

  it('runs the drover command', () => {
    const help = run('npx', ['drover', '--help'], app);
    expect(help).toMatch(/^\s+worker\s+run a pull worker/m);
    expect(run('npx', ['drover', 'worker', '--help'], app)).toMatch(/usage: drover worker \[--url URL\] \[--token TOKEN\] --queue QUEUE/);
  }, 60_000);

  it('scaffolds a project with drover init that, by its README\'s commands, starts, works a task and prints its result', async () => {
    run('npx', ['drover', 'init', 'my-app', '--drover', join(out, tarball)], app);
    const project = join(app, 'my-app');
    const readme = readFileSync(join(project, 'README.md'), 'utf8');
    for (const command of ['npm install', 'npm run dev', 'npm run worker', 'npm run enqueue -- Ada']) expect(readme).toContain(command);
    // The tools at the very versions drover is tested with: a range would take whatever the registry has newest.
    const { devDependencies } = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    for (const tool of ['wrangler', '@cloudflare/workers-types', 'typescript']) expect(devDependencies[tool]).toBe(versionOf(tool));
    const token = /DROVER_TOKENS=(\S+):admin/.exec(readFileSync(join(project, '.dev.vars'), 'utf8'))![1];
    run('npm', ['install', '--prefer-offline'], project);
    run('npx', ['tsc', '--noEmit'], project);

    const port = await freePort();
    const env = { ...process.env, DROVER_URL: `http://127.0.0.1:${port}`, DROVER_TOKEN: token, WRANGLER_SEND_METRICS: 'false' };
    const started: ChildProcess[] = [];
    const background = (args: string[]) => {
      const child = spawn('npm', args, { cwd: project, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout!.on('data', (d) => (output += d));
      child.stderr!.on('data', (d) => (output += d));
      started.push(child);
      return () => output;
    };
    try {
      const dev = background(['run', 'dev', '--', '--port', String(port), '--ip', '127.0.0.1']);
      const deadline = Date.now() + 90_000;
      for (;;) {
        const res = await fetch(`${env.DROVER_URL}/healthz`).catch(() => null);
        if (res?.ok) break;
        if (Date.now() > deadline) throw new Error(`the scaffolded hub did not start:\n${dev()}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      background(['run', 'worker']);
      const enqueued = spawnSync('npm', ['run', '--silent', 'enqueue', '--', 'Ada'], { cwd: project, env, encoding: 'utf8', timeout: 90_000 });
      expect(enqueued.stdout.trim(), enqueued.stderr).toBe('hello, Ada');
    } finally {
      for (const child of started) {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }, 300_000);
});
