// Worker sockets: one pull worker's claims and acks over one WebSocket, instead of an HTTP request each.
import { Hono } from 'hono';
import type { Env } from '../env.ts';
import { requireConsumer, type AuthVars, type Principal } from './auth.ts';
import { depth, MAX_DEPTH, parseWith } from './body.ts';
import { DroverError, errorOf } from './errors.ts';
import { ackLeases, cancelSocketClaims, claimJobs, releaseLeases } from './leases.ts';
import { ackManyBody, claimBody, queueName } from './schemas.ts';

/** As large as the largest HTTP body these messages stand for (a batch of acks). */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Requests one socket may have unanswered; more are refused with rate_limited. */
const MAX_IN_FLIGHT = 32;
/** After asking its worker to reconnect, the hub waits this long for in-flight work before closing. */
const DRAIN_MS = 60_000;

export const sockets = new Hono<AuthVars>();

/**
 * `GET /v1/queues/:queue/connect` with `Upgrade: websocket` and the usual bearer token.
 * Messages are JSON text, each with an `id` the answer repeats:
 *   {"id": 1, "op": "claim", ...claim body}  ->  {"id": 1, "jobs": [...]}
 *   {"id": 2, "op": "ack", "acks": [...]}     ->  {"id": 2, "results": [...]}
 *   anything refused                          ->  {"id": 2, "error": {"code", "message"}}
 * The hub sends {"op": "reconnect"} when the socket has lived DROVER_SOCKET_SECONDS:
 * the worker opens a new one (showing its token again) and lets this one go.
 */
sockets.get('/:queue/connect', (c) => {
  const queue = parseWith(queueName, c.req.param('queue'), 'queue name');
  requireConsumer(c.var.principal);
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
    throw new DroverError('invalid_request', 'this route speaks WebSocket: send "Upgrade: websocket"');
  }
  const pair = new WebSocketPair();
  const [client, server] = [pair[0], pair[1]];
  server.accept();
  const seconds = Number(c.env.DROVER_SOCKET_SECONDS ?? 600);
  const lifetimeMs = (Number.isFinite(seconds) && seconds > 0 ? seconds : 600) * 1000;
  new WorkerSocket(server, c.env, c.executionCtx, c.var.principal, queue, lifetimeMs);
  return new Response(null, { status: 101, webSocket: client });
});

class WorkerSocket {
  private inFlight = 0;
  private claimsWaiting = 0;
  private closed = false;
  /** Names this socket's claims, so the queue can end them when it closes. */
  private readonly key = crypto.randomUUID();
  private readonly timers: ReturnType<typeof setTimeout>[] = [];

  constructor(
    private readonly ws: WebSocket,
    private readonly env: Env,
    private readonly ctx: { waitUntil(promise: Promise<unknown>): void },
    private readonly principal: Principal,
    private readonly queue: string,
    lifetimeMs: number,
  ) {
    ws.addEventListener('message', (e) => void this.onMessage(e.data));
    ws.addEventListener('close', () => this.end());
    ws.addEventListener('error', () => this.end());
    this.timers.push(
      setTimeout(() => {
        this.send('{"op":"reconnect"}');
        this.timers.push(setTimeout(() => this.close(1012, 'reconnect'), DRAIN_MS));
      }, lifetimeMs),
    );
  }

  private end(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    // Claims still waiting would lease jobs nobody receives (a closed socket's answers go nowhere).
    if (this.claimsWaiting > 0) {
      this.ctx.waitUntil(cancelSocketClaims(this.env, this.queue, this.key).catch((err) => console.error('ending a closed socket\'s claims failed', err)));
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

  private send(text: string): boolean {
    if (this.closed) return false;
    try {
      this.ws.send(text);
      return true;
    } catch {
      this.end();
      return false;
    }
  }

  private async onMessage(data: string | ArrayBuffer): Promise<void> {
    let id: number | string | null = null;
    try {
      if (typeof data !== 'string') throw new DroverError('invalid_request', 'send each message as JSON text');
      if (data.length > MAX_MESSAGE_BYTES) throw new DroverError('payload_too_large', 'the message is larger than 4 MiB');
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
      if (depth(message) > MAX_DEPTH) throw new DroverError('invalid_request', `the JSON nests deeper than ${MAX_DEPTH} levels`);
      if (this.inFlight >= MAX_IN_FLIGHT) throw new DroverError('rate_limited', `at most ${MAX_IN_FLIGHT} requests may wait on one socket`);
      this.inFlight++;
      try {
        await this.handle(id, op, body);
      } finally {
        this.inFlight--;
      }
    } catch (err) {
      this.send(JSON.stringify({ id, error: errorOf(err, `socket ${this.queue}`) }));
    }
  }

  private async handle(id: number | string, op: unknown, body: Record<string, unknown>): Promise<void> {
    const head = `{"id":${JSON.stringify(id)},`;
    if (op === 'claim') {
      const request = parseWith(claimBody, body, 'claim');
      this.claimsWaiting++;
      let claim: Awaited<ReturnType<typeof claimJobs>>;
      try {
        claim = await claimJobs(this.env, this.principal, this.queue, request, this.key);
      } finally {
        this.claimsWaiting--;
      }
      // Jobs claimed for a socket that closed meanwhile go back at once, not when their leases expire.
      if (!this.send(head + claim.json.slice(1)) && claim.leases.length) {
        await releaseLeases(this.env, this.principal, this.queue, claim.leases);
      }
    } else if (op === 'ack') {
      const results = await ackLeases(this.env, this.principal, parseWith(ackManyBody, body, 'acks'));
      this.send(head + JSON.stringify({ results }).slice(1));
    } else {
      throw new DroverError('invalid_request', 'unknown "op": send "claim" or "ack"');
    }
  }
}
