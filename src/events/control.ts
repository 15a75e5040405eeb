// Worker heartbeats, remote control and broadcasts, as the events object serves them: who is alive, who gets which command, and the waits.
import type { Liveness, WorkerState } from '../core/worker-states.ts';
import type { Sql } from '../db/sql.ts';
import type { BroadcastBody, ControlBody, WorkerHeartbeat } from '../protocol/control.ts';
import { Commands, MAX_PENDING, type Command, type SendKind, type SendView, type Skipped } from './commands.ts';
import { Roster, type RosterRow, type WorkerView } from './roster.ts';

/** Expected refusals travel as data: RPC drops an error's own properties. */
export type Outcome<T> = ({ ok: true } & T) | { ok: false; code: 'not_found' | 'conflict' | 'forbidden'; message: string; details?: { skipped: Skipped[] } };

export class WorkerControl {
  readonly roster: Roster;
  private readonly commands: Commands;

  constructor(
    sql: Sql,
    private readonly live: Liveness,
    /** The object's synchronous transaction: a heartbeat's replies and state, and a send's commands, are stored whole or not at all. */
    private readonly transaction: <T>(fn: () => T) => T,
  ) {
    this.roster = new Roster(sql);
    this.commands = new Commands(sql);
  }

  private stateOf(row: RosterRow | undefined, now: number): WorkerState | null {
    return row ? this.roster.stateOf(row, now, this.live, this.commands.holding(row.name)) : null;
  }

  /**
   * A worker's heartbeat: stores its state and replies, then answers its pending commands at once,
   * or holds until one arrives or `waitSeconds` end. A worker coming back after it was gone does
   * not get the commands meant for it before (they expired with its going).
   */
  async heartbeat(name: string, hb: WorkerHeartbeat, who: { id: string; admin: boolean }): Promise<Outcome<{ commands: Command[]; intervalSeconds: number }>> {
    const now = Date.now();
    const row = this.roster.get(name);
    const before = this.stateOf(row, now);
    // A name alive under another token is that token's worker: its commands are not for this one.
    if (row && before !== 'gone' && row.owner !== who.id && !who.admin) {
      return { ok: false, code: 'forbidden', message: `worker "${name}" is alive under another token; give this worker another name` };
    }
    this.transaction(() => {
      if (before === 'gone') this.commands.expireAll(name);
      this.commands.reply(name, hb.replies, now);
      this.roster.record(name, hb, row?.owner && who.admin ? row.owner : who.id, now);
      if (hb.leaving) this.commands.expireAll(name);
    });
    const intervalSeconds = this.live.intervalMs / 1000;
    if (hb.leaving) return { ok: true, commands: [], intervalSeconds };
    // A heartbeat held from before is not read any more (its worker sent this one): let it go.
    this.commands.release(name);
    let commands = this.commands.pendingFor(name, now);
    if (commands.length === 0 && hb.waitSeconds > 0) {
      await this.commands.waitForCommand(name, hb.waitSeconds * 1000);
      commands = this.commands.pendingFor(name, Date.now());
      this.roster.touch(name, Date.now());
    }
    return { ok: true, commands, intervalSeconds };
  }

  /** Stores a control command for each alive target; the caller audits it, then waits with awaitSend. */
  sendControl(body: ControlBody): Outcome<{ id: string; targets: string[]; skipped: Skipped[] }> {
    const now = Date.now();
    const rows = new Map(this.roster.rows().map((r) => [r.name, r]));
    const targets: string[] = [];
    const skipped: Skipped[] = [];
    if (body.workers) {
      for (const name of new Set(body.workers)) {
        const state = this.stateOf(rows.get(name), now);
        if (state === null) skipped.push({ worker: name, reason: 'unknown' });
        else if (state !== 'alive') skipped.push({ worker: name, reason: state });
        else if (this.commands.pendingCount(name, now) >= MAX_PENDING) skipped.push({ worker: name, reason: 'busy' });
        else targets.push(name);
      }
      if (skipped.every((s) => s.reason === 'unknown') && targets.length === 0) {
        return { ok: false, code: 'not_found', message: `no worker named ${[...new Set(body.workers)].map((w) => `"${w}"`).join(', ')} has sent a heartbeat in the last day` };
      }
    } else {
      for (const row of rows.values()) {
        if (this.stateOf(row, now) !== 'alive') continue;
        if (body.queue && !(JSON.parse(row.queues) as string[]).includes(body.queue)) continue;
        if (body.region && row.region !== body.region) continue;
        if (this.commands.pendingCount(row.name, now) >= MAX_PENDING) skipped.push({ worker: row.name, reason: 'busy' });
        else targets.push(row.name);
      }
    }
    if (targets.length === 0) {
      const why = skipped.length ? `: ${skipped.map((s) => `"${s.worker}" is ${s.reason === 'busy' ? `busy (${MAX_PENDING} commands unanswered)` : s.reason}`).join(', ')}` : '';
      return { ok: false, code: 'conflict', message: `no alive worker to send "${body.command}" to${why}`, details: { skipped } };
    }
    const id = this.transaction(() => this.commands.send('control', body.command, () => body.args, null, targets, skipped, now));
    this.commands.deliver(targets);
    return { ok: true, id, targets, skipped };
  }

  /** Holds until every target of a send replied (or expired) or `waitMs` pass; then where it stands. */
  async awaitSend(id: string, waitMs: number): Promise<SendView | null> {
    const deadline = Date.now() + waitMs;
    while (!this.commands.settled(id, Date.now()) && Date.now() < deadline) {
      await this.commands.waitForReply(id, deadline - Date.now());
    }
    return this.view(id, 'control');
  }

  /** A broadcast: a `run` for every alive worker of the queue (and region) that has the task. */
  sendBroadcast(body: BroadcastBody): Outcome<{ id: string; workers: string[] }> {
    const now = Date.now();
    const targets = this.roster.rows().filter((row) =>
      this.stateOf(row, now) === 'alive' &&
      (JSON.parse(row.queues) as string[]).includes(body.queue) &&
      (body.region === undefined || row.region === body.region) &&
      (JSON.parse(row.tasks) as string[]).includes(body.task) &&
      this.commands.pendingCount(row.name, now) < MAX_PENDING,
    ).map((row) => row.name);
    if (targets.length === 0) {
      const where = `queue "${body.queue}"${body.region ? ` in region "${body.region}"` : ''}`;
      return { ok: false, code: 'conflict', message: `no alive worker of ${where} runs "${body.task}": nothing was sent` };
    }
    const args = (_worker: string, id: string) => ({ task: body.task, args: body.args, kwargs: body.kwargs, broadcast: id });
    const id = this.transaction(() => this.commands.send('broadcast', 'run', args, body.task, targets, [], now));
    this.commands.deliver(targets);
    return { ok: true, id, workers: targets };
  }

  /** A control call or broadcast by id, if it is of that kind. */
  view(id: string, kind: SendKind): SendView | null {
    const now = Date.now();
    const view = this.commands.view(id, now, (worker) => this.stateOf(this.roster.get(worker), now));
    return view?.kind === kind ? view : null;
  }

  workers(): WorkerView[] {
    return this.roster.list(Date.now(), this.live, (name) => this.commands.holding(name));
  }
}
