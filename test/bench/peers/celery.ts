// Celery under bench: the same app (celery_app.py), workers and producer (celery_bench.py) whatever
// the broker. `celery` is the peer, on its own redis-server; `celery-drover` (../celery-drover.ts) is
// the same Celery with drover as its broker. Worker instances are started per scenario; the
// producer side in Python does its own timing; completions are counted in a redis-server either way.
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
const WORKERS_SETUP = `${WORKERS} workers (one per core), each --pool ${POOL} --concurrency ${CONCURRENCY} --prefetch-multiplier ${PREFETCH} --without-gossip --without-mingle --without-heartbeat`;
const PRODUCER_SETUP = 'producer in Python: apply_async in a loop over one producer per batch (no bulk publish in Celery), singles from N threads calling delay()';

/** Where the Celery app sends its tasks: all that differs between the Celery rows. */
export interface CeleryBroker {
  /** The row's name. */
  readonly name: string;
  /** The broker's part of the setup line. */
  readonly setup: string;
  /** The setup line's last part: what the redis-server is for. */
  readonly redisSetup: string;
  /** Starts the broker, given the counting redis-server; answers the app's broker_url, or null for that redis-server itself. */
  start(counts: Redis): Promise<string | null>;
  stop(): Promise<void>;
  /** More environment for the app and the producer. */
  env(): NodeJS.ProcessEnv;
  /** The task queue (task_default_queue) of the next scenario; null keeps Celery's default, `celery`. */
  nextQueue(): string | null;
  /** Before the drain's workers start, on its queue: drover pauses it (celery_bench.py resumes it). */
  beforeDrain(queue: string | null): Promise<void>;
}

interface Worker {
  child: ChildProcess;
  exited: Promise<void>;
  output: () => string;
}

/** Celery on its own redis-server, the broker and the counts in one. */
export function celery(): BenchSystem {
  return celeryOn({
    name: 'celery',
    setup: 'Redis broker',
    redisSetup: 'own redis-server 7 (no persistence)',
    start: async () => null,
    stop: async () => {},
    env: () => ({}),
    nextQueue: () => null,
    beforeDrain: async () => {},
  });
}

export function celeryOn(broker: CeleryBroker): BenchSystem {
  let redis: Redis | null = null;
  let brokerUrl: string | null = null;
  let workers: Worker[] = [];

  const env = (queue: string | null) => ({
    ...process.env,
    ...broker.env(),
    BENCH_REDIS_URL: redis!.url,
    ...(brokerUrl ? { BENCH_BROKER_URL: brokerUrl } : {}),
    ...(queue ? { BENCH_QUEUE: queue } : {}),
    BENCH_WORKERS: String(WORKERS),
    BENCH_PREFETCH: String(PREFETCH),
  });

  /** Runs one celery_bench.py scenario and returns its JSON line. */
  async function bench<T>(queue: string | null, ...args: (string | number)[]): Promise<T> {
    return runDriver<T>('celery_bench.py', args, { cwd: DIR, env: env(queue), workers });
  }

  /** Starts the worker instances; celery_bench.py waits until all are ready before timing. */
  function startWorkers(queue: string | null): void {
    for (let i = 1; i <= WORKERS; i++) {
      const child = spawn(PYTHON, [...WORKER_ARGS, '-n', `w${i}@%h`], { cwd: DIR, env: env(queue), stdio: ['ignore', 'pipe', 'pipe'] });
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

  /** One scenario on the broker's next queue; then workers stopped and the redis-server emptied, so the next starts empty. */
  async function scenario<T>(run: (queue: string | null) => Promise<T>): Promise<T> {
    try {
      return await run(broker.nextQueue());
    } finally {
      await stopWorkers();
      await flushall();
    }
  }

  async function flushall(): Promise<void> {
    const child = spawn(PYTHON, ['-c', 'import os, redis; redis.Redis.from_url(os.environ["BENCH_REDIS_URL"]).flushall()'], {
      env: env(null),
      stdio: 'inherit',
    });
    await track(child);
    if (child.exitCode !== 0) throw new Error('celery: FLUSHALL failed');
  }

  const rate = async (queue: string | null, ...args: (string | number)[]) => (await bench<{ rate: number }>(queue, ...args)).rate;
  const withWorkers = <T>(run: (queue: string | null) => Promise<T>, before: (queue: string | null) => Promise<void> = async () => {}) =>
    scenario(async (queue) => {
      await before(queue);
      startWorkers(queue);
      return run(queue);
    });

  const system: BenchSystem = {
    name: broker.name,
    setup: `Celery 5 (Debian python3-celery), ${broker.setup}, no result backend (ignore_result); ${WORKERS_SETUP}; ${PRODUCER_SETUP}; ${broker.redisSetup}`,

    async start() {
      const missing = findMissing();
      if (missing.length > 0) throw new Error(`${broker.name} needs Debian packages: apt-get install ${missing.join(' ')}`);
      redis = await startRedis();
      brokerUrl = await broker.start(redis);
    },

    async stop() {
      await stopWorkers();
      await broker.stop();
      await redis?.stop();
      redis = null;
    },

    enqueueBatch: (n, batch) => scenario((q) => rate(q, 'batch', n, batch)),
    enqueueSingle: (n, inFlight) => scenario((q) => rate(q, 'single', n, inFlight)),
    drain: (n) => withWorkers((q) => rate(q, 'drain', n), (q) => broker.beforeDrain(q)),
    endToEnd: (n) => withWorkers((q) => rate(q, 'endtoend', n)),
    latency: (perSecond, seconds) =>
      withWorkers(async (q): Promise<Latency> => latencyOf((await bench<{ latencies: number[] }>(q, 'latency', perSecond, seconds)).latencies)),
  };
  return system;
}
