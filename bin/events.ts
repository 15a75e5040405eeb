// `drover events` follows the hub's live stream (GET /v1/events); `drover top` is a live terminal
// view of queues, their rates, and workers, built from that stream and the queue and worker lists.
import { parseArgs } from 'node:util';
import { HubError } from '../src/sdk/errors.ts';
import type { TaskEvent } from '../src/events/EventsObject.ts';
import type { QueueRecord } from '../src/protocol/records.ts';
import type { Command } from './command.ts';
import { HUB_FLAGS, ago, hubOf, numberFlag, table, type Hub } from './hub.ts';

interface StreamEvent {
  event: string;
  data: unknown;
}

/**
 * Reads the stream until `signal` fires, calling `on` per event. A dropped connection is opened
 * again after a second (with `Last-Event-ID` when the hub gives ids); a refusal (401, 403), or a
 * hub that does not answer the first time, throws.
 */
export async function follow(hub: Hub, on: (e: StreamEvent) => void, signal: AbortSignal, onDrop?: (why: string) => void): Promise<void> {
  let lastId: string | null = null;
  let connected = false; // a hub that cannot be reached at the start is an error; later, a drop
  while (!signal.aborted) {
    try {
      const res = await hub.fetch('/v1/events', { signal, headers: lastId ? { 'last-event-id': lastId } : {} });
      if (!res.ok || !res.body) {
        const text = await res.text();
        let error: { code?: string; message?: string } = {};
        try {
          error = JSON.parse(text).error ?? {};
        } catch {}
        throw new HubError(res.status, error.code ?? 'unavailable', error.message ?? `the hub answered ${res.status}`);
      }
      connected = true;
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let end: number;
        // One event per blank line: `event:`, `data:` and `id:` fields; comments start with ':'.
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
            else if (line.startsWith('id:')) lastId = line.slice(3).trim();
          }
          if (data.length) on({ event, data: JSON.parse(data.join('\n')) });
        }
      }
      onDrop?.('the stream ended');
    } catch (err) {
      if (signal.aborted) return;
      const status = (err as { status?: number }).status;
      if (!connected || (status !== undefined && status < 500)) throw err;
      onDrop?.((err as Error).message);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function stopOnSignal(): AbortController {
  const stop = new AbortController();
  for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => stop.abort());
  return stop;
}

// ---- events

const eventsUsage = `usage: drover events [--queue Q] [--task NAME] [--state STATE] [--workers] [--count N]
Follows the hub's live events, a line each: time, state, task[id], queue, region, attempt, worker.
Filters apply here; --workers adds worker sightings; --count N stops after N events. Ctrl-C stops.
The stream is best effort (the task record is the truth): see docs/protocol.md, Observability.
  --url URL, --token TOKEN   the hub and a token with enqueue (default $DROVER_URL, $DROVER_TOKEN)
  --json                      one JSON object per line`;

async function events(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...HUB_FLAGS, queue: { type: 'string' }, task: { type: 'string' }, state: { type: 'string' }, workers: { type: 'boolean', default: false }, count: { type: 'string' } },
  });
  const count = numberFlag('count', values.count, 1, Number.MAX_SAFE_INTEGER, true);
  const hub = hubOf(values);
  const stop = stopOnSignal();
  let seen = 0;
  const wanted = (e: StreamEvent) => {
    if (e.event === 'worker') return values.workers!;
    const t = e.data as TaskEvent;
    return (!values.queue || t.queue === values.queue) && (!values.task || t.task === values.task) && (!values.state || t.state === values.state);
  };
  await follow(
    hub,
    (e) => {
      if (!wanted(e)) return;
      if (values.json) process.stdout.write(`${JSON.stringify({ event: e.event, ...(e.data as object) })}\n`);
      else if (e.event === 'task') {
        const t = e.data as TaskEvent;
        process.stdout.write(`${t.at}  ${t.state.padEnd(9)} ${t.task}[${t.id}]  queue=${t.queue}${t.region ? ` region=${t.region}` : ''}  attempt=${t.attempts}${t.worker ? `  worker=${t.worker}` : ''}\n`);
      } else {
        const w = e.data as { name: string; region: string | null; queue: string; lastSeen: string; inHand: number };
        process.stdout.write(`${w.lastSeen}  worker    ${w.name}  queue=${w.queue}${w.region ? ` region=${w.region}` : ''}  in hand=${w.inHand}\n`);
      }
      if (count !== undefined && ++seen >= count) stop.abort();
    },
    stop.signal,
    (why) => process.stderr.write(`drover events: ${why}; reconnecting\n`),
  );
  return 0;
}

// ---- top

const topUsage = `usage: drover top [--interval SECONDS] [--once]
A live view of the queues (ready, delayed, running, dead, and tasks finished per second over the
last minute) and the workers (region, queues, tasks in hand, last seen), redrawn every --interval
seconds (default 2). q or Ctrl-C quits. --once prints one view after one interval and exits (also
what it does when stdout is not a terminal).
  --url URL, --token TOKEN   the hub and a token with enqueue (default $DROVER_URL, $DROVER_TOKEN)`;

type QueueRow = QueueRecord;

interface WorkerRow {
  name: string;
  region: string | null;
  queues: string[];
  lastSeen: string;
  inHand: number;
  state?: string;
}

/** Finished tasks per queue and outcome, with their times, over a sliding window. */
class Rates {
  private readonly ends: { at: number; queue: string; ok: boolean }[] = [];
  private readonly windowMs: number;
  constructor(windowMs: number) {
    this.windowMs = windowMs;
  }
  add(e: TaskEvent): void {
    if (['succeeded', 'failed', 'revoked', 'expired'].includes(e.state)) this.ends.push({ at: Date.now(), queue: e.queue, ok: e.state === 'succeeded' });
  }
  perSecond(queue: string, since: number): { ok: number; bad: number } {
    const cutoff = Date.now() - this.windowMs;
    while (this.ends.length && this.ends[0].at < cutoff) this.ends.shift();
    const span = Math.max(1, Math.min(this.windowMs, Date.now() - since)) / 1000;
    const mine = this.ends.filter((e) => e.queue === queue);
    return { ok: mine.filter((e) => e.ok).length / span, bad: mine.filter((e) => !e.ok).length / span };
  }
}

function frame(hubUrl: string, queues: QueueRow[], workers: WorkerRow[], rates: Rates, since: number): string {
  const rate = (n: number) => (n === 0 ? '0' : n < 10 ? n.toFixed(1) : Math.round(n).toString());
  const queueRows = queues.map((q) => {
    const r = rates.perSecond(q.name, since);
    return { ...q, ok: rate(r.ok), bad: rate(r.bad), paused: q.paused ? 'paused' : '', waiting: (q.unserved ?? []).map((u) => u.task + (u.region ? `@${u.region}` : '')).join(', ') };
  });
  const live = workers.filter((w) => w.state !== 'gone');
  return [
    `drover top: ${hubUrl}  ${new Date().toISOString()}  ${queues.length} queue(s), ${live.length} worker(s)`,
    '',
    queueRows.length
      ? table(queueRows, [['name', 'QUEUE'], ['ready', 'READY'], ['delayed', 'DELAYED'], ['running', 'RUNNING'], ['failed', 'DEAD'], ['ok', 'DONE/S'], ['bad', 'FAILED/S'], ['paused', 'PAUSED'], ['waiting', 'WAITING FOR A WORKER THAT RUNS']])
      : 'no queues',
    '',
    live.length
      ? table(
          live.map((w) => ({ ...w, queues: w.queues.join(','), seen: ago(w.lastSeen), state: w.state ?? '' })),
          [['name', 'WORKER'], ['state', 'STATE'], ['region', 'REGION'], ['queues', 'QUEUES'], ['inHand', 'IN HAND'], ['seen', 'LAST SEEN']],
        )
      : 'no workers seen',
  ].join('\n');
}

async function top(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { url: HUB_FLAGS.url, token: HUB_FLAGS.token, interval: { type: 'string' }, once: { type: 'boolean', default: false } } });
  const interval = (numberFlag('interval', values.interval, 0.2, 3600) ?? 2) * 1000;
  const hub = hubOf(values);
  const once = values.once || !process.stdout.isTTY;
  const stop = stopOnSignal();
  const rates = new Rates(60_000);
  const since = Date.now();
  let streamError: unknown = null;
  const stream = follow(hub, (e) => e.event === 'task' && rates.add(e.data as TaskEvent), stop.signal).catch((err) => {
    streamError = err;
    stop.abort();
  });
  const draw = async (print: boolean) => {
    const [{ queues }, { workers }] = await Promise.all([
      hub.call<{ queues: QueueRow[] }>('GET', '/v1/queues'),
      hub.call<{ workers: WorkerRow[] }>('GET', '/v1/workers'),
    ]);
    const text = frame(hub.url, queues, workers, rates, since);
    if (print) process.stdout.write(once ? `${text}\n` : `\x1b[H\x1b[2J${text}\n`);
  };
  if (!once && process.stdin.isTTY) {
    process.stdin.setRawMode(true);
    process.stdin.on('data', (b) => (b[0] === 0x71 || b[0] === 0x03) && stop.abort()); // q, Ctrl-C
  }
  try {
    await draw(!once); // at once: a refused token or an absent hub shows without waiting
    while (!stop.signal.aborted) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, interval);
        stop.signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
      });
      if (streamError) throw streamError;
      if (stop.signal.aborted) break;
      await draw(true);
      if (once) break;
    }
  } finally {
    stop.abort();
    if (!once && process.stdin.isTTY) process.stdin.setRawMode(false);
    await stream;
  }
  if (streamError) throw streamError;
  return 0;
}

export const eventsCommand: Command = { name: 'events', summary: 'follow the live stream of task events', usage: eventsUsage, run: events };
export const topCommand: Command = { name: 'top', summary: 'a live view of queues, rates and workers', usage: topUsage, run: top };
