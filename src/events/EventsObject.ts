// EventsObject: the hub's one stream of events (SSE) and its register of the workers seen.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env.ts';
import { queueOfObject, shardName } from '../core/shards.ts';
import type { Jurisdiction } from '../core/jurisdictions.ts';
import { Sql } from '../db/sql.ts';
import { livenessOf } from '../core/worker-states.ts';
import type { BroadcastBody, ControlBody, WorkerHeartbeat } from '../protocol/control.ts';
import type { SendKind } from './commands.ts';
import { WorkerControl } from './control.ts';
import { EventRing } from './ring.ts';
import { Tickets } from './tickets.ts';

/** A task's change, as subscribers get it. */
export interface TaskEvent {
  id: string;
  task: string | null;
  queue: string;
  region: string | null;
  state: string;
  attempts: number;
  worker: string | null;
  at: string;
}

/** A worker as the queues saw it claim. */
export interface WorkerSeen {
  name: string;
  region: string | null;
  queue: string;
  /** The shard of a sharded queue that saw it (each counts the jobs it handed out); 0 otherwise. */
  shard?: number;
  /** The jurisdiction of the object that saw it (its `eu:` objects count apart from those outside); none outside. */
  jurisdiction?: Jurisdiction;
  lastSeen: string;
  inHand: number;
}

const encoder = new TextEncoder();
/** A comment line this often keeps idle connections (and proxies) open. */
const KEEPALIVE_MS = 15_000;
/**
 * Queues keep publishing this long after the last subscriber left (the contract's 5 minutes):
 * a dropped connection that comes back within it resumes from its last id and loses nothing.
 */
export const LINGER_MS = 5 * 60_000;
/**
 * A queue that found nobody listening skips its changes this long before it asks again
 * (src/queue/outbox.ts): the events of the first moments after a quiet spell may be missing.
 */
export const QUIET_MS = 5_000;
/**
 * QueueObjects publish the changes they already batch for D1, and only while someone
 * listens or listened in the last LINGER_MS (publish answers how many, counting one for those
 * gone); so events cost nothing when nobody watches. Each event gets an id and is held in a
 * ring for resuming (ring.ts). Worker sightings are kept in SQLite for GET /v1/workers.
 */
export class EventsObject extends DurableObject<Env> {
  private readonly subscribers = new Set<WritableStreamDefaultWriter<Uint8Array>>();
  private keepalive: ReturnType<typeof setInterval> | null = null;
  private readonly sql: Sql;
  private readonly ring = new EventRing();
  private readonly tickets: Tickets;
  /** When a subscriber was last known to be connected; 0: never since the object started. */
  private listenedAt = 0;
  /** Until then, events are not resume points: queues quiet before a subscriber came may still be skipping. */
  private settlingUntil = 0;
  /**
   * Worker heartbeats, remote control and broadcasts live here too, not in an object of their own:
   * this object already keeps the workers seen claiming, which the workers list merges with those
   * that heartbeat, and a hub has one of it. Heartbeats are one request per worker every
   * ~10-30 s, far under the ~1,000 requests/s an object serves; held ones cost a timer each.
   */
  private readonly control: WorkerControl;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = new Sql(ctx.storage.sql);
    this.sql.run(
      `CREATE TABLE IF NOT EXISTS workers (name TEXT NOT NULL, queue TEXT NOT NULL, region TEXT, last_seen INTEGER NOT NULL, in_hand INTEGER NOT NULL,
         PRIMARY KEY (name, queue))`,
    );
    this.tickets = new Tickets(this.sql);
    this.control = new WorkerControl(
      this.sql,
      livenessOf(env.DROVER_WORKER_INTERVAL_SECONDS, env.DROVER_WORKER_STALE_SECONDS),
      (fn) => ctx.storage.transactionSync(fn),
    );
  }

  /**
   * Opens a Server-Sent Events stream: `event: task` and `event: worker`, JSON data, each with an id.
   * With a last id (the `Last-Event-ID` header or `?lastEventId=`), the held events after it come
   * first, or `event: reset` when it cannot be resumed from.
   */
  override async fetch(request: Request): Promise<Response> {
    const now = Date.now();
    if (!this.listening(now)) {
      // Queues may have stopped publishing: nothing given out so far resumes without a hole.
      this.ring.breakHere();
      this.settlingUntil = now + QUIET_MS;
    }
    // An empty id is none (EventSource sends none after an event that cleared it).
    const lastId = request.headers.get('last-event-id') || new URL(request.url).searchParams.get('lastEventId') || null;
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    let first = ': connected\n\n';
    if (lastId !== null) {
      const catchup = this.ring.after(lastId);
      first += catchup.ok ? catchup.text : 'event: reset\ndata: {}\n\n';
    }
    // Written before the subscriber joins: the writer keeps order, so live events follow it.
    void this.send(writer, first);
    this.subscribers.add(writer);
    this.listenedAt = now;
    this.keepalive ??= setInterval(() => {
      for (const w of [...this.subscribers]) void this.send(w, ': keepalive\n\n');
      if (this.subscribers.size === 0 && this.keepalive) {
        clearInterval(this.keepalive);
        this.keepalive = null;
      }
    }, KEEPALIVE_MS);
    return new Response(readable, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
  }

  private async send(writer: WritableStreamDefaultWriter<Uint8Array>, text: string): Promise<void> {
    try {
      await writer.write(encoder.encode(text));
    } catch {
      // The client went away: queues keep publishing LINGER_MS from now, for its return.
      if (this.subscribers.delete(writer)) this.listenedAt = Date.now();
    }
  }

  /** Someone listens, or listened recently enough that queues are still publishing for them. */
  private listening(now: number): boolean {
    return this.subscribers.size > 0 || (this.listenedAt > 0 && now - this.listenedAt < LINGER_MS);
  }

  /**
   * Takes a batch from a QueueObject (at most the outbox's 10,000 events, a few MB: far under the
   * 32 MiB an RPC carries); answers how many are listening, counting one for subscribers that left
   * in the last LINGER_MS, so that queues keep publishing for their return.
   */
  async publish(tasks: TaskEvent[], workers: WorkerSeen[]): Promise<number> {
    for (const w of workers) {
      this.sql.run(
        `INSERT INTO workers (name, queue, region, last_seen, in_hand) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (name, queue) DO UPDATE SET region = excluded.region, last_seen = excluded.last_seen, in_hand = excluded.in_hand`,
        // A row per queue it claimed from, and per shard of a sharded one: the shard's object name.
        w.name, shardName(w.queue, w.shard ?? 0, w.jurisdiction ?? null), w.region, Date.parse(w.lastSeen), w.inHand,
      );
    }
    const now = Date.now();
    const text = [...tasks.map((t) => this.ring.add('task', t)), ...workers.map((w) => this.ring.add('worker', w))].join('');
    if (now < this.settlingUntil) this.ring.breakHere();
    if (this.subscribers.size) {
      this.listenedAt = now;
      if (text) await Promise.all([...this.subscribers].map((w) => this.send(w, text)));
    }
    return this.subscribers.size + (this.subscribers.size === 0 && this.listening(Date.now()) ? 1 : 0);
  }

  /** A ticket that opens the stream (GET /v1/events?ticket=) as this token (its fingerprint), for TICKET_MS. */
  async issueTicket(owner: string): Promise<{ ticket: string; expiresAt: string }> {
    return this.tickets.issue(owner);
  }

  /** The fingerprint of the token a ticket was made for, while it lasts; null otherwise. */
  async ticketOwner(ticket: string): Promise<string | null> {
    return this.tickets.ownerOf(ticket);
  }

  /** The workers seen in the last day, heartbeating or claiming, each with its state. */
  async workers() {
    return this.control.workers();
  }

  /** A worker's heartbeat (POST /v1/workers/:name/heartbeat): its commands, at once or when one arrives. */
  async heartbeat(name: string, body: WorkerHeartbeat, who: { id: string; admin: boolean }) {
    const out = await this.control.heartbeat(name, body, who);
    // Command args are any JSON: they travel as text (RPC's types have no "any JSON").
    return out.ok ? { ok: true as const, json: JSON.stringify({ commands: out.commands, intervalSeconds: out.intervalSeconds }) } : out;
  }

  async sendControl(body: ControlBody) {
    return this.control.sendControl(body);
  }

  /** The send's view as JSON text (replies are any JSON), or null. */
  async awaitSend(id: string, waitMs: number): Promise<string | null> {
    const view = await this.control.awaitSend(id, waitMs);
    return view && JSON.stringify(view);
  }

  async sendBroadcast(body: BroadcastBody) {
    return this.control.sendBroadcast(body);
  }

  async view(id: string, kind: SendKind): Promise<string | null> {
    const view = this.control.view(id, kind);
    return view && JSON.stringify(view);
  }
}

export function eventsObject(env: Env) {
  return env.EVENTS.get(env.EVENTS.idFromName('events'));
}
