// A throwaway redis-server for the BullMQ and Celery peers, plus the few helpers both peers share.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../e2e/system.ts';
import type { Latency } from './types.ts';

export const REDIS_SERVER = '/usr/bin/redis-server';
/** Debian's Python, which has python3-celery and python3-redis (the `python3` on PATH may be another one). */
export const PYTHON = '/usr/bin/python3';

export interface Redis {
  port: number;
  url: string;
  stop(): Promise<void>;
}

/** The Debian packages the peers need that are not installed. */
export function findMissing(): string[] {
  const missing: string[] = [];
  if (!existsSync(REDIS_SERVER)) missing.push('redis-server');
  const probe = (module: string) => existsSync(PYTHON) && spawnSync(PYTHON, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;
  if (!probe('celery')) missing.push('python3-celery');
  if (!probe('redis')) missing.push('python3-redis');
  return missing;
}

/** Children still alive when this process exits get SIGKILL, so a crash or an early exit leaves no strays. */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Tracks `child` for the exit sweep and resolves when it has exited. */
export function track(child: ChildProcess): Promise<void> {
  children.add(child);
  return new Promise((ok) => {
    const done = () => {
      children.delete(child);
      ok();
    };
    if (child.exitCode !== null || child.signalCode !== null) done();
    else child.once('exit', done);
  });
}

/**
 * Runs a Python bench driver (`celery_bench.py`, `bench_driver.py`) to its end and returns the JSON
 * of its last line. A worker that dies meanwhile would leave the driver waiting, so the driver is
 * stopped with it; a failure carries the driver's stderr and each worker's output.
 */
export async function runDriver<T>(
  script: string,
  args: (string | number)[],
  options: { cwd: string; env: NodeJS.ProcessEnv; workers: { child: ChildProcess; output: () => string; name?: string }[] },
): Promise<T> {
  const child = spawn(PYTHON, [script, ...args.map(String)], { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = track(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const onWorkerExit = () => child.kill('SIGKILL');
  for (const w of options.workers) w.child.once('exit', onWorkerExit);
  try {
    await exited;
  } finally {
    for (const w of options.workers) w.child.off('exit', onWorkerExit);
  }
  if (child.exitCode !== 0) {
    const logs = options.workers.map((w, i) => `\n${w.name ?? `worker ${i + 1}`}:\n${w.output()}`).join('');
    throw new Error(`${script} ${args.join(' ')} failed (${child.exitCode ?? child.signalCode}):\n${err}${logs}`);
  }
  return JSON.parse(out.trim().split('\n').pop()!) as T;
}

/** Sends `signal`, then SIGKILL if `child` has not exited within `graceMs`. */
export async function terminate(child: ChildProcess, exited: Promise<void>, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** One PING over a raw socket: true on +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(500);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      ok(data.toString().startsWith('+PONG'));
      socket.destroy();
    });
    socket.once('error', () => ok(false));
    socket.once('timeout', () => {
      ok(false);
      socket.destroy();
    });
  });
}

/** Starts a fresh, non-persisting redis-server on 127.0.0.1 and a free port; resolves once it answers PING. */
export async function startRedis(): Promise<Redis> {
  if (!existsSync(REDIS_SERVER)) throw new Error('redis-server not found: apt-get install redis-server');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-redis-'));
  let output = '';
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = track(child);
  const stop = async () => {
    await terminate(child, exited);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not start on port ${port}:\n${output}`);
    }
    await sleep(20);
  }
  return { port, url: `redis://127.0.0.1:${port}`, stop };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Nearest-rank p50/p95/p99 of latencies in ms. */
export function latencyOf(samples: number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), samples: sorted.length };
}
