// Celery as a bench peer: its own redis-server as broker, worker instances (celery_app.py) started
// per scenario, and the producer side in Python (celery_bench.py), which does its own timing.
import { spawn, type ChildProcess } from 'node:child_process';
import { findMissing, latencyOf, PYTHON, runDriver, startRedis, terminate, track, type Redis } from '../redis.ts';
import type { BenchSystem, Latency } from '../types.ts';

const DIR = import.meta.dirname;
// One worker instance per core, each with one prefork pool process: 2 pool processes in all, as with
// one `--concurrency 2` worker, but the worker's main process (which fetches from Redis and feeds the
// pool, and is the bottleneck with no-op tasks) runs on both cores: ~1,050 vs ~750 tasks/s drained.
const WORKERS = 2;
const CONCURRENCY = 1; // pool processes per worker
const POOL = 'prefork';
const PREFETCH = 4; // --prefetch-multiplier (Celery's default; 16 and 64 drained no faster)
const WORKER_ARGS = [
  ...['-m', 'celery', '-A', 'celery_app', 'worker', '--pool', POOL, '--concurrency', String(CONCURRENCY)],
  ...['--prefetch-multiplier', String(PREFETCH), '-l', 'warning'],
  // No cluster chatter: the bench needs none of it, and mingle adds seconds to every start.
  ...['--without-gossip', '--without-mingle', '--without-heartbeat'],
];

interface Worker {
  child: ChildProcess;
  exited: Promise<void>;
  output: () => string;
}

export function celery(): BenchSystem {
  let redis: Redis | null = null;
  let workers: Worker[] = [];

  const env = () => ({ ...process.env, BENCH_REDIS_URL: redis!.url, BENCH_WORKERS: String(WORKERS), BENCH_PREFETCH: String(PREFETCH) });

  /** Runs one celery_bench.py scenario and returns its JSON line. */
  async function bench<T>(...args: (string | number)[]): Promise<T> {
    return runDriver<T>('celery_bench.py', args, { cwd: DIR, env: env(), workers });
  }

  /** Starts the worker instances; celery_bench.py waits until all answer a ping before timing. */
  function startWorkers(): void {
    for (let i = 1; i <= WORKERS; i++) {
      const child = spawn(PYTHON, [...WORKER_ARGS, '-n', `w${i}@%h`], { cwd: DIR, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout!.on('data', (d) => (output += d));
      child.stderr!.on('data', (d) => (output += d));
      workers.push({ child, exited: track(child), output: () => output });
    }
  }

  /** Warm shutdown (SIGTERM), SIGKILL if one hangs; pool processes die with their worker (PDEATHSIG). */
  async function stopWorkers(): Promise<void> {
    const stopping = workers.map(({ child, exited }) => terminate(child, exited, 'SIGTERM', 10_000));
    workers = [];
    await Promise.all(stopping);
  }

  /** Workers stopped and the broker emptied, so the next scenario starts empty. */
  async function scenario<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } finally {
      await stopWorkers();
      await flushall();
    }
  }

  async function flushall(): Promise<void> {
    const child = spawn(PYTHON, ['-c', 'import os, redis; redis.Redis.from_url(os.environ["BENCH_REDIS_URL"]).flushall()'], {
      env: env(),
      stdio: 'inherit',
    });
    await track(child);
    if (child.exitCode !== 0) throw new Error('celery: FLUSHALL failed');
  }

  const rate = async (...args: (string | number)[]) => (await bench<{ rate: number }>(...args)).rate;
  const withWorkers = <T>(run: () => Promise<T>) =>
    scenario(() => {
      startWorkers();
      return run();
    });

  const system: BenchSystem = {
    name: 'celery',
    setup: `Celery 5 (Debian python3-celery), Redis broker, no result backend (ignore_result); ${WORKERS} workers (one per core), each --pool ${POOL} --concurrency ${CONCURRENCY} --prefetch-multiplier ${PREFETCH} --without-gossip --without-mingle --without-heartbeat; producer in Python: apply_async in a loop over one producer per batch (no bulk publish in Celery), singles from N threads calling delay(); own redis-server 7 (no persistence)`,

    async start() {
      const missing = findMissing();
      if (missing.length > 0) throw new Error(`celery needs Debian packages: apt-get install ${missing.join(' ')}`);
      redis = await startRedis();
    },

    async stop() {
      await stopWorkers();
      await redis?.stop();
      redis = null;
    },

    enqueueBatch: (n, batch) => scenario(() => rate('batch', n, batch)),
    enqueueSingle: (n, inFlight) => scenario(() => rate('single', n, inFlight)),
    drain: (n) => withWorkers(() => rate('drain', n)),
    endToEnd: (n) => withWorkers(() => rate('endtoend', n)),
    latency: (perSecond, seconds) =>
      withWorkers(async (): Promise<Latency> => latencyOf((await bench<{ latencies: number[] }>('latency', perSecond, seconds)).latencies)),
  };
  return system;
}
