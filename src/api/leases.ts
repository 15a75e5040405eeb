// Pull-worker routes: claim with long-poll, then heartbeat, ack or fail a lease.
import { Hono } from 'hono';
import { LEASE_ID } from '../core/ids.ts';
import type { Env } from '../env.ts';
import type { z } from 'zod';
import type { AuthVars } from './auth.ts';
import { leaseOwner, requireConsumer, type Principal } from '../protocol/principals.ts';
import { readJson } from './body.ts';
import { parseWith } from '../protocol/parse.ts';
import { MAX_TASK_BYTES } from '../protocol/sizes.ts';
import { DroverError } from '../protocol/errors.ts';
import { ackLeases, claimRequest, jobsJson } from '../queue/calls.ts';
import { iso } from '../protocol/times.ts';
import { queueOf } from './queues.ts';
import { anyShard, queueObject } from '../queue/stubs.ts';
import { ackBody, ackManyBody, claimBody, failBody, heartbeatBody } from '../protocol/schemas.ts';
import { ackedMany, asState, extended, failed, taskState, type Answer } from '../protocol/answers.ts';

export const claims = new Hono<AuthVars>();
export const leases = new Hono<AuthVars>();

claims.post('/:queue/claim', async (c) => {
  const queue = queueOf(c);
  const body = parseWith(claimBody, await readJson(c, 64 * 1024), 'claim');
  c.header('content-type', 'application/json');
  return c.body(await claimJobs(c.env, c.var.principal, queue, body));
});

async function claimJobs(env: Env, principal: Principal, queue: string, body: z.output<typeof claimBody>): Promise<string> {
  const rows = await anyShard(env, queue, body.region).claim(claimRequest(principal, queue, body), Math.round(body.waitSeconds * 1000));
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
  return c.json({ results: await ackLeases(c.env, c.var.principal, body) } satisfies Answer<typeof ackedMany>);
});

/** Hands back a job the worker never started: the attempt does not count and the task keeps its place. */
leases.post('/:leaseId/release', async (c) => {
  requireConsumer(c.var.principal);
  const leaseId = c.req.param('leaseId');
  const { queue } = lease(leaseId);
  const out = await queueObject(c.env, queue).release(leaseId, leaseOwner(c.var.principal));
  if (!out.ok) throw new DroverError(out.code, out.message);
  return c.json({ state: asState(out.state) } satisfies Answer<typeof taskState>);
});

leases.post('/:leaseId/heartbeat', async (c) => {
  requireConsumer(c.var.principal);
  const leaseId = c.req.param('leaseId');
  const { queue } = lease(leaseId);
  const body = parseWith(heartbeatBody, await readJson(c, MAX_TASK_BYTES), 'heartbeat');
  const progress = body.progress === undefined ? null : JSON.stringify(body.progress);
  const out = await queueObject(c.env, queue).heartbeat(leaseId, leaseOwner(c.var.principal), body.extendSeconds ?? null, progress);
  if (!out.ok) throw new DroverError(out.code, out.message);
  return c.json({ leaseExpiresAt: iso(out.leaseExpiresAt)!, revoked: out.revoked } satisfies Answer<typeof extended>);
});

leases.post('/:leaseId/ack', async (c) => {
  requireConsumer(c.var.principal);
  const leaseId = c.req.param('leaseId');
  const { queue } = lease(leaseId);
  const body = parseWith(ackBody, await readJson(c, MAX_TASK_BYTES), 'ack');
  const out = await queueObject(c.env, queue).ack(leaseId, leaseOwner(c.var.principal), JSON.stringify(body.result ?? null));
  if (!out.ok) throw new DroverError(out.code, out.message);
  return c.json({ state: asState(out.state) } satisfies Answer<typeof taskState>);
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
    body.rateLimited ?? false,
  );
  if (!out.ok) throw new DroverError(out.code, out.message);
  return c.json((out.nextAttemptAt === undefined ? { state: asState(out.state) } : { state: asState(out.state), nextAttemptAt: iso(out.nextAttemptAt)! }) satisfies Answer<typeof failed>);
});
