// QueueObject: one per queue, the truth about its live tasks; wires transitions to RPC, alarm, waiters and D1 sync.
// Its parts, each a file here: store, settings, claims, leases, writer (to D1), outbox, alarm and reads.
import { DurableObject } from 'cloudflare:workers';
import { baseLane, isFinal, laneOf, type TaskError, type TaskSpec } from '../core/states.ts';
import { listKeys, topKeys } from './key-views.ts';
import type { KeyView } from './keys.ts';
import type { Env } from '../env.ts';
import type { DeadTask, LiveTask, QueueConfig, QueueStats, Statements } from './types.ts';
import { UNSYNCED_IDS } from './sync.ts';
import * as t from './transitions.ts';
import { RegionWaker } from './wake.ts';
import { allowList } from '../http-tasks/call.ts';
import { acceptSocket, PRINCIPAL_HEADER, principalFrom, socketLifetimeMs, workerOps } from './session.ts';
import { Store } from './store.ts';
import { Settings } from './settings.ts';
import { Alarm } from './alarm.ts';
import { Outbox } from './outbox.ts';
import { D1Writer, type Recorded } from './writer.ts';
import { Claims, type Look } from './claims.ts';
import { Leases } from './leases.ts';
import { deadTasks, EndWaits, liveTask, metricRows, taskCounts } from './reads.ts';
import { unserved, type ReadyGroup } from '../core/unserved.ts';
import { withCountedD1, type D1Count } from '../db/counted.ts';
import { shardCount } from '../core/shards.ts';

/** The D1 writes a purge waits for, at most, for its dead letters to reach D1. */
const PURGE_WAIT_WRITES = 3;
/** Rate keys GET /metrics reports per queue: those with the most waiting tasks (key-views.ts `topKeys`). */
const METRIC_KEYS = 100;
/** Work the alarm does per wake; the rest waits for the next (immediate) wake. */
const ALARM_BATCH = 1000;

export class QueueObject extends DurableObject<Env> {
  private readonly store: Store;
  private readonly queueSettings: Settings;
  private readonly nextAlarm: Alarm;
  private readonly outbox: Outbox;
  private readonly d1: D1Writer;
  private readonly claims: Claims;
  private readonly leases: Leases;
  private readonly regions: RegionWaker;
  private readonly ends = new EndWaits();
  private readonly emptyLanes = new t.EmptyLanes();
  /** When the next throttled rate key may run again: consumers that drained and left (the HTTP runner, regions') are woken then. */
  private keyWakeAt: number | null = null;

  /** D1 statements this object has sent since it started (GET /metrics). */
  private readonly sentToD1: D1Count = { d1: 0 };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.env = env = withCountedD1(env, this.sentToD1);
    this.store = new Store(ctx.storage, env);
    this.queueSettings = new Settings(this.store, ctx.storage, env);
    this.nextAlarm = new Alarm(this.store, this.queueSettings, ctx.storage);
    this.outbox = new Outbox(this.store, env, ctx, this.nextAlarm);
    this.d1 = new D1Writer(this.store, env, ctx, this.outbox, this.nextAlarm);
    this.claims = new Claims(this.store, this.queueSettings, env, ctx, this.outbox, this.d1, (req) => this.claimHere(req));
    this.leases = new Leases(this.store, this.queueSettings, env, this.claims, this.outbox, (fn) => this.transact(fn));
    this.regions = new RegionWaker(env, ctx, () => this.store.objectName);
    ctx.blockConcurrencyWhile(async () => {
      const named = this.store.open(ctx.id.name);
      // Shards past 0, and the queue's objects in a jurisdiction, take the settings of shard 0 outside.
      await this.queueSettings.load(named && (named.shard > 0 || named.jurisdiction) ? named.queue : null);
      if (this.store.stored) this.queueSettings.keys.load();
      await this.nextAlarm.load();
      // Overdue work survives a restart in the tables, not in memory: look again now.
      this.nextAlarm.rearm(true);
    });
  }

  /** Makes the tables, before the object's first write: with its name and any settings it copied. */
  private makeTables(): void {
    if (this.store.stored) return;
    this.store.make();
    this.nextAlarm.madeTables();
    if (this.queueSettings.copied) this.queueSettings.save();
  }

  /** Runs one transition in one transaction, then wakes whoever its commit concerns. */
  private transact<T>(fn: (s: t.Step) => T): T {
    const sql = this.store.sql;
    const step = t.newStep(sql);
    step.limitedTasks = this.queueSettings.nameBuckets;
    const writes = sql.writes;
    step.emptyLanes = this.emptyLanes;
    const out = this.ctx.storage.transactionSync(() => t.commit(step, fn));
    // Every row written was by a write that says what it did (step.ts `Wake`).
    const described = sql.writes - writes === step.wake.described;
    this.emptyLanes.settle(step, described);
    // Nothing written (a claim that found no work): nothing to wake, sync or re-arm.
    if (sql.writes === writes) return out;
    const keys = this.queueSettings.keys;
    if (step.readyLanes.size) {
      keys.readied(step.readyLanes);
      this.claims.wake(step.readyCount);
      // A keyed lane wakes the consumer of the lane it is part of.
      this.regions.wake(new Set([...step.readyLanes].map(baseLane)));
    }
    // Waiting claims hear of the freed slot from the lease call (leases.ts `freeingSlot`); consumers
    // on Cloudflare that drained and left while a key was full, from here.
    if (step.freedKeys.size) {
      const opened = keys.freed(step.freedKeys);
      if (opened.size) this.regions.wake(opened);
    }
    this.ends.ended(step.finished);
    this.outbox.noteEvents(step.touched);
    // The rearm first: it learns what the logs hold, and a write that starts at once reads only those (D1Writer).
    this.nextAlarm.lazy(step.touched, step.lazy, step.now + t.LAZY_RUNNING_MS);
    this.nextAlarm.rearm(false, described ? step.wake : undefined);
    this.d1.flushSoon();
    return out;
  }

  /** The queue's settings and pause, as a shard added later copies them. */
  async settings(): Promise<{ config: QueueConfig; paused: boolean }> {
    return { config: this.queueSettings.config, paused: this.queueSettings.paused };
  }

  /** Changes the queue's settings; fields left out keep their value, null clears one. */
  async configure(patch: Partial<QueueConfig>): Promise<QueueConfig> {
    this.makeTables();
    const next = this.queueSettings.configure(patch);
    this.emptyLanes.clear(); // tasks may have moved lanes
    this.claims.wake();
    this.nextAlarm.rearm(true);
    return next;
  }

  async setPaused(paused: boolean): Promise<boolean> {
    this.makeTables();
    this.queueSettings.setPaused(paused);
    if (!paused) this.claims.wake();
    return paused;
  }

  override async alarm(): Promise<void> {
    this.nextAlarm.rang();
    if (!this.store.stored) return;
    this.leases.freeingSlot(this.transact((s) => {
      t.expireDue(s, ALARM_BATCH);
      t.expireLeases(s, ALARM_BATCH);
      t.promoteDue(s, ALARM_BATCH);
      t.purgeFinished(s, this.queueSettings.retentionMs(), ALARM_BATCH);
    }));
    // Rate keys whose budget came back: consumers that drained and left come back for them (the
    // claim's timer does this sooner; the alarm outlives the object's eviction).
    const due = this.queueSettings.keys.wakeDue(Date.now());
    if (due.size) {
      this.regions.wake(due);
      this.claims.nudge();
    }
    // The alarm is also the retry of D1 writes and callbacks that failed, whatever it found due.
    this.d1.flushSoon();
    if (this.d1.running) await this.d1.running;
    if (this.outbox.running) await this.outbox.running;
    this.nextAlarm.rearm(true);
  }

  async deliver(specs: TaskSpec[]): Promise<number> {
    if (specs.length) this.store.learnName(specs[0].queue);
    this.makeTables();
    return this.transact((s) => t.deliver(s, specs));
  }

  /**
   * Takes new tasks D1 has no record of (no idempotency key to check there): they are claimable
   * at once, so a task's start waits for no D1 write, and their own SQLite holds them durably when
   * this answers. Their records go to D1 with the object's next write. With `recorded`, answers
   * once D1 holds them too (an HTTP enqueue: a list right after its 2xx shows them), and that
   * write starts at once; without, the write waits its gap for company (a producer's socket: a
   * read by id waits for the record, `findRow` in src/api/tasks.ts). While its D1 writes are
   * failing it refuses them (and stores nothing): the caller writes D1 first then, so that a
   * failed enqueue changes nothing.
   */
  async take(specs: TaskSpec[], recorded = false): Promise<{ added: number; recorded?: Recorded } | { refused: string }> {
    if (this.d1.failing) return { refused: 'the queue cannot write D1 at the moment' };
    if (specs.length === 0) return { added: 0 };
    this.store.learnName(specs[0].queue);
    this.makeTables();
    let upTo = 0;
    const added = this.transact((s) => {
      upTo = t.logTaken(s, specs);
      return t.deliver(s, specs, true);
    });
    return recorded ? { added, recorded: await this.d1.recorded(upTo) } : { added };
  }

  /** Claims jobs; with `waitMs`, holds the call until work arrives or the wait ends (see `Claims.claim`). */
  async claim(req: t.ClaimRequest, waitMs: number): Promise<t.ClaimedRow[]> {
    this.store.learnName(req.queue);
    return this.claims.claim(req, waitMs);
  }

  /**
   * Claims from this shard's own tasks within its limits, and, when none may be taken now, how
   * long until a rate limit's next token (Infinity: a new task or a finished lease wakes claims).
   */
  private claimHere(req: t.ClaimRequest): Look {
    // No tables, no tasks: a task's arrival wakes the claim.
    if (!this.store.stored) return { jobs: [], retryMs: Infinity };
    const { max, named, now, retryMs } = this.queueSettings.claimable(req.max);
    // Keys the claim may take from now, round-robin, pulled as it needs them; throttled keys are not looked at.
    const keys = this.queueSettings.keys;
    const lanes = (req.region ? [req.region, null] : [null]).map((r) => laneOf(r, !!req.http));
    const turns = keys.turns(lanes, now);
    let drained: [string, string[]][] = [];
    // Leases carry this object's name, so that their calls find it.
    const jobs = max > 0
      ? this.transact((s) => {
          s.scheduledFrom = this.nextAlarm.scheduledFrom;
          s.expiresFrom = this.nextAlarm.expiresFrom;
          const out = t.claim(s, { ...req, queue: this.store.objectName ?? req.queue, max, named, keyTurns: turns });
          drained = s.drainedKeys;
          return out;
        })
      : [];
    keys.claimed(jobs, drained, now);
    const keyRetryMs = keys.retryMs(lanes, now);
    const wait = Math.min(this.queueSettings.spend(jobs, now, retryMs), keyRetryMs);
    if (jobs.length === 0 && Number.isFinite(keyRetryMs)) this.wakeConsumersIn(keyRetryMs);
    return { jobs, retryMs: wait };
  }

  private wakeConsumersIn(ms: number): void {
    const at = Date.now() + ms;
    if (this.keyWakeAt !== null && this.keyWakeAt <= at) return;
    this.keyWakeAt = at;
    setTimeout(() => {
      this.keyWakeAt = null;
      this.regions.wake(this.queueSettings.keys.wakeDue(Date.now()));
      this.claims.nudge();
    }, ms);
  }

  /**
   * `GET /v1/queues/:queue/keys`: this object's keys after `after`, ascending; one more than
   * `limit` when there are more. 1,001 entries of at most ~400 bytes: far under an RPC answer's 32 MiB.
   */
  async keys(after: string | null, limit: number): Promise<KeyView[]> {
    if (!this.store.stored) return [];
    return listKeys(this.queueSettings.keys, this.store.sql, Date.now(), after, limit);
  }

  /**
   * A sibling shard's claim for one of its workers: it never waits here. With nothing to hand
   * out, the sibling is told (`nudge`) when work arrives or a slot frees, up to `until`.
   */
  async claimForSibling(req: t.ClaimRequest, sibling: string, until: number): Promise<{ jobs: t.ClaimedRow[]; retryMs: number }> {
    this.store.learnName(req.queue);
    return this.claims.forSibling(req, sibling, until);
  }

  /** A sibling shard gained work: claims waiting here look again. */
  async nudge(): Promise<void> {
    this.claims.nudge();
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
    this.store.learnName(queue);
    // A socket the worker attached to this shard (`?shard=i`): its claims take from this shard alone.
    const shard = url.searchParams.get('shard');
    return acceptSocket(
      {
        queue,
        lifetimeMs: socketLifetimeMs(this.env),
        greeting: shard === null ? undefined : JSON.stringify({ op: 'hello', shards: shardCount(this.env, queue), shard: Number(shard) }),
        // A closed socket's answers go nowhere: claims still waiting would lease jobs nobody receives.
        onEnd: (key, waiting) => {
          if (waiting > 0) void this.cancelClaims(key);
        },
      },
      workerOps(this.env, principalFrom(principal), queue, this, this.store.objectName ?? queue, shard !== null),
    );
  }

  /** A worker socket closed: its waiting claims end empty, and later ones from it are refused for a minute. */
  async cancelClaims(socket: string): Promise<void> {
    this.claims.cancel(socket);
  }

  async heartbeat(leaseId: string, owner: string | null, extendSeconds: number | null, progress: string | null): Promise<t.Outcome<{ leaseExpiresAt: number; revoked: boolean; worker: string | null }>> {
    const out = await this.leases.heartbeat(leaseId, owner, extendSeconds, progress);
    // A worker busy with long tasks claims seldom: its heartbeats say it is still there.
    if (out.ok && out.worker) this.claims.claimants.alive(out.worker);
    return out;
  }

  async ack(leaseId: string, owner: string | null, result: string): Promise<t.Outcome<{ state: string }>> {
    return this.leases.ack(leaseId, owner, result);
  }

  /** Acks many leases in one transaction; each gets its own outcome. */
  async ackMany(acks: { leaseId: string; result: string }[], owner: string | null): Promise<t.Outcome<{ state: string }>[]> {
    return this.leases.ackMany(acks, owner);
  }

  async release(leaseId: string, owner: string | null): Promise<t.Outcome<{ state: string }>> {
    return this.leases.release(leaseId, owner);
  }

  /** `rateLimited`: the site said to slow down; the attempt does not count and the task's key pauses (transitions/lease.ts). */
  async fail(
    leaseId: string, owner: string | null, error: TaskError, retry: boolean, delaySeconds: number | null, rateLimited = false,
  ): Promise<t.Outcome<{ state: string; nextAttemptAt?: number }>> {
    return this.leases.fail(leaseId, owner, error, retry, delaySeconds, rateLimited);
  }

  /** Revokes a task: one not here yet (on its way on the bus) is marked so that it never runs. */
  async revoke(id: string) {
    this.makeTables();
    return this.transact((s) => t.revoke(s, id));
  }

  /** Ends up to `limit` waiting tasks revoked, in one transaction; `more` while others wait (POST /v1/queues/:queue/purge). */
  async purge(limit: number): Promise<{ purged: number; more: boolean }> {
    if (!this.store.stored) return { purged: 0, more: false };
    return this.transact((s) => t.purgeWaiting(s, limit));
  }

  async get(id: string): Promise<LiveTask | null> {
    return liveTask(this.store, id);
  }

  /** The task once it is final, or as it is when `waitMs` runs out. */
  async waitFor(id: string, waitMs: number): Promise<LiveTask | null> {
    const now = await this.get(id);
    if ((now && isFinal(now.state)) || waitMs <= 0) return now;
    await this.ends.wait(id, waitMs);
    return this.get(id);
  }

  async stats(): Promise<QueueStats> {
    return taskCounts(this.store, this.queueSettings, this.claims.calls, this.regions.wakes, this.claims.claimants.recent());
  }

  /** Of a sharded queue's unserved groups (each shard's), those no worker claiming here would take either. */
  async unservedOf(groups: ReadyGroup[]): Promise<ReadyGroup[]> {
    return unserved(groups, this.claims.claimants.recent());
  }

  /** What GET /metrics reports of this queue: counters, depth by state and region, the oldest ready task's age. */
  async metrics(): Promise<{ counters: Record<string, number>; stats: QueueStats; oldestReadyMs: number | null; dead: number; keys: KeyView[]; statements: Statements }> {
    // Read before this call's own reads run: a scrape counts the statements of the work between scrapes.
    const statements = { object: this.store.sql.statements, d1: this.sentToD1.d1 };
    if (!this.store.stored) return { counters: {}, stats: await this.stats(), oldestReadyMs: null, dead: 0, keys: [], statements };
    const { counters, oldest, dead } = metricRows(this.store.sql);
    const keys = topKeys(this.queueSettings.keys, this.store.sql, Date.now(), METRIC_KEYS);
    return { counters, stats: await this.stats(), oldestReadyMs: oldest === null ? null : Math.max(0, Date.now() - oldest), dead, keys, statements };
  }

  async dead(limit: number): Promise<DeadTask[]> {
    return deadTasks(this.store, limit);
  }

  async replay(ids: string[] | null): Promise<number> {
    if (!this.store.stored) return 0;
    return this.transact((s) => t.replay(s, ids, 10_000));
  }

  /**
   * Removes dead letters. One whose last change D1 has yet to see waits for that write first (a
   * purge right after a failure is the common case), for a few writes at most; while D1 writes
   * fail it stays, so D1 never loses a task's end, and the answer counts only what went.
   */
  async purgeDead(ids: string[] | null): Promise<number> {
    if (!this.store.stored) return 0;
    const filter = ids ? ` AND id IN (SELECT value FROM json_each(?))` : '';
    const params = ids ? [JSON.stringify(ids)] : [];
    const unsynced = () =>
      this.store.sql.one<{ n: number }>(`SELECT EXISTS (SELECT 1 FROM tasks WHERE phase = 'dead' AND id IN (${UNSYNCED_IDS})${filter}) AS n`, ...params)!.n === 1;
    for (let writes = 0; writes < PURGE_WAIT_WRITES && !this.d1.failing && unsynced(); writes++) {
      this.d1.flushSoon();
      if (this.d1.running) await this.d1.running;
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
}
