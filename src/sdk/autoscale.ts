// Slots: how many jobs a worker runs at once, fixed (--concurrency) or following the work (--autoscale max,min).

/**
 * The autoscaler's rule, Celery's in spirit: start at `min`; each claim that comes back full
 * (it got every job it asked for, so more is likely waiting) adds one slot, up to `max`; each
 * `idleMs` in which some slot stayed free the whole time removes one, down to `min`. Slots are
 * only added for work the hub showed, and a slot is only removed after it had nothing to do, so
 * a running job is never cut short. Remote `grow` and `shrink` move it within the same bounds.
 */
export class Slots {
  current: number;
  readonly min: number;
  readonly max: number;
  private readonly idleMs: number;
  private readonly now: () => number;
  /** When every slot was last busy, or slots last changed: idleness is counted from here. */
  private lastBusy: number;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(options: { min: number; max: number; idleMs?: number; now?: () => number }) {
    this.min = options.min;
    this.max = options.max;
    this.current = options.min;
    this.idleMs = options.idleMs ?? Infinity;
    this.now = options.now ?? Date.now;
    this.lastBusy = this.now();
  }

  /** A fixed number of slots: grow and shrink move it between 1 and 10,000. */
  static fixed(n: number): Slots {
    const s = new Slots({ min: 1, max: 10_000 });
    s.current = n;
    return s;
  }

  get autoscaling(): boolean {
    return this.idleMs !== Infinity;
  }

  /** After a claim: grows by one when it came back full. Answers whether slots changed. */
  claimed(full: boolean, busy: number): boolean {
    if (busy >= this.current) this.lastBusy = this.now();
    if (!this.autoscaling || !full || this.current >= this.max) return false;
    this.current++;
    this.lastBusy = this.now();
    return true;
  }

  /** Called now and then with the slots in use: shrinks by one after an idle period. Answers whether slots changed. */
  tick(busy: number): boolean {
    const now = this.now();
    if (busy >= this.current) this.lastBusy = now;
    if (!this.autoscaling || this.current <= this.min || now - this.lastBusy < this.idleMs) return false;
    this.current--;
    this.lastBusy = now;
    return true;
  }

  /** Remote control: n more (or, negative, fewer) slots, within min..max. Answers the new number. */
  resize(n: number): number {
    this.current = Math.max(this.min, Math.min(this.max, this.current + n));
    this.lastBusy = this.now();
    return this.current;
  }

  /** Autoscaling: checks for idleness a few times per idle period (at most every second), telling each shrink. */
  watch(busy: () => number, shrank: () => void): void {
    if (!this.autoscaling || this.timer) return;
    this.timer = setInterval(() => this.tick(busy()) && shrank(), Math.max(10, Math.min(1000, this.idleMs / 4)));
    (this.timer as { unref?: () => void }).unref?.();
  }

  unwatch(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
