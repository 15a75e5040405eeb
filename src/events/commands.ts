// Commands for workers (remote control and broadcasts): stored until replied to or expired, handed out on heartbeats, and the waits on both sides.
import { newTaskId } from '../core/ids.ts';
import type { WorkerState } from '../core/worker-states.ts';
import { limitOf, type Sql } from '../db/sql.ts';
import { FORGET_MS } from './roster.ts';

/** A command not replied to by then expires: a worker that misses it for ten minutes is not the one it was meant for. */
export const COMMAND_TTL_MS = 10 * 60_000;
/** Unreplied commands per worker at most: the contract's most commands in one heartbeat answer. */
export const MAX_PENDING = 100;
/** Sends (control calls and broadcasts) kept at most, each for a day. */
const MAX_SENDS = 10_000;
/**
 * Replies one view carries at most: each is up to 128 KiB (a task result's limit), and a send may
 * have thousands of targets; past this, replies are left out (`replyOmitted`), well under the
 * 32 MiB a Durable Object RPC carries.
 */
const VIEW_BUDGET = 8 * 1024 * 1024;

export type SendKind = 'control' | 'broadcast';

export interface Command {
  id: string;
  command: string;
  args: unknown;
}

export interface Reply {
  id: string;
  ok: boolean;
  reply?: unknown;
  error?: { type: string; message: string };
}

export interface Skipped {
  worker: string;
  reason: WorkerState | 'unknown' | 'busy';
}

export interface SendView {
  id: string;
  kind: SendKind;
  command: string;
  task: string | null;
  skipped: Skipped[];
  targets: {
    worker: string;
    status: 'pending' | 'replied' | 'expired';
    ok: boolean | null;
    reply?: unknown;
    error?: { type: string; message: string } | null;
    replyOmitted?: true;
  }[];
}

interface CommandRow {
  id: string;
  worker: string;
  command: string;
  args: string;
  expires_at: number;
  replied_at: number | null;
  expired: number;
  ok: number | null;
  reply: string | null;
  error: string | null;
}

export class Commands {
  /** Heartbeats held open, by worker: woken when a command for it arrives. */
  private readonly heldHeartbeats = new Map<string, Set<() => void>>();
  /** Control calls waiting for replies, by send id: woken at each reply. */
  private readonly waitingSends = new Map<string, Set<() => void>>();

  constructor(private readonly sql: Sql) {
    sql.run(
      `CREATE TABLE IF NOT EXISTS sends (id TEXT PRIMARY KEY, kind TEXT NOT NULL, command TEXT NOT NULL, task TEXT, skipped TEXT NOT NULL, created_at INTEGER NOT NULL)`,
    );
    sql.run(`CREATE INDEX IF NOT EXISTS sends_created ON sends (created_at)`);
    sql.run(
      `CREATE TABLE IF NOT EXISTS commands (id TEXT PRIMARY KEY, send_id TEXT NOT NULL, worker TEXT NOT NULL, command TEXT NOT NULL, args TEXT NOT NULL,
         created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, replied_at INTEGER, expired INTEGER NOT NULL DEFAULT 0,
         ok INTEGER, reply TEXT, error TEXT)`,
    );
    sql.run(`CREATE INDEX IF NOT EXISTS commands_send ON commands (send_id)`);
    sql.run(`CREATE INDEX IF NOT EXISTS commands_open ON commands (worker, created_at) WHERE replied_at IS NULL AND expired = 0`);
  }

  /** Commands a worker has not replied to yet, oldest first (at most MAX_PENDING). */
  pendingFor(worker: string, now: number): Command[] {
    return this.sql
      .all<{ id: string; command: string; args: string }>(
        `SELECT id, command, args FROM commands WHERE worker = +? AND replied_at IS NULL AND expired = 0 AND expires_at > ? ORDER BY created_at, id LIMIT ${limitOf(MAX_PENDING)}`,
        worker, now,
      )
      .map((r) => ({ id: r.id, command: r.command, args: JSON.parse(r.args) }));
  }

  pendingCount(worker: string, now: number): number {
    return this.sql.one<{ n: number }>(
      `SELECT COUNT(*) AS n FROM commands WHERE worker = ? AND replied_at IS NULL AND expired = 0 AND expires_at > ?`, worker, now,
    )!.n;
  }

  /** The worker left (or was gone): what it had not replied to will never be. */
  expireAll(worker: string): void {
    this.sql.run(`UPDATE commands SET expired = 1 WHERE worker = ? AND replied_at IS NULL AND expired = 0`, worker);
  }

  /**
   * Records a worker's replies. The first reply to a command counts; a repeat, an id the hub never
   * gave this worker, or a reply to an expired command changes nothing. Wakes the sends waiting.
   */
  reply(worker: string, replies: Reply[], now: number): void {
    const sends = new Set<string>();
    for (const r of replies) {
      const row = this.sql.one<{ send_id: string }>(`SELECT send_id FROM commands WHERE id = ? AND worker = ? AND replied_at IS NULL AND expired = 0`, r.id, worker);
      if (!row) continue;
      this.sql.run(
        `UPDATE commands SET replied_at = ?, ok = ?, reply = ?, error = ? WHERE id = ?`,
        now, r.ok ? 1 : 0, r.ok ? JSON.stringify(r.reply ?? null) : null, r.ok ? null : JSON.stringify(r.error), r.id,
      );
      sends.add(row.send_id);
    }
    for (const id of sends) this.wake(this.waitingSends, id);
  }

  /** Stores one command per target and wakes their held heartbeats. Answers the send's id. */
  send(kind: SendKind, command: string, args: (worker: string, id: string) => unknown, task: string | null, targets: string[], skipped: Skipped[], now: number): string {
    this.forgetOld(now);
    const id = newTaskId(now);
    this.sql.run(`INSERT INTO sends (id, kind, command, task, skipped, created_at) VALUES (?, ?, ?, ?, ?, ?)`, id, kind, command, task, JSON.stringify(skipped), now);
    for (const worker of targets) {
      this.sql.run(
        `INSERT INTO commands (id, send_id, worker, command, args, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
        newTaskId(now), id, worker, command, JSON.stringify(args(worker, id)), now, now + COMMAND_TTL_MS,
      );
    }
    return id;
  }

  /** After the send's transaction: its targets' held heartbeats answer now. */
  deliver(targets: string[]): void {
    for (const worker of targets) this.wake(this.heldHeartbeats, worker);
  }

  /** Sends older than a day go, with their commands; then the oldest while there are too many. */
  private forgetOld(now: number): void {
    const old = this.sql.all<{ id: string }>(`SELECT id FROM sends WHERE created_at < ?`, now - FORGET_MS);
    const count = this.sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM sends`)!.n - old.length;
    const over = Math.max(0, count + 1 - MAX_SENDS);
    const extra = over ? this.sql.all<{ id: string }>(`SELECT id FROM sends WHERE created_at >= ? ORDER BY created_at LIMIT ?`, now - FORGET_MS, over) : [];
    for (const { id } of [...old, ...extra]) {
      this.sql.run(`DELETE FROM sends WHERE id = ?`, id);
      this.sql.run(`DELETE FROM commands WHERE send_id = ?`, id);
    }
  }

  /**
   * A send and where each target stands. A command is expired once its ten minutes passed, its
   * worker left, or its worker is gone now (`stateOf`).
   */
  view(id: string, now: number, stateOf: (worker: string) => WorkerState | null): SendView | null {
    const send = this.sql.one<{ id: string; kind: SendKind; command: string; task: string | null; skipped: string }>(`SELECT * FROM sends WHERE id = ?`, id);
    if (!send) return null;
    let budget = VIEW_BUDGET;
    const targets = this.sql.all<CommandRow>(`SELECT * FROM commands WHERE send_id = ? ORDER BY worker`, id).map((r): SendView['targets'][number] => {
      if (r.replied_at !== null) {
        const text = r.ok ? r.reply! : r.error!;
        budget -= text.length;
        if (budget < 0) return { worker: r.worker, status: 'replied', ok: r.ok === 1, replyOmitted: true };
        return r.ok ? { worker: r.worker, status: 'replied', ok: true, reply: JSON.parse(text) } : { worker: r.worker, status: 'replied', ok: false, error: JSON.parse(text) };
      }
      const expired = r.expired === 1 || r.expires_at <= now || stateOf(r.worker) === 'gone' || stateOf(r.worker) === null;
      return { worker: r.worker, status: expired ? 'expired' : 'pending', ok: null };
    });
    return { id: send.id, kind: send.kind, command: send.command, task: send.task, skipped: JSON.parse(send.skipped) as Skipped[], targets };
  }

  /** Whether every target of a send has replied (or its command expired). */
  settled(id: string, now: number): boolean {
    return !this.sql.one(`SELECT 1 FROM commands WHERE send_id = ? AND replied_at IS NULL AND expired = 0 AND expires_at > ? LIMIT 1`, id, now);
  }

  /** Holds a heartbeat until a command for its worker arrives, or `ms` pass. */
  waitForCommand(worker: string, ms: number): Promise<void> {
    return this.wait(this.heldHeartbeats, worker, ms);
  }

  /** Holds a control call until its next reply, or `ms` pass. */
  waitForReply(id: string, ms: number): Promise<void> {
    return this.wait(this.waitingSends, id, ms);
  }

  /** A heartbeat of this worker is held here now: the worker is there. */
  holding(worker: string): boolean {
    return (this.heldHeartbeats.get(worker)?.size ?? 0) > 0;
  }

  /** Ends a worker's held heartbeats (a new one came: the old one's worker is gone or has given up on it). */
  release(worker: string): void {
    this.wake(this.heldHeartbeats, worker);
  }

  private wait(waiters: Map<string, Set<() => void>>, key: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const set = waiters.get(key) ?? new Set();
      waiters.set(key, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && waiters.get(key) === set) waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      set.add(done);
    });
  }

  private wake(waiters: Map<string, Set<() => void>>, key: string): void {
    for (const done of [...(waiters.get(key) ?? [])]) done();
  }
}
