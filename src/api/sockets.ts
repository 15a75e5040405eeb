// Sockets: a pull worker's claims and acks, or a producer's enqueues, over one WebSocket instead of an HTTP request each.
import { Hono, type Context } from 'hono';
import type { AuthVars } from './auth.ts';
import { requireConsumer, requireEnqueue } from '../protocol/principals.ts';
import { MAX_TASK_BYTES } from '../protocol/sizes.ts';
import { DroverError } from '../protocol/errors.ts';
import { queueOf } from './queues.ts';
import { anyShard } from '../queue/stubs.ts';
import { acceptSocket, PRINCIPAL_HEADER, principalText, socketLifetimeMs } from '../queue/session.ts';
import { enqueueBatch, groupEnqueuer } from '../intake/enqueue.ts';
import { MAX_BATCH_BYTES } from '../protocol/sizes.ts';

export const sockets = new Hono<AuthVars>();

/**
 * `GET /v1/queues/:queue/connect` (consume scope): a pull worker's socket.
 *   {"id": 1, "op": "claim", ...claim body}  ->  {"id": 1, "jobs": [...]}
 *   {"id": 2, "op": "ack", "acks": [...]}     ->  {"id": 2, "results": [...]}
 */
sockets.get('/queues/:queue/connect', (c) => {
  const queue = queueOf(c);
  requireConsumer(c.var.principal);
  requireUpgrade(c);
  // The queue's object holds the socket: its claims wait there, and answer without a hop. A sharded
  // queue's socket goes to any shard: its claims take from the others in turn.
  const object = anyShard(c.env, queue);
  return object.fetch(`https://drover.internal/connect?queue=${encodeURIComponent(queue)}`, {
    headers: { upgrade: 'websocket', [PRINCIPAL_HEADER]: principalText(c.var.principal) },
  });
});

/**
 * `GET /v1/tasks/connect` (enqueue scope): a producer's socket.
 *   {"id": 1, "op": "enqueue", "task": {...POST /v1/tasks body}}        ->  {"id": 1, "task": {"id", "state", ...}}
 *   {"id": 2, "op": "enqueueBatch", "tasks": [...POST /v1/tasks/batch]}  ->  {"id": 2, "tasks": [...]}
 */
sockets.get('/tasks/connect', (c) => {
  requireEnqueue(c.var.principal);
  // Enqueues in flight together share D1 writes; each still gets its own answer.
  const enqueueTask = groupEnqueuer(c.env);
  requireUpgrade(c);
  return acceptSocket({ queue: null, lifetimeMs: socketLifetimeMs(c.env) }, () => ({
    enqueue: {
      maxBytes: MAX_TASK_BYTES + 1024,
      run: async (body) => JSON.stringify({ task: await enqueueTask(field(body, 'task')) }),
    },
    enqueueBatch: {
      maxBytes: MAX_BATCH_BYTES,
      run: async (body) => JSON.stringify({ tasks: await enqueueBatch(c.env, { tasks: field(body, 'tasks') }) }),
    },
  }));
});

function field(body: Record<string, unknown>, name: string): unknown {
  const extra = Object.keys(body).filter((k) => k !== name);
  if (extra.length) throw new DroverError('invalid_request', `unknown field "${extra[0]}": the message carries "${name}"`);
  if (!(name in body)) throw new DroverError('invalid_request', `the message needs "${name}"`);
  return body[name];
}

function requireUpgrade(c: Context<AuthVars>): void {
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
    throw new DroverError('invalid_request', 'this route speaks WebSocket: send "Upgrade: websocket"');
  }
}
