// Follows every owed task and workflow to its end while the soak runs (finished records leave D1 after the
// queue's retention, so they are read soon after they end), and collects the schedule's slots.
import type { Hub } from './http.ts';
import { FINAL, type Final, type Ledger, type OwedTask } from './ledger.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A min-heap of (time, task): the next task to ask about is the one due soonest. */
class Due {
  private readonly items: { at: number; t: OwedTask }[] = [];

  get size(): number {
    return this.items.length;
  }

  push(at: number, t: OwedTask): void {
    const a = this.items;
    a.push({ at, t });
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (a[p].at <= a[i].at) break;
      [a[p], a[i]] = [a[i], a[p]];
      i = p;
    }
  }

  peek(): number {
    return this.items[0]?.at ?? Infinity;
  }

  pop(): OwedTask {
    const a = this.items;
    const top = a[0];
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l].at < a[m].at) m = l;
        if (r < a.length && a[r].at < a[m].at) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top.t;
  }
}

export class Verifier {
  private readonly hub: Hub;
  private readonly ledger: Ledger;
  private readonly due = new Due();
  private running = false;
  private loops: Promise<void>[] = [];
  /** Requests of its own, not counted with the load's. */
  private get = (path: string) => this.hub.call('GET', path, undefined, { count: false, timeoutMs: 90_000 });

  constructor(hub: Hub, ledger: Ledger) {
    this.hub = hub;
    this.ledger = ledger;
    ledger.onOwe = (t) => this.due.push(Math.max(t.due, Date.now() + 100), t);
  }

  start(probes: number): void {
    this.running = true;
    this.loops = [...Array.from({ length: probes }, () => this.probe()), this.workflows(), this.schedule()];
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** Asks about the task due soonest, holding the request until it ends (?wait=5), again and again. */
  private async probe(): Promise<void> {
    while (this.running) {
      if (this.due.peek() > Date.now()) {
        await sleep(Math.min(200, Math.max(10, this.due.peek() - Date.now())));
        continue;
      }
      const t = this.due.pop();
      const res = await this.get(`/v1/tasks/${t.id}?wait=5`);
      if (res.status === 200 && FINAL.has(res.body.state)) {
        t.notFound = 0;
        const b = res.body;
        this.ledger.settle(t, { state: b.state as Final, attempts: b.attempts, result: b.result, error: b.error, finishedAt: b.finishedAt, seenAt: Date.now() });
        continue;
      }
      if (res.status === 200) {
        t.notFound = 0;
        t.last = res.body.state;
      } else if (res.status === 404) t.notFound++;
      this.due.push(Date.now() + (res.status === 200 ? 300 : 1000), t);
    }
  }

  /** Polls unfinished workflows; a finished one's tasks (later chain steps, a chord's body) become owed too. */
  private async workflows(): Promise<void> {
    while (this.running) {
      const open = [...this.ledger.workflows.values()].filter((w) => !w.end && w.at < Date.now() - 500);
      for (const w of open) {
        if (!this.running) break;
        const res = await this.get(`/v1/workflows/${w.id}`);
        if (res.status !== 200 || res.body.state === 'running') continue;
        const tasks = res.body.tasks as { id: string; step: number; state: string }[];
        w.end = { state: res.body.state, result: res.body.result, tasks: tasks.map(({ id, step, state }) => ({ id, step, state })), seenAt: Date.now() };
        for (const task of tasks) this.ledger.owe({ id: task.id, task: 'workflow member', via: 'workflow', expect: null, at: w.at, due: Date.now() });
      }
      await sleep(1000);
    }
  }

  /**
   * Reads the schedule's tasks every few seconds (before retention takes them), by their task name
   * (only the schedule makes soak.beat tasks), and files them by slot: the key schedule:<id>:<slot>.
   */
  private async schedule(): Promise<void> {
    while (this.running) {
      await this.readSlots();
      for (let i = 0; i < 50 && this.running; i++) await sleep(100);
    }
  }

  async readSlots(): Promise<void> {
    const res = await this.get(`/v1/tasks?task=soak.beat&limit=500`);
    if (res.status !== 200) return;
    for (const t of res.body.tasks as { id: string; idempotencyKey: string | null; createdAt: string }[]) {
      const key = t.idempotencyKey ?? `no key: ${t.id}`;
      const ids = this.ledger.slots.get(key) ?? new Set<string>();
      ids.add(t.id);
      this.ledger.slots.set(key, ids);
      this.ledger.owe({ id: t.id, task: 'soak.beat', via: 'schedule', expect: 'succeeded', at: Date.parse(t.createdAt), due: Date.parse(t.createdAt) });
    }
  }

  /**
   * Reads again every task seen final since `since` (still within retention): a final task never
   * changes, so its state, attempts and result must read as they did. Returns the ones that changed.
   */
  async recheck(since: number, concurrency = 16): Promise<{ id: string; first: unknown; now: unknown }[]> {
    const recent = [...this.ledger.tasks.values()].filter((t) => t.end && t.end.seenAt >= since);
    const changed: { id: string; first: unknown; now: unknown }[] = [];
    const next = async () => {
      for (let t = recent.pop(); t; t = recent.pop()) {
        const res = await this.get(`/v1/tasks/${t.id}`);
        if (res.status !== 200) continue; // gone with retention meanwhile, or the hub is away: nothing to compare
        const first = { state: t.end!.state, attempts: t.end!.attempts, result: t.end!.result };
        const now = { state: res.body.state, attempts: res.body.attempts, result: res.body.result };
        if (JSON.stringify(first) !== JSON.stringify(now)) changed.push({ id: t.id, first, now });
      }
    };
    await Promise.all(Array.from({ length: concurrency }, next));
    return changed;
  }

  /** Owed tasks and workflows not yet seen final. */
  get open(): { tasks: number; workflows: number } {
    let workflows = 0;
    for (const w of this.ledger.workflows.values()) if (!w.end) workflows++;
    return { tasks: this.ledger.open, workflows };
  }
}
