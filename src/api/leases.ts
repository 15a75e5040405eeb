// Pull-worker routes: claim with long-poll, then heartbeat, ack or fail a lease.
import { Hono } from 'hono';
import { LEASE_ID } from '../core/ids.ts';
import type { Env } from '../env.ts';
import type { QueueObject } from '../queue/QueueObject.ts';
import type { ClaimedRow, ClaimRequest } from '../queue/transitions.ts';
import type { z } from 'zod';
import { leaseOwner, requireClaim, requireConsumer, type AuthVars, type Principal } from './auth.ts';
import { parseWith, readJson } from './body.ts';
import { MAX_TASK_BYTES } from './enqueue.ts';
import { DroverError } from './errors.ts';
import { iso, jobJson } from './present.ts';
import { queueOf } from './queues.ts';
import { anyShard, queueObject } from '../queue/stubs.ts';
import { ackBody, ackManyBody, claimBody, failBody, heartbeatBody } from './schemas.ts';

export const claims = new Hono<AuthVars>();
export const leases = new Hono<AuthVars>();

/** What a worker's socket asks of its queue: the object itself where the socket lives in it. */
export interface QueueCalls {
  claim(req: ClaimRequest, waitMs: number): Promise<ClaimedRow[]>;
  ackMany: QueueObject['ackMany'];
  release: QueueObject['release'];
}

claims.post('/:queue/claim', async (c) => {
  const queue = queueOf(c);
  const body = parseWith(claimBody, await readJson(c, 64 * 1024), 'claim');
  c.header('content-type', 'application/json');
  return c.body(await claimJobs(c.env, c.var.principal, queue, body));
});

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
  return `{"jobs":[${rows.map((r) => jobJson(r, queue)).join(',')}]}`;
}

async function claimJobs(env: Env, principal: Principal, queue: string, body: z.output<typeof claimBody>): Promise<string> {
  const rows = await anyShard(env, queue).claim(claimRequest(principal, queue, body), Math.round(body.waitSeconds * 1000));
  return jobsJson(rows, queue);
}

/** The object that gave out a lease (its queue's, or one of its shards). */
function lease(leaseId: string): { queue: string } {
  const m = LEASE_ID.exec(leaseId);
  if (!m) throw new DroverError('not_found', 'this is not a lease id the hub gave out');
  return { queue: m[1] };
}

/**
 * Acks up to 100 leases in one call, each with its own outcome (a lost lease does not
 * spoil the others). The whole body is still checked first: a malformed one changes nothing.
 */
leases.post('/ack', async (c) => {
  requireConsumer(c.var.principal);
  const body = parseWith(ackManyBody, await readJson(c, 4 * 1024 * 1024), 'acks');
  return c.json({ results: await ackLeases(c.env, c.var.principal, body) });
});

/** Settles a checked batch of acks, object by object (a lease names its queue's shard); each lease gets its own outcome. */
export async function ackLeases(
  env: Env,
  principal: Principal,
  body: z.output<typeof ackManyBody>,
  local?: { queue: string; object: QueueCalls },
): Promise<Record<string, unknown>[]> {
  requireConsumer(principal);
  const owner = leaseOwner(principal);
  const byQueue = new Map<string, { index: number; leaseId: string; result: string }[]>();
  const results: Record<string, unknown>[] = new Array(body.acks.length);
  body.acks.forEach((a, index) => {
    const m = LEASE_ID.exec(a.leaseId);
    const result = JSON.stringify(a.result ?? null);
    if (!m) {
      results[index] = { leaseId: a.leaseId, error: { code: 'not_found', message: 'this is not a lease id the hub gave out' } };
      return;
    }
    if (new TextEncoder().encode(result).byteLength > MAX_TASK_BYTES) {
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
        results[index] = out.ok ? { leaseId, state: out.state } : { leaseId, error: { code: out.code, message: out.message } };
      });
    }),
  );
  return results;
}

/** Hands back a job the worker never started: the attempt does not count and the task keeps its place. */
leases.post('/:leaseId/release', async (c) => {
  requireConsumer(c.var.principal);
  const leaseId = c.req.param('leaseId');
  const { queue } = lease(leaseId);
  const out = await queueObject(c.env, queue).release(leaseId, leaseOwner(c.var.principal));
  if (!out.ok) throw new DroverError(out.code, out.message);
  return c.json({ state: out.state });
});

leases.post('/:leaseId/heartbeat', async (c) => {
  requireConsumer(c.var.principal);
  const leaseId = c.req.param('leaseId');
  const { queue } = lease(leaseId);
  const body = parseWith(heartbeatBody, await readJson(c, MAX_TASK_BYTES), 'heartbeat');
  const progress = body.progress === undefined ? null : JSON.stringify(body.progress);
  const out = await queueObject(c.env, queue).heartbeat(leaseId, leaseOwner(c.var.principal), body.extendSeconds ?? null, progress);
  if (!out.ok) throw new DroverError(out.code, out.message);
  return c.json({ leaseExpiresAt: iso(out.leaseExpiresAt), revoked: out.revoked });
});

leases.post('/:leaseId/ack', async (c) => {
  requireConsumer(c.var.principal);
  const leaseId = c.req.param('leaseId');
  const { queue } = lease(leaseId);
  const body = parseWith(ackBody, await readJson(c, MAX_TASK_BYTES), 'ack');
  const out = await queueObject(c.env, queue).ack(leaseId, leaseOwner(c.var.principal), JSON.stringify(body.result ?? null));
  if (!out.ok) throw new DroverError(out.code, out.message);
  return c.json({ state: out.state });
});

leases.post('/:leaseId/fail', async (c) => {
  requireConsumer(c.var.principal);
  const leaseId = c.req.param('leaseId');
  const { queue } = lease(leaseId);
  const body = parseWith(failBody, await readJson(c, MAX_TASK_BYTES), 'fail');
  const out = await queueObject(c.env, queue).fail(
    leaseId,
    leaseOwner(c.var.principal),
    body.error,
    body.retry,
    body.delaySeconds ?? null,
  );
  if (!out.ok) throw new DroverError(out.code, out.message);
  return c.json(out.nextAttemptAt === undefined ? { state: out.state } : { state: out.state, nextAttemptAt: iso(out.nextAttemptAt) });
});
