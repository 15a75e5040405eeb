// One BullMQ worker process for the bench, started by bullmq.ts with an IPC channel.
//   env BENCH_REDIS_PORT, BENCH_QUEUE, BENCH_CONCURRENCY
//   parent -> child: 'run' (start taking jobs); disconnecting closes the worker and exits
//   child -> parent: { type: 'ready' } once connected, { type: 'running' } after 'run',
//                    { type: 'report', done, last, latencies } every few ms while there is news
import { Worker, type Job } from 'bullmq';

export interface Report {
  type: 'report';
  /** Jobs completed since the previous report. */
  done: number;
  /** When the latest of them completed, on the host's monotonic clock (ms), as `now` in bullmq.ts. */
  last: number;
  /** Enqueue-to-start latencies (ms) of jobs that carried an enqueue time `t0`. */
  latencies: number[];
}

const now = () => Number(process.hrtime.bigint()) / 1e6; // CLOCK_MONOTONIC, shared with the parent

let done = 0;
let last = 0;
let latencies: number[] = [];

// The no-op processor; a job with `t0` (the producer's clock, same epoch as `now`) also records its wait.
const worker = new Worker(
  process.env.BENCH_QUEUE!,
  async (job: Job<{ t0?: number }>) => {
    if (job.data.t0 !== undefined) latencies.push(now() - job.data.t0);
  },
  {
    connection: { host: '127.0.0.1', port: Number(process.env.BENCH_REDIS_PORT) },
    concurrency: Number(process.env.BENCH_CONCURRENCY),
    autorun: false, // the parent says when, so a drain's clock starts with the worker
  },
);
worker.on('completed', () => {
  done++;
  last = now();
});
worker.on('error', (err) => console.error('bullmq worker:', err));

// Batched reports keep IPC cheap; the parent times by `last`, not by when a report arrives.
const flush = () => {
  if (done === 0 && latencies.length === 0) return;
  const report: Report = { type: 'report', done, last, latencies };
  process.send!(report);
  done = 0;
  latencies = [];
};
const timer = setInterval(flush, 5);

process.on('message', (message) => {
  if (message !== 'run') return;
  worker.run().catch((err) => console.error('bullmq worker:', err));
  process.send!({ type: 'running' });
});

// The parent going away (disconnect or death) closes the worker.
process.on('disconnect', async () => {
  clearInterval(timer);
  await worker.close();
  process.exit(0);
});

await worker.waitUntilReady();
process.send!({ type: 'ready' });
