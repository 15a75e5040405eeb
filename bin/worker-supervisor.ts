// `drover worker --max-tasks N`: a supervising process that runs the worker as a child process and,
// each time the child has run N tasks and stopped, starts a fresh one (memory and leaks reset).
import { fork, type ChildProcess } from 'node:child_process';

/** Set in the child's environment: it runs the worker itself, and its supervisor's pid names it. */
const CHILD = 'DROVER_WORKER_SUPERVISOR';

export function isRecycledChild(): boolean {
  return process.env[CHILD] !== undefined && typeof process.send === 'function';
}

/**
 * The child is done: tells its supervisor whether it stopped to be recycled (then the next one
 * starts) and lets go of the channel to it, which would keep this process alive.
 */
export function leaveSupervisor(recycled: boolean): Promise<void> {
  if (!process.send || !process.connected) return Promise.resolve();
  process.removeAllListeners('disconnect');
  return new Promise((done) => process.send!({ recycled }, () => {
    process.disconnect();
    done();
  }));
}

/**
 * Runs the worker in a child process (this command again, with the same flags) until it stops
 * for another reason than a recycle; resolves with that child's exit code, so the exit code is
 * what it would be without recycling. The child has its own process group, so a signal sent to
 * this one (a terminal's Ctrl-C reaches the whole group) reaches it once, forwarded from here: the
 * first a warm shutdown, the second a cold one. A signal between two children ends it at once.
 */
export async function supervise(log: (message: string) => void): Promise<number> {
  let child: ChildProcess | null = null;
  let signals = 0;
  const forward = (signal: NodeJS.Signals) => {
    signals++;
    child?.kill(signal);
  };
  process.on('SIGTERM', forward);
  process.on('SIGINT', forward);
  try {
    for (let n = 1; ; n++) {
      const current = fork(process.argv[1], process.argv.slice(2), {
        env: { ...process.env, [CHILD]: String(process.pid) },
        detached: true,
        stdio: 'inherit',
      });
      child = current;
      let recycled = false;
      current.on('message', (m: { recycled?: boolean }) => (recycled ||= m?.recycled === true));
      const code = await new Promise<number>((done) => current.once('close', (c, signal) => done(c ?? (signal ? 1 : 0))));
      child = null;
      if (!recycled || signals > 0) return code;
      log(`worker process ${current.pid} recycled after its tasks (--max-tasks); starting worker process ${n + 1}`);
    }
  } finally {
    process.off('SIGTERM', forward);
    process.off('SIGINT', forward);
  }
}
