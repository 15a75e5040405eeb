// QueueObject: one per queue, the truth about its live tasks; wires transitions to RPC, alarm, waiters and D1 sync.
import { DurableObject } from 'cloudflare:workers';
import type { TaskError, TaskSpec } from '../core/states.ts';
import { isFinal, regionOfLane } from '../core/states.ts';
import { DEFAULT_RETENTION_MS, parseRate, TokenBucket } from '../core/limits.ts';
import type { Env } from '../env.ts';
import { Sql } from '../db/sql.ts';
import type { DeadTask, LiveTask, QueueConfig, QueueStats } from './types.ts';
import { flushToD1, insertedBefore, logInserts, SYNC_OWED_COLUMNS, syncOwedOf, type SyncOwedRow, UNSYNCED_IDS } from './sync.ts';
import { eventsObject, type TaskEvent } from '../events/EventsObject.ts';
import { migrate } from './tables.ts';
import * as t from './transitions.ts';
import { RegionWaker } from './wake.ts';
import { parseShardName, shardNames } from '../core/shards.ts';
import { queueObject } from './stubs.ts';
import { LEASE_ID } from '../core/ids.ts';
import { allowList, refusal } from '../http-tasks/call.ts';
import { signatureHeaders } from '../core/signing.ts';
import { acceptSocket, PRINCIPAL_HEADER, principalFrom, socketLifetimeMs, workerOps } from './session.ts';


/** While D1 has not taken every change, the alarm tries again this often. */
const FLUSH_RETRY_MS = 2000;
/** The D1 writes a purge waits for, at most, for its dead letters to reach D1. */
const PURGE_WAIT_WRITES = 3;
/** Task events held for one publish at most; a stalled events object costs no more memory than this. */
const MAX_EVENTS = 10_000;
/** A D1 write waits this long for more changes to join it. */
const FLUSH_GAP_MS = 25;
/** Work the alarm does per wake; the rest waits for the next (immediate) wake. */
const ALARM_BATCH = 1000;




/** What an object without tables reads: no rows. */
const NO_ROWS = { all: <T>(): T[] => [] };

export class QueueObject extends DurableObject<Env> {
  private readonly sql: Sql;
  /**
   * The object has its tables: it was written to. Until something is (tasks, settings, a pause),
   * it makes none, and answers every read and every lease call as an empty queue does: a
   * Durable Object that never stores anything leaves nothing behind, so a claim, a read, or a
   * made-up lease id naming a queue or shard that does not exist costs no storage.
   */
  private stored: boolean;
  /** Settings this shard took from shard 0 while it had no tables: written with them. */
  private copied = false;
  private paused = false;
  private alarmAt: number | null = null;
  private flushing: Promise<void> | null = null;
  private flushAgain = false;
  /** Events and callbacks going out, and whether another run was asked for meanwhile. */
  private sending: Promise<void> | null = null;
  private sendAgain = false;
  /** The last D1 write failed: new enqueues are refused (`take`), so the hub writes D1 first and a failure changes nothing. */
  private d1Failing = false;
  /** Enqueues waiting for D1 to hold their tasks: each until the insert log's place `upTo` is written. */
  private recordWaiters: { upTo: number; ok: () => void; fail: (err: unknown) => void }[] = [];
  /**
   * Claims waiting for work, oldest first, each with its place in line. A wake carries the place
   * of the last claim waiting when it came (`baton`): a claim it finds nothing for passes it on to
   * the next of those.
   */
  private readonly claimWaiters = new Map<(baton?: number) => void, number>();
  private waiterSeq = 0;
  /** Counts wakes of waiting claims: a claim that asked sibling shards meanwhile (awaiting them) missed none. */
  private wakes = 0;
  private readonly finalWaiters = new Map<string, Set<() => void>>();
  private readonly regions: RegionWaker;

  /** This object's queue name: from its id, else learnt from the first call that names it. */
  private name: string | null = null;
  /** Its own name: the queue's, or `queue~i` for shard i > 0 (lease ids carry it). */
  private objectName: string | null = null;
  /** The name came from the object's id, which calls cannot change. */
  private namedById = false;
  /** Sibling shards with a claim waiting for work, each until its claim's wait ends: told when work arrives here. */
  private readonly watchers = new Map<string, number>();
  /** Which shard a claim tries first; shards take turns, so no shard's work waits behind another's. */
  private turn = 0;
  /** `shardPlace()`, for the object name it was worked out for. */
  private place: { of: string; names: string[]; index: number } | null = null;
  /** Claim calls served, HTTP and RPC alike: an idle system should make none. */
  private claimCalls = 0;
  private config: QueueConfig = { retentionMs: null, rateLimit: null, concurrency: null, taskRateLimits: null };
  private bucket: TokenBucket | null = null;
  private readonly nameBuckets = new Map<string, TokenBucket>();
  /** Workers seen claiming, and when each was last reported to the events object. */
  private readonly sightings = new Map<string, { region: string | null; at: number; reported: number }>();
  /** Failed deliveries per owed callback, for its backoff (a restart starts it over). */
  private readonly callbackTries = new Map<string, number>();
  /** Worker sockets that closed, and until when a claim naming one is refused (it may still be on its way). */
  private readonly closedSockets = new Map<string, number>();
  /** Nobody was listening for events at the last publish: skip task events until then. */
  private quietUntil = 0;
  /** Task changes noted for the next publish (while someone listens). */
  private readonly events: TaskEvent[] = [];

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = new Sql(ctx.storage.sql);
    this.regions = new RegionWaker(env, ctx, () => this.objectName);
    this.stored = this.sql.hasTable('tasks');
    ctx.blockConcurrencyWhile(async () => {
      if (this.stored) migrate(this.sql);
      this.name = this.meta('name') ?? null;
      this.objectName = this.meta('object') ?? this.name;
      // A named id says which queue and shard this is (an alarm may wake the object without it).
      const named = ctx.id.name ? parseShardName(ctx.id.name) : null;
      if (named) {
        this.namedById = true;
        if (this.objectName !== ctx.id.name) this.remember(named.queue, ctx.id.name!);
      }
      const pausedRow = this.meta('paused');
      const saved = this.meta('config');
      this.paused = pausedRow === '1';
      if (saved) this.applyConfig(JSON.parse(saved));
      // A shard added to a queue takes the queue's settings (kept the same on every shard) from shard 0.
      if (named && named.shard > 0 && pausedRow === undefined && saved === undefined) await this.copySettings(named.queue);
      this.alarmAt = await ctx.storage.getAlarm();
      // Overdue work survives a restart in the tables, not in memory: look again now.
      this.rearm(true);
    });
  }

  /** A value of the meta table; none while the object has no tables. */
  private meta(key: string): string | undefined {
    return this.stored ? this.sql.one<{ value: string }>(`SELECT value FROM meta WHERE key = ?`, key)?.value : undefined;
  }

  /** Makes the tables, before the object's first write: with its name and any settings it copied. */
  private store(): void {
    if (this.stored) return;
    migrate(this.sql);
    this.stored = true;
    if (this.name !== null) this.remember(this.name, this.objectName ?? this.name);
    if (this.copied) this.saveSettings();
  }

  private saveSettings(): void {
    this.sql.run(
      `INSERT INTO meta (key, value) VALUES ('config', ?), ('paused', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      JSON.stringify(this.config),
      this.paused ? '1' : '0',
    );
  }

  private async copySettings(queue: string): Promise<void> {
    try {
      const { config, paused } = await queueObject(this.env, queue).settings();
      this.paused = paused;
      this.applyConfig(config);
      this.copied = true;
      if (this.stored) this.saveSettings();
    } catch (err) {
      console.error(`shard ${this.objectName} could not read its queue's settings from shard 0; it asks again when it next starts`, err);
    }
  }

  /** The queue's settings and pause, as a shard added later copies them. */
  async settings(): Promise<{ config: QueueConfig; paused: boolean }> {
    return { config: this.config, paused: this.paused };
  }

  private retentionMs(): number {
    return this.config.retentionMs ?? DEFAULT_RETENTION_MS;
  }

  private applyConfig(config: QueueConfig): void {
    const rateChanged = config.rateLimit !== this.config.rateLimit;
    const before = this.config.taskRateLimits ?? {};
    this.config = { ...config, taskRateLimits: config.taskRateLimits ?? null };
    if (rateChanged) {
      const rate = config.rateLimit ? parseRate(config.rateLimit) : null;
      this.bucket = rate ? new TokenBucket(this.shareOfRate(rate), Date.now()) : null;
    }
    const names = config.taskRateLimits ?? {};
    for (const name of [...this.nameBuckets.keys()]) if (!(name in names)) this.nameBuckets.delete(name);
    for (const [name, rate] of Object.entries(names)) {
      if (before[name] !== rate || !this.nameBuckets.has(name)) this.nameBuckets.set(name, new TokenBucket(this.shareOfRate(parseRate(rate)!), Date.now()));
    }
  }

  /** A sharded queue's limits are split among its shards: this shard's part of a rate. */
  private shareOfRate(rate: { perMs: number; burst: number }): { perMs: number; burst: number } {
    const { names } = this.shardPlace();
    if (names.length <= 1) return rate;
    return { perMs: rate.perMs / names.length, burst: Math.max(1, rate.burst / names.length) };
  }

  /** This shard's part of the queue's concurrency limit: an even split, at least one each. */
  private concurrencyShare(limit: number): number {
    const { names, index } = this.shardPlace();
    if (names.length <= 1) return limit;
    return Math.max(1, Math.floor(limit / names.length) + (index < limit % names.length ? 1 : 0));
  }

  /** Changes the queue's settings; fields left out keep their value, null clears one. */
  async configure(patch: Partial<QueueConfig>): Promise<QueueConfig> {
    const next = { ...this.config, ...patch };
    const was = new Set(Object.keys(this.config.taskRateLimits ?? {}));
    const now = new Set(Object.keys(next.taskRateLimits ?? {}));
    this.store();
    this.ctx.storage.transactionSync(() => {
      this.sql.run(`INSERT INTO meta (key, value) VALUES ('config', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, JSON.stringify(next));
      // Waiting tasks of a name move to its own lanes when it gains a limit, and back when it loses it.
      const step = t.newStep(this.sql);
      for (const name of now) if (!was.has(name)) t.relane(step, name, true);
      for (const name of was) if (!now.has(name)) t.relane(step, name, false);
    });
    this.applyConfig(next);
    this.wakeClaims();
    this.rearm(true);
    return next;
  }

  /**
   * Wakes claims waiting here: `count` of them (as many as tasks became claimable), or all when
   * the queue has limits or is paused, where a claim may wait with work ready and so take older
   * work than the work that woke it.
   */
  private wakeClaims(count = Infinity): void {
    this.wakes++;
    const limited = this.paused || this.bucket !== null || this.config.concurrency !== null || this.nameBuckets.size > 0;
    this.wakeWaiters(limited ? Infinity : count, this.waiterSeq);
    if (this.watchers.size === 0) return;
    // Sibling shards with claims waiting for work: each is told once, and asks again if it waits again.
    const now = Date.now();
    for (const [name, until] of this.watchers) {
      if (until > now) this.ctx.waitUntil(queueObject(this.env, name).nudge().catch((err) => console.error(`nudging shard ${name} failed`, err)));
    }
    this.watchers.clear();
  }

  /**
   * How many jobs a claim may take now under the queue's limits, and if none, how
   * long until one frees (a token comes due; a finished lease wakes claims itself).
   */
  private allowance(want: number): { max: number; retryMs: number | null } {
    let max = want;
    let retryMs: number | null = null;
    if (this.config.concurrency !== null) {
      const running = this.sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM tasks WHERE phase = 'leased'`)!.n;
      max = Math.min(max, this.concurrencyShare(this.config.concurrency) - running);
    }
    if (this.bucket) {
      const now = Date.now();
      const tokens = this.bucket.available(now);
      if (tokens < max) {
        max = tokens;
        if (tokens <= 0) retryMs = this.bucket.waitMs(now);
      }
    }
    return { max: Math.max(0, max), retryMs };
  }

  /** Runs one transition in one transaction, then wakes whoever its commit concerns. */
  private transact<T>(fn: (s: t.Step) => T): T {
    const step = t.newStep(this.sql);
    step.limitedTasks = this.nameBuckets;
    const writes = this.sql.writes;
    const out = this.ctx.storage.transactionSync(() => t.commit(step, fn));
    // Nothing written (a claim that found no work): nothing to wake, sync or re-arm.
    if (this.sql.writes === writes) return out;
    if (step.readyLanes.size) {
      this.wakeClaims(step.readyCount);
      this.regions.wake(step.readyLanes);
    }
    for (const id of step.finished) {
      const waiters = this.finalWaiters.get(id);
      if (waiters) for (const wake of [...waiters]) wake();
    }
    this.noteEvents(step.touched);
    this.flushSoon();
    this.rearm(false);
    return out;
  }

  /** Wakes up to `count` of the claims that were waiting at place `upTo` or earlier, oldest first. */
  private wakeWaiters(count: number, upTo: number): void {
    const woken: ((baton: number) => void)[] = [];
    for (const [wake, place] of this.claimWaiters) {
      if (woken.length >= count || place > upTo) break;
      woken.push(wake);
    }
    for (const wake of woken) wake(upTo);
  }

  /**
   * Keeps ONE alarm, computed from the tables. An alarm that fires early is
   * harmless (it recomputes), so it only ever moves earlier outside the alarm handler.
   */
  private rearm(force: boolean): void {
    if (!this.stored) return;
    // One statement, as this runs after every transaction that writes.
    const owed = this.sql.one<t.NextWakeRow & SyncOwedRow & { workflow: number; callback: number | null }>(
      `SELECT ${t.NEXT_WAKE_COLUMNS}, ${SYNC_OWED_COLUMNS},
         EXISTS (SELECT 1 FROM workflow_outbox) AS workflow, (SELECT MIN(next_at) FROM callback_outbox) AS callback`,
    )!;
    let at = t.nextWakeOf(owed, this.retentionMs());
    // Changes due now (a waiting one overdue among them) are retried after an interval, so a
    // failing D1 never makes the alarm spin; a waiting change is written when it falls due.
    const now = Date.now();
    const sync = syncOwedOf(owed);
    const overdue = sync.later !== null && sync.later <= now;
    const times = [owed.workflow || sync.due || overdue ? now + FLUSH_RETRY_MS : null, overdue ? null : sync.later];
    for (const time of times) if (time !== null) at = at === null ? time : Math.min(at, time);
    // Outbox work is retried by the flush; a due callback waits at least a retry interval, so a
    // flush that keeps failing never makes the alarm fire again at once.
    if (owed.callback != null) {
      const due = Math.max(owed.callback, Date.now() + FLUSH_RETRY_MS);
      at = at === null ? due : Math.min(at, due);
    }
    if (at === null) {
      if (force && this.alarmAt !== null) {
        this.alarmAt = null;
        void this.ctx.storage.deleteAlarm();
      }
      return;
    }
    if (force || this.alarmAt === null || at < this.alarmAt) {
      this.alarmAt = at;
      void this.ctx.storage.setAlarm(at);
    }
  }

  /**
   * While someone listens, keeps each task's state as this transaction left it, for the next
   * publish: a subscriber sees every step (queued, running, succeeded), even when D1 gets only the last.
   */
  private noteEvents(ids: Set<string>): void {
    const now = Date.now();
    if (ids.size === 0 || now < this.quietUntil) return;
    const rows = this.sql.all<{ id: string; task: string | null; lane: string; state: string; attempts: number; worker: string | null }>(
      `SELECT id, task, lane, state, attempts, worker FROM tasks WHERE id IN (SELECT value FROM json_each(?))`,
      JSON.stringify([...ids]),
    );
    const at = new Date(now).toISOString();
    const queue = this.name ?? '';
    for (const r of rows) {
      this.events.push({ id: r.id, task: r.task, queue, region: regionOfLane(r.lane) || null, state: r.state, attempts: r.attempts, worker: r.worker, at });
    }
    // Held too long (the events object is failing): the oldest go, so the latest states survive.
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
  }

  /**
   * Starts a D1 write of pending changes unless one is running; a failure leaves them for the
   * alarm. One write is one pass over the logs (in chunks of 500); changes made meanwhile get the
   * next write, after its own gap, so a busy queue's writes still end and events and callbacks
   * go out between them.
   */
  private flushSoon(): void {
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    this.flushing = (async () => {
      let synced = false;
      try {
        // Changes that come within the gap join the write, enqueues waiting for their record too:
        // single enqueues at a steady rate share writes with each other and their acks.
        await scheduler.wait(FLUSH_GAP_MS);
        this.flushAgain = false;
        // An object without tables owes D1 nothing; it still reports the workers that claimed here.
        for (; this.stored; ) {
          const written = await flushToD1(this.sql, this.env.DB, 500, Date.now(), this.name);
          this.answerRecorded();
          if (written < 500) break;
        }
        while (this.stored && (await this.reportToWorkflows()) === 200);
        synced = true;
      } catch (err) {
        console.error('D1 sync failed; the alarm retries', err);
        // Their tasks stay in the insert log, and reach D1 when a later write succeeds.
        for (const w of this.recordWaiters.splice(0)) w.fail(err);
      } finally {
        this.d1Failing = !synced;
        this.flushing = null;
      }
      this.sendOut();
      // Changes made during the write: the next one (after a failed write the alarm retries, so
      // a failing D1 is not hammered).
      if (synced && this.flushAgain) this.flushSoon();
    })();
    this.ctx.waitUntil(this.flushing);
  }

  /**
   * Publishes events and delivers due callbacks, one run at a time (another asked for meanwhile
   * follows it). They go out even while D1 or a workflow is failing, and never hold up a D1 write.
   */
  private sendOut(): void {
    if (this.sending) {
      this.sendAgain = true;
      return;
    }
    this.sendAgain = false;
    this.sending = (async () => {
      try {
        await this.publishEvents();
        await this.deliverCallbacks();
      } catch (err) {
        console.error('publishing events or delivering callbacks failed; the alarm retries', err);
      } finally {
        this.sending = null;
      }
      if (this.sendAgain) this.sendOut();
    })();
    this.ctx.waitUntil(this.sending);
  }

  /**
   * Tells workflows that their tasks ended, from the outbox their end wrote. A row
   * leaves the outbox only once its workflow has taken it; a failure leaves it for the alarm.
   */
  private async reportToWorkflows(): Promise<number> {
    const rows = this.sql.all<{ task_id: string; workflow_id: string; state: string; result: string | null; error: string | null }>(
      `SELECT * FROM workflow_outbox LIMIT 200`,
    );
    const byWorkflow = new Map<string, typeof rows>();
    for (const r of rows) byWorkflow.set(r.workflow_id, [...(byWorkflow.get(r.workflow_id) ?? []), r]);
    const sent = await Promise.allSettled(
      [...byWorkflow].map(async ([workflowId, list]) => {
        await this.env.WORKFLOWS.get(this.env.WORKFLOWS.idFromName(workflowId)).tasksFinished(
          list.map((r) => ({ taskId: r.task_id, state: r.state, result: r.result, error: r.error })),
        );
        for (const r of list) this.sql.run(`DELETE FROM workflow_outbox WHERE task_id = ? AND state = ?`, r.task_id, r.state);
      }),
    );
    const failed = sent.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return rows.length;
  }

  /** The task record a callback carries: what GET /v1/tasks/:id shows of it. */
  private record(r: t.LiveRow) {
    const parse = (text: string | null) => (text === null ? null : JSON.parse(text));
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return {
      id: r.id, task: r.task, args: parse(r.args), kwargs: parse(r.kwargs), queue: this.name, region: regionOfLane(r.lane) || null,
      priority: r.priority, state: r.state, attempts: r.attempts, maxRetries: r.max_retries, result: parse(r.result), error: parse(r.error),
      createdAt: iso(r.created_at), startedAt: iso(r.started_at), finishedAt: iso(r.finished_at), worker: r.worker,
      parentId: r.parent_id, rootId: r.root_id,
    };
  }

  /**
   * POSTs the callbacks that are due: the task record, signed. A 2xx settles one; any
   * other answer, a refused URL or no answer tries again later, backing off to an hour.
   */
  private async deliverCallbacks(): Promise<number> {
    if (!this.stored) return 0;
    const due = this.sql.all<{ task_id: string; url: string; attempts: number }>(
      `SELECT task_id, url, attempts FROM callback_outbox WHERE next_at <= ? ORDER BY next_at LIMIT 20`,
      Date.now(),
    );
    const keys = allowList(this.env.DROVER_SIGNING_KEYS);
    const allow = allowList(this.env.DROVER_HTTP_ALLOW);
    await Promise.all(
      due.map(async (c) => {
        const r = this.sql.one<t.LiveRow>(`SELECT * FROM tasks WHERE id = ?`, c.task_id);
        if (!r || !isFinal(r.state)) {
          // Gone, or running again after a replay: its next end owes a callback of its own.
          this.sql.run(`DELETE FROM callback_outbox WHERE task_id = ? AND attempts = ?`, c.task_id, c.attempts);
          return;
        }
        let ok = false;
        if (keys.length && !refusal(c.url, allow)) {
          const body = JSON.stringify(this.record(r));
          try {
            const res = await fetch(c.url, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'user-agent': 'drover', ...(await signatureHeaders(keys, `${r.id}.${r.state}`, body)) },
              body,
              redirect: 'manual',
              signal: AbortSignal.timeout(10_000),
            });
            await res.body?.cancel();
            ok = res.status >= 200 && res.status < 300;
          } catch {
            ok = false;
          }
        }
        // `attempts` holds the task's version at its end: a later end rewrote it and stays owed.
        if (ok) this.sql.run(`DELETE FROM callback_outbox WHERE task_id = ? AND attempts = ?`, c.task_id, c.attempts);
        else {
          const tries = (this.callbackTries.get(c.task_id) ?? 0) + 1;
          this.callbackTries.set(c.task_id, tries);
          const wait = Math.min(3_600_000, 1000 * 2 ** (tries - 1));
          this.sql.run(`UPDATE callback_outbox SET next_at = ? WHERE task_id = ? AND attempts = ?`, Date.now() + wait, c.task_id, c.attempts);
        }
        if (ok) this.callbackTries.delete(c.task_id);
      }),
    );
    if (due.length) this.rearm(false);
    return due.length;
  }

  /**
   * Tells the events object what changed, when someone listens, and which workers claimed
   * (every 10 s at most each, listening or not: GET /v1/workers reads those). Best effort:
   * the record of truth is D1 and this object, not the stream.
   */
  private async publishEvents(): Promise<void> {
    const now = Date.now();
    // Worker names often carry a pid: forget those gone a day, as the workers list does.
    for (const [name, w] of this.sightings) if (now - w.at > 86_400_000) this.sightings.delete(name);
    const due = [...this.sightings].filter(([, w]) => now - w.reported >= 10_000);
    if (!due.length && !this.events.length) return;
    const inHand = new Map(
      (this.stored ? this.sql : NO_ROWS).all<{ worker: string; n: number }>(`SELECT worker, COUNT(*) AS n FROM tasks WHERE phase = 'leased' GROUP BY worker`).map((r) => [r.worker, r.n]),
    );
    const tasks = this.events.splice(0);
    const shard = this.objectName ? (parseShardName(this.objectName)?.shard ?? 0) : 0;
    const workers = due.map(([name, w]) => ({ name, region: w.region, queue: this.name ?? '', shard, lastSeen: new Date(w.at).toISOString(), inHand: inHand.get(name) ?? 0 }));
    try {
      const subscribers = await eventsObject(this.env).publish(tasks, workers);
      for (const [, w] of due) w.reported = now;
      this.quietUntil = subscribers ? 0 : now + 5000;
    } catch (err) {
      console.error('publishing events failed', err);
    }
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    if (!this.stored) return;
    this.freeingSlot(this.transact((s) => {
      t.expireDue(s, ALARM_BATCH);
      t.expireLeases(s, ALARM_BATCH);
      t.promoteDue(s, ALARM_BATCH);
      t.purgeFinished(s, this.retentionMs(), ALARM_BATCH);
    }));
    // The alarm is also the retry of D1 writes and callbacks that failed, whatever it found due.
    this.flushSoon();
    if (this.flushing) await this.flushing;
    if (this.sending) await this.sending;
    this.rearm(true);
  }

  private learnName(queue: string): void {
    if (this.namedById || this.name === queue) return;
    this.remember(queue, queue);
  }

  private remember(queue: string, objectName: string): void {
    this.name = queue;
    this.objectName = objectName;
    if (this.stored) this.sql.run(`INSERT INTO meta (key, value) VALUES ('name', ?), ('object', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, queue, objectName);
  }

  /**
   * This shard's place among its queue's shards (0 of 1 for a queue that has one). Every claim
   * asks, so it is worked out once per name (the shard table is fixed for the deploy).
   */
  private shardPlace(): { names: string[]; index: number } {
    if (this.name === null || this.objectName === null) return { names: [], index: 0 };
    if (this.place?.of !== this.objectName) {
      const names = shardNames(this.env, this.name);
      const index = names.indexOf(this.objectName);
      // A shard no longer declared still hands out its own work (and takes turns with no one).
      this.place = index < 0 ? { of: this.objectName, names: [this.objectName], index: 0 } : { of: this.objectName, names, index };
    }
    return this.place;
  }

  async deliver(specs: TaskSpec[]): Promise<number> {
    if (specs.length) this.learnName(specs[0].queue);
    this.store();
    return this.transact((s) => t.deliver(s, specs));
  }

  /**
   * Takes new tasks D1 has no record of (no idempotency key to check there): they are claimable
   * at once, so a task's start waits for no D1 write, and the object writes their records to D1
   * itself, with its next write. Answers with their place in the insert log, for `recorded`.
   * While its D1 writes are failing it refuses them (and stores nothing): the caller writes D1
   * first then, so that a failed enqueue changes nothing.
   */
  async take(specs: TaskSpec[]): Promise<{ added: number; upTo: number } | { refused: string }> {
    if (this.d1Failing) return { refused: 'the queue cannot write D1 at the moment' };
    if (specs.length === 0) return { added: 0, upTo: 0 };
    this.learnName(specs[0].queue);
    this.store();
    let upTo = 0;
    const added = this.transact((s) => {
      upTo = logInserts(s.sql, specs);
      return t.deliver(s, specs);
    });
    return { added, upTo };
  }

  /**
   * Answers once D1 holds the tasks taken up to the insert log's place `upTo`: an enqueue's 2xx
   * waits for this, and its write waits for company like any other. If the write fails the
   * answer says so; the tasks stay all the same (they are durable here), and reach D1 with a
   * later write.
   */
  async recorded(upTo: number): Promise<{ ok: true } | { ok: false; message: string }> {
    if (!this.stored || upTo < insertedBefore(this.sql)) return { ok: true };
    const failed = await new Promise<unknown>((ok) => {
      this.recordWaiters.push({ upTo, ok: () => ok(null), fail: ok });
      if (!this.flushing) this.flushSoon();
    });
    return failed === null ? { ok: true } : { ok: false, message: `D1 did not take the tasks: ${String(failed)}` };
  }

  /** Answers the enqueues whose tasks D1 now holds. */
  private answerRecorded(): void {
    if (this.recordWaiters.length === 0) return;
    const before = insertedBefore(this.sql);
    const still = this.recordWaiters.filter((w) => w.upTo >= before);
    for (const w of this.recordWaiters) if (w.upTo < before) w.ok();
    this.recordWaiters = still;
  }

  /**
   * Claims jobs; with `waitMs`, holds the call until work arrives or the wait ends.
   * The queue's rate and concurrency limits cap `max`, so a claim over the limit reads
   * nothing and waits, rather than scanning past tasks it may not take.
   */
  async claim(req: t.ClaimRequest, waitMs: number): Promise<t.ClaimedRow[]> {
    this.learnName(req.queue);
    this.claimCalls++;
    this.sighted(req);
    const deadline = Date.now() + waitMs;
    const { names, index } = this.shardPlace();
    const shards = Math.max(1, names.length);
    // The wake this claim holds and has found nothing for yet.
    let baton: number | null = null;
    try {
      for (;;) {
        // Its socket is gone: whatever this claim took would only wait for its leases to expire.
        if (req.socket && this.closedSockets.has(req.socket)) return [];
        // A sharded queue's claim tries each shard, from the one whose turn it is, until one has work.
        let jobs: t.ClaimedRow[] = [];
        let retryMs = Infinity;
        let fromHere = true;
        const wakes = this.wakes;
        const first = this.turn++ % shards;
        for (let k = 0; k < shards && jobs.length === 0; k++) {
          const i = (first + k) % shards;
          fromHere = shards === 1 || i === index;
          const out = fromHere ? this.claimHere(req) : await this.claimFrom(names[i], req, deadline);
          jobs = out.jobs;
          retryMs = Math.min(retryMs, out.retryMs);
        }
        const left = deadline - Date.now();
        if (jobs.length) {
          // A wake for work here that this claim spent on a sibling shard's work goes on too (below).
          if (fromHere) baton = null;
          return jobs;
        }
        // A wake this claim could not use goes to the next claim in line, before this one waits again.
        if (baton !== null) this.wakeWaiters(1, baton);
        baton = null;
        if (left <= 0) return jobs;
        // Work came, or a sibling said it has some, while this claim was asking the siblings: look again now.
        if (this.wakes !== wakes) continue;
        baton = await new Promise<number | null>((resolve) => {
          const wake = (held?: number) => {
            clearTimeout(timer);
            this.claimWaiters.delete(wake);
            resolve(held ?? null);
          };
          const timer = setTimeout(wake, Math.min(left, retryMs));
          this.claimWaiters.set(wake, ++this.waiterSeq);
        });
      }
    } finally {
      // Nor is a wake dropped when the claim ends without using it (its socket closed, a failure,
      // a sibling shard's work).
      if (baton !== null) this.wakeWaiters(1, baton);
    }
  }

  /**
   * Claims from this shard's own tasks within its limits, and, when none may be taken now, how
   * long until a rate limit's next token (Infinity: a new task or a finished lease wakes claims).
   */
  private claimHere(req: t.ClaimRequest): { jobs: t.ClaimedRow[]; retryMs: number } {
    // No tables, no tasks: a task's arrival wakes the claim.
    if (!this.stored) return { jobs: [], retryMs: Infinity };
    const { max, retryMs: queueRetryMs } = this.paused ? { max: 0, retryMs: null } : this.allowance(req.max);
    const now = Date.now();
    const named = [...this.nameBuckets].map(([task, b]) => ({ task, max: b.available(now) })).filter((n) => n.max > 0);
    // Leases carry this object's name, so that their calls find it.
    const jobs = max > 0 ? this.transact((s) => t.claim(s, { ...req, queue: this.objectName ?? req.queue, max, named })) : [];
    if (jobs.length && this.bucket) this.bucket.take(jobs.length, now);
    for (const j of jobs) if (j.lane.includes('#')) this.nameBuckets.get(j.task)?.take(1, now);
    // A limited name out of tokens gets a look again when its next token is due.
    const nameWaits = [...this.nameBuckets.values()].map((b) => b.waitMs(now)).filter((ms) => ms > 0);
    const retryMs = [queueRetryMs, ...nameWaits].filter((ms): ms is number => ms !== null).reduce((a, b) => Math.min(a, b), Infinity);
    return { jobs, retryMs };
  }

  /** Claims from a sibling shard for a worker here; should the claim wait, the sibling says when it gains work. */
  private async claimFrom(name: string, req: t.ClaimRequest, until: number): Promise<{ jobs: t.ClaimedRow[]; retryMs: number }> {
    try {
      return await queueObject(this.env, name).claimForSibling({ ...req, socket: undefined }, this.objectName!, until);
    } catch (err) {
      console.error(`claiming from shard ${name} failed`, err);
      return { jobs: [], retryMs: Infinity };
    }
  }

  /**
   * A sibling shard's claim for one of its workers: it never waits here. With nothing to hand
   * out, the sibling is told (`nudge`) when work arrives or a slot frees, up to `until`.
   */
  async claimForSibling(req: t.ClaimRequest, sibling: string, until: number): Promise<{ jobs: t.ClaimedRow[]; retryMs: number }> {
    this.learnName(req.queue);
    this.claimCalls++;
    const out = this.claimHere(req);
    if (out.jobs.length) this.sighted(req);
    if (out.jobs.length === 0 && until > Date.now()) this.watchers.set(sibling, Math.max(until, this.watchers.get(sibling) ?? 0));
    return out;
  }

  /** A worker claimed here (or through a sibling shard): the workers list shows it with its jobs in hand here. */
  private sighted(req: t.ClaimRequest): void {
    const seen = this.sightings.get(req.worker);
    this.sightings.set(req.worker, { region: req.region, at: Date.now(), reported: seen?.reported ?? 0 });
    // Sightings are reported with the next D1 write; an idle worker's claims write nothing.
    if (Date.now() - (seen?.reported ?? 0) >= 10_000) this.flushSoon();
  }

  /** A sibling shard gained work: claims waiting here look again. */
  async nudge(): Promise<void> {
    this.wakes++;
    this.wakeWaiters(Infinity, this.waiterSeq);
  }

  /**
   * `GET /v1/queues/:queue/connect`, checked and forwarded by the hub's Worker: this object
   * holds the worker's socket, so a claim waits here and its answer goes straight out.
   */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const principal = request.headers.get(PRINCIPAL_HEADER);
    const queue = url.searchParams.get('queue');
    if (url.pathname !== '/connect' || !principal || !queue || request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
      return new Response('not found', { status: 404 });
    }
    this.learnName(queue);
    return acceptSocket(
      {
        queue,
        lifetimeMs: socketLifetimeMs(this.env),
        // A closed socket's answers go nowhere: claims still waiting would lease jobs nobody receives.
        onEnd: (key, waiting) => {
          if (waiting > 0) void this.cancelClaims(key);
        },
      },
      workerOps(this.env, principalFrom(principal), queue, this, this.objectName ?? queue),
    );
  }

  /** A worker socket closed: its waiting claims end empty, and later ones from it are refused for a minute. */
  async cancelClaims(socket: string): Promise<void> {
    const now = Date.now();
    for (const [key, until] of this.closedSockets) if (until < now) this.closedSockets.delete(key);
    this.closedSockets.set(socket, now + 60_000);
    this.wakeClaims();
  }

  /**
   * The sibling shard that gave out a lease, when not this one: a claim here may hand out a
   * sibling's jobs, and a caller holding only this object (a socket, a drain) sends their calls here.
   */
  private leaseHolder(leaseId: string) {
    const holder = LEASE_ID.exec(leaseId)?.[1];
    return holder && this.objectName && holder !== this.objectName ? queueObject(this.env, holder) : null;
  }

  async heartbeat(leaseId: string, owner: string | null, extendSeconds: number | null, progress: string | null): Promise<t.Outcome<{ leaseExpiresAt: number; revoked: boolean; worker: string | null }>> {
    const holder = this.leaseHolder(leaseId);
    if (holder) return holder.heartbeat(leaseId, owner, extendSeconds, progress);
    if (!this.stored) return t.LEASE_ENDED;
    // A heartbeat that arrives after the lease expired ends it: a concurrency slot frees.
    const out = this.freeingSlot(this.transact((s) => t.heartbeat(s, leaseId, owner, extendSeconds, progress)));
    // A heartbeat is a sighting too: the workers list shows each worker's latest sign of life.
    const seen = out.ok && out.worker ? this.sightings.get(out.worker) : undefined;
    if (seen) seen.at = Date.now();
    return out;
  }

  async ack(leaseId: string, owner: string | null, result: string): Promise<t.Outcome<{ state: string }>> {
    const holder = this.leaseHolder(leaseId);
    if (holder) return holder.ack(leaseId, owner, result);
    if (!this.stored) return t.LEASE_ENDED;
    return this.freeingSlot(this.transact((s) => t.ack(s, leaseId, owner, result)));
  }

  /** A lease that ended frees a concurrency slot: claims waiting on the limit may go on. */
  private freeingSlot<T>(out: T): T {
    if (this.config.concurrency !== null) this.wakeClaims();
    return out;
  }

  /** Acks many leases in one transaction; each gets its own outcome. */
  async ackMany(acks: { leaseId: string; result: string }[], owner: string | null): Promise<t.Outcome<{ state: string }>[]> {
    if (!this.stored) return acks.map(() => t.LEASE_ENDED);
    return this.freeingSlot(this.transact((s) => t.ackMany(s, acks, owner)));
  }

  async release(leaseId: string, owner: string | null): Promise<t.Outcome<{ state: string }>> {
    const holder = this.leaseHolder(leaseId);
    if (holder) return holder.release(leaseId, owner);
    if (!this.stored) return t.LEASE_ENDED;
    return this.freeingSlot(this.transact((s) => t.release(s, leaseId, owner)));
  }

  async fail(leaseId: string, owner: string | null, error: TaskError, retry: boolean, delaySeconds: number | null): Promise<t.Outcome<{ state: string; nextAttemptAt?: number }>> {
    const holder = this.leaseHolder(leaseId);
    if (holder) return holder.fail(leaseId, owner, error, retry, delaySeconds);
    if (!this.stored) return t.LEASE_ENDED;
    return this.freeingSlot(this.transact((s) => t.fail(s, leaseId, owner, error, retry, delaySeconds)));
  }

  /** Revokes a task: one not here yet (on its way on the bus) is marked so that it never runs. */
  async revoke(id: string) {
    this.store();
    return this.transact((s) => t.revoke(s, id));
  }

  async get(id: string): Promise<LiveTask | null> {
    if (!this.stored) return null;
    const r = this.sql.one<t.LiveRow>(`SELECT * FROM tasks WHERE id = ?`, id);
    if (!r) return null;
    return {
      id: r.id,
      state: r.state,
      attempts: r.attempts,
      result: r.result,
      error: r.error,
      progress: r.progress,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      worker: r.worker,
      leaseExpiresAt: r.lease_expires_at,
      revokeRequested: r.revoke_requested === 1,
    };
  }

  /** The task once it is final, or as it is when `waitMs` runs out. */
  async waitFor(id: string, waitMs: number): Promise<LiveTask | null> {
    const now = await this.get(id);
    if ((now && isFinal(now.state)) || waitMs <= 0) return now;
    await new Promise<void>((resolve) => {
      const set = this.finalWaiters.get(id) ?? new Set();
      this.finalWaiters.set(id, set);
      const wake = () => {
        clearTimeout(timer);
        set.delete(wake);
        if (set.size === 0) this.finalWaiters.delete(id);
        resolve();
      };
      const timer = setTimeout(wake, waitMs);
      set.add(wake);
    });
    return this.get(id);
  }

  async stats(): Promise<QueueStats> {
    const rows = (this.stored ? this.sql : NO_ROWS).all<{ lane: string; state: string; n: number }>(
      `SELECT lane, state, COUNT(*) AS n FROM tasks WHERE phase != 'done' GROUP BY lane, state`,
    );
    const stats: QueueStats = {
      ready: 0, delayed: 0, running: 0, failed: 0, paused: this.paused, regions: {},
      claimCalls: this.claimCalls, regionWakes: this.regions.wakes, config: this.config,
    };
    for (const { lane, state, n } of rows) {
      const key = state === 'queued' ? 'ready' : state === 'delayed' ? 'delayed' : state === 'running' ? 'running' : 'failed';
      stats[key] += n;
      if (key === 'ready' || key === 'running') {
        const region = (stats.regions[regionOfLane(lane) || '_any'] ??= { ready: 0, running: 0 });
        region[key] += n;
      }
    }
    return stats;
  }

  /** What GET /metrics reports of this queue: counters, depth by state and region, the oldest ready task's age. */
  async metrics(): Promise<{ counters: Record<string, number>; stats: QueueStats; oldestReadyMs: number | null; dead: number }> {
    if (!this.stored) return { counters: {}, stats: await this.stats(), oldestReadyMs: null, dead: 0 };
    const counters = Object.fromEntries(
      this.sql.all<{ key: string; value: string }>(`SELECT key, value FROM meta WHERE key LIKE 'm:%'`).map((r) => [r.key.slice(2), Number(r.value)]),
    );
    const oldest = t.oldestReady(t.newStep(this.sql));
    const dead = this.sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM tasks WHERE phase = 'dead'`)!.n;
    return { counters, stats: await this.stats(), oldestReadyMs: oldest === null ? null : Math.max(0, Date.now() - oldest), dead };
  }

  async dead(limit: number): Promise<DeadTask[]> {
    return (this.stored ? this.sql : NO_ROWS)
      .all<t.LiveRow>(`SELECT * FROM tasks WHERE phase = 'dead' ORDER BY finished_at DESC LIMIT ?`, limit)
      .map((r) => ({
        id: r.id,
        task: r.task ?? '',
        args: r.args ?? '[]',
        kwargs: r.kwargs ?? '{}',
        region: regionOfLane(r.lane) || null,
        priority: r.priority,
        attempts: r.attempts,
        maxRetries: r.max_retries,
        error: r.error,
        createdAt: r.created_at,
        finishedAt: r.finished_at,
      }));
  }

  async replay(ids: string[] | null): Promise<number> {
    if (!this.stored) return 0;
    return this.transact((s) => t.replay(s, ids, 10_000));
  }

  /**
   * Removes dead letters. One whose last change D1 has yet to see waits for that write first (a
   * purge right after a failure is the common case), for a few writes at most; while D1 writes
   * fail it stays, so D1 never loses a task's end, and the answer counts only what went.
   */
  async purgeDead(ids: string[] | null): Promise<number> {
    if (!this.stored) return 0;
    const filter = ids ? ` AND id IN (SELECT value FROM json_each(?))` : '';
    const params = ids ? [JSON.stringify(ids)] : [];
    const unsynced = () =>
      this.sql.one<{ n: number }>(`SELECT EXISTS (SELECT 1 FROM tasks WHERE phase = 'dead' AND id IN (${UNSYNCED_IDS})${filter}) AS n`, ...params)!.n === 1;
    for (let writes = 0; writes < PURGE_WAIT_WRITES && !this.d1Failing && unsynced(); writes++) {
      this.flushSoon();
      if (this.flushing) await this.flushing;
    }
    return this.transact((s) =>
      s.sql.run(`DELETE FROM tasks WHERE phase = 'dead' AND id NOT IN (${UNSYNCED_IDS})${filter}`, ...params),
    );
  }

  /**
   * What runners of HTTP tasks need from the hub: its signing keys and allow list. Regional
   * consumers ask for them over RPC, so the secret lives in one place, the hub.
   */
  async httpSettings(): Promise<{ keys: string[]; allow: string[] }> {
    return { keys: allowList(this.env.DROVER_SIGNING_KEYS), allow: allowList(this.env.DROVER_HTTP_ALLOW) };
  }

  async setPaused(paused: boolean): Promise<boolean> {
    this.store();
    this.sql.run(`INSERT INTO meta (key, value) VALUES ('paused', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, paused ? '1' : '0');
    this.paused = paused;
    if (!paused) this.wakeClaims();
    return paused;
  }
}
