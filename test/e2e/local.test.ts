// npm start as Cloudflare's local tools behave: the cron route on the hub's own port, and a stop that leaves nothing behind.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, startSystem, TOKEN_LIST, uniqueQueue, type System } from './system.ts';
import { waitFor } from './workers.ts';

const root = resolve(import.meta.dirname, '..', '..');

/** One state directory for the file: each start after the first reuses its bundles and migrations. */
const stateDir = mkdtempSync(join(tmpdir(), 'drover-local-'));
let system: System | undefined;
afterEach(async () => {
  await system?.kill();
  system = undefined;
});

describe('the cron route on the hub port', () => {
  it('runs the cron trigger as `wrangler dev --test-scheduled` does: a schedule due gets its task', async () => {
    system = await startSystem({ stateDir });
    const { api } = system;
    const queue = uniqueQueue('cron');
    expect((await api.post('/v1/schedules', { id: queue, cron: '0 12 15 6 *', task: 'local.noon', queue })).status).toBe(201);
    const url = `${system.url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent('* * * * *')}&time=${Date.parse('2031-06-15T12:00:20Z')}`;

    // No token: the route is npm start's, as wrangler's is wrangler dev's. It answers once the work is done.
    const res = await fetch(url);
    expect([res.status, await res.text()]).toEqual([200, 'ok']);
    const { body } = await api.get(`/v1/tasks?schedule=${queue}`);
    expect(body.tasks.map((t: any) => t.idempotencyKey)).toEqual([`schedule:${queue}:2031-06-15T12:00:00.000Z`]);
    expect((await api.get(`/v1/schedules/${queue}`)).body).toMatchObject({ lastTaskId: body.tasks[0].id, lastRunAt: '2031-06-15T12:00:20.000Z' });

    // The same slot again finds the task it made: one task per slot, as under Cloudflare's trigger.
    expect((await fetch(`${url}&format=json`).then((r) => r.json())) as unknown).toEqual({ outcome: 'ok', noRetry: false });
    expect((await api.get(`/v1/tasks?schedule=${queue}`)).body.tasks).toHaveLength(1);
  });
});

/** Processes alive (zombies are not: they run nothing and hold no port) among `pids`. */
function alive(pids: number[]): number[] {
  const rows = execFileSync('ps', ['-A', '-o', 'pid=,stat='], { encoding: 'utf8' }).trim().split('\n');
  const running = new Set(rows.map((r) => r.trim().split(/\s+/)).filter(([, stat]) => !stat.startsWith('Z')).map(([pid]) => Number(pid)));
  return pids.filter((pid) => running.has(pid));
}

/** `pid` and every process below it, with their command lines. */
function tree(pid: number): { pid: number; cmd: string }[] {
  const rows = execFileSync('ps', ['-A', '-o', 'pid=,ppid=,args='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((r) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(r)!)
    .map(([, p, pp, cmd]) => ({ pid: Number(p), ppid: Number(pp), cmd }));
  const found = rows.filter((r) => r.pid === pid);
  for (let i = 0; i < found.length; i++) found.push(...rows.filter((r) => r.ppid === found[i].pid));
  return found.map(({ pid: p, cmd }) => ({ pid: p, cmd }));
}

function portFree(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const server = createServer();
    server.once('error', () => ok(false));
    server.listen(port, '127.0.0.1', () => server.close(() => ok(true)));
  });
}

/** After `end`, within 5 s every process in `made` is gone and every port in `ports` is free. */
async function goneWithin5s(made: { pid: number; cmd: string }[], ports: number[], end: () => void) {
  end();
  const deadline = Date.now() + 5000;
  let left = alive(made.map((p) => p.pid));
  while (left.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    left = alive(made.map((p) => p.pid));
  }
  expect(made.filter((p) => left.includes(p.pid)).map((p) => p.cmd)).toEqual([]);
  for (const port of ports) expect(await portFree(port), `port ${port} is free`).toBe(true);
}

/** A running system, what it is made of (npm, node scripts/start.ts, workerd; not the parent it may have), and its ports. */
async function running(options: { parent?: boolean } = {}) {
  system = await startSystem({ stateDir, parent: options.parent });
  const made = tree(system.pgid).slice(options.parent ? 1 : 0);
  expect(made.map((p) => p.cmd).join('\n')).toMatch(/^npm start[\s\S]*scripts\/start\.ts[\s\S]*workerd/);
  return { s: system, made, ports: [system.port, Number(new URL(system.triggers).port)] };
}

describe('stopping npm start', () => {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    it(`${signal} to the npm process alone stops everything it started within 5 s`, async () => {
      const { s, made, ports } = await running();
      await goneWithin5s(made, ports, () => process.kill(s.pgid, signal));
    });
  }

  it('the death of the process that ran npm start stops everything within 5 s', async () => {
    const { s, made, ports } = await running({ parent: true });
    await goneWithin5s(made, ports, () => process.kill(s.pgid, 'SIGKILL'));
  });

  it('SIGTERM while wrangler bundles the Workers stops wrangler, its CLI and esbuild within 5 s', async () => {
    // A fresh state directory: nothing to reuse, so wrangler bundles (its CLI in a process of its own, which runs esbuild).
    const npm = spawn('npm', ['start', '--silent'], {
      cwd: root,
      env: { ...process.env, PORT: String(await freePort()), DROVER_STATE_DIR: mkdtempSync(join(tmpdir(), 'drover-local-')), DROVER_TOKENS: TOKEN_LIST },
      detached: true,
      stdio: 'ignore',
    });
    let made: { pid: number; cmd: string }[] = [];
    try {
      made = await waitFor('wrangler to bundle', async () => {
        const t = tree(npm.pid!);
        return t.some((p) => p.cmd.includes('wrangler-dist/cli.js')) && t.some((p) => p.cmd.includes('esbuild')) && t;
      });
      await goneWithin5s(made, [], () => process.kill(npm.pid!, 'SIGTERM'));
    } finally {
      for (const pid of alive(made.map((p) => p.pid))) process.kill(pid, 'SIGKILL');
    }
  });
});
