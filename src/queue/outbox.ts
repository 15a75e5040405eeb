// What a queue object sends out besides its D1 writes: task events and worker sightings, callbacks, reports to workflows.
import type { Env } from '../env.ts';
import { isFinal, regionOfLane } from '../core/states.ts';
import { parseShardName } from '../core/shards.ts';
import { signatureHeaders } from '../core/signing.ts';
import { eventsObject, QUIET_MS, type TaskEvent } from '../events/EventsObject.ts';
import { allowList, refusal } from '../http-tasks/call.ts';
import type { Alarm } from './alarm.ts';
import type { Store } from './store.ts';
import type * as t from './transitions.ts';

/** Task events held for one publish at most; a stalled events object costs no more memory than this. */
const MAX_EVENTS = 10_000;

export class Outbox {
  /** Events and callbacks going out, and whether another run was asked for meanwhile. */
  private sending: Promise<void> | null = null;
  private sendAgain = false;
  /** Workers seen claiming, and when each was last reported to the events object. */
  private readonly sightings = new Map<string, { region: string | null; at: number; reported: number }>();
  /** Failed deliveries per owed callback, for its backoff (a restart starts it over). */
  private readonly callbackTries = new Map<string, number>();
  /** Nobody was listening for events (nor had lately) at the last publish: skip task events until then. */
  private quietUntil = 0;
  /** Task changes noted for the next publish (while someone listens). */
  private readonly events: TaskEvent[] = [];

  constructor(
    private readonly store: Store,
    private readonly env: Env,
    private readonly ctx: DurableObjectState,
    private readonly alarm: Alarm,
  ) {}

  /** The run of `sendOut` going on, if one is. */
  get running(): Promise<void> | null {
    return this.sending;
  }

  /**
   * While someone listens, keeps each task's state as this transaction left it, for the next
   * publish: a subscriber sees every step (queued, running, succeeded), even when D1 gets only the last.
   */
  noteEvents(ids: Set<string>): void {
    const now = Date.now();
    if (ids.size === 0 || now < this.quietUntil) return;
    const rows = this.store.sql.all<{ id: string; task: string | null; lane: string; state: string; attempts: number; worker: string | null }>(
      `SELECT id, task, lane, state, attempts, worker FROM tasks WHERE id IN (SELECT value FROM json_each(?))`,
      JSON.stringify([...ids]),
    );
    const at = new Date(now).toISOString();
    const queue = this.store.name ?? '';
    for (const r of rows) {
      this.events.push({ id: r.id, task: r.task, queue, region: regionOfLane(r.lane) || null, state: r.state, attempts: r.attempts, worker: r.worker, at });
    }
    // Held too long (the events object is failing): the oldest go, so the latest states survive.
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
  }

  /**
   * A worker claimed here (or through a sibling shard): the workers list shows it with its jobs
   * in hand here. Answers whether the worker is due a report to the events object.
   */
  sighted(worker: string, region: string | null): boolean {
    const seen = this.sightings.get(worker);
    this.sightings.set(worker, { region, at: Date.now(), reported: seen?.reported ?? 0 });
    return Date.now() - (seen?.reported ?? 0) >= 10_000;
  }

  /** A heartbeat is a sighting too: the workers list shows each worker's latest sign of life. */
  heardFrom(worker: string): void {
    const seen = this.sightings.get(worker);
    if (seen) seen.at = Date.now();
  }

  /**
   * Publishes events and delivers due callbacks, one run at a time (another asked for meanwhile
   * follows it). They go out even while D1 or a workflow is failing, and never hold up a D1 write.
   */
  sendOut(): void {
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
  async reportToWorkflows(): Promise<number> {
    if (!this.alarm.workflowsOwed) return 0;
    const rows = this.store.sql.all<{ task_id: string; workflow_id: string; state: string; result: string | null; error: string | null }>(
      `SELECT * FROM workflow_outbox LIMIT 200`,
    );
    // Empty now: the writes that add to it tell the alarm again.
    if (rows.length === 0) this.alarm.workflowsOwed = false;
    const byWorkflow = new Map<string, typeof rows>();
    for (const r of rows) byWorkflow.set(r.workflow_id, [...(byWorkflow.get(r.workflow_id) ?? []), r]);
    const sent = await Promise.allSettled(
      [...byWorkflow].map(async ([workflowId, list]) => {
        await this.env.WORKFLOWS.get(this.env.WORKFLOWS.idFromName(workflowId)).tasksFinished(
          list.map((r) => ({ taskId: r.task_id, state: r.state, result: r.result, error: r.error })),
        );
        for (const r of list) this.store.sql.run(`DELETE FROM workflow_outbox WHERE task_id = ? AND state = ?`, r.task_id, r.state);
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
      id: r.id, task: r.task, args: parse(r.args), kwargs: parse(r.kwargs), queue: this.store.name, region: regionOfLane(r.lane) || null,
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
    const first = this.alarm.firstCallbackAt;
    if (!this.store.stored || first === null || first > Date.now()) return 0;
    const sql = this.store.sql;
    const due = sql.all<{ task_id: string; url: string; attempts: number }>(
      `SELECT task_id, url, attempts FROM callback_outbox WHERE next_at <= ? ORDER BY next_at LIMIT 20`,
      Date.now(),
    );
    const keys = allowList(this.env.DROVER_SIGNING_KEYS);
    const allow = allowList(this.env.DROVER_HTTP_ALLOW);
    await Promise.all(
      due.map(async (c) => {
        const r = sql.one<t.LiveRow>(`SELECT * FROM tasks WHERE id = ?`, c.task_id);
        if (!r || !isFinal(r.state)) {
          // Gone, or running again after a replay: its next end owes a callback of its own.
          sql.run(`DELETE FROM callback_outbox WHERE task_id = ? AND attempts = ?`, c.task_id, c.attempts);
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
        if (ok) sql.run(`DELETE FROM callback_outbox WHERE task_id = ? AND attempts = ?`, c.task_id, c.attempts);
        else {
          const tries = (this.callbackTries.get(c.task_id) ?? 0) + 1;
          this.callbackTries.set(c.task_id, tries);
          const wait = Math.min(3_600_000, 1000 * 2 ** (tries - 1));
          sql.run(`UPDATE callback_outbox SET next_at = ? WHERE task_id = ? AND attempts = ?`, Date.now() + wait, c.task_id, c.attempts);
        }
        if (ok) this.callbackTries.delete(c.task_id);
      }),
    );
    if (due.length) this.alarm.rearm(false);
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
      this.store.rows<{ worker: string; n: number }>(`SELECT worker, COUNT(*) AS n FROM tasks WHERE phase = 'leased' GROUP BY worker`).map((r) => [r.worker, r.n]),
    );
    const tasks = this.events.splice(0);
    const place = this.store.objectName ? parseShardName(this.store.objectName) : null;
    const shard = place?.shard ?? 0;
    const within = place?.jurisdiction ? { jurisdiction: place.jurisdiction } : {};
    const workers = due.map(([name, w]) => ({ name, region: w.region, queue: this.store.name ?? '', shard, ...within, lastSeen: new Date(w.at).toISOString(), inHand: inHand.get(name) ?? 0 }));
    try {
      const subscribers = await eventsObject(this.env).publish(tasks, workers);
      for (const [, w] of due) w.reported = now;
      // The answer counts subscribers that left lately too: publishing goes on for their return.
      this.quietUntil = subscribers ? 0 : now + QUIET_MS;
    } catch (err) {
      console.error('publishing events failed', err);
    }
  }
}
