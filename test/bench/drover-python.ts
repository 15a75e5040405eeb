// drover with Python on both ends: a fresh `npm start` (as the drover system), the Python package's
// worker (`python -m drover worker`, python/) as the consumer, and its producer (bench_driver.py)
// for the enqueues. Set up as Celery's peer is, so the rows compare the two Python stacks.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TOKENS, type System } from '../e2e/system.ts';
import { defaultStateOn, startHub } from './drover.ts';
import { latencyOf, PYTHON, runDriver, terminate, track } from './redis.ts';
import type { BenchSystem, Latency } from './types.ts';

const DIR = resolve(import.meta.dirname, 'python');
const PACKAGE = resolve(import.meta.dirname, '..', '..', 'python');
// As Celery's: one worker process per core.
const WORKERS = Number(process.env.BENCH_PY_WORKERS ?? 2);
const CONCURRENCY = Number(process.env.BENCH_PY_CONCURRENCY ?? 16);
const POOL = process.env.BENCH_PY_POOL ?? 'threads';

interface Worker {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
  output: () => string;
}

export function droverPython(): BenchSystem {
  const stateOn = defaultStateOn();
  let system: System | null = null;
  let workers: Worker[] = [];
  let queues = 0;

  const env = (queue: string, doneDir: string) => ({
    ...process.env,
    PYTHONPATH: [PACKAGE, DIR, process.env.PYTHONPATH].filter(Boolean).join(':'),
    BENCH_URL: system!.url,
    BENCH_TOKEN: TOKENS.admin,
    BENCH_QUEUE: queue,
    BENCH_DONE_DIR: doneDir,
    BENCH_WORKERS: workers.map((w) => w.name).join(','),
  });

  function startWorkers(queue: string, doneDir: string): void {
    for (let i = 1; i <= WORKERS; i++) {
      const name = `${queue}-w${i}`;
      const args = ['-m', 'drover', 'worker', '-A', 'bench_tasks', '-Q', queue, '-c', String(CONCURRENCY), '-P', POOL, '--wait', '1', '-l', 'warning', '-n', name];
      const child = spawn(PYTHON, [...args, '--url', system!.url, '--token', TOKENS.consume], { cwd: DIR, env: env(queue, doneDir), stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout!.on('data', (d) => (output += d));
      child.stderr!.on('data', (d) => (output += d));
      workers.push({ name, child, exited: track(child), output: () => output });
    }
  }

  async function stopWorkers(): Promise<void> {
    const stopping = workers.map(({ child, exited }) => terminate(child, exited, 'SIGTERM', 10_000));
    workers = [];
    await Promise.all(stopping);
  }

  /** Runs one bench_driver.py scenario on a fresh queue (with workers if asked) and returns its JSON line. */
  async function scenario<T>(withWorkers: boolean, ...args: (string | number)[]): Promise<T> {
    const queue = `bench-py-${Date.now().toString(36)}-${++queues}`;
    const doneDir = mkdtempSync(join(tmpdir(), 'drover-py-bench-'));
    try {
      if (withWorkers) startWorkers(queue, doneDir);
      return await runDriver<T>('bench_driver.py', args, { cwd: DIR, env: env(queue, doneDir), workers });
    } finally {
      await stopWorkers();
      rmSync(doneDir, { recursive: true, force: true });
    }
  }

  const rate = async (withWorkers: boolean, ...args: (string | number)[]) => (await scenario<{ rate: number }>(withWorkers, ...args)).rate;

  return {
    name: 'drover-python',
    setup: `the hub as drover's (npm start, state ${stateOn === 'memory' ? 'in /dev/shm' : 'on disk'}); ${WORKERS} Python workers (python -m drover worker, one per core), each --pool ${POOL} -c ${CONCURRENCY}; producer: the Python package (send_many per batch, send_task per single from N threads)`,
    async start() {
      system = await startHub(stateOn);
    },
    async stop() {
      await stopWorkers();
      await system?.stop();
      system = null;
    },
    enqueueBatch: (n, batch) => rate(false, 'batch', n, batch),
    enqueueSingle: (n, inFlight) => rate(false, 'single', n, inFlight),
    drain: (n) => rate(true, 'drain', n),
    endToEnd: (n) => rate(true, 'endtoend', n),
    latency: async (perSecond, seconds): Promise<Latency> => latencyOf((await scenario<{ latencies: number[] }>(true, 'latency', perSecond, seconds)).latencies),
  };
}
