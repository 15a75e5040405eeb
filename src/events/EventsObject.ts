// EventsObject: the hub's one stream of events (SSE) and its register of the workers seen.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env.ts';
import { queueOfObject, shardName } from '../core/shards.ts';
import { Sql } from '../db/sql.ts';

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
/** Workers not seen for this long leave the list. */
const FORGET_MS = 24 * 3600 * 1000;

/**
 * QueueObjects publish the changes they already batch for D1, and only while someone
 * listens (publish answers the number of subscribers); so events cost nothing when
 * nobody watches. Worker sightings are kept in SQLite for GET /v1/workers.
 */
export class EventsObject extends DurableObject<Env> {
  private readonly subscribers = new Set<WritableStreamDefaultWriter<Uint8Array>>();
  private keepalive: ReturnType<typeof setInterval> | null = null;
  private readonly sql: Sql;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = new Sql(ctx.storage.sql);
    this.sql.run(
      `CREATE TABLE IF NOT EXISTS workers (name TEXT NOT NULL, queue TEXT NOT NULL, region TEXT, last_seen INTEGER NOT NULL, in_hand INTEGER NOT NULL,
         PRIMARY KEY (name, queue))`,
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

  /** The workers seen in the last day, one entry per worker with the queues it claimed from. */
  async workers(): Promise<{ name: string; region: string | null; queues: string[]; lastSeen: string; inHand: number }[]> {
    const rows = this.sql.all<{ name: string; queue: string; region: string | null; last_seen: number; in_hand: number }>(
      `SELECT * FROM workers WHERE last_seen > ? ORDER BY name, queue`,
      Date.now() - FORGET_MS,
    );
    const byName = new Map<string, { name: string; region: string | null; queues: string[]; lastSeen: string; inHand: number }>();
    for (const r of rows) {
      const w = byName.get(r.name) ?? { name: r.name, region: r.region, queues: [], lastSeen: new Date(r.last_seen).toISOString(), inHand: 0 };
      // A sharded queue's shards each have a row: one queue, their jobs in hand added up.
      const queue = queueOfObject(r.queue);
      if (!w.queues.includes(queue)) w.queues.push(queue);
      w.inHand += r.in_hand;
      if (r.last_seen > Date.parse(w.lastSeen)) w.lastSeen = new Date(r.last_seen).toISOString();
      byName.set(r.name, w);
    }
    return [...byName.values()];
  }
}

export function eventsObject(env: Env) {
  return env.EVENTS.get(env.EVENTS.idFromName('events'));
}
