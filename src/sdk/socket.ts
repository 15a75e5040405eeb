// HubSocket: requests to the hub over one WebSocket: a pull worker's claims and acks (GET /v1/queues/:queue/connect)
// or a producer's enqueues (GET /v1/tasks/connect).
import { HubError } from './errors.ts';
import { SOCKET_MAX_IN_FLIGHT } from '../core/limits.ts';

/** The HTTP status each protocol error code stands for, so socket errors read like HTTP ones. */
const STATUS: Record<string, number> = {
  invalid_request: 400, unauthorized: 401, forbidden: 403, not_found: 404, lease_lost: 409, conflict: 409,
  payload_too_large: 413, rate_limited: 429, internal: 500, unavailable: 503,
};

/** An answer slower than its own wait plus this means the connection is gone. */
const ANSWER_GRACE_MS = 30_000;

/** A worker socket attached to one shard (`?shard=i`) is told first how many shards its queue has. */
export interface Hello {
  shards: number;
  shard: number;
}

interface Waiting {
  ok: (value: any) => void;
  fail: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class HubSocket {
  private readonly ws: WebSocket;
  private readonly waiting = new Map<number, Waiting>();
  /** Requests beyond the hub's bound on unanswered ones, sent in order as answers come. */
  private readonly held: { send: () => void; fail: (err: Error) => void }[] = [];
  private next = 1;
  private closed = false;
  /** The hub asked for a new socket: this one takes no new requests and closes once answered. */
  retiring = false;

  private readonly onHello: ((hello: Hello) => void) | undefined;

  private constructor(ws: WebSocket, onHello?: (hello: Hello) => void) {
    this.ws = ws;
    this.onHello = onHello;
    ws.addEventListener('message', (e) => this.onMessage(String(e.data)));
    ws.addEventListener('close', () => this.end(new Error('the socket to the hub closed')));
    ws.addEventListener('error', () => this.end(new Error('the socket to the hub failed')));
  }

  /** Opens a socket; rejects when the hub (or a proxy) refuses it, so the caller can use HTTP. */
  static open(url: string, token: string, path: string, timeoutMs = 10_000, onHello?: (hello: Hello) => void): Promise<HubSocket> {
    const target = `${url.replace(/\/+$/, '').replace(/^http/, 'ws')}${path}`;
    return new Promise((resolve, reject) => {
      let ws: WebSocket;
      try {
        // Node's (undici's) WebSocket takes headers: the token goes as it does over HTTP.
        ws = new WebSocket(target, { headers: { authorization: `Bearer ${token}` } } as never);
      } catch (err) {
        reject(err as Error);
        return;
      }
      const timer = setTimeout(() => {
        ws.close();
        reject(new Error('the hub did not open a socket in time'));
      }, timeoutMs);
      let settled = false;
      ws.addEventListener('open', () => {
        settled = true;
        clearTimeout(timer);
        resolve(new HubSocket(ws, onHello));
      });
      const refused = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new Error(`the hub refused a socket at ${path}`));
      };
      ws.addEventListener('error', refused);
      ws.addEventListener('close', refused);
    });
  }

  get usable(): boolean {
    return !this.closed && !this.retiring;
  }

  /**
   * Sends one request; resolves with the hub's answer, rejects with a HubError or when the socket
   * ends. Past the hub's bound on unanswered requests it waits here, not refused by the hub.
   */
  request<T>(op: string, body: object, waitMs = 0): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the socket to the hub is closed'));
    return new Promise<T>((ok, fail) => {
      const send = () => {
        const id = this.next++;
        const timer = setTimeout(() => {
          // No answer long after it was due: the connection is dead even if the OS has not noticed.
          this.close();
          this.end(new Error('the hub did not answer on its socket'));
        }, waitMs + ANSWER_GRACE_MS);
        this.waiting.set(id, { ok, fail, timer });
        this.ws.send(JSON.stringify({ ...body, id, op }));
      };
      if (this.waiting.size < SOCKET_MAX_IN_FLIGHT) send();
      else this.held.push({ send, fail });
    });
  }

  close(): void {
    if (this.closed) return;
    try {
      this.ws.close(1000, 'done');
    } catch {
      // Closing already.
    }
  }

  private onMessage(text: string): void {
    let message: { id?: number; op?: string; error?: { code: string; message: string; details?: unknown } };
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message.op === 'hello') {
      const hello = message as Partial<Hello>;
      if (Number.isSafeInteger(hello.shards) && Number.isSafeInteger(hello.shard)) this.onHello?.(hello as Hello);
      return;
    }
    if (message.op === 'reconnect') {
      this.retiring = true;
      if (this.waiting.size === 0) this.close();
      return;
    }
    const waiter = this.waiting.get(message.id as number);
    if (!waiter) return;
    this.waiting.delete(message.id as number);
    clearTimeout(waiter.timer);
    this.held.shift()?.send();
    if (message.error) {
      const e = message.error;
      waiter.fail(new HubError(STATUS[e.code] ?? 500, e.code, e.message, e.details));
    } else waiter.ok(message);
    if (this.retiring && this.waiting.size === 0) this.close();
  }

  private end(err: Error): void {
    this.closed = true;
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.fail(err);
    }
    this.waiting.clear();
    for (const h of this.held.splice(0)) h.fail(err);
  }
}

/** After a refused socket, HTTP is used this long before the socket is tried again. */
const SOCKET_RETRY_MS = 30_000;

/**
 * A socket opened on first use and again whenever the hub asks for a new one or the old
 * one ends. Where the hub (or a proxy) refuses it, `get()` gives null for a while and the
 * caller goes over HTTP.
 */
export class SocketLine {
  private socket: Promise<HubSocket | null> | null = null;
  private retryAt = 0;
  private readonly url: string;
  private readonly token: string;
  private readonly path: string;
  private readonly log: (message: string) => void;
  private readonly onHello: ((hello: Hello) => void) | undefined;

  constructor(url: string, token: string, path: string, log: (message: string) => void, onHello?: (hello: Hello) => void) {
    this.url = url;
    this.token = token;
    this.path = path;
    this.log = log;
    this.onHello = onHello;
  }

  async get(): Promise<HubSocket | null> {
    const pending = this.socket;
    const current = pending ? await pending : null;
    if (current?.usable) return current;
    if (Date.now() < this.retryAt) return null;
    // Another call may have started a new socket while this one waited.
    if (this.socket !== pending) return this.get();
    this.socket = HubSocket.open(this.url, this.token, this.path, undefined, this.onHello).catch((err: Error) => {
      this.retryAt = Date.now() + SOCKET_RETRY_MS;
      this.log(`${err.message}; using HTTP, trying the socket again in ${SOCKET_RETRY_MS / 1000}s`);
      return null;
    });
    return this.socket;
  }

  async close(): Promise<void> {
    (await this.socket)?.close();
  }
}
