// What a PullWorker is told (its options) and what it tells (its job events and log lines).
import type { AnyTask } from './task.ts';

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

export interface PullWorkerOptions {
  url: string;
  token: string;
  /** The queue to claim from (or `queues`). */
  queue?: string;
  /** Several queues in priority order: a free slot takes a job from the first that has one ready. */
  queues?: string[];
  tasks: AnyTask[];
  /** Claim work of this region (and untagged work); null: untagged work only. */
  region?: string | null;
  /** Jobs run at once. Default 4 (or, with `autoscale`, its min). */
  concurrency?: number;
  /**
   * Slots that follow the work: start at `min`, add one for each claim that comes back full
   * (there is more waiting), drop one for each `idleSeconds` (default 30) in which some slot
   * stayed free. Never above `max` or below `min`.
   */
  autoscale?: { max: number; min: number; idleSeconds?: number };
  /** After this many tasks the worker stops as on stop() and run() resolves with `recycled` set. */
  maxTasks?: number;
  /** The name recorded on tasks it runs. Default: queue-region-pid. */
  name?: string;
  /** On stop, how long running jobs may take to finish before they are handed back. Default 30. */
  graceSeconds?: number;
  /** How long one claim waits for work; a stop waits for the claim in flight. Default 5. */
  waitSeconds?: number;
  /**
   * Claim and ack over one WebSocket per queue rather than an HTTP request each. Default
   * true; where the hub or a proxy refuses the socket, the worker uses HTTP, trying the
   * socket again every 30 s. Heartbeats, fails and releases always go over HTTP.
   */
  socket?: boolean;
  /**
   * Heartbeats to the hub as a worker (POST /v1/workers/:name/heartbeat) and the remote control
   * commands they bring. Default true; false: none. `absentRetrySeconds`: how long to wait after
   * a hub that has no such route (404) before asking again (default 300).
   */
  control?: boolean | { waitSeconds?: number; absentRetrySeconds?: number };
  log?: (message: string, level?: LogLevel) => void;
  /** Each job's life, one event at a time: received, then succeeded, failed or abandoned (with retried and revoked between). */
  onEvent?: (event: JobEvent) => void;
  fetch?: typeof fetch;
}

/** One step of a job on this worker, as `drover worker` logs it. */
export interface JobEvent {
  event: 'received' | 'succeeded' | 'failed' | 'retried' | 'revoked' | 'abandoned';
  task: string;
  id: string;
  /** This attempt, from 1. */
  attempt: number;
  /** Attempts the task may have in all: maxRetries + 1. */
  attempts: number;
  /** Seconds the handler ran (succeeded, failed, abandoned). */
  runtime?: number;
  /** `failed`: the error reported, and whether the hub was asked to retry and attempts remain. */
  error?: { type: string; message: string };
  retrying?: boolean;
  /** `retried`: when the hub will hand out the next attempt (the fail answer's time; now when queued at once). */
  nextAttemptAt?: string;
}
