// What workers ask of a queue, over HTTP and over their socket alike: the claim request, the claim's answer, acks of many.
import type { z } from 'zod';
import type { Env } from '../env.ts';
import { LEASE_ID } from '../core/ids.ts';
import { overUtf8Bytes } from '../core/params.ts';
import { regionOfLane } from '../core/states.ts';
import { DroverError } from '../protocol/errors.ts';
import { leaseOwner, requireClaim, requireConsumer, type Principal } from '../protocol/principals.ts';
import type { ackManyBody, claimBody } from '../protocol/schemas.ts';
import { asState, type Answer, type ackedMany } from '../protocol/answers.ts';
import type { Job } from '../protocol/records.ts';
import { MAX_TASK_BYTES } from '../protocol/sizes.ts';
import { iso } from '../protocol/times.ts';
import { queueObject } from './stubs.ts';
import type { ClaimedRow, ClaimRequest, Outcome } from './transitions.ts';

/** What a worker's socket asks of its queue: the object itself where the socket lives in it. */
export interface QueueCalls {
  claim(req: ClaimRequest, waitMs: number): Promise<ClaimedRow[]>;
  ackMany(acks: { leaseId: string; result: string }[], owner: string | null): Promise<Outcome<{ state: string }>[]>;
  release(leaseId: string, owner: string | null): Promise<Outcome<{ state: string }>>;
}

/** The object's claim request for a checked claim body (HTTP and worker sockets alike). */
export function claimRequest(principal: Principal, queue: string, body: z.output<typeof claimBody>, socket?: string): ClaimRequest {
  requireClaim(principal, body.region);
  return {
    queue,
    worker: body.worker,
    region: body.region,
    tasks: body.tasks ?? null,
    max: body.max,
    leaseSeconds: body.leaseSeconds ?? null,
    owner: leaseOwner(principal),
    socket,
  };
}

/** A claim's answer: `{"jobs": [...]}` as JSON text. */
export function jobsJson(rows: ClaimedRow[], queue: string): string {
  // The jobs of one claim share a few lanes and, leased together, one expiry: each is worked out
  // once (a Date and two regular expressions a job were a quarter of a drain's claim answers).
  const job = { iso: once(iso), region: once(regionOf) };
  return `{"jobs":[${rows.map((r) => jobJson(r, queue, job)).join(',')}]}`;
}

/** `make`, remembering its answer for each argument. */
function once<K, V>(make: (k: K) => V): (k: K) => V {
  const seen = new Map<K, V>();
  return (k) => {
    if (!seen.has(k)) seen.set(k, make(k));
    return seen.get(k)!;
  };
}

/** How a job's expiry, eta and region are worked out from its row: plainly, or once a claim (jobsJson). */
type JobDerived = { iso: (ms: number | null) => string | null; region: (lane: string) => string | null };
/** A job's region: its lane's, or null for the untagged lane. */
const regionOf = (lane: string) => regionOfLane(lane) || null;
const DERIVED: JobDerived = { iso, region: regionOf };

/** A claimed job's fields but its args, kwargs and headers (which its row holds as JSON text). */
function jobHead(r: ClaimedRow, queue: string, of: JobDerived = DERIVED) {
  return {
    id: r.id,
    leaseId: r.lease_id,
    task: r.task,
    queue,
    region: of.region(r.lane),
    priority: r.priority,
    attempt: r.attempts,
    maxRetries: r.max_retries,
    leaseExpiresAt: of.iso(r.lease_expires_at)!,
    parentId: r.parent_id,
    rootId: r.root_id,
    workflowId: r.workflow_id,
    eta: of.iso(r.eta),
  };
}

/** One claimed job as JSON text: args and kwargs go out exactly as they came in. */
function jobJson(r: ClaimedRow, queue: string, of: JobDerived): string {
  const head = JSON.stringify(jobHead(r, queue, of));
  return `${head.slice(0, -1)},"args":${r.args},"kwargs":${r.kwargs},"headers":${r.headers ?? '{}'}}`;
}

/** One claimed job as the object a task runs with, for consumers that drain over RPC (src/consumers/drain.ts). */
export function jobOf(r: ClaimedRow, queue: string): Job {
  return { ...jobHead(r, queue), args: JSON.parse(r.args), kwargs: JSON.parse(r.kwargs), headers: r.headers ? JSON.parse(r.headers) : {} };
}

/** Settles a checked batch of acks, object by object (a lease names its queue's shard); each lease gets its own outcome. */
export async function ackLeases(
  env: Env,
  principal: Principal,
  body: z.output<typeof ackManyBody>,
  local?: { queue: string; object: QueueCalls },
): Promise<Answer<typeof ackedMany>['results']> {
  requireConsumer(principal);
  const owner = leaseOwner(principal);
  const byQueue = new Map<string, { index: number; leaseId: string; result: string }[]>();
  const results: Answer<typeof ackedMany>['results'] = new Array(body.acks.length);
  body.acks.forEach((a, index) => {
    const m = LEASE_ID.exec(a.leaseId);
    const result = JSON.stringify(a.result ?? null);
    if (!m) {
      results[index] = { leaseId: a.leaseId, error: { code: 'not_found', message: 'this is not a lease id the hub gave out' } };
      return;
    }
    if (overUtf8Bytes(result, MAX_TASK_BYTES)) {
      throw new DroverError('payload_too_large', `acks[${index}].result is larger than 128 KiB`, { index });
    }
    const group = byQueue.get(m[1]) ?? [];
    group.push({ index, leaseId: a.leaseId, result });
    byQueue.set(m[1], group);
  });
  await Promise.all(
    [...byQueue].map(async ([queue, group]) => {
      const outcomes = await (local?.queue === queue ? local.object : queueObject(env, queue)).ackMany(group, owner);
      outcomes.forEach((out, i) => {
        const { index, leaseId } = group[i];
        results[index] = out.ok ? { leaseId, state: asState(out.state) } : { leaseId, error: { code: out.code, message: out.message } };
      });
    }),
  );
  return results;
}
