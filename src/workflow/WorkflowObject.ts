// WorkflowObject: one per workflow; told of each task's end by its QueueObject, it starts the next step.
import { DurableObject } from 'cloudflare:workers';
import { toSpec } from '../intake/spec.ts';
import { MAX_TASK_BYTES } from '../protocol/sizes.ts';
import { recordFirst } from '../intake/enqueue.ts';
import { rateKeyOf, type TaskSpec } from '../core/states.ts';
import { recordRefusedEverywhere } from '../db/stores.ts';
import { utf8Bytes } from '../core/params.ts';
import type { Env } from '../env.ts';
import { Sql } from '../db/sql.ts';
import { argsFor, stepResult, type Plan } from './plan.ts';
import { placeTasks } from '../core/shards.ts';
import { DEFAULT_RETENTION_MS } from '../core/limits.ts';
import type { TaskOutcome, WorkflowState, WorkflowView } from './types.ts';

/** If the first step could not be queued at start, the alarm tries again this soon. */
const RETRY_MS = 5000;

/**
 * Stored text is cut into parts of at most this many UTF-16 units: three bytes each at most in
 * UTF-8, under Durable Object SQLite's 2 MB a value (a plan of 1,000 tasks runs to 16 MiB).
 */
const PART_CHARS = 600_000;

/**
 * The results a workflow's view carries at most, in bytes: a group of a thousand tasks of 128 KiB
 * results is 128 MiB, more than an isolate's memory (128 MB) and an RPC (32 MiB). Results past it
 * are left out (`resultOmitted`); GET /v1/tasks/:id reads each.
 */
export const VIEW_RESULT_BYTES = 4 * 1024 * 1024;

/** Results as stored (JSON text) to values, for stepResult. */
function parsed(results: Map<string, string | null>): Map<string, unknown> {
  return new Map([...results].map(([id, text]) => [id, text === null ? null : JSON.parse(text)]));
}

export class WorkflowObject extends DurableObject<Env> {
  private readonly sql: Sql;
  /**
   * It has its tables: a workflow was started here and has not been purged. An id nobody
   * started (or one whose retention is over) has none, and every call answers as for a
   * workflow never made, without making any: a read of a made-up id leaves nothing behind.
   */
  private stored: boolean;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = new Sql(ctx.storage.sql);
    this.stored = this.sql.hasTable('wf');
  }

  private makeTables(): void {
    this.sql.run(`CREATE TABLE IF NOT EXISTS wf (key TEXT PRIMARY KEY, value TEXT)`);
    this.sql.run(`CREATE TABLE IF NOT EXISTS outcomes (task_id TEXT PRIMARY KEY, state TEXT NOT NULL, result TEXT, error TEXT)`);
    this.sql.run(`CREATE TABLE IF NOT EXISTS started (step INTEGER PRIMARY KEY)`);
    this.stored = true;
  }

  private get(key: string): string | undefined {
    return this.sql.one<{ value: string }>(`SELECT value FROM wf WHERE key = ?`, key)?.value;
  }

  private set(key: string, value: string): void {
    this.sql.run(`INSERT INTO wf (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value);
  }

  /** Text of any length: the first part under `key`, the rest under `key#1`, `key#2`, ... */
  private setLong(key: string, value: string): void {
    this.set(key, value.slice(0, PART_CHARS));
    for (let i = 1; i * PART_CHARS < value.length; i++) this.set(`${key}#${i}`, value.slice(i * PART_CHARS, (i + 1) * PART_CHARS));
  }

  private getLong(key: string): string | undefined {
    const parts = this.sql.all<{ value: string }>(
      `SELECT value FROM wf WHERE key = ?1 OR key GLOB ?1 || '#*' ORDER BY length(key), key`,
      key,
    );
    return parts.length ? parts.map((p) => p.value).join('') : undefined;
  }

  private plan(): Plan | null {
    const text = this.getLong('plan');
    return text ? (JSON.parse(text) as Plan) : null;
  }

  /** Stores the plan and queues its first step. Safe to call again with the same plan. */
  async start(id: string, plan: Plan, now: number): Promise<void> {
    if (!this.stored || !this.get('plan')) {
      this.ctx.storage.transactionSync(() => {
        this.makeTables();
        this.set('id', id);
        this.setLong('plan', JSON.stringify(plan));
        this.set('state', 'running');
        this.set('createdAt', String(now));
      });
      await this.ctx.storage.setAlarm(now + RETRY_MS);
    }
    await this.advance();
  }

  /** The QueueObjects report finished tasks here; repeats are harmless, and so are reports after the purge. */
  async tasksFinished(outcomes: TaskOutcome[]): Promise<void> {
    if (!this.stored || !this.get('id')) return;
    for (const o of outcomes) {
      this.sql.run(
        `INSERT INTO outcomes (task_id, state, result, error) VALUES (?, ?, ?, ?)
         ON CONFLICT (task_id) DO UPDATE SET state = excluded.state, result = excluded.result, error = excluded.error`,
        o.taskId, o.state, o.result, o.error,
      );
    }
    await this.advance();
  }

  /** Starts a step that could not be queued, or, once a finished workflow's retention is over, deletes it. */
  override async alarm(): Promise<void> {
    if (!this.stored) return;
    const purgeAt = Number(this.get('purgeAt') ?? NaN);
    if (purgeAt <= Date.now()) {
      await this.ctx.storage.deleteAlarm();
      await this.ctx.storage.deleteAll();
      this.stored = false;
      return;
    }
    await this.advance();
    if (purgeAt > Date.now()) await this.ctx.storage.setAlarm(purgeAt);
  }

  /** Each ended task's state; results stay in storage until a step needs them (they may be large). */
  private outcomes(): Map<string, { state: string; error: string | null }> {
    const rows = this.sql.all<{ task_id: string; state: string; error: string | null }>(`SELECT task_id, state, error FROM outcomes`);
    return new Map(rows.map((r) => [r.task_id, r]));
  }

  /** The JSON results of these tasks, or null if together they are over `budget` bytes. */
  private results(ids: string[], budget: number): Map<string, string | null> | null {
    const list = JSON.stringify(ids);
    if (budget !== Infinity) {
      const size = this.sql.one<{ bytes: number | null }>(
        `SELECT SUM(length(CAST(result AS BLOB))) AS bytes FROM outcomes WHERE task_id IN (SELECT value FROM json_each(?))`,
        list,
      )!.bytes ?? 0;
      if (size > budget) return null;
    }
    const rows = this.sql.all<{ task_id: string; result: string | null }>(
      `SELECT task_id, result FROM outcomes WHERE task_id IN (SELECT value FROM json_each(?))`,
      list,
    );
    return new Map(rows.map((r) => [r.task_id, r.result]));
  }

  /**
   * Ends the workflow, and sets its deletion for when its record is no longer kept: the longest
   * retention of its queues (as their task records), from now.
   */
  private async finish(state: WorkflowState, cause?: { id: string; state: string }): Promise<void> {
    const now = Date.now();
    // First, so that if D1 fails the workflow is still running and the next report tries again.
    if (state !== 'succeeded') await this.endUnstarted(this.plan()!, state, cause, now);
    this.set('state', state);
    this.set('finishedAt', String(now));
    const queues = [...new Set(this.plan()!.steps.flatMap((step) => step.tasks.map((t) => t.sig.queue)))];
    const kept = await this.env.DB.prepare(`SELECT MAX(q.retention_ms) AS ms, COUNT(q.retention_ms) = COUNT(*) AS all_set FROM json_each(?) j LEFT JOIN queues q ON q.name = j.value`)
      .bind(JSON.stringify(queues))
      .first<{ ms: number | null; all_set: number }>()
      .catch(() => null);
    // A queue without a retention of its own keeps records for the default (one set is in every D1: the config route writes each).
    const ms = kept?.all_set ? (kept.ms ?? DEFAULT_RETENTION_MS) : Math.max(kept?.ms ?? 0, DEFAULT_RETENTION_MS);
    this.set('purgeAt', String(now + ms));
    await this.ctx.storage.setAlarm(now + ms);
  }

  /**
   * Records the tasks of steps that never started as revoked with the workflow, so whoever waits
   * on one (a chord's body, a chain's last step) hears of the end instead of waiting for ever; the
   * error says why: WorkflowFailed naming the task that failed, or WorkflowRevoked. In D1 only, as
   * recordRefused records: no queue holds them.
   */
  private async endUnstarted(plan: Plan, state: WorkflowState, cause: { id: string; state: string } | undefined, now: number): Promise<void> {
    const id = this.get('id')!;
    const rootId = plan.steps[0].tasks[0].id;
    const specs: TaskSpec[] = [];
    plan.steps.forEach((step, index) => {
      if (this.sql.one(`SELECT 1 FROM started WHERE step = ?`, index)) return;
      const parentId = index > 0 ? plan.steps[index - 1].tasks[0].id : null;
      for (const t of step.tasks) {
        const { immutable: _, ...body } = t.sig;
        specs.push({ ...toSpec(body, now), id: t.id, parentId, rootId, workflowId: id });
      }
    });
    if (specs.length === 0) return;
    const error = state === 'failed'
      ? { type: 'WorkflowFailed', message: `the workflow ${id} failed${cause ? `: its task ${cause.id} ended ${cause.state}` : ''}; this task never ran` }
      : { type: 'WorkflowRevoked', message: `the workflow ${id} was revoked; this task never ran` };
    await recordRefusedEverywhere(this.env, placeTasks(this.env, specs), error, now, 'revoked');
  }

  /** Moves the workflow on as far as its outcomes allow: fail, finish, or start the next step. */
  private async advance(): Promise<void> {
    const plan = this.plan();
    if (!plan || this.get('state') !== 'running') return;
    const outcomes = this.outcomes();
    for (let i = 0; i < plan.steps.length; i++) {
      const step = plan.steps[i];
      if (!this.sql.one(`SELECT 1 FROM started WHERE step = ?`, i)) {
        await this.startStep(plan, i);
        return;
      }
      const ended = step.tasks.map((t) => outcomes.get(t.id));
      const failedAt = step.tasks.findIndex((t) => { const o = outcomes.get(t.id); return o && o.state !== 'succeeded'; });
      if (failedAt >= 0) {
        // A failed step ends the workflow; later steps never start.
        await this.finish('failed', { id: step.tasks[failedAt].id, state: ended[failedAt]!.state });
        return;
      }
      if (ended.some((o) => !o)) return; // still running
    }
    await this.finish('succeeded');
  }

  /**
   * Makes a step's tasks, the step before's result first in their arguments. A task that would
   * be over a task's size limit with it (a chord's body after a thousand large results) is not
   * queued: it is recorded failed with PayloadTooLarge, and so the workflow fails.
   */
  private async startStep(plan: Plan, index: number): Promise<void> {
    const id = this.get('id')!;
    const now = Date.now();
    const rootId = plan.steps[0].tasks[0].id;
    const parentId = index > 0 ? plan.steps[index - 1].tasks[0].id : null;
    const before = index > 0 ? plan.steps[index - 1] : null;
    const found = before ? this.results(before.tasks.map((t) => t.id), MAX_TASK_BYTES) : new Map<string, string | null>();
    const previous = before && found ? { value: stepResult(before, parsed(found)) } : null;
    const made: TaskSpec[] = [];
    const refused: TaskSpec[] = [];
    for (const t of plan.steps[index].tasks) {
      const { immutable, ...body } = t.sig;
      const tooLarge = before !== null && !found && !immutable;
      const args = tooLarge ? [] : argsFor(t, previous);
      const spec: TaskSpec = { ...toSpec({ ...body, args }, now), id: t.id, parentId, rootId, workflowId: id };
      if (tooLarge || utf8Bytes(JSON.stringify({ ...body, args })) > MAX_TASK_BYTES) refused.push({ ...spec, args: '[]' });
      else made.push(spec);
    }
    if (refused.length) {
      const error = {
        type: 'PayloadTooLarge',
        message: `with the results of the step before, its arguments are over ${MAX_TASK_BYTES / 1024} KiB, the most a task may carry; it was not queued`,
      };
      await recordRefusedEverywhere(this.env, placeTasks(this.env, refused), error, now);
      for (const t of refused) {
        this.sql.run(`INSERT OR IGNORE INTO outcomes (task_id, state, result, error) VALUES (?, 'failed', NULL, ?)`, t.id, JSON.stringify(error));
      }
    }
    if (made.length) await recordFirst(this.env, made, now);
    this.sql.run(`INSERT OR IGNORE INTO started (step) VALUES (?)`, index);
    if (refused.length) await this.advance();
  }

  /** The workflow and each task's outcome, results within VIEW_RESULT_BYTES (in plan order). */
  async describe(): Promise<WorkflowView | null> {
    if (!this.stored) return null;
    const plan = this.plan();
    if (!plan) return null;
    const outcomes = this.outcomes();
    const ids = plan.steps.flatMap((s) => s.tasks.map((t) => t.id));
    const sizes = new Map(
      this.sql.all<{ task_id: string; bytes: number | null }>(`SELECT task_id, length(CAST(result AS BLOB)) AS bytes FROM outcomes`).map((r) => [r.task_id, r.bytes ?? 0]),
    );
    let budget = VIEW_RESULT_BYTES;
    const shown = ids.filter((id) => {
      const bytes = sizes.get(id) ?? 0;
      if (bytes > budget) return false;
      budget -= bytes;
      return true;
    });
    const results = this.results(shown, Infinity)!;
    const state = this.get('state') as WorkflowState;
    const last = plan.steps[plan.steps.length - 1];
    // A finished workflow's result is its last step's: a group's is the list of its results.
    const lastShown = last.tasks.every((t) => results.has(t.id));
    const result =
      state === 'succeeded' && lastShown
        ? JSON.stringify(stepResult(last, parsed(results)))
        : null;
    return {
      id: this.get('id')!,
      shape: plan.shape,
      state,
      createdAt: Number(this.get('createdAt')),
      finishedAt: this.get('finishedAt') ? Number(this.get('finishedAt')) : null,
      result: result ?? this.get('result') ?? null,
      ...(state === 'succeeded' && !lastShown && { resultOmitted: true as const }),
      steps: plan.steps.map((step) => ({
        group: step.group,
        tasks: step.tasks.map((t) => {
          const o = outcomes.get(t.id);
          const omitted = o !== undefined && !results.has(t.id);
          return {
            id: t.id, task: t.sig.task, queue: t.sig.queue, state: o?.state ?? null,
            result: results.get(t.id) ?? null, ...(omitted && { resultOmitted: true as const }), error: o?.error ?? null,
          };
        }),
      })),
    };
  }

  /** Stops the workflow: no further step starts. Returns the started tasks that have not ended, to revoke. */
  async revoke(): Promise<{ id: string; queue: string; orderingKey: string | null; groupKey: string | null; rateKey: string | null }[] | null> {
    if (!this.stored) return null;
    const plan = this.plan();
    if (!plan) return null;
    if (this.get('state') === 'running') await this.finish('revoked');
    const outcomes = this.outcomes();
    return plan.steps
      .filter((_, i) => this.sql.one(`SELECT 1 FROM started WHERE step = ?`, i))
      .flatMap((s) => s.tasks)
      .filter((t) => !outcomes.has(t.id))
      .map((t) => ({ id: t.id, queue: t.sig.queue, orderingKey: t.sig.orderingKey ?? null, groupKey: t.sig.groupKey ?? null, rateKey: rateKeyOf(t.sig) }));
  }
}
