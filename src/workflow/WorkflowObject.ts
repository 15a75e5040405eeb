// WorkflowObject: one per workflow; told of each task's end by its QueueObject, it starts the next step.
import { DurableObject } from 'cloudflare:workers';
import { toSpec } from '../api/enqueue.ts';
import { handOff } from '../bus/handoff.ts';
import type { TaskSpec } from '../core/states.ts';
import { recordTasks } from '../db/records.ts';
import type { Env } from '../env.ts';
import { Sql } from '../queue/sql.ts';
import { argsFor, stepResult, type Plan } from './plan.ts';
import { placeTasks } from '../core/shards.ts';

/**
 * Progress is pushed, never polled: a QueueObject writes a task's final state to an
 * outbox in the same transaction that ends the task, and delivers it here until it
 * is taken. Every task id is fixed in the plan, so starting a step twice (a retried
 * delivery, a crash between steps) records and queues nothing new. A result counts
 * once: a late ack of an expired lease is refused by the QueueObject, so a chord's
 * body starts exactly once, after every header task succeeded.
 */
export interface TaskOutcome {
  taskId: string;
  state: string;
  /** JSON text, as the QueueObject keeps it. */
  result: string | null;
  error: string | null;
}

export type WorkflowState = 'running' | 'succeeded' | 'failed' | 'revoked';

export interface WorkflowView {
  id: string;
  shape: string;
  state: WorkflowState;
  createdAt: number;
  finishedAt: number | null;
  /** JSON text, as are the tasks' results and errors. */
  result: string | null;
  steps: { group: boolean; tasks: { id: string; task: string; queue: string; state: string | null; result: string | null; error: string | null }[] }[];
}

/** If the first step could not be queued at start, the alarm tries again this soon. */
const RETRY_MS = 5000;

export class WorkflowObject extends DurableObject<Env> {
  private readonly sql: Sql;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = new Sql(ctx.storage.sql);
    this.sql.run(`CREATE TABLE IF NOT EXISTS wf (key TEXT PRIMARY KEY, value TEXT)`);
    this.sql.run(`CREATE TABLE IF NOT EXISTS outcomes (task_id TEXT PRIMARY KEY, state TEXT NOT NULL, result TEXT, error TEXT)`);
    this.sql.run(`CREATE TABLE IF NOT EXISTS started (step INTEGER PRIMARY KEY)`);
  }

  private get(key: string): string | undefined {
    return this.sql.one<{ value: string }>(`SELECT value FROM wf WHERE key = ?`, key)?.value;
  }

  private set(key: string, value: string): void {
    this.sql.run(`INSERT INTO wf (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value);
  }

  private plan(): Plan | null {
    const text = this.get('plan');
    return text ? (JSON.parse(text) as Plan) : null;
  }

  /** Stores the plan and queues its first step. Safe to call again with the same plan. */
  async start(id: string, plan: Plan, now: number): Promise<void> {
    if (!this.get('plan')) {
      this.ctx.storage.transactionSync(() => {
        this.set('id', id);
        this.set('plan', JSON.stringify(plan));
        this.set('state', 'running');
        this.set('createdAt', String(now));
      });
      await this.ctx.storage.setAlarm(now + RETRY_MS);
    }
    await this.advance();
  }

  /** The QueueObjects report finished tasks here; repeats are harmless. */
  async tasksFinished(outcomes: TaskOutcome[]): Promise<void> {
    for (const o of outcomes) {
      this.sql.run(
        `INSERT INTO outcomes (task_id, state, result, error) VALUES (?, ?, ?, ?)
         ON CONFLICT (task_id) DO UPDATE SET state = excluded.state, result = excluded.result, error = excluded.error`,
        o.taskId, o.state, o.result, o.error,
      );
    }
    await this.advance();
  }

  override async alarm(): Promise<void> {
    await this.advance();
  }

  private outcomes(): Map<string, { state: string; result: string | null; error: string | null }> {
    const rows = this.sql.all<{ task_id: string; state: string; result: string | null; error: string | null }>(`SELECT * FROM outcomes`);
    return new Map(rows.map((r) => [r.task_id, r]));
  }

  private finish(state: WorkflowState, result: unknown): void {
    this.set('state', state);
    this.set('finishedAt', String(Date.now()));
    if (result !== undefined) this.set('result', JSON.stringify(result));
  }

  /** Moves the workflow on as far as its outcomes allow: fail, finish, or start the next step. */
  private async advance(): Promise<void> {
    const plan = this.plan();
    if (!plan || this.get('state') !== 'running') return;
    const outcomes = this.outcomes();
    const results = new Map<string, unknown>();
    for (const [id, o] of outcomes) if (o.state === 'succeeded') results.set(id, o.result === null ? null : JSON.parse(o.result));
    let previous: { value: unknown } | null = null;
    for (let i = 0; i < plan.steps.length; i++) {
      const step = plan.steps[i];
      if (!this.sql.one(`SELECT 1 FROM started WHERE step = ?`, i)) {
        await this.startStep(plan, i, previous);
        return;
      }
      const ended = step.tasks.map((t) => outcomes.get(t.id));
      const failed = ended.find((o) => o && o.state !== 'succeeded');
      if (failed) {
        // A failed step ends the workflow; later steps never start.
        this.finish('failed', undefined);
        return;
      }
      if (ended.some((o) => !o)) return; // still running
      previous = { value: stepResult(step, results) };
    }
    this.finish('succeeded', previous?.value ?? null);
    await this.ctx.storage.deleteAlarm();
  }

  private async startStep(plan: Plan, index: number, previous: { value: unknown } | null): Promise<void> {
    const id = this.get('id')!;
    const now = Date.now();
    const rootId = plan.steps[0].tasks[0].id;
    const parentId = index > 0 ? plan.steps[index - 1].tasks[0].id : null;
    const specs: TaskSpec[] = plan.steps[index].tasks.map((t) => {
      const { immutable: _immutable, ...body } = t.sig;
      return { ...toSpec({ ...body, args: argsFor(t, previous) }, now), id: t.id, parentId, rootId, workflowId: id };
    });
    const recorded = await recordTasks(this.env.DB, placeTasks(this.env, specs), now);
    if (recorded.created.length) {
      await handOff(this.env, recorded.created);
    }
    this.sql.run(`INSERT OR IGNORE INTO started (step) VALUES (?)`, index);
  }

  async describe(): Promise<WorkflowView | null> {
    const plan = this.plan();
    if (!plan) return null;
    const outcomes = this.outcomes();
    return {
      id: this.get('id')!,
      shape: plan.shape,
      state: this.get('state') as WorkflowState,
      createdAt: Number(this.get('createdAt')),
      finishedAt: this.get('finishedAt') ? Number(this.get('finishedAt')) : null,
      result: this.get('result') ?? null,
      steps: plan.steps.map((step) => ({
        group: step.group,
        tasks: step.tasks.map((t) => {
          const o = outcomes.get(t.id);
          return { id: t.id, task: t.sig.task, queue: t.sig.queue, state: o?.state ?? null, result: o?.result ?? null, error: o?.error ?? null };
        }),
      })),
    };
  }

  /** Stops the workflow: no further step starts. Returns the started tasks that have not ended, to revoke. */
  async revoke(): Promise<{ id: string; queue: string; orderingKey: string | null; groupKey: string | null }[] | null> {
    const plan = this.plan();
    if (!plan) return null;
    if (this.get('state') === 'running') this.finish('revoked', undefined);
    const outcomes = this.outcomes();
    return plan.steps
      .filter((_, i) => this.sql.one(`SELECT 1 FROM started WHERE step = ?`, i))
      .flatMap((s) => s.tasks)
      .filter((t) => !outcomes.has(t.id))
      .map((t) => ({ id: t.id, queue: t.sig.queue, orderingKey: t.sig.orderingKey ?? null, groupKey: t.sig.groupKey ?? null }));
  }
}
