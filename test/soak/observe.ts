// Watches a pull worker's traffic with the hub (HTTP and its socket) and writes what the hub answered to the journal.
// The SDK is used as shipped; only the transport underneath is watched, so the journal shows what the hub said,
// not what the worker believed.

/** One line of a worker's journal (JSON Lines, one file per worker process). */
export type JournalLine =
  | { e: 'up'; pid: number; socket: boolean; t: number }
  | { e: 'claim'; id: string; lease: string; a: number; t: number }
  | { e: 'run' | 'ran'; id: string; a: number; ok?: boolean; t: number }
  | { e: 'ack' | 'fail'; lease: string; s?: string; code?: string; t: number }
  | { e: '5xx'; status: number; path: string; t: number };

export type Write = (line: JournalLine) => void;

type Answer = { jobs?: { id: string; leaseId: string; attempt: number }[]; results?: { leaseId: string; state?: string; error?: { code: string } }[] };

/** Writes down the claims and the hub's verdict on each ack in one answer. */
function noteAnswer(write: Write, op: 'claim' | 'ack', body: Answer): void {
  const t = Date.now();
  if (op === 'claim') for (const j of body.jobs ?? []) write({ e: 'claim', id: j.id, lease: j.leaseId, a: j.attempt, t });
  else for (const r of body.results ?? []) write({ e: 'ack', lease: r.leaseId, ...(r.state ? { s: r.state } : { code: r.error?.code ?? 'unknown' }), t });
}

/** A fetch for the SDK's client that writes down claims, acks, fails and any 5xx. */
export function observedFetch(write: Write): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    const path = new URL(String(input)).pathname;
    if (res.status >= 500) write({ e: '5xx', status: res.status, path, t: Date.now() });
    const claim = /^\/v1\/queues\/[^/]+\/claim$/.test(path);
    const ack = path === '/v1/leases/ack';
    const fail = /^\/v1\/leases\/([^/]+)\/fail$/.exec(path);
    if (!claim && !ack && !fail) return res;
    const text = await res.text();
    let body: any = null;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: nothing to note
    }
    if (res.ok && (claim || ack)) noteAnswer(write, claim ? 'claim' : 'ack', body ?? {});
    if (fail) {
      write({ e: 'fail', lease: decodeURIComponent(fail[1]), ...(res.ok ? { s: body?.state } : { code: body?.error?.code ?? String(res.status) }), t: Date.now() });
    }
    return new Response(text, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

/**
 * Replaces the global WebSocket with one that pairs each request (by its id) with its answer,
 * so claims and acks sent over the worker's socket are written down like the HTTP ones.
 */
export function observeSockets(write: Write): void {
  const Base = globalThis.WebSocket;
  class ObservedSocket extends Base {
    private readonly ops = new Map<number, 'claim' | 'ack'>();

    constructor(url: string | URL, options?: string | string[]) {
      super(url as string, options);
      this.addEventListener('message', (event) => {
        let m: Answer & { id?: number; error?: { code: string } };
        try {
          m = JSON.parse(String(event.data));
        } catch {
          return;
        }
        const op = this.ops.get(m.id as number);
        if (!op) return;
        this.ops.delete(m.id as number);
        if (m.error) {
          if (m.error.code === 'internal' || m.error.code === 'unavailable') write({ e: '5xx', status: m.error.code === 'internal' ? 500 : 503, path: `socket:${op}`, t: Date.now() });
        } else noteAnswer(write, op, m);
      });
    }

    override send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
      if (typeof data === 'string') {
        try {
          const m = JSON.parse(data) as { id?: number; op?: string };
          if (m.op === 'claim' || m.op === 'ack') this.ops.set(m.id as number, m.op);
        } catch {
          // not a request
        }
      }
      super.send(data as never);
    }
  }
  globalThis.WebSocket = ObservedSocket as typeof WebSocket;
}
