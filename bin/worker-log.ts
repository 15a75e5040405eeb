// What `drover worker` prints: a line per job event and per worker message, in the bracketed form
// Celery's worker uses and people grep (`[time: LEVEL/worker] Task name[id] succeeded in 0.012s`),
// or with --json one JSON object per line. --loglevel hides what is below it.
import type { JobEvent } from '../src/sdk/pull-options.ts';

export const LEVELS = ['debug', 'info', 'warning', 'error'] as const;
export type Level = (typeof LEVELS)[number];

export interface WorkerLog {
  /** A message of the worker's own (claims, stops, the hub away): info. */
  message(text: string, level?: Level): void;
  event(e: JobEvent): void;
}

/** 2026-12-05 21:44:00,123, in local time, as Celery prints it. */
function stamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())},${p(d.getMilliseconds(), 3)}`;
}

function levelOf(e: JobEvent): Level {
  if (e.event === 'failed') return e.retrying ? 'warning' : 'error';
  if (e.event === 'abandoned' || e.event === 'revoked') return 'warning';
  return 'info';
}

function describe(e: JobEvent): string {
  const task = `Task ${e.task}[${e.id}]`;
  const took = e.runtime === undefined ? '' : ` in ${e.runtime.toFixed(3)}s`;
  switch (e.event) {
    case 'received':
      return `${task} received (attempt ${e.attempt} of ${e.attempts})`;
    case 'succeeded':
      return `${task} succeeded${took}`;
    case 'failed':
      return `${task} failed${took} (attempt ${e.attempt} of ${e.attempts}, ${e.retrying ? 'will retry' : 'failed for good'}): ${e.error?.type}: ${e.error?.message}`;
    case 'retried': {
      const at = e.nextAttemptAt ? new Date(e.nextAttemptAt) : new Date();
      const wait = Math.max(0, (at.getTime() - Date.now()) / 1000);
      return `${task} retried: attempt ${e.attempt + 1} of ${e.attempts} at ${stamp(at)} (in ${wait.toFixed(1)}s)`;
    }
    case 'revoked':
      return `${task} revoked: its handler's ctx.signal fired; what it reports will not count`;
    case 'abandoned':
      return `${task} abandoned after${took.slice(3)}: it was revoked or its lease was lost, so its outcome does not count`;
  }
}

export function workerLog(worker: () => string, options: { level: Level; json: boolean; write?: (line: string) => void }): WorkerLog {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const shown = (level: Level) => LEVELS.indexOf(level) >= LEVELS.indexOf(options.level);
  const emit = (level: Level, text: string, fields: Record<string, unknown>) => {
    if (!shown(level)) return;
    const now = new Date();
    write(options.json ? JSON.stringify({ time: now.toISOString(), level, worker: worker(), ...fields }) : `[${stamp(now)}: ${level.toUpperCase()}/${worker()}] ${text}`);
  };
  return {
    message: (text, level = 'info') => emit(level, text, { message: text }),
    event: (e) => emit(levelOf(e), describe(e), { ...e }),
  };
}
