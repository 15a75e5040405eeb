// A socket's session: each message `{id, op, ...body}` runs one op and is answered `{id, ...}` or `{id, error}`.
// Producer sockets live in the hub's Worker; worker sockets in their queue's object, next to the claims they wait on.
import type { Env } from '../env.ts';
import type { ClaimedRow } from './transitions.ts';
import type { Principal } from '../protocol/principals.ts';
import { checkJson, parseWith } from '../protocol/parse.ts';
import { DroverError, errorOf } from '../protocol/errors.ts';
import { ackLeases, claimRequest, jobsJson, type QueueCalls } from './calls.ts';
import { ackManyBody, claimBody } from '../protocol/schemas.ts';
import { SOCKET_MAX_IN_FLIGHT } from '../core/limits.ts';
import { overUtf8Bytes } from '../core/params.ts';

/** After asking its client to reconnect, the hub waits this long for in-flight work before closing. */
const DRAIN_MS = 60_000;

/** One kind of request a socket serves: its largest message and what answers it (JSON object text). */
export interface Op {
  maxBytes: number;
  run(body: Record<string, unknown>): Promise<string>;
}

/** The header that carries a worker socket's principal from the hub's Worker to the queue's object. */
export const PRINCIPAL_HEADER = 'x-drover-principal';

/** A principal as text, for the queue's object (which only the hub's Worker can reach). */
export function principalText(p: Principal): string {
  return JSON.stringify({ ...p, consumeRegions: [...p.consumeRegions] });
}

export function principalFrom(text: string): Principal {
  const p = JSON.parse(text) as Omit<Principal, 'consumeRegions'> & { consumeRegions: string[] };
  return { ...p, consumeRegions: new Set(p.consumeRegions) };
}

/** How long a socket lives before its client must come back with its token (DROVER_SOCKET_SECONDS). */
export function socketLifetimeMs(env: Pick<Env, 'DROVER_SOCKET_SECONDS'>): number {
  const seconds = Number(env.DROVER_SOCKET_SECONDS ?? 600);
  return (Number.isFinite(seconds) && seconds > 0 ? seconds : 600) * 1000;
}

/** Accepts the server end of a new socket pair for `ops`; returns the 101 response that hands over the client end. */
export function acceptSocket(options: SessionOptions, ops: (session: Session) => Record<string, Op>): Response {
  const pair = new WebSocketPair();
  const [client, server] = [pair[0], pair[1]];
  server.accept();
  new Session(server, options, ops);
  return new Response(null, { status: 101, webSocket: client });
}

export interface SessionOptions {
  /** For error messages: the queue, or null for a producer's socket. */
  queue: string | null;
  lifetimeMs: number;
  /** Sent first, before any answer: a worker socket attached to one shard is told the queue's shard count. */
  greeting?: string;
  /** Called once when the socket ends, with the number of claims still waiting on it. */
  onEnd?: (key: string, claimsWaiting: number) => void;
}

/**
 * The ops of a pull worker's socket, run in its queue's object: claims wait there without a
 * hop, and acks of the queue's own leases are settled there too (others go to their queue).
 */
export function workerOps(env: Env, principal: Principal, queue: string, object: QueueCalls, objectName = queue, shardOnly = false) {
  return (session: Session): Record<string, Op> => ({
    claim: {
      maxBytes: 64 * 1024,
      async run(raw) {
        const body = parseWith(claimBody, raw, 'claim');
        const request = { ...claimRequest(principal, queue, body, session.key), shardOnly };
        const rows: ClaimedRow[] = await session.claiming(() => object.claim(request, Math.round(body.waitSeconds * 1000)));
        // Jobs claimed for a socket that closed meanwhile go back at once, not when their leases expire.
        if (session.closed && rows.length) {
          await Promise.all(rows.map((r) => object.release(r.lease_id, request.owner)));
          return '{"jobs":[]}';
        }
        return jobsJson(rows, queue);
      },
    },
    ack: {
      maxBytes: 4 * 1024 * 1024,
      run: async (raw) => JSON.stringify({ results: await ackLeases(env, principal, parseWith(ackManyBody, raw, 'acks'), { queue: objectName, object }) }),
    },
  });
}

export class Session {
  closed = false;
  /** Names this socket's claims, so its queue can end them when it closes. */
  readonly key = crypto.randomUUID();
  private inFlight = 0;
  private claimsWaiting = 0;
  private readonly timers: ReturnType<typeof setTimeout>[] = [];
  private readonly ops: Record<string, Op>;
  /** The largest message any op takes: longer text is refused before it is parsed. */
  private readonly largest: number;
  private readonly ws: WebSocket;
  private readonly options: SessionOptions;

  constructor(ws: WebSocket, options: SessionOptions, ops: (session: Session) => Record<string, Op>) {
    this.ws = ws;
    this.options = options;
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
      }, options.lifetimeMs),
    );
    if (options.greeting) this.send(options.greeting);
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
    this.options.onEnd?.(this.key, this.claimsWaiting);
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
      if (overUtf8Bytes(data, handler.maxBytes)) {
        throw new DroverError('payload_too_large', `a "${op}" message is larger than ${Math.round(handler.maxBytes / 1024)} KiB`);
      }
      checkJson(message);
      if (this.inFlight >= SOCKET_MAX_IN_FLIGHT) throw new DroverError('rate_limited', `at most ${SOCKET_MAX_IN_FLIGHT} requests may wait on one socket`);
      this.inFlight++;
      try {
        const answer = await handler.run(body);
        this.send(`{"id":${JSON.stringify(id)},${answer.slice(1)}`);
      } finally {
        this.inFlight--;
      }
    } catch (err) {
      this.send(JSON.stringify({ id, error: errorOf(err, `socket ${this.options.queue ?? 'tasks'}`) }));
    }
  }
}
