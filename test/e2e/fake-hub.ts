// A stand-in hub for remote control tests: empty claims, worker heartbeats that hand out the commands
// a test queues, and a record of every request. The real hub's side of heartbeats is built elsewhere;
// this follows the same contract (docs/protocol.md, "Worker heartbeats").
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Heartbeat {
  name: string;
  body: any;
}

export interface FakeHub {
  url: string;
  heartbeats: Heartbeat[];
  /** Heartbeats refused (404 or 401). */
  refusedHeartbeats: () => number;
  claims: { queue: string; body: any }[];
  releases: string[];
  /** Queues a command; it is sent on every heartbeat until replied to, and `times` more times after (a lost answer). */
  command(id: string, command: string, args?: Record<string, unknown>, times?: number): void;
  /** Every reply received, in order (repeats included). */
  replies: any[];
  /** Jobs the next claims of a queue hand out. */
  jobs(queue: string, jobs: any[]): void;
  /** Every fail body, by lease, in order. */
  fails: { leaseId: string; body: any }[];
  /** Every enqueue body (POST /v1/tasks, and each task of a batch), in order. */
  enqueued: any[];
  /** What GET /v1/queues/:queue/keys answers for a queue (query included); a queue with none: 404, as a hub without the route. */
  keys(queue: string, answer: (query: URLSearchParams) => unknown): void;
  close(): Promise<void>;
}

/** `heartbeat`: 'ok' follows the contract, 404 is a hub without the route, 401 refuses the token. */
export async function fakeHub(options: { heartbeat?: 'ok' | 404 | 401 } = {}): Promise<FakeHub> {
  const heartbeats: Heartbeat[] = [];
  const claims: { queue: string; body: any }[] = [];
  const releases: string[] = [];
  const replies: any[] = [];
  let refusedHeartbeats = 0;
  const pending: { id: string; command: string; args: Record<string, unknown>; extra: number; replied: boolean }[] = [];
  const ready = new Map<string, any[]>();
  const fails: { leaseId: string; body: any }[] = [];
  const enqueued: any[] = [];
  const keyAnswers = new Map<string, (query: URLSearchParams) => unknown>();
  const arrived: (() => void)[] = [];
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const body = text ? JSON.parse(text) : {};
    const answer = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    const [path, search = ''] = (req.url ?? '').split('?');
    let m = /^\/v1\/workers\/([^/]+)\/heartbeat$/.exec(path);
    if (m) {
      if (options.heartbeat === 404 || options.heartbeat === 401) refusedHeartbeats++;
      if (options.heartbeat === 404) return answer(404, { error: { code: 'not_found', message: 'no such route' } });
      if (options.heartbeat === 401) return answer(401, { error: { code: 'unauthorized', message: 'no such token' } });
      heartbeats.push({ name: decodeURIComponent(m[1]), body });
      for (const r of body.replies ?? []) {
        replies.push(r);
        const c = pending.find((p) => p.id === r.id);
        if (c) c.replied = true;
      }
      const due = () => pending.filter((p) => !p.replied || p.extra > 0);
      if (due().length === 0 && body.waitSeconds > 0) {
        // Hold it, as the hub does, but briefly: tests should not wait out a 25 s poll.
        await new Promise<void>((r) => {
          arrived.push(r);
          setTimeout(r, Math.min(body.waitSeconds * 1000, 300));
        });
      }
      const out = due();
      for (const p of out) if (p.replied) p.extra--;
      return answer(200, { commands: out.map(({ id, command, args }) => ({ id, command, args })), intervalSeconds: 10 });
    }
    m = /^\/v1\/queues\/([^/]+)\/claim$/.exec(path);
    if (m) {
      const queue = decodeURIComponent(m[1]);
      claims.push({ queue, body });
      const jobs = ready.get(queue)?.splice(0, body.max) ?? [];
      if (jobs.length === 0) await new Promise((r) => setTimeout(r, Math.min(body.waitSeconds * 1000, 100)));
      return answer(200, { jobs });
    }
    m = /^\/v1\/leases\/([^/]+)\/release$/.exec(path);
    if (m) {
      releases.push(m[1]);
      return answer(200, { state: 'queued' });
    }
    m = /^\/v1\/leases\/([^/]+)\/fail$/.exec(path);
    if (m) {
      fails.push({ leaseId: decodeURIComponent(m[1]), body });
      return answer(200, body.rateLimited ? { state: 'delayed', nextAttemptAt: new Date(Date.now() + (body.delaySeconds ?? 1) * 1000).toISOString() } : { state: 'failed' });
    }
    if (path === '/v1/tasks' || path === '/v1/tasks/batch') {
      const bodies = path === '/v1/tasks' ? [body] : body.tasks;
      enqueued.push(...bodies);
      const made = bodies.map((_: unknown, i: number) => ({ id: `task-${enqueued.length - bodies.length + i}`, state: 'queued' }));
      return answer(202, path === '/v1/tasks' ? made[0] : { tasks: made });
    }
    m = /^\/v1\/queues\/([^/]+)\/keys$/.exec(path);
    const keysOf = m && keyAnswers.get(decodeURIComponent(m[1]));
    if (keysOf) return answer(200, keysOf(new URLSearchParams(search)));
    if (path === '/v1/leases/ack') return answer(200, { results: body.acks.map((a: any) => ({ leaseId: a.leaseId, state: 'succeeded' })) });
    if (/^\/v1\/leases\/[^/]+\/heartbeat$/.test(path)) return answer(200, { leaseExpiresAt: new Date(Date.now() + 60_000).toISOString(), revoked: false });
    answer(404, { error: { code: 'not_found', message: `no route ${path}` } });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    heartbeats,
    refusedHeartbeats: () => refusedHeartbeats,
    claims,
    releases,
    replies,
    command(id, command, args = {}, times = 0) {
      pending.push({ id, command, args, extra: times, replied: false });
      for (const go of arrived.splice(0)) go();
    },
    fails,
    enqueued,
    keys(queue, answerOf) {
      keyAnswers.set(queue, answerOf);
    },
    jobs(queue, jobs) {
      ready.set(queue, [...(ready.get(queue) ?? []), ...jobs]);
    },
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/** A job as a claim hands it out. */
export function fakeJob(queue: string, id: string, task: string, args: unknown[] = []) {
  return { id, task, args, kwargs: {}, queue, region: null, priority: 0, maxRetries: 0, leaseId: `lease-${id}`, attempt: 1, leaseExpiresAt: new Date(Date.now() + 60_000).toISOString(), parentId: null, rootId: null };
}
