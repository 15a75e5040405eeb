// Sockets: a pull worker's claims and acks, or a producer's enqueues, over one WebSocket instead of an HTTP request each.
import { Hono, type Context } from 'hono';
import type { Env } from '../env.ts';
import { requireConsumer, requireEnqueue, type AuthVars } from './auth.ts';
import { depth, MAX_DEPTH, parseWith } from './body.ts';
import { MAX_TASK_BYTES } from './enqueue.ts';
import { DroverError, errorOf } from './errors.ts';
import { ackLeases, cancelSocketClaims, claimJobs, releaseLeases } from './leases.ts';
import { queueOf } from './queues.ts';
import { ackManyBody, claimBody } from './schemas.ts';
import { enqueueBatch, groupEnqueuer, MAX_BATCH_BYTES } from './tasks.ts';

/** Requests one socket may have unanswered; more are refused with rate_limited. */
const MAX_IN_FLIGHT = 64;
/** After asking its client to reconnect, the hub waits this long for in-flight work before closing. */
const DRAIN_MS = 60_000;

/** One kind of request a socket serves: its largest message and what answers it (JSON object text). */
interface Op {
  maxBytes: number;
  run(body: Record<string, unknown>): Promise<string>;
}

export const sockets = new Hono<AuthVars>();

/**
 * `GET /v1/queues/:queue/connect` (consume scope): a pull worker's socket.
 *   {"id": 1, "op": "claim", ...claim body}  ->  {"id": 1, "jobs": [...]}
 *   {"id": 2, "op": "ack", "acks": [...]}     ->  {"id": 2, "results": [...]}
 */
sockets.get('/queues/:queue/connect', (c) => {
  const queue = queueOf(c);
  requireConsumer(c.var.principal);
  return open(c, (session) => ({
    claim: {
      maxBytes: 64 * 1024,
      async run(body) {
        const request = parseWith(claimBody, body, 'claim');
        const claim = await session.claiming(() => claimJobs(c.env, c.var.principal, queue, request, session.key));
        // Jobs claimed for a socket that closed meanwhile go back at once, not when their leases expire.
        if (session.closed && claim.leases.length) await releaseLeases(c.env, c.var.principal, queue, claim.leases);
        return claim.json;
      },
    },
    ack: {
      maxBytes: 4 * 1024 * 1024,
      run: async (body) => JSON.stringify({ results: await ackLeases(c.env, c.var.principal, parseWith(ackManyBody, body, 'acks')) }),
    },
  }), queue);
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
  return open(c, () => ({
    enqueue: {
      maxBytes: MAX_TASK_BYTES + 1024,
      run: async (body) => JSON.stringify({ task: await enqueueTask(field(body, 'task')) }),
    },
    enqueueBatch: {
      maxBytes: MAX_BATCH_BYTES,
      run: async (body) => JSON.stringify({ tasks: await enqueueBatch(c.env, { tasks: field(body, 'tasks') }) }),
    },
  }), null);
});

function field(body: Record<string, unknown>, name: string): unknown {
  const extra = Object.keys(body).filter((k) => k !== name);
  if (extra.length) throw new DroverError('invalid_request', `unknown field "${extra[0]}": the message carries "${name}"`);
  if (!(name in body)) throw new DroverError('invalid_request', `the message needs "${name}"`);
  return body[name];
}

/** Upgrades the request; every message then runs one of `ops`. */
function open(c: Context<AuthVars>, ops: (session: Session) => Record<string, Op>, queue: string | null): Response {
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
    throw new DroverError('invalid_request', 'this route speaks WebSocket: send "Upgrade: websocket"');
  }
  const pair = new WebSocketPair();
  const [client, server] = [pair[0], pair[1]];
  server.accept();
  const seconds = Number(c.env.DROVER_SOCKET_SECONDS ?? 600);
  const lifetimeMs = (Number.isFinite(seconds) && seconds > 0 ? seconds : 600) * 1000;
  new Session(server, c.env, c.executionCtx, queue, lifetimeMs, ops);
  return new Response(null, { status: 101, webSocket: client });
}

class Session {
  closed = false;
  /** Names this socket's claims, so its queue can end them when it closes. */
  readonly key = crypto.randomUUID();
  private inFlight = 0;
  private claimsWaiting = 0;
  private readonly timers: ReturnType<typeof setTimeout>[] = [];
  private readonly ops: Record<string, Op>;
  /** The largest message any op takes: longer text is refused before it is parsed. */
  private readonly largest: number;

  constructor(
    private readonly ws: WebSocket,
    private readonly env: Env,
    private readonly ctx: { waitUntil(promise: Promise<unknown>): void },
    private readonly queue: string | null,
    lifetimeMs: number,
    ops: (session: Session) => Record<string, Op>,
  ) {
    this.ops = ops(this);
    this.largest = Math.max(...Object.values(this.ops).map((o) => o.maxBytes));
    ws.addEventListener('message', (e) => void this.onMessage(e.data));
    ws.addEventListener('close', () => this.end());
    ws.addEventListener('error', () => this.end());
    // A socket outlives no token change for long: past its lifetime the client must come back with its token.
    this.timers.push(
      setTimeout(() => {
        this.send('{"op":"reconnect"}');
        this.timers.push(setTimeout(() => this.close(1012, 'reconnect'), DRAIN_MS));
      }, lifetimeMs),
    );
  }

  /** Runs a claim, counted as waiting so that a close can end it. */
  async claiming<T>(claim: () => Promise<T>): Promise<T> {
    this.claimsWaiting++;
    try {
      return await claim();
    } finally {
      this.claimsWaiting--;
    }
  }

  private end(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    // A closed socket's answers go nowhere: claims still waiting would lease jobs nobody receives.
    if (this.queue && this.claimsWaiting > 0) {
      this.ctx.waitUntil(cancelSocketClaims(this.env, this.queue, this.key).catch((err) => console.error("ending a closed socket's claims failed", err)));
    }
  }

  private close(code: number, reason: string): void {
    this.end();
    try {
      this.ws.close(code, reason);
    } catch {
      // Already closing.
    }
  }

  private send(text: string): void {
    if (this.closed) return;
    try {
      this.ws.send(text);
    } catch {
      this.end();
    }
  }

  private async onMessage(data: string | ArrayBuffer): Promise<void> {
    let id: number | string | null = null;
    try {
      if (typeof data !== 'string') throw new DroverError('invalid_request', 'send each message as JSON text');
      if (data.length > this.largest) throw new DroverError('payload_too_large', `the message is larger than ${Math.round(this.largest / 1024)} KiB`);
      let message: unknown;
      try {
        message = JSON.parse(data);
      } catch (err) {
        throw new DroverError('invalid_request', `the message is not valid JSON: ${(err as Error).message}`);
      }
      if (typeof message !== 'object' || message === null || Array.isArray(message)) {
        throw new DroverError('invalid_request', 'a message is a JSON object with "id" and "op"');
      }
      const { id: given, op, ...body } = message as Record<string, unknown>;
      if (!(Number.isSafeInteger(given) || (typeof given === 'string' && given.length <= 64))) {
        throw new DroverError('invalid_request', 'a message needs an "id": a whole number or a string of up to 64 characters');
      }
      id = given as number | string;
      const handler = typeof op === 'string' && Object.hasOwn(this.ops, op) ? this.ops[op] : undefined;
      if (!handler) throw new DroverError('invalid_request', `unknown "op": send ${Object.keys(this.ops).map((o) => `"${o}"`).join(' or ')}`);
      if (new TextEncoder().encode(data).byteLength > handler.maxBytes) {
        throw new DroverError('payload_too_large', `a "${op}" message is larger than ${Math.round(handler.maxBytes / 1024)} KiB`);
      }
      if (depth(message) > MAX_DEPTH) throw new DroverError('invalid_request', `the JSON nests deeper than ${MAX_DEPTH} levels`);
      if (this.inFlight >= MAX_IN_FLIGHT) throw new DroverError('rate_limited', `at most ${MAX_IN_FLIGHT} requests may wait on one socket`);
      this.inFlight++;
      try {
        const answer = await handler.run(body);
        this.send(`{"id":${JSON.stringify(id)},${answer.slice(1)}`);
      } finally {
        this.inFlight--;
      }
    } catch (err) {
      this.send(JSON.stringify({ id, error: errorOf(err, `socket ${this.queue ?? 'tasks'}`) }));
    }
  }
}
