// What a queue object answers with: its settings, stats, a live task, a dead letter.
import type { KeyLimitEntry } from '../core/key-limits.ts';
import type { ReadyGroup } from '../core/unserved.ts';

/** A queue's own settings (PUT /v1/queues/:queue/config). */
export interface QueueConfig {
  /** How long finished tasks are kept, here and in D1; dead letters stay until replayed or purged. */
  retentionMs: number | null;
  /** "10/s", "100/m", "1000/h": claims handed out across all workers together. */
  rateLimit: string | null;
  /** At most this many of the queue's tasks running at once, across all workers. */
  concurrency: number | null;
  /** Rate limits of single task names in this queue: { "scrape.page": "5/s" }. */
  taskRateLimits: Record<string, string> | null;
  /** Limits per rate key, each held per key: [{ match: "*.example.com", rate: "10/s", concurrency: 4 }]. */
  keyLimits?: KeyLimitEntry[] | null;
}

/** The live fields of a task; args, kwargs, result and error stay JSON text. */
export interface LiveTask {
  id: string;
  state: string;
  attempts: number;
  result: string | null;
  error: string | null;
  progress: string | null;
  startedAt: number | null;
  finishedAt: number | null;
  worker: string | null;
  leaseExpiresAt: number | null;
  revokeRequested: boolean;
  /** JSON: how its last attempts ended (transitions/attempts.ts). */
  attemptLog: string | null;
}

export interface QueueStats {
  ready: number;
  delayed: number;
  running: number;
  failed: number;
  paused: boolean;
  regions: Record<string, { ready: number; running: number }>;
  /** Ready tasks, by name and region, that no worker seen claiming lately would take. */
  unserved: ReadyGroup[];
  /** Since the object last started. */
  claimCalls: number;
  regionWakes: number;
  config: QueueConfig;
}

/** SQLite statements a queue object has run since it started: on its own storage, and sent to D1 (a batch of k counts k). */
export interface Statements {
  object: number;
  d1: number;
}

export interface DeadTask {
  id: string;
  task: string;
  args: string;
  kwargs: string;
  region: string | null;
  priority: number;
  attempts: number;
  maxRetries: number;
  error: string | null;
  createdAt: number;
  finishedAt: number | null;
}
