// How `npm start` ends: on SIGINT, SIGTERM or SIGHUP, or once whoever started it is gone, it stops every process it started.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/** A stop takes at most 5 s (the docs say so, test/e2e/local.test.ts checks it): past this, what still runs is killed. */
const STOP_DEADLINE_MS = 4000;
/** How often the parents are looked at: a dead parent is noticed within this. */
const WATCH_MS = 500;

/** The wrangler runs of the preparation, each the leader of its process group, then the runtime: what a stop ends. */
const children = new Set<ChildProcess>();
let runtime: { dispose(): Promise<void> } | undefined;
let stopping = false;

/** Whether a stop is under way: what it kills fails, and that is no error to report. */
export function isStopping(): boolean {
  return stopping;
}

/**
 * Options for spawning a child that a stop must end with everything it starts: a process group of
 * its own (not on Windows, where there are none). wrangler's command runs its CLI in a second
 * process, which starts esbuild and workerd: killing the first alone would leave them running.
 */
export const ownGroup = { detached: process.platform !== 'win32' } as const;

/** A child spawned with `ownGroup`, which a stop ends with its whole group (a wrangler run). */
export function own<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function killGroup(child: ChildProcess): void {
  try {
    if (ownGroup.detached && child.pid) process.kill(-child.pid, 'SIGKILL');
    else child.kill('SIGKILL');
  } catch {
    // gone already
  }
}

/** The Worker runtime (Miniflare, which runs workerd): a stop disposes of it. */
export function ownRuntime(mf: { dispose(): Promise<void> }): void {
  runtime = mf;
  if (stopping) void mf.dispose();
}

/** The parent of a process, or null once it is gone: /proc on Linux, ps elsewhere. */
function parentOf(pid: number): number | null {
  try {
    if (existsSync('/proc/self/stat')) {
      // The name in parentheses may hold spaces and parentheses: the fields after the last ')' are "state ppid ...".
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    }
    return Number(execFileSync('ps', ['-o', 'ppid=', '-p', String(pid)], { encoding: 'utf8' }).trim());
  } catch {
    return null;
  }
}

/** Every process whose parent is this one (workerd, wrangler runs): the last resort of a stop that hangs. */
function ownProcesses(): number[] {
  try {
    return execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/).map(Number))
      .filter(([pid, ppid]) => ppid === process.pid && pid !== undefined)
      .map(([pid]) => pid);
  } catch {
    return [];
  }
}

function stop(why: string, log: (message: string) => void): void {
  if (stopping) return;
  stopping = true;
  log(`stopping (${why})`);
  const exit = () => process.exit(0);
  setTimeout(() => {
    for (const pid of ownProcesses()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    exit();
  }, STOP_DEADLINE_MS);
  for (const child of children) killGroup(child);
  void Promise.resolve(runtime?.dispose()).finally(exit);
}

/**
 * Stops everything on SIGINT, SIGTERM or SIGHUP, or when the process that started this one or that
 * one's own parent is gone. Under `npm start` the parent is npm (package.json's start line execs
 * node, so npm's SIGINT and SIGTERM reach this process): npm dies of SIGHUP without passing it on,
 * and outlives its own parent, so both are watched. A process whose parent dies is handed to
 * another (init, or a subreaper): its parent's pid changes. Call it before starting anything.
 */
export function stopWithParents(log: (message: string) => void): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stop(signal, log));
  // Output that nobody reads any more (EPIPE) means whoever read it is gone: stop, rather than die of the error and leave workerd behind.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => stop('its output was closed', () => {}));
  const parent = process.ppid;
  const grandparent = parentOf(parent);
  setInterval(() => {
    if (process.ppid !== parent) stop('the process that started it exited', log);
    else if (parentOf(parent) !== grandparent) stop(`its parent's parent exited`, log);
  }, WATCH_MS).unref();
}
