// The soak's load: single and batch enqueues of mixed sizes, idempotency keys, workflows, revokes and expiring
// tasks, at a target rate of tasks per second; every 2xx makes its tasks owed in the ledger.
import type { Hub } from './http.ts';
import type { Final, Ledger } from './ledger.ts';
import type { WorkSpec } from './tasks.ts';

export interface LoadOptions {
  hub: Hub;
  ledger: Ledger;
  seed: number;
  /** Tasks per second the producers aim at, on average. */
  rate: number;
  /** Concurrent producers. */
  producers: number;
  /** Producers wait while this many owed tasks are not yet final. */
  maxOpen: number;
  queue: string;
  flowQueue: string;
  /** True while the soak has the runtime down: producers wait. */
  paused: () => boolean;
}

/** mulberry32: a small seeded generator, so a run's mix can be replayed with --seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A batch's bodies stay under this, inside the hub's 16 MiB batch body. */
const BATCH_BYTES = 12 * 1024 * 1024;
/** Every soak task: a short lease (a killed worker's job comes back soon), quick retries. */
const RUN = { timeout: 10, maxRetries: 3, retryDelay: 0.5 };

type Size = 'tiny' | 'medium' | 'large';

export class Load {
  private readonly o: LoadOptions;
  private readonly rng: () => number;
  private tokens = 0;
  private at = Date.now();
  private running = false;
  private loops: Promise<void>[] = [];
  private keyCount = 0;
  /** Keyed requests that got no answer: sent again (same key) until one is answered. */
  private readonly unanswered: { key: string; body: Record<string, unknown> }[] = [];

  constructor(o: LoadOptions) {
    this.o = o;
    this.rng = prng(o.seed);
  }

  start(): void {
    this.running = true;
    this.at = Date.now();
    this.loops = Array.from({ length: this.o.producers }, () => this.loop());
  }

  /** Stops sending; keyed requests still unanswered are sent until answered (or the deadline). */
  async stop(deadline: number): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    while (this.unanswered.length && Date.now() < deadline) {
      if (this.o.paused()) await sleep(200);
      else await this.resend();
    }
  }

  private int(lo: number, hi: number): number {
    return lo + Math.floor(this.rng() * (hi - lo + 1));
  }

  /**
   * Waits for the rate's budget for n tasks (it may go into debt: a batch of 500 then waits its
   * share); false when the load stopped meanwhile, and the request is not sent.
   */
  private async budget(n: number): Promise<boolean> {
    for (;;) {
      if (!this.running) return false;
      const now = Date.now();
      this.tokens = Math.min(this.o.rate, this.tokens + ((now - this.at) / 1000) * this.o.rate);
      this.at = now;
      if (this.tokens >= 0 && !this.o.paused() && this.o.ledger.open < this.o.maxOpen) break;
      await sleep(Math.max(20, Math.min(500, (-this.tokens / this.o.rate) * 1000)));
    }
    this.tokens -= n;
    return true;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      if (this.unanswered.length && !this.o.paused()) {
        await this.resend();
        continue;
      }
      const r = this.rng();
      if (r < 0.35) await this.single();
      else if (r < 0.55) await this.batch();
      else if (r < 0.7) await this.keyed();
      else if (r < 0.85) await this.workflow();
      else if (r < 0.93) await this.revoked();
      else await this.expiring();
    }
  }

  private padding(size: Size): string {
    const bytes = size === 'tiny' ? this.int(10, 200) : size === 'medium' ? this.int(1024, 16 * 1024) : this.int(20 * 1024, 100 * 1024);
    return 'x'.repeat(bytes);
  }

  /** One soak.work body: how long it takes, whether its first attempt fails, whether it is doomed; sometimes a delay or an eta. */
  private work(size: Size): { body: Record<string, unknown>; expect: Final; due: number; flaky: boolean } {
    const spec: WorkSpec = {};
    const t = this.rng();
    if (t >= 0.7) spec.ms = t < 0.95 ? this.int(1, 200) : this.int(500, 3000);
    if (this.rng() < 0.1) spec.flaky = true;
    if (this.rng() < 0.05) spec.echo = true;
    const doomed = this.rng() < 0.01;
    if (doomed) spec.doomed = true;
    const body: Record<string, unknown> = { task: 'soak.work', args: [spec, this.padding(size)], queue: this.o.queue, priority: this.int(0, 9), ...RUN };
    let due = Date.now();
    const d = this.rng();
    if (d < 0.1) {
      body.delay = Math.round((0.5 + this.rng() * 14.5) * 10) / 10;
      due += (body.delay as number) * 1000;
    } else if (d < 0.15) {
      due += this.int(1000, 15_000);
      body.eta = new Date(due).toISOString();
    }
    return { body, expect: doomed ? 'failed' : 'succeeded', due, flaky: spec.flaky === true };
  }

  private size(): Size {
    const s = this.rng();
    return s < 0.6 ? 'tiny' : s < 0.9 ? 'medium' : 'large';
  }

  private async single(): Promise<void> {
    if (!(await this.budget(1))) return;
    const w = this.work(this.size());
    this.o.ledger.sent.single++;
    const res = await this.o.hub.call('POST', '/v1/tasks', w.body);
    if (res.status === 202) this.owe(res.body.id, 'single', w.expect, w.due, w.flaky);
    else this.unexpected(res, '/v1/tasks');
  }

  private async batch(): Promise<void> {
    const kind = this.rng();
    const fixed: Size | null = kind < 0.4 ? 'tiny' : kind < 0.6 ? 'medium' : kind < 0.7 ? 'large' : null;
    const want = Math.round(10 * 50 ** this.rng()); // 10-500, most of them small
    const entries: ReturnType<Load['work']>[] = [];
    let bytes = 0;
    while (entries.length < want) {
      const w = this.work(fixed ?? this.size());
      const size = (w.body.args as [unknown, string])[1].length + 300;
      if (bytes + size > BATCH_BYTES) break;
      bytes += size;
      entries.push(w);
    }
    if (!(await this.budget(entries.length))) return;
    this.o.ledger.sent.batch++;
    this.o.ledger.sent.tasksInBatches += entries.length;
    const res = await this.o.hub.call('POST', '/v1/tasks/batch', { tasks: entries.map((e) => e.body) });
    if (res.status === 202) res.body.tasks.forEach((t: { id: string }, i: number) => this.owe(t.id, 'batch', entries[i].expect, entries[i].due, entries[i].flaky));
    else this.unexpected(res, '/v1/tasks/batch');
  }

  /** A keyed enqueue, half the time sent twice: the repeat must name the first task. */
  private async keyed(): Promise<void> {
    if (!(await this.budget(1))) return;
    const key = `soak-${this.o.seed}-${this.keyCount++}`;
    const w = this.work(this.size());
    const body = { ...w.body, idempotencyKey: key };
    this.o.ledger.sent.keyed++;
    const res = await this.o.hub.call('POST', '/v1/tasks', body);
    if (res.status === 'no answer' || res.status === 'timeout') {
      this.unanswered.push({ key, body });
      return;
    }
    if (res.status !== 202) return this.unexpected(res, '/v1/tasks');
    this.o.ledger.keys.set(key, res.body.id);
    this.owe(res.body.id, 'keyed', w.expect, w.due, w.flaky);
    if (this.rng() < 0.5) {
      this.o.ledger.sent.repeat++;
      const again = await this.o.hub.call('POST', '/v1/tasks', body);
      if (again.status === 200 || again.status === 202) this.checkKey(key, res.body.id, again.body);
      else if (typeof again.status === 'number') this.unexpected(again, '/v1/tasks');
    }
  }

  /** A keyed request that got no answer, sent again: whichever answer comes names the one task of that key. */
  private async resend(): Promise<void> {
    const item = this.unanswered.shift()!;
    this.o.ledger.sent.repeat++;
    const res = await this.o.hub.call('POST', '/v1/tasks', item.body);
    if (res.status === 'no answer' || res.status === 'timeout') {
      this.unanswered.push(item);
      await sleep(200);
      return;
    }
    if (res.status !== 200 && res.status !== 202) return this.unexpected(res, '/v1/tasks');
    const spec = (item.body.args as [WorkSpec])[0];
    const due = item.body.eta ? Date.parse(item.body.eta as string) : Date.now() + ((item.body.delay as number) ?? 0) * 1000;
    this.o.ledger.keys.set(item.key, res.body.id);
    this.owe(res.body.id, 'keyed', spec.doomed ? 'failed' : 'succeeded', due, spec.flaky === true);
  }

  private checkKey(key: string, first: string, again: { id: string; duplicate?: boolean }): void {
    if (again.id !== first || again.duplicate !== true) this.o.ledger.keyMismatches.push({ key, first, again: `${again.id}${again.duplicate ? '' : ' (not marked duplicate)'}` });
  }

  private async workflow(): Promise<void> {
    const q = this.o.flowQueue;
    const sig = (task: string, args: unknown[]) => ({ task, args, queue: q, ...RUN });
    const shape = this.rng();
    let request: Record<string, unknown>;
    let size: number;
    let result: unknown;
    let kind: 'chain' | 'group' | 'chord';
    if (shape < 0.4) {
      const incs = Array.from({ length: this.int(2, 5) }, () => this.int(1, 100));
      request = { chain: incs.map((inc, i) => sig('soak.add', i === 0 ? [0, inc] : [inc])) };
      [kind, size, result] = ['chain', incs.length, incs.reduce((a, b) => a + b, 0)];
    } else if (shape < 0.7) {
      const nums = Array.from({ length: this.int(5, 50) }, () => this.int(1, 1000));
      request = { group: nums.map((n) => sig('soak.num', [n])) };
      [kind, size, result] = ['group', nums.length, nums];
    } else {
      const nums = Array.from({ length: this.int(5, 50) }, () => this.int(1, 1000));
      const extra = this.int(1, 1000);
      request = { chord: { header: nums.map((n) => sig('soak.num', [n])), body: sig('soak.sum', [extra]) } };
      [kind, size, result] = ['chord', nums.length + 1, nums.reduce((a, b) => a + b, 0) + extra];
    }
    if (!(await this.budget(size))) return;
    this.o.ledger.sent.workflow++;
    const res = await this.o.hub.call('POST', '/v1/workflows', request);
    if (res.status !== 202) return this.unexpected(res, '/v1/workflows');
    const at = Date.now();
    this.o.ledger.workflows.set(res.body.id, { id: res.body.id, shape: kind, size, result, at });
    for (const id of res.body.tasks as string[]) this.o.ledger.owe({ id, task: 'workflow member', via: 'workflow', expect: null, at, due: at });
  }

  /** A delayed task revoked before it runs: revoked if the revoke was answered 200. */
  private async revoked(): Promise<void> {
    if (!(await this.budget(1))) return;
    const w = this.work('tiny');
    delete w.body.eta;
    w.body.delay = 20;
    this.o.ledger.sent.single++;
    const res = await this.o.hub.call('POST', '/v1/tasks', w.body);
    if (res.status !== 202) return this.unexpected(res, '/v1/tasks');
    const id = res.body.id as string;
    await sleep(this.int(100, 1000));
    this.o.ledger.sent.revoke++;
    const out = await this.o.hub.call('POST', `/v1/tasks/${id}/revoke`, {});
    // Not answered, or answered 409 (a kill meanwhile, or it ended): either end is fair.
    this.owe(id, 'single', out.status === 200 ? 'revoked' : null, Date.now() + 20_000);
    if (typeof out.status === 'number' && out.status !== 200 && out.status !== 409) this.unexpected(out, '/v1/tasks/:id/revoke');
  }

  /** A task that expires before its eta: it must end expired, never run. */
  private async expiring(): Promise<void> {
    if (!(await this.budget(1))) return;
    const w = this.work('tiny');
    delete w.body.eta;
    Object.assign(w.body, { delay: 3, expires: 1 });
    this.o.ledger.sent.single++;
    const res = await this.o.hub.call('POST', '/v1/tasks', w.body);
    if (res.status === 202) this.owe(res.body.id, 'single', 'expired', Date.now() + 3000);
    else this.unexpected(res, '/v1/tasks');
  }

  private owe(id: string, via: 'single' | 'batch' | 'keyed', expect: Final | null, due: number, flaky = false): void {
    this.o.ledger.enqueued++;
    this.o.ledger.owe({ id, task: 'soak.work', via, expect, at: Date.now(), due, flaky });
  }

  /**
   * A 4xx on a body the soak built to be valid is a finding to read (a 5xx is kept by the client
   * already). A 413 is not: the hub may refuse what is past a limit it publishes, and then owes nothing.
   */
  private unexpected(res: { status: number | string; text: string }, path: string): void {
    if (typeof res.status === 'number' && res.status >= 400 && res.status < 500 && res.status !== 413) {
      this.o.ledger.answered.refused.push({ at: Date.now(), path, status: res.status, body: res.text.slice(0, 500) });
    }
  }
}
