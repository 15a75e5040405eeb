// Runs the real `drover worker` command (bin/drover.ts) as its own process group, and reads what it says.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');

export interface WorkerProcess {
  name: string;
  pid: number;
  output: () => string;
  exited: Promise<number | null>;
  signal(signal: NodeJS.Signals): void;
}

export function spawnWorker(options: {
  url: string;
  token: string;
  queue: string;
  name: string;
  region?: string;
  /** Slots; null: no --concurrency flag (with --autoscale in `flags`). */
  concurrency?: number | null;
  grace?: number;
  tasks?: string;
  /** More flags, such as --json or --loglevel. */
  flags?: string[];
}): WorkerProcess {
  const args = [
    resolve(root, 'bin/drover.ts'), 'worker',
    '--url', options.url, '--token', options.token, '--queue', options.queue, '--name', options.name,
    '--grace', String(options.grace ?? 30),
  ];
  if (options.concurrency !== null) args.push('--concurrency', String(options.concurrency ?? 4));
  if (options.region) args.push('--region', options.region);
  args.push(...(options.flags ?? []));
  args.push(options.tasks ?? resolve(root, 'test/fixtures/tasks.ts'));
  const child = spawn(process.execPath, args, { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  return {
    name: options.name,
    pid: child.pid!,
    output: () => output,
    exited,
    signal(signal) {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // already gone
      }
    },
  };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false | null>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
