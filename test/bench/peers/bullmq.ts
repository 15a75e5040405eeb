// BullMQ as a bench peer: its own redis-server, the producer (a Queue) in this process,
// and Worker processes (bullmq-worker.ts) started per scenario.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis as IORedis } from 'ioredis';
import { latencyOf, sleep, startRedis, terminate, track, type Redis } from '../redis.ts';
import type { BenchSystem, Latency } from '../types.ts';
import type { Report } from './bullmq-worker.ts';

const PROCESSES = 2; // one per core
const CONCURRENCY = 100; // jobs in flight per worker process
const QUEUE = 'bench';
const JOB_OPTIONS = { removeOnComplete: true, removeOnFail: true };
const WORKER_SCRIPT = join(import.meta.dirname, 'bullmq-worker.ts');

/** CLOCK_MONOTONIC in ms: one clock for all processes on the host, unlike performance.timeOrigin
 * (each process's own wall-clock reading at start, which can be ms apart). */
const now = () => Number(process.hrtime.bigint()) / 1e6;

interface WorkerProcess {
  child: ChildProcess;
  exited: Promise<void>;
}

/** What the worker processes have reported since they started. */
interface Tally {
  done: number;
  last: number;
  latencies: number[];
}

export function bullmq(): BenchSystem {
  let redis: Redis | null = null;
  let queue: Queue | null = null;
  let admin: IORedis | null = null;
  let workers: WorkerProcess[] = [];
  let tally: Tally = { done: 0, last: 0, latencies: [] };

  const noops = (count: number) => Array.from({ length: count }, () => ({ name: 'noop', data: {} }));

  /** addBulk in chunks of `batch`, one call at a time. */
  async function addAll(n: number, batch: number): Promise<void> {
    for (let sent = 0; sent < n; sent += batch) await queue!.addBulk(noops(Math.min(batch, n - sent)));
  }

  /** Spawns the worker processes and resolves once each is connected (not yet taking jobs). */
  async function startWorkers(): Promise<void> {
    tally = { done: 0, last: 0, latencies: [] };
    const env = { ...process.env, BENCH_REDIS_PORT: String(redis!.port), BENCH_QUEUE: QUEUE, BENCH_CONCURRENCY: String(CONCURRENCY) };
    const ready: Promise<void>[] = [];
    for (let i = 0; i < PROCESSES; i++) {
      const child = spawn(process.execPath, [WORKER_SCRIPT], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const exited = track(child);
      workers.push({ child, exited });
      child.on('message', (message: Report | { type: 'ready' | 'running' }) => {
        if (message.type !== 'report') return;
        tally.done += message.done;
        tally.last = Math.max(tally.last, message.last);
        for (const l of message.latencies) tally.latencies.push(l);
      });
      ready.push(once(child, 'ready'));
    }
    await Promise.all(ready);
  }

  /** Tells every worker process to start taking jobs; resolves when all have started their loop. */
  async function runWorkers(): Promise<void> {
    const running = workers.map(({ child }) => once(child, 'running'));
    for (const { child } of workers) child.send('run');
    await Promise.all(running);
  }

  async function stopWorkers(): Promise<void> {
    const stopping = workers.map(async ({ child, exited }) => {
      if (child.connected) child.disconnect(); // the worker closes and exits on disconnect
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    });
    workers = [];
    await Promise.all(stopping);
  }

  /** Waits until `n` jobs have completed; returns when the last of them did (worker clock). */
  async function completed(n: number, timeoutMs = 300_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (tally.done < n) {
      if (Date.now() > deadline) throw new Error(`bullmq: only ${tally.done} of ${n} jobs completed`);
      if (workers.some(({ child }) => child.exitCode !== null)) throw new Error('bullmq: a worker process died');
      await sleep(5);
    }
    return tally.last;
  }

  /** Workers stopped and every key gone, so the next scenario starts empty. */
  async function reset(): Promise<void> {
    await stopWorkers();
    await admin!.flushall();
  }

  /** Runs `scenario`, then resets, whether it succeeded or not. */
  async function scenario<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } finally {
      await reset();
    }
  }

  const system: BenchSystem = {
    name: 'bullmq',
    setup: `BullMQ: ${PROCESSES} Node worker processes x concurrency ${CONCURRENCY} (no-op processor), producer Queue in the bench process; jobs added with removeOnComplete: true, removeOnFail: true; own redis-server 7 (no persistence)`,

    async start() {
      redis = await startRedis();
      try {
        admin = new IORedis(redis.port, '127.0.0.1');
        queue = new Queue(QUEUE, { connection: { host: '127.0.0.1', port: redis.port }, defaultJobOptions: JOB_OPTIONS });
        await queue.waitUntilReady();
      } catch (err) {
        await system.stop();
        throw err;
      }
    },

    async stop() {
      await stopWorkers();
      await queue?.close().catch(() => {});
      admin?.disconnect();
      await redis?.stop();
      queue = admin = redis = null;
    },

    enqueueBatch: (n, batch) =>
      scenario(async () => {
        const started = now();
        await addAll(n, batch);
        return n / ((now() - started) / 1000);
      }),

    enqueueSingle: (n, inFlight) =>
      scenario(async () => {
        let sent = 0;
        const sender = async () => {
          while (sent < n) {
            sent++;
            await queue!.add('noop', {});
          }
        };
        const started = now();
        await Promise.all(Array.from({ length: inFlight }, sender));
        return n / ((now() - started) / 1000);
      }),

    drain: (n) =>
      scenario(async () => {
        await addAll(n, 1000);
        await startWorkers();
        const started = now();
        await runWorkers();
        return n / (((await completed(n)) - started) / 1000);
      }),

    endToEnd: (n) =>
      scenario(async () => {
        await startWorkers();
        await runWorkers();
        await sleep(100); // let the workers reach their blocking wait for jobs
        const started = now();
        await addAll(n, 1000);
        return n / (((await completed(n)) - started) / 1000);
      }),

    latency: (rate, seconds) =>
      scenario(async (): Promise<Latency> => {
        await startWorkers();
        await runWorkers();
        await sleep(100);
        const count = Math.round(rate * seconds);
        const adds: Promise<unknown>[] = [];
        const started = performance.now();
        for (let i = 0; i < count; i++) {
          // Paced against the schedule, not the previous add, so slow adds do not slow the rate.
          const wait = started + (i * 1000) / rate - performance.now();
          if (wait > 0) await sleep(wait);
          adds.push(queue!.add('noop', { t0: now() }));
        }
        await Promise.all(adds);
        await completed(count);
        return latencyOf(tally.latencies);
      }),
  };
  return system;
}

/** Resolves on the first IPC message of `type` from `child`; rejects if it exits first. */
function once(child: ChildProcess, type: string): Promise<void> {
  return new Promise((ok, fail) => {
    const onMessage = (message: { type?: string }) => {
      if (message?.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      ok();
    };
    const onExit = (code: number | null) => fail(new Error(`bullmq worker exited (${code}) before '${type}'`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}
