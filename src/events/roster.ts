// The register of workers that heartbeat (POST /v1/workers/:name/heartbeat), merged with those seen only by their claims.
import { workerState, type Liveness, type WorkerState } from '../core/worker-states.ts';
import { queueOfObject } from '../core/shards.ts';
import type { Sql } from '../db/sql.ts';
import type { WorkerHeartbeat } from '../protocol/control.ts';

/** Heartbeating workers kept at most; past it the longest silent is forgotten first. */
export const MAX_WORKERS = 10_000;
/** Workers not seen for this long leave the list (the contract: gone workers are listed for a day). */
export const FORGET_MS = 24 * 3600 * 1000;
/**
 * A worker's `active` list is stored in parts of this many tasks: 10,000 tasks of up to ~410 bytes
 * each would pass Durable Object SQLite's 2 MB a row (src/db/sql.ts); a part stays near 200 KB.
 */
const ACTIVE_PART = 500;
/** Active tasks shown per worker in the list (`activeCount` has them all). */
const ACTIVE_SHOWN = 100;
/**
 * The list's tasks and active lists stop at this much JSON: with thousands of workers of 1,000 task
 * names each it could pass the 32 MiB a Durable Object RPC carries. Workers past it are listed
 * with `omitted: true` and `tasks`/`active` null.
 */
const LIST_BUDGET = 8 * 1024 * 1024;

export interface RosterRow {
  name: string;
  region: string | null;
  queues: string;
  tasks: string;
  concurrency: number;
  processed: number;
  failed: number;
  active_count: number;
  last_seen: number;
  leaving: number;
  owner: string;
}

export interface WorkerView {
  name: string;
  state: WorkerState;
  region: string | null;
  queues: string[];
  lastSeen: string;
  inHand: number;
  concurrency: number | null;
  active: { id: string; task: string; queue: string; startedAt: string }[] | null;
  activeCount: number | null;
  processed: number | null;
  failed: number | null;
  tasks: string[] | null;
  omitted?: true;
}

export class Roster {
  constructor(private readonly sql: Sql) {
    sql.run(
      `CREATE TABLE IF NOT EXISTS roster (name TEXT PRIMARY KEY, region TEXT, queues TEXT NOT NULL, tasks TEXT NOT NULL, concurrency INTEGER NOT NULL,
         processed INTEGER NOT NULL, failed INTEGER NOT NULL, active_count INTEGER NOT NULL, last_seen INTEGER NOT NULL, leaving INTEGER NOT NULL, owner TEXT NOT NULL)`,
    );
    sql.run(`CREATE INDEX IF NOT EXISTS roster_seen ON roster (last_seen)`);
    sql.run(`CREATE TABLE IF NOT EXISTS roster_active (name TEXT NOT NULL, part INTEGER NOT NULL, json TEXT NOT NULL, PRIMARY KEY (name, part))`);
  }

  get(name: string): RosterRow | undefined {
    return this.sql.one<RosterRow>(`SELECT * FROM roster WHERE name = ?`, name);
  }

  /** Stores what a heartbeat says. Run inside the caller's transaction. */
  record(name: string, hb: WorkerHeartbeat, owner: string, now: number): void {
    if (!this.get(name)) this.makeRoom(now);
    this.sql.run(
      `INSERT INTO roster (name, region, queues, tasks, concurrency, processed, failed, active_count, last_seen, leaving, owner)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET region = excluded.region, queues = excluded.queues, tasks = excluded.tasks, concurrency = excluded.concurrency,
         processed = excluded.processed, failed = excluded.failed, active_count = excluded.active_count, last_seen = excluded.last_seen,
         leaving = excluded.leaving, owner = excluded.owner`,
      name, hb.region, JSON.stringify(hb.queues), JSON.stringify(hb.tasks), hb.concurrency, hb.processed, hb.failed, hb.active.length, now,
      hb.leaving ? 1 : 0, owner,
    );
    this.sql.run(`DELETE FROM roster_active WHERE name = ?`, name);
    for (let i = 0; i < hb.active.length; i += ACTIVE_PART) {
      this.sql.run(`INSERT INTO roster_active (name, part, json) VALUES (?, ?, ?)`, name, i / ACTIVE_PART, JSON.stringify(hb.active.slice(i, i + ACTIVE_PART)));
    }
  }

  /** A held heartbeat ended: the worker was there all along. */
  touch(name: string, now: number): void {
    this.sql.run(`UPDATE roster SET last_seen = MAX(last_seen, ?) WHERE name = ? AND leaving = 0`, now, name);
  }

  /** Forgets workers silent for a day, then the longest silent while there are too many. */
  private makeRoom(now: number): void {
    const old = this.sql.all<{ name: string }>(`SELECT name FROM roster WHERE last_seen < ?`, now - FORGET_MS);
    const count = this.sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM roster`)!.n - old.length;
    const over = Math.max(0, count + 1 - MAX_WORKERS);
    const extra = over ? this.sql.all<{ name: string }>(`SELECT name FROM roster WHERE last_seen >= ? ORDER BY last_seen LIMIT ?`, now - FORGET_MS, over) : [];
    for (const { name } of [...old, ...extra]) {
      this.sql.run(`DELETE FROM roster WHERE name = ?`, name);
      this.sql.run(`DELETE FROM roster_active WHERE name = ?`, name);
    }
  }

  /** The state of one heartbeating worker now. */
  stateOf(row: RosterRow, now: number, live: Liveness, holding: boolean): WorkerState {
    return workerState({ lastSeen: row.last_seen, leaving: row.leaving === 1, holding, claimsOnly: false }, now, live);
  }

  /** Heartbeating workers in a state, for control and broadcasts to pick targets from. */
  rows(): RosterRow[] {
    return this.sql.all<RosterRow>(`SELECT * FROM roster ORDER BY name`);
  }

  private active(name: string): WorkerView['active'] {
    const parts = this.sql.all<{ json: string }>(`SELECT json FROM roster_active WHERE name = +? ORDER BY part LIMIT 1`, name);
    return parts.length ? (JSON.parse(parts[0].json) as NonNullable<WorkerView['active']>).slice(0, ACTIVE_SHOWN) : [];
  }

  /**
   * Every worker seen in the last day: those that heartbeat, with what they said, and those seen only
   * claiming (workers in other languages), with null where only a heartbeat would tell.
   */
  list(now: number, live: Liveness, holding: (name: string) => boolean): WorkerView[] {
    const byName = new Map<string, WorkerView>();
    const claimed = this.sql.all<{ name: string; queue: string; region: string | null; last_seen: number; in_hand: number }>(
      `SELECT * FROM workers WHERE last_seen > ? ORDER BY name, queue`,
      now - FORGET_MS,
    );
    const seenAt = new Map<string, number>();
    const queueSeenAt = new Map<string, number>(); // `${name}\n${queue}`: its latest claim there
    for (const r of claimed) {
      const w = byName.get(r.name) ?? {
        name: r.name, state: 'gone', region: r.region, queues: [], lastSeen: '', inHand: 0,
        concurrency: null, active: null, activeCount: null, processed: null, failed: null, tasks: null,
      } satisfies WorkerView;
      // A sharded queue's shards each have a row: one queue, their jobs in hand added up.
      const queue = queueOfObject(r.queue);
      if (!w.queues.includes(queue)) w.queues.push(queue);
      const key = `${r.name}\n${queue}`;
      queueSeenAt.set(key, Math.max(queueSeenAt.get(key) ?? 0, r.last_seen));
      w.inHand += r.in_hand;
      seenAt.set(r.name, Math.max(seenAt.get(r.name) ?? 0, r.last_seen));
      byName.set(r.name, w);
    }
    for (const [name, at] of seenAt) {
      const w = byName.get(name)!;
      w.lastSeen = new Date(at).toISOString();
      w.state = workerState({ lastSeen: at, leaving: false, holding: false, claimsOnly: true }, now, live);
    }
    let budget = LIST_BUDGET;
    for (const r of this.sql.all<RosterRow>(`SELECT * FROM roster WHERE last_seen > ? ORDER BY name`, now - FORGET_MS)) {
      const claims = byName.get(r.name);
      const queues = JSON.parse(r.queues) as string[];
      // The heartbeat names the queues the worker claims from now (remote control may have
      // cancelled one); a claim elsewhere counts only if it came after that heartbeat.
      for (const q of claims?.queues ?? []) if (!queues.includes(q) && (queueSeenAt.get(`${r.name}\n${q}`) ?? 0) > r.last_seen) queues.push(q);
      const claimedAt = seenAt.get(r.name) ?? 0;
      // A claim after the worker said it was leaving is a sign of life all the same.
      const leaving = r.leaving === 1 && claimedAt <= r.last_seen;
      const lastSeen = Math.max(r.last_seen, claimedAt);
      const w: WorkerView = {
        name: r.name,
        state: workerState({ lastSeen, leaving, holding: holding(r.name), claimsOnly: false }, now, live),
        region: r.region,
        queues,
        lastSeen: new Date(lastSeen).toISOString(),
        inHand: claims?.inHand ?? 0,
        concurrency: r.concurrency,
        active: null,
        activeCount: r.active_count,
        processed: r.processed,
        failed: r.failed,
        tasks: null,
      };
      if (budget > 0) {
        w.active = this.active(r.name);
        w.tasks = JSON.parse(r.tasks) as string[];
        budget -= r.tasks.length + JSON.stringify(w.active).length;
      } else w.omitted = true;
      byName.set(r.name, w);
    }
    return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}
