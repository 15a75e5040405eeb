// The soak's ledger: every request it sent and how it was answered, the tasks and workflows a 2xx made owed,
// and what the hub finally said about each.

export type Final = 'succeeded' | 'failed' | 'revoked' | 'expired';
export const FINAL = new Set<string>(['succeeded', 'failed', 'revoked', 'expired']);

/** A task the hub owes: it answered 2xx for it (or it belongs to an owed workflow or to the schedule). */
export interface OwedTask {
  id: string;
  task: string;
  via: 'single' | 'batch' | 'keyed' | 'workflow' | 'schedule';
  /** The end the soak designed for it; null: any final state is fine (schedule ticks, workflow members after a failure). */
  expect: Final | null;
  /** Its first attempt is made to fail (it runs twice by design). */
  flaky?: boolean;
  /** When the 2xx came, ms. */
  at: number;
  /** Not before then can it finish (its eta), ms. */
  due: number;
  /** What GET /v1/tasks/:id said once the task was final. */
  end?: { state: Final; attempts: number; result: unknown; error: { type: string; message: string } | null; finishedAt: string | null; seenAt: number };
  /** 404s in a row from GET /v1/tasks/:id. */
  notFound: number;
  /** Its last state seen while not final. */
  last?: string;
}

export interface OwedWorkflow {
  id: string;
  shape: 'chain' | 'group' | 'chord';
  /** Tasks the finished workflow shows: a chain's steps, a group's members, a chord's header plus one body. */
  size: number;
  /** The result it must end with when it succeeds. */
  result: unknown;
  at: number;
  end?: { state: string; result: unknown; tasks: { id: string; step: number; state: string }[]; seenAt: number };
}

export interface Answered {
  /** Count of answers by status (or 'no answer', 'timeout'). */
  byStatus: Record<string, number>;
  /** Every 5xx and every hang: each one fails the soak. */
  serverErrors: { at: number; method: string; path: string; status: number | string; body: string }[];
  /** Unexpected 4xx on bodies the soak believes valid (a 413 past a published limit is expected and not listed). */
  refused: { at: number; path: string; status: number; body: string }[];
}

export class Ledger {
  readonly tasks = new Map<string, OwedTask>();
  readonly workflows = new Map<string, OwedWorkflow>();
  readonly answered: Answered = { byStatus: {}, serverErrors: [], refused: [] };
  /** Idempotency keys and the id their first 2xx gave; a repeat must give the same id. */
  readonly keys = new Map<string, string>();
  readonly keyMismatches: { key: string; first: string; again: string }[] = [];
  /** Requests sent, by kind, and tasks in them. */
  readonly sent = { single: 0, batch: 0, keyed: 0, workflow: 0, revoke: 0, repeat: 0, tasksInBatches: 0 };
  /** Tasks enqueued with a 2xx (not counting workflow members and schedule ticks). */
  enqueued = 0;

  /** The schedule's slots (idempotency key) and every task id seen for each: one each, or a slot ran twice. */
  readonly slots = new Map<string, Set<string>>();
  /** Owed tasks seen final. */
  done = 0;
  /** Told of each newly owed task (the verifier follows it to its end). */
  onOwe: (t: OwedTask) => void = () => {};

  owe(t: Omit<OwedTask, 'notFound'>): void {
    if (this.tasks.has(t.id)) return;
    const owed = { ...t, notFound: 0 };
    this.tasks.set(t.id, owed);
    this.onOwe(owed);
  }

  settle(t: OwedTask, end: NonNullable<OwedTask['end']>): void {
    if (!t.end) this.done++;
    t.end = end;
  }

  /** Owed tasks not yet seen final. */
  get open(): number {
    return this.tasks.size - this.done;
  }
}
