// EventsObject: the hub's one stream of events (SSE) and its register of the workers seen.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env.ts';
import { queueOfObject, shardName } from '../core/shards.ts';
import { Sql } from '../db/sql.ts';
import { livenessOf } from '../core/worker-states.ts';
import type { BroadcastBody, ControlBody, WorkerHeartbeat } from '../protocol/control.ts';
import type { SendKind } from './commands.ts';
import { WorkerControl } from './control.ts';

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
  lastSeen: string;
  inHand: number;
}

const encoder = new TextEncoder();
/** A comment line this often keeps idle connections (and proxies) open. */
const KEEPALIVE_MS = 15_000;
/**
 * QueueObjects publish the changes they already batch for D1, and only while someone
 * listens (publish answers the number of subscribers); so events cost nothing when
 * nobody watches. Worker sightings are kept in SQLite for GET /v1/workers.
 */
export class EventsObject extends DurableObject<Env> {
  private readonly subscribers = new Set<WritableStreamDefaultWriter<Uint8Array>>();
  private keepalive: ReturnType<typeof setInterval> | null = null;
  private readonly sql: Sql;
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
    this.control = new WorkerControl(
      this.sql,
      livenessOf(env.DROVER_WORKER_INTERVAL_SECONDS, env.DROVER_WORKER_STALE_SECONDS),
      (fn) => ctx.storage.transactionSync(fn),
    );
  }

  /** Opens a Server-Sent Events stream: `event: task` and `event: worker`, JSON data. */
  override async fetch(): Promise<Response> {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    this.subscribers.add(writer);
    void this.send(writer, ': connected\n\n');
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
      this.subscribers.delete(writer); // the client went away
    }
  }

  /** Takes a batch from a QueueObject; answers how many are listening. */
  async publish(tasks: TaskEvent[], workers: WorkerSeen[]): Promise<number> {
    for (const w of workers) {
      this.sql.run(
        `INSERT INTO workers (name, queue, region, last_seen, in_hand) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (name, queue) DO UPDATE SET region = excluded.region, last_seen = excluded.last_seen, in_hand = excluded.in_hand`,
        // A row per queue it claimed from, and per shard of a sharded one: the shard's object name.
        w.name, shardName(w.queue, w.shard ?? 0), w.region, Date.parse(w.lastSeen), w.inHand,
      );
    }
    if (this.subscribers.size) {
      const text = [
        ...tasks.map((t) => `event: task\ndata: ${JSON.stringify(t)}\n\n`),
        ...workers.map((w) => `event: worker\ndata: ${JSON.stringify(w)}\n\n`),
      ].join('');
      if (text) await Promise.all([...this.subscribers].map((w) => this.send(w, text)));
    }
    return this.subscribers.size;
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
