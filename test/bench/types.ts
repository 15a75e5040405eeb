// What every system under bench (drover, BullMQ, Celery) offers the runner.
// All counts are no-op tasks; every figure is measured by the system's own code
// against its own freshly started server on 127.0.0.1.

export interface Latency {
  p50: number; // ms, enqueue-to-start
  p95: number;
  p99: number;
  samples: number;
}

export interface BenchSystem {
  /** 'drover', 'drover-python', 'celery-drover', 'bullmq' or 'celery'. */
  readonly name: string;
  /** One line on how its workers are set up (processes, concurrency), printed under the table. */
  readonly setup: string;
  /** Starts its servers (fresh state). Throws an Error naming what is missing if it cannot. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Enqueue `n` tasks in batches of `batch` (no workers running); tasks/s. Leaves nothing behind. */
  enqueueBatch(n: number, batch: number): Promise<number>;
  /** Enqueue `n` tasks one request at a time, `inFlight` concurrently (no workers running); tasks/s. */
  enqueueSingle(n: number, inFlight: number): Promise<number>;
  /** `n` tasks already waiting (untimed fill), then workers start: tasks/s from worker start to the last task done. */
  drain(n: number): Promise<number>;
  /** Workers running, `n` tasks enqueued at once in batches: tasks/s from the first enqueue to the last task done. */
  endToEnd(n: number): Promise<number>;
  /** `rate` tasks/s paced for `seconds`, workers running: enqueue-to-start latency. */
  latency(rate: number, seconds: number): Promise<Latency>;
}
