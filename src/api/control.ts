// Worker heartbeats and the workers list, remote control of workers, and broadcast tasks (docs/protocol.md, "Workers and remote control").
import { Hono, type Context } from 'hono';
import type { AuthVars } from './auth.ts';
import { audit } from './audit.ts';
import { readJson } from './body.ts';
import { eventsObject } from '../events/EventsObject.ts';
import type { SendView } from '../events/commands.ts';
import { broadcastBody, controlBody, workerHeartbeatBody, workerName } from '../protocol/control.ts';
import { DroverError } from '../protocol/errors.ts';
import { overUtf8Bytes } from '../core/params.ts';
import { parseWith } from '../protocol/parse.ts';
import { requireAdmin, requireClaim, requireConsumer, requireEnqueue } from '../protocol/principals.ts';
import { MAX_BATCH_BYTES, MAX_TASK_BYTES } from '../protocol/sizes.ts';
import { broadcastSent, workerList, type Answer } from '../protocol/answers.ts';
import type { BroadcastRecord, ControlCall } from '../protocol/control.ts';

export const workers = new Hono<AuthVars>();
export const control = new Hono<AuthVars>();
export const broadcasts = new Hono<AuthVars>();

/** A control call's body: names of up to 1,000 workers and small args. */
const MAX_CONTROL_BYTES = 256 * 1024;
/** Ids of sends are ULIDs; anything longer is no id the hub gave out. */
const MAX_ID_LENGTH = 64;

function fail(out: { code: 'not_found' | 'conflict' | 'forbidden'; message: string; details?: object }): never {
  throw new DroverError(out.code, out.message, out.details);
}

/** The workers seen in the last day, heartbeating or claiming, each with its state. */
workers.get('/', async (c) => c.json({ workers: await eventsObject(c.env).workers() } satisfies Answer<typeof workerList>));

/**
 * A worker's heartbeat: its state and replies in, its commands out (held up to `waitSeconds` when
 * none is pending). A body may list 10,000 active tasks and 100 replies of up to 128 KiB each (a
 * task result's limit): 16 MiB at most, the batch limit.
 */
workers.post('/:name/heartbeat', async (c) => {
  requireConsumer(c.var.principal);
  const name = parseWith(workerName, c.req.param('name'), 'worker name');
  const body = parseWith(workerHeartbeatBody, await readJson(c, MAX_BATCH_BYTES), 'heartbeat');
  requireClaim(c.var.principal, body.region);
  body.replies.forEach((r, index) => {
    if (r.ok && overUtf8Bytes(JSON.stringify(r.reply ?? null), MAX_TASK_BYTES)) throw new DroverError('payload_too_large', `replies[${index}].reply is larger than 128 KiB`, { index });
  });
  const out = await eventsObject(c.env).heartbeat(name, body, { id: c.var.principal.id, admin: c.var.principal.admin });
  if (!out.ok) fail(out);
  c.header('content-type', 'application/json');
  return c.body(out.json);
});

/** A control call as the API shows it: who replied what, who has not yet, whose command expired, who was not sent it. */
function presentControl(view: SendView): ControlCall {
  return {
    id: view.id,
    command: view.command,
    replies: view.targets
      .filter((t) => t.status === 'replied')
      .map((t) => (t.replyOmitted ? { worker: t.worker, ok: t.ok, replyOmitted: true } : t.ok ? { worker: t.worker, ok: true, reply: t.reply } : { worker: t.worker, ok: false, error: t.error })),
    pending: view.targets.filter((t) => t.status === 'pending').map((t) => t.worker),
    expired: view.targets.filter((t) => t.status === 'expired').map((t) => t.worker),
    skipped: view.skipped.map((s) => ({ worker: s.worker, state: s.reason })),
  };
}

const EXPIRED = { type: 'WorkerGone', message: 'the worker did not reply before it was gone, or within 10 minutes' };

function presentBroadcast(view: SendView): BroadcastRecord {
  return {
    id: view.id,
    task: view.task,
    workers: view.targets.map((t) => {
      if (t.status === 'pending') return { name: t.worker, state: 'pending', result: null, error: null };
      if (t.status === 'expired') return { name: t.worker, state: 'failed', result: null, error: EXPIRED };
      const omitted = t.replyOmitted ? { resultOmitted: true as const } : {};
      return t.ok
        ? { name: t.worker, state: 'succeeded', result: t.reply ?? null, error: null, ...omitted }
        : { name: t.worker, state: 'failed', result: null, error: t.error ?? null, ...omitted };
    }),
  };
}

function idOf(c: Context<AuthVars>, what: string): string {
  const id = c.req.param('id')!;
  if (id.length > MAX_ID_LENGTH) throw new DroverError('not_found', `no ${what} ${id.slice(0, MAX_ID_LENGTH)}...`);
  return id;
}

/** Sends a command to the named workers, or all alive ones (of a queue, of a region), and waits for their replies. */
control.post('/', async (c) => {
  requireAdmin(c.var.principal);
  const body = parseWith(controlBody, await readJson(c, MAX_CONTROL_BYTES), 'control');
  const events = eventsObject(c.env);
  const sent = await events.sendControl(body);
  if (!sent.ok) fail(sent);
  const target = body.all ? 'all' : sent.targets.length === 1 ? sent.targets[0] : `${sent.targets.length} workers`;
  await audit(c, 'worker.control', target, { id: sent.id, command: body.command, args: body.args, workers: sent.targets });
  const view = await events.awaitSend(sent.id, Math.round(body.waitSeconds * 1000));
  if (!view) throw new DroverError('not_found', `control call ${sent.id} is no longer kept`);
  return c.json(presentControl(JSON.parse(view) as SendView));
});

control.get('/:id', async (c) => {
  requireAdmin(c.var.principal);
  const id = idOf(c, 'control call');
  const view = await eventsObject(c.env).view(id, 'control');
  if (!view) throw new DroverError('not_found', `no control call ${id} (they are kept for a day)`);
  return c.json(presentControl(JSON.parse(view) as SendView));
});

/** A task run once on each alive worker of the queue (and region) that has it: a 2xx means it will run. */
broadcasts.post('/', async (c) => {
  requireEnqueue(c.var.principal);
  const body = parseWith(broadcastBody, await readJson(c, MAX_TASK_BYTES), 'broadcast');
  const sent = await eventsObject(c.env).sendBroadcast(body);
  if (!sent.ok) fail(sent);
  return c.json({ id: sent.id, workers: sent.workers } satisfies Answer<typeof broadcastSent>, 202);
});

broadcasts.get('/:id', async (c) => {
  requireEnqueue(c.var.principal);
  const id = idOf(c, 'broadcast');
  const view = await eventsObject(c.env).view(id, 'broadcast');
  if (!view) throw new DroverError('not_found', `no broadcast ${id} (they are kept for a day)`);
  return c.json(presentBroadcast(JSON.parse(view) as SendView));
});
