// Sockets: a pull worker's claims and acks, or a producer's enqueues, over one WebSocket instead of an HTTP request each.
import { Hono, type Context } from 'hono';
import type { AuthVars } from './auth.ts';
import { requireConsumer, requireEnqueue } from '../protocol/principals.ts';
import { MAX_TASK_BYTES } from '../protocol/sizes.ts';
import { DroverError } from '../protocol/errors.ts';
import { queueOf } from './queues.ts';
import { anyShard, queueObject } from '../queue/stubs.ts';
import { shardCount, shardName } from '../core/shards.ts';
import { acceptSocket, PRINCIPAL_HEADER, principalText, socketLifetimeMs } from '../queue/session.ts';
import { enqueueBatch, groupEnqueuer } from '../intake/enqueue.ts';
import { MAX_BATCH_BYTES } from '../protocol/sizes.ts';

export const sockets = new Hono<AuthVars>();

/**
 * `GET /v1/queues/:queue/connect[?shard=i]` (consume scope): a pull worker's socket.
 *   {"id": 1, "op": "claim", ...claim body}  ->  {"id": 1, "jobs": [...]}
 *   {"id": 2, "op": "ack", "acks": [...]}     ->  {"id": 2, "results": [...]}
 * With `shard`, the socket is shard i's alone, and its first message says how many shards there are:
 *   <-  {"op": "hello", "shards": 4, "shard": 1}
 */
sockets.get('/queues/:queue/connect', (c) => {
  const queue = queueOf(c);
  requireConsumer(c.var.principal);
  const shard = shardOf(c, queue);
  requireUpgrade(c);
  // The queue's object holds the socket: its claims wait there, and answer without a hop. A sharded
  // queue's socket goes to the shard asked for (a worker holding one per shard makes no hop between
  // them), else to any shard: its claims take from the others in turn.
  const object = shard === null ? anyShard(c.env, queue) : queueObject(c.env, shardName(queue, shard));
  const attach = shard === null ? '' : `&shard=${shard}`;
  return object.fetch(`https://drover.internal/connect?queue=${encodeURIComponent(queue)}${attach}`, {
    headers: { upgrade: 'websocket', [PRINCIPAL_HEADER]: principalText(c.var.principal) },
  });
});

/** The `shard` a worker's socket asks for: a whole number below the queue's shard count, or null when none is given. */
function shardOf(c: Context<AuthVars>, queue: string): number | null {
  const given = c.req.query('shard');
  if (given === undefined) return null;
  const count = shardCount(c.env, queue);
  const shard = /^[0-9]{1,2}$/.test(given) ? Number(given) : NaN;
  if (!(shard < count)) {
    throw new DroverError('invalid_request', `"shard" must be a whole number from 0 to ${count - 1}: queue "${queue}" has ${count} shard${count === 1 ? '' : 's'}`);
  }
  return shard;
}

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
