// `drover worker`'s status line: on a terminal, one line kept at the bottom (processed, failed,
// active/slots, rate), redrawn at most every 500 ms, with the log lines printed above it.
import type { JobEvent } from '../src/sdk/pull-options.ts';

export interface StatusNumbers {
  processed: number;
  failed: number;
  active: number;
  slots: number;
}

/** The seconds the rate is measured over. */
const RATE_WINDOW_S = 10;
const REDRAW_MS = 500;
const CLEAR = '\r\x1b[2K';

/** The line itself, cut to the terminal's width (a wrapped line could not be cleared in place). */
export function renderStatus(n: StatusNumbers & { rate: number }, width = 80): string {
  const text = `processed ${n.processed} | failed ${n.failed} | active ${n.active}/${n.slots} | ${n.rate.toFixed(1)} tasks/s`;
  return text.length < width ? text : text.slice(0, Math.max(0, width - 1));
}

/** Tasks per second over the last 10 s, from the times tasks ended. */
export function rateOf(ended: number[], now: number): number {
  return ended.filter((t) => now - t <= RATE_WINDOW_S * 1000).length / RATE_WINDOW_S;
}

export interface StatusLine {
  /** Prints a log line above the status line. */
  print(line: string): void;
  /** Counts the tasks that end, for the rate. */
  event(e: JobEvent): void;
  /** Where the numbers come from; drawing starts. */
  follow(numbers: () => StatusNumbers): void;
  /** Clears the line and stops redrawing. */
  close(): void;
}

export function statusLine(stream: { write(s: string): unknown; columns?: number }, now: () => number = Date.now): StatusLine {
  let ended: number[] = [];
  let numbers: (() => StatusNumbers) | null = null;
  let shown = '';
  let timer: ReturnType<typeof setInterval> | null = null;
  const draw = () => {
    if (!numbers) return;
    const t = now();
    ended = ended.filter((e) => t - e <= RATE_WINDOW_S * 1000);
    const text = renderStatus({ ...numbers(), rate: rateOf(ended, t) }, stream.columns || 80);
    if (text !== shown) stream.write(`${CLEAR}${text}`);
    shown = text;
  };
  return {
    print(line) {
      // Clear the status line, print, and put the same status back: no new drawing between redraws.
      stream.write(`${CLEAR}${line}\n${shown}`);
    },
    event(e) {
      if (e.event === 'succeeded' || e.event === 'failed' || e.event === 'abandoned') ended.push(now());
    },
    follow(source) {
      numbers = source;
      draw();
      timer = setInterval(draw, REDRAW_MS);
      timer.unref();
    },
    close() {
      if (timer) clearInterval(timer);
      timer = null;
      numbers = null;
      if (shown) stream.write(CLEAR);
      shown = '';
    },
  };
}
