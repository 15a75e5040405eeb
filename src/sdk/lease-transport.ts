// How a pull worker reports one job to the hub: heartbeats (noticing a revoke), acks in batches,
// and fails (noticing when the retry will run), over HTTP with retries.
import { HubError } from './errors.ts';
import { sleep } from './ack-batcher.ts';
import type { Client, Job } from './client.ts';
import type { JobOutcome, JobTransport } from './execute.ts';
import type { JobEvent } from './pull-options.ts';

/** What a failed attempt reported and what the hub answered, kept until its events are told. */
interface Failure {
  error: { type: string; message: string };
  retrying: boolean;
  /** When the retry runs, from the fail answer. */
  nextAttemptAt?: string;
}

export interface LeaseReports {
  client: Client;
  /** Acks the job (batched). */
  ack(job: Job, result: unknown): Promise<void>;
  /** The handler has finished: its slot is free, its report is on the way. */
  ran(job: Job): void;
  /** The heartbeat answered that the task was revoked (told once per job). */
  revoked(job: Job): void;
}

/** The events that close a job's log: failed (then retried, when the hub will retry it), or the outcome. */
export type OutcomeEvent = Pick<JobEvent, 'event' | 'runtime' | 'error' | 'retrying' | 'nextAttemptAt'>;

/** One job's transport, and the events its outcome makes once executeJob() has returned it. */
export function leaseTransport(r: LeaseReports): JobTransport & { outcome(o: JobOutcome, runtime: number): OutcomeEvent[] } {
  let toldRevoked = false;
  let failure: Failure | null = null;
  return {
    outcome(o, runtime) {
      if (o !== 'failed' || !failure) return [{ event: o, runtime }];
      const failed: OutcomeEvent = { event: 'failed', runtime, error: failure.error, retrying: failure.retrying };
      return failure.nextAttemptAt ? [failed, { event: 'retried', nextAttemptAt: failure.nextAttemptAt }] : [failed];
    },
    heartbeat: async (job, progress) => {
      try {
        const answer = await r.client.heartbeat(job.leaseId, progress === undefined ? {} : { progress });
        if (answer.revoked && !toldRevoked) {
          toldRevoked = true;
          r.revoked(job);
        }
        return { revoked: answer.revoked, lost: false };
      } catch (err) {
        if (err instanceof HubError && err.code === 'lease_lost') return { revoked: false, lost: true };
        throw err;
      }
    },
    ack: (job, result) => {
      r.ran(job);
      return r.ack(job, result);
    },
    fail: async (job, error, retry, delaySeconds, rateLimited) => {
      r.ran(job);
      const f: Failure = (failure = { error: { type: error.type, message: error.message }, retrying: retry && job.attempt <= job.maxRetries });
      for (let attempt = 1; ; attempt++) {
        try {
          const answer = await r.client.fail(job.leaseId, error, rateLimited ? { retry, delaySeconds, rateLimited } : { retry, delaySeconds });
          f.retrying = answer.state === 'delayed' || answer.state === 'queued';
          if (f.retrying) f.nextAttemptAt = answer.nextAttemptAt ?? new Date().toISOString();
          return;
        } catch (err) {
          if ((err instanceof HubError && err.status < 500) || attempt >= 6) return;
          await sleep(250 * 2 ** attempt);
        }
      }
    },
  };
}
