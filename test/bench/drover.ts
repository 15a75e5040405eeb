// drover under bench: a fresh `npm start`, pull workers of the SDK (PullWorker) in child processes.
import { fork, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Api, startSystem, TOKENS, type System } from '../e2e/system.ts';
import type { BenchSystem, Latency } from './types.ts';
import { quantiles } from './stats.ts';
import { runtimeCpu, runtimeRss } from './procs.ts';
import { backlog, type BacklogPoint } from './backlog.ts';
import { keysCost, type KeysPoint } from './keys.ts';
import { createClient } from '../../src/sdk/client.ts';
import { poster, rateOf } from './posts.ts';

const WORKERS = Number(process.env.BENCH_DROVER_WORKERS ?? 2);
const CONCURRENCY = Number(process.env.BENCH_DROVER_CONCURRENCY ?? 100);
/** BENCH_DROVER_HTTP=1: producers and workers use an HTTP request per call, not the SDK's sockets. */
const HTTP = process.env.BENCH_DROVER_HTTP === '1';

interface Worker {
  child: ChildProcess;
  done: number;
}

export interface DroverBench extends BenchSystem {
  readonly stateOn: StateOn;
  /** `drain` and `endToEnd` on a queue of `shards` QueueObjects (SHARD_COUNTS). */
  drainSharded(n: number, shards: number): Promise<number>;
  endToEndSharded(n: number, shards: number): Promise<number>;
  /** Claim+ack cost as one queue grows through `sizes`, and the runtime's memory. */
  backlog(sizes: number[], samples: number, log: (m: string) => void): Promise<BacklogPoint[]>;
  /** Claim+ack cost with no rate keys, 1,000 keys, and 1,000 keys of which 900 are throttled. */
  keys(samples: number, log: (m: string) => void): Promise<KeysPoint[]>;
  /** CPU seconds the runtime (workerd) has used since start. */
  runtimeCpu(): number;
  /** Enqueue `n` tasks singly over plain `POST /v1/tasks`, `inFlight` HTTP clients at once (keep-alive); tasks/s. */
  enqueueHttp(n: number, inFlight: number): Promise<number>;
  /** Awaited as a one-shard drain's workers start and once they have drained it: the profiler's window (profile.ts). */
  drainWindow: { start?: () => Promise<void>; end?: () => Promise<void> };
  /** The runtime's CPU per task in the last one-shard drain, µs: every workerd process (hub, queue objects, local D1). */
  readonly drainCpuUs: number | null;
  /** The SQLite statements GET /metrics has counted so far (drover_sqlite_statements_total): by queue, and the hub's own D1 statements. */
  statements(): Promise<{ queues: Map<string, StatementCount>; hub: number }>;
  /** `run`'s figure, and the statements per task of its `n` tasks (those of the queues it made, and the hub's), up to the last of them in D1. */
  statementsPerTask<T>(n: number, run: () => Promise<T>): Promise<{ value: T; perTask: StatementCount }>;
}

export interface StatementCount {
  /** On the queue objects' own storage. */
  object: number;
  /** Sent to D1 by the queue objects and the hub. */
  d1: number;
}

/** Shard counts the bench's system declares (queues bench-s<N>-*). */
export const SHARD_COUNTS = [2, 4, 8];
const SHARDS = JSON.stringify(Object.fromEntries(SHARD_COUNTS.map((n) => [`bench-s${n}-*`, n])));
/**
 * The hub's D1 partitions (DROVER_D1_PARTITIONS): one, as npm start has by default; with
 * BENCH_D1_PARTITIONS=4 a sharded queue's shards write to different databases.
 */
const PARTITIONS = process.env.BENCH_D1_PARTITIONS ?? '1';

/**
 * Where the hub keeps its state under bench. 'memory': a tmpfs (/dev/shm), the footing of the
 * peers' redis-server, which runs without persistence (no RDB, no AOF). 'disk': the temporary
 * directory, where every Durable Object and D1 commit is an fsync, as under `npm start`.
 */
export type StateOn = 'memory' | 'disk';

/** /dev/shm when it is a writable tmpfs here; BENCH_DROVER_STATE=disk puts the state on disk. */
export function defaultStateOn(): StateOn {
  if (process.env.BENCH_DROVER_STATE === 'disk') return 'disk';
  try {
    accessSync('/dev/shm', constants.W_OK);
    return 'memory';
  } catch {
    return 'disk';
  }
}

/** A fresh `npm start` for a bench row, its state in a new directory where `stateOn` says; its stop() removes the directory too. */
export async function startHub(stateOn: StateOn, env?: Record<string, string>): Promise<System> {
  const stateDir = mkdtempSync(join(stateOn === 'memory' ? '/dev/shm' : tmpdir(), 'drover-bench-'));
  const remove = () => rmSync(stateDir, { recursive: true, force: true });
  try {
    const system = await startSystem({ stateDir, env });
    return { ...system, stop: () => system.stop().finally(remove) };
  } catch (err) {
    remove();
    throw err;
  }
}

export function drover(stateOn: StateOn = defaultStateOn()): DroverBench {
  let system: System | null = null;
  let api: Api;
  let queues = 0;
  let drainCpuUs: number | null = null;
  /** A fresh queue; `shards` > 1 names one that DROVER_SHARDS (below) spreads over that many objects. */
  const nextQueue = (shards = 1) => `bench-${shards > 1 ? `s${shards}-` : ''}${Date.now().toString(36)}-${++queues}`;

  /** The SDK's producer, as a Node app would enqueue: over one socket (or HTTP with BENCH_DROVER_HTTP=1). */
  const producer = () => {
    const client = createClient({ url: system!.url, token: TOKENS.admin });
    return HTTP ? { ...client, close: async () => {} } : client.producer();
  };
  const enqueueMany = async (queue: string, n: number, batch: number, args: () => unknown[] = () => []) => {
    const p = producer();
    try {
      for (let sent = 0; sent < n; sent += batch) {
        const size = Math.min(batch, n - sent);
        await p.enqueueMany('noop', Array.from({ length: size }, () => ({ args: args(), options: { queue } })));
      }
    } finally {
      await p.close();
    }
  };
  /** Waits until the queue's object holds `n` ready tasks (the bus carried them all). */
  const delivered = async (queue: string, n: number) => {
    for (;;) {
      const stats = (await api.get(`/v1/queues/${queue}`)).body;
      if (stats.ready >= n) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  /** Starts worker processes (connected, not yet claiming); `onStarts` gets latency samples. */
  const startWorkers = async (queue: string, onStarts?: (ms: number[]) => void) => {
    const workers: Worker[] = [];
    await Promise.all(
      Array.from({ length: WORKERS }, () => new Promise<void>((ready, fail) => {
        const child = fork(resolve(import.meta.dirname, 'drover-worker.ts'), [system!.url, TOKENS.consume, queue, String(CONCURRENCY)], {
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        const w: Worker = { child, done: 0 };
        workers.push(w);
        child.on('message', (m: { ready?: boolean; done?: number; starts?: number[] }) => {
          if (m.ready) ready();
          if (m.done !== undefined) w.done = m.done;
          if (m.starts?.length) onStarts?.(m.starts);
        });
        child.once('exit', (code) => fail(new Error(`a drover bench worker exited (${code})`)));
      })),
    );
    const total = () => workers.reduce((sum, w) => sum + w.done, 0);
    return {
      run: () => workers.forEach((w) => w.child.send({ cmd: 'run' })),
      total,
      until: async (n: number) => {
        while (total() < n) await new Promise((r) => setTimeout(r, 2));
        return performance.now();
      },
      stop: async () => {
        await Promise.all(workers.map((w) => new Promise<void>((done) => {
          if (!w.child.connected) return done();
          w.child.once('disconnect', () => done());
          w.child.send({ cmd: 'stop' });
          setTimeout(() => { w.child.kill('SIGKILL'); done(); }, 10_000).unref();
        })));
        for (const w of workers) w.child.removeAllListeners('exit');
      },
    };
  };

  const bench: DroverBench = {
    name: 'drover',
    stateOn,
    drainWindow: {},
    setup: `state ${stateOn === 'memory' ? 'in /dev/shm (tmpfs; the peers run redis without persistence)' : 'on disk'}; ${WORKERS} pull worker processes (SDK PullWorker), ${CONCURRENCY} jobs each at once; producer: the SDK's ${HTTP ? 'client over HTTP' : 'producer over one socket'}; workers ${HTTP ? 'over HTTP' : 'over sockets'}; hub: npm start (workerd through Miniflare)`,
    async start() {
      system = await startHub(stateOn, { DROVER_SHARDS: SHARDS, DROVER_D1_PARTITIONS: PARTITIONS });
      api = new Api(system.url, TOKENS.admin);
    },
    async stop() {
      await system?.stop();
      system = null;
    },
    backlog: (sizes, samples, log) => backlog(api, sizes, samples, () => runtimeRss(system!.pgid), log),
    keys: (samples, log) => keysCost(api, samples, log),
    runtimeCpu: () => runtimeCpu(system!.pgid),
    get drainCpuUs() {
      return drainCpuUs;
    },
    async statements() {
      const text = (await api.get('/metrics')).text as string;
      const queues = new Map<string, StatementCount>();
      let hub = 0;
      for (const m of text.matchAll(/^drover_sqlite_statements_total\{queue="([^"]*)",store="(object|d1)"\} (\S+)$/gm)) {
        const [, queue, store, value] = m;
        if (queue === '_hub') hub += Number(value);
        else {
          const c = queues.get(queue) ?? { object: 0, d1: 0 };
          c[store as keyof StatementCount] += Number(value);
          queues.set(queue, c);
        }
      }
      return { queues, hub };
    },
    async statementsPerTask(n, run) {
      // The scenario's own queue is new: its series count its tasks' statements, and no other
      // queue's. Each read of /metrics costs every object some statements of its own, counted in
      // the next read: two reads back to back say how many an idle queue's objects spend a read,
      // and the hub's own D1 statements a read; each later read is charged that.
      const r0 = await this.statements();
      const before = await this.statements();
      const idle = [...before.queues].filter(([q]) => r0.queues.has(q)).map(([q, c]) => ({ object: c.object - r0.queues.get(q)!.object, d1: c.d1 - r0.queues.get(q)!.d1 }));
      const perRead = { object: Math.max(0, ...idle.map((c) => c.object)), d1: Math.max(0, ...idle.map((c) => c.d1)), hub: before.hub - r0.hub };
      const value = await run();
      const fresh = (now: Awaited<ReturnType<typeof this.statements>>) => {
        const sum = { object: 0, d1: 0 };
        for (const [q, c] of now.queues) if (!before.queues.has(q)) (sum.object += c.object), (sum.d1 += c.d1);
        return sum;
      };
      // The last acks reach D1 a write after the workers saw them: read until a pause adds no
      // more than a read's own cost.
      let reads = 0;
      let last = fresh(before);
      let now = before;
      while (reads < 20) {
        await new Promise((r) => setTimeout(r, 300));
        now = await this.statements();
        reads++;
        const f = fresh(now);
        if (f.d1 - last.d1 <= perRead.d1 && f.object - last.object <= perRead.object) break;
        last = f;
      }
      const f = fresh(now);
      const object = Math.max(0, f.object - reads * perRead.object) / n;
      const d1 = (Math.max(0, f.d1 - reads * perRead.d1) + Math.max(0, now.hub - before.hub - reads * perRead.hub)) / n;
      return { value, perTask: { object, d1 } };
    },
    async enqueueHttp(n, inFlight) {
      const queue = nextQueue();
      const body = JSON.stringify({ task: 'noop', args: [], queue });
      const { post, close } = poster(new URL(`${system!.url}/v1/tasks`), body, { authorization: `Bearer ${TOKENS.admin}` }, inFlight);
      await Promise.all(Array.from({ length: inFlight }, post)); // the connections are open before the clock starts
      const rate = await rateOf(n, inFlight, post);
      close();
      await delivered(queue, n + inFlight);
      return rate;
    },
    async enqueueBatch(n, batch) {
      const queue = nextQueue();
      const t0 = performance.now();
      await enqueueMany(queue, n, batch);
      const rate = n / ((performance.now() - t0) / 1000);
      await delivered(queue, n);
      return rate;
    },
    async enqueueSingle(n, inFlight) {
      const queue = nextQueue();
      let sent = 0;
      const p = producer();
      await p.enqueue('noop', [], { queue }); // the socket is open before the clock starts
      const t0 = performance.now();
      await Promise.all(Array.from({ length: inFlight }, async () => {
        while (sent < n - 1) {
          sent++;
          await p.enqueue('noop', [], { queue });
        }
      }));
      const rate = (n - 1) / ((performance.now() - t0) / 1000);
      await p.close();
      await delivered(queue, n);
      return rate;
    },
    drain: (n) => drain(n, 1),
    drainSharded: (n, shards) => drain(n, shards),
    endToEnd: (n) => endToEnd(n, 1),
    endToEndSharded: (n, shards) => endToEnd(n, shards),
    async latency(rate, seconds): Promise<Latency> {
      const queue = nextQueue();
      const samples: number[] = [];
      const workers = await startWorkers(queue, (ms) => samples.push(...ms));
      try {
        workers.run();
        await new Promise((r) => setTimeout(r, 500)); // claims are waiting
        const n = Math.round(rate * seconds);
        const p = producer();
        await p.enqueue('noop', [-1], { queue }); // opens the socket; a negative time is no sample
        const t0 = performance.now();
        const sends: Promise<unknown>[] = [];
        for (let i = 0; i < n; i++) {
          const due = t0 + (i * 1000) / rate;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          sends.push(p.enqueue('noop', [Number(process.hrtime.bigint()) / 1e6], { queue }));
        }
        await Promise.all(sends);
        await p.close();
        await workers.until(n + 1);
        return { ...quantiles(samples), samples: samples.length };
      } finally {
        await workers.stop();
      }
    },
  };
  return bench;

  async function drain(n: number, shards: number) {
    const queue = nextQueue(shards);
    await enqueueMany(queue, n, 1000);
    await delivered(queue, n);
    const workers = await startWorkers(queue);
    try {
      if (shards === 1) await bench.drainWindow.start?.();
      const cpu0 = runtimeCpu(system!.pgid);
      const t0 = performance.now();
      workers.run();
      const t1 = await workers.until(n);
      // /proc counts in ticks of 10 ms: over a drain of seconds that is within a percent or two.
      const us = ((runtimeCpu(system!.pgid) - cpu0) * 1e6) / n;
      if (shards === 1) {
        drainCpuUs = us;
        await bench.drainWindow.end?.();
      }
      if (process.env.BENCH_VERBOSE) console.log(`  runtime CPU ${us.toFixed(0)} us/task`);
      return n / ((t1 - t0) / 1000);
    } finally {
      await workers.stop();
    }
  }

  async function endToEnd(n: number, shards: number) {
    const queue = nextQueue(shards);
    const workers = await startWorkers(queue);
    try {
      workers.run();
      const t0 = performance.now();
      await enqueueMany(queue, n, 1000);
      const t1 = await workers.until(n);
      return n / ((t1 - t0) / 1000);
    } finally {
      await workers.stop();
    }
  }
}
