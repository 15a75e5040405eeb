// TaskRates: per-task start limits set by remote control (`rate-limit TASK 10/m`), as token buckets.

const PER = { s: 1000, m: 60_000, h: 3_600_000 } as const;

/** "10/s", "10/m", "10/h" (N a positive whole number): starts per millisecond, or null if malformed. */
export function parseRate(rate: string): { n: number; perMs: number } | null {
  const m = /^([1-9]\d{0,8})\/([smh])$/.exec(rate);
  return m ? { n: Number(m[1]), perMs: PER[m[2] as keyof typeof PER] } : null;
}

/**
 * At most N starts of a task per period, with bursts of up to N: a bucket of N tokens refilled
 * at N per period. A task without a limit always starts.
 */
export class TaskRates {
  private readonly buckets = new Map<string, { n: number; perMs: number; tokens: number; at: number; rate: string }>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /** Sets or (null) lifts a task's limit; false when the rate is malformed. */
  set(task: string, rate: string | null): boolean {
    if (rate === null) return this.buckets.delete(task) || true;
    const parsed = parseRate(rate);
    if (!parsed) return false;
    this.buckets.set(task, { ...parsed, tokens: parsed.n, at: this.now(), rate });
    return true;
  }

  private refill(task: string) {
    const b = this.buckets.get(task);
    if (!b) return null;
    const now = this.now();
    b.tokens = Math.min(b.n, b.tokens + ((now - b.at) * b.n) / b.perMs);
    b.at = now;
    return b;
  }

  /** Takes a start of the task if its limit allows one now. */
  take(task: string): boolean {
    const b = this.refill(task);
    if (!b) return true;
    if (b.tokens < 1) return false;
    b.tokens--;
    return true;
  }

  /** Whether the task could start now (without taking the start). */
  open(task: string): boolean {
    const b = this.refill(task);
    return !b || b.tokens >= 1;
  }

  /** Milliseconds until the first closed task may start again (0 if none is closed). */
  nextOpening(): number {
    let soonest = Infinity;
    for (const task of this.buckets.keys()) {
      const b = this.refill(task)!;
      if (b.tokens < 1) soonest = Math.min(soonest, ((1 - b.tokens) * b.perMs) / b.n);
    }
    return soonest === Infinity ? 0 : Math.ceil(soonest);
  }

  /** The limits in force, by task. */
  get limits(): Record<string, string> {
    return Object.fromEntries([...this.buckets].map(([task, b]) => [task, b.rate]));
  }
}
