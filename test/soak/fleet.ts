// The soak's pull workers: separate Node processes (test/soak/worker.ts), killed with SIGKILL and replaced.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { JournalLine } from './observe.ts';

const script = resolve(import.meta.dirname, 'worker.ts');

export interface FleetOptions {
  url: string;
  token: string;
  queues: string[];
  concurrency: number;
  /** Where each worker process writes its journal, worker-<n>.jsonl. */
  dir: string;
}

export class Fleet {
  private readonly options: FleetOptions;
  private readonly live = new Map<number, { child: ChildProcess; n: number }>();
  private started = 0;
  /** SIGKILLs sent. */
  kills = 0;
  /** Worker processes that died without being killed by the soak (each a finding). */
  readonly crashes: { n: number; code: number | null; signal: string | null; stderr: string }[] = [];

  constructor(options: FleetOptions) {
    this.options = options;
  }

  /** Starts one worker; every other one claims and acks over HTTP only, the rest over their socket. */
  start(): void {
    const n = this.started++;
    const { url, token, queues, concurrency, dir } = this.options;
    const child = spawn(
      process.execPath,
      [script, url, token, queues.join(','), String(concurrency), join(dir, `worker-${n}.jsonl`), n % 2 === 0 ? 'socket' : 'http'],
      { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] },
    );
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    this.live.set(n, { child, n });
    child.once('exit', (code, signal) => {
      const mine = this.live.get(n);
      this.live.delete(n);
      if (mine && signal !== 'SIGKILL' && code !== 0) this.crashes.push({ n, code, signal, stderr });
    });
  }

  /** SIGKILL to the oldest worker, and a new one in its place. */
  killOne(): void {
    const oldest = [...this.live.values()].sort((a, b) => a.n - b.n)[0];
    if (oldest) {
      this.kills++;
      oldest.child.kill('SIGKILL');
    }
    this.start();
  }

  get size(): number {
    return this.live.size;
  }

  /** Ends every worker: SIGTERM (they let running jobs finish, then ack), SIGKILL after the grace. */
  async stop(graceMs = 10_000): Promise<void> {
    const all = [...this.live.values()].map(
      ({ child }) =>
        new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done();
          child.once('exit', () => done());
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          child.once('exit', () => clearTimeout(timer));
          child.kill('SIGTERM');
        }),
    );
    this.live.clear();
    await Promise.all(all);
  }

  /** Every journal line of every worker process there was, each with its file's worker number. */
  static read(dir: string): (JournalLine & { w: number })[] {
    const out: (JournalLine & { w: number })[] = [];
    for (const file of readdirSync(dir)) {
      const m = /^worker-(\d+)\.jsonl$/.exec(file);
      if (!m) continue;
      for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
        if (!line) continue;
        try {
          out.push({ ...(JSON.parse(line) as JournalLine), w: Number(m[1]) });
        } catch {
          // a line cut short by SIGKILL: writeSync of one line is one write, so this should not happen
        }
      }
    }
    return out;
  }
}
