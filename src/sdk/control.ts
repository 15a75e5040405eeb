// ControlLoop: a worker's heartbeat to the hub (POST /v1/workers/:name/heartbeat), always one in
// flight, which tells the hub the worker lives and what it runs, and brings remote control commands.
import { HubError } from './errors.ts';
import { sleep } from './ack-batcher.ts';
import { runCommand, type Command, type Controlled, type Reply } from './control-commands.ts';
import type { LogLevel } from './pull-options.ts';

/** What each heartbeat says about the worker (the heartbeat body, docs/protocol.md). */
export interface WorkerStatus {
  region: string | null;
  queues: string[];
  tasks: string[];
  concurrency: number;
  active: { id: string; task: string; queue: string; startedAt: string }[];
  processed: number;
  failed: number;
}

export interface ControlOptions {
  url: string;
  token: string;
  name: string;
  target: Controlled & { status(): WorkerStatus; refused(err: HubError): void };
  log: (message: string, level?: LogLevel) => void;
  fetch?: typeof fetch;
  /** How long the hub may hold a heartbeat with no command for it (the protocol's 0-30). Default 25. */
  waitSeconds?: number;
  /** After a 404 (a hub without the route), how long until the next try. Default 300. */
  absentRetrySeconds?: number;
}

/** Command ids remembered, with their replies, so a command sent again is not run again (the protocol asks for 1,000). */
const REMEMBERED = 1000;

export class ControlLoop {
  private readonly o: ControlOptions;
  private readonly done = new Map<string, Reply | null>(); // null: still running
  private outbox: Reply[] = [];
  private inflight: AbortController | null = null;
  private stopped = false;
  private absent = false;
  private loop: Promise<void> | null = null;
  private wakeSleep = new AbortController();
  /** The shutdown command's id, once its reply is ready: the worker stops after the hub has it. */
  private shutdownAfter: string | null = null;

  constructor(options: ControlOptions) {
    this.o = options;
  }

  start(): void {
    this.loop ??= this.run();
  }

  private async post(body: object, signal: AbortSignal): Promise<{ commands?: Command[]; intervalSeconds?: number }> {
    const res = await (this.o.fetch ?? fetch)(`${this.o.url.replace(/\/+$/, '')}/v1/workers/${encodeURIComponent(this.o.name)}/heartbeat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.o.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal,
    });
    const text = await res.text();
    let parsed: any = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: an error answer from something in the way
    }
    if (!res.ok) throw new HubError(res.status, parsed?.error?.code ?? 'unavailable', parsed?.error?.message ?? `the hub answered ${res.status}`);
    return parsed ?? {};
  }

  private async run(): Promise<void> {
    let backoff = 0;
    while (!this.stopped) {
      const replies = this.outbox.slice(0, 100);
      const inflight = (this.inflight = new AbortController());
      try {
        // Replies go at once and the hub answers at once: an operator is waiting for them.
        const wait = replies.length ? 0 : (this.o.waitSeconds ?? 25);
        const answer = await this.post({ ...this.o.target.status(), waitSeconds: wait, replies, leaving: false }, inflight.signal);
        this.outbox = this.outbox.filter((r) => !replies.includes(r));
        if (backoff || this.absent) this.o.log('the hub takes heartbeats again', 'info');
        backoff = 0;
        this.absent = false;
        if (this.shutdownAfter && replies.some((r) => r.id === this.shutdownAfter)) {
          this.shutdownAfter = null;
          this.o.target.shutdown();
        }
        for (const c of answer.commands ?? []) this.receive(c);
        // A quick command (ping, grow) has its reply ready by the next turn: it goes on the next heartbeat.
        if (answer.commands?.length) await sleep(0);
      } catch (err) {
        if (this.stopped || inflight.signal.aborted) continue; // stopping, or a reply is ready to go
        if (err instanceof HubError && (err.status === 401 || err.status === 403)) {
          this.o.target.refused(err);
          return;
        }
        if (err instanceof HubError && err.status === 404) {
          // A hub from before worker heartbeats: the worker works on without them.
          if (!this.absent) this.o.log(`the hub has no worker heartbeats (404); trying again every ${this.o.absentRetrySeconds ?? 300}s`, 'debug');
          this.absent = true;
          await this.pause((this.o.absentRetrySeconds ?? 300) * 1000);
          continue;
        }
        backoff = Math.min(30, backoff ? backoff * 2 : 0.5);
        const why = err instanceof HubError ? `${err.status} ${err.code}: ${err.message}` : `unreachable (${(err as Error).cause ?? (err as Error).message})`;
        this.o.log(`heartbeat failed, hub ${why}; retrying in ${backoff}s`, 'warning');
        await this.pause(backoff * 1000);
      } finally {
        this.inflight = null;
      }
    }
  }

  /** Sleeps, cut short by stop. */
  private async pause(ms: number): Promise<void> {
    this.wakeSleep = new AbortController();
    await sleep(ms, this.wakeSleep.signal);
  }

  /** A command from the hub: run it once, or send its remembered reply again. */
  private receive(c: Command): void {
    if (this.done.has(c.id)) {
      const reply = this.done.get(c.id);
      if (reply && !this.outbox.some((r) => r.id === c.id)) this.outbox.push(reply);
      return;
    }
    this.done.set(c.id, null);
    while (this.done.size > REMEMBERED) this.done.delete(this.done.keys().next().value!);
    this.o.log(`remote control: ${c.command} ${JSON.stringify(c.args ?? {})} (command ${c.id})`, 'info');
    void runCommand(this.o.target, c).then((reply) => {
      if (this.done.has(c.id)) this.done.set(c.id, reply);
      if (c.command === 'shutdown') this.shutdownAfter = c.id;
      this.outbox.push(reply);
      this.inflight?.abort(); // send the reply now rather than after the wait
    });
  }

  /**
   * Ends the loop and sends a last heartbeat carrying the replies not yet sent: with `leaving`,
   * the hub lists the worker gone at once. Bounded: a hub that does not answer in 5 s is not waited for.
   */
  async stop(leaving: boolean): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.inflight?.abort();
    this.wakeSleep.abort();
    await this.loop;
    if (!this.loop || this.absent) return;
    const body = { ...this.o.target.status(), waitSeconds: 0, replies: this.outbox.slice(0, 100), leaving };
    await this.post(body, AbortSignal.timeout(5000)).catch((err: Error) => this.o.log(`last heartbeat not sent: ${err.message}`, 'debug'));
  }
}
