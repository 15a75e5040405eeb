// npm run bench: drover, BullMQ and Celery on this machine, the same scenarios one after another;
// drover-python is drover's hub with the Python package as producer and worker, beside Celery;
// celery-drover is the Celery peer's very app and workers with drover's hub as the broker.
//   node test/bench/run.ts [--quick] [--runs N] [--out FILE] [--chart FILE] [--only drover,drover-python,celery-drover,bullmq,celery] [--no-backlog] [--no-keys] [--no-shards] [--no-disk] [--no-start]
// drover's state sits in /dev/shm, as the peers' redis runs without persistence; its latency is
// measured again with the state on disk (--no-disk skips that; BENCH_DROVER_STATE=disk puts it all there).
// drover's start time to a healthy hub comes first (--no-start skips it). The claim cost under per-key
// limits (1,000 rate keys, 900 of them throttled) is measured on the backlog's fresh start (--no-keys skips it).
// drover alone also enqueues singly over plain HTTP, and has its runtime's CPU per task in the drain and
// its SQLite statements per task end to end counted. Prints a table with drover/peer ratios, then issue 32's
// goals (met or short by), and writes the figures as JSON and the throughput chart as SVG.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { BacklogPoint } from './backlog.ts';
import type { KeysPoint } from './keys.ts';
import { throughputChart } from './chart.ts';
import { drover, SHARD_COUNTS, type DroverBench } from './drover.ts';
import { droverPython } from './drover-python.ts';
import { celeryDrover } from './celery-drover.ts';
import { bullmq } from './peers/bullmq.ts';
import { celery } from './peers/celery.ts';
import { findMissing } from './redis.ts';
import { startTimes } from './start.ts';
import { median } from './stats.ts';
import { machine, type Machine } from './machine.ts';
import { goalLine, goals, type Goal } from './goals.ts';
import type { BenchSystem } from './types.ts';

export interface Figure {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export interface Scenario {
  key: string;
  title: string;
  unit: 'tasks/s' | 'ms';
  /** Measured for drover alone: the other systems show "-". */
  droverOnly?: true;
  /** Per system name. */
  figures: Record<string, Figure>;
}

export interface Result {
  date: string;
  machine: Machine;
  quick: boolean;
  runs: number;
  sizes: typeof FULL;
  systems: { name: string; setup: string }[];
  missing: string[];
  scenarios: Scenario[];
  backlog: BacklogPoint[] | null;
  /** drover's claim+ack with no rate keys, 1,000 keys, and 1,000 keys of which 900 are throttled. */
  keys: KeysPoint[] | null;
  /** drover's drain and end to end as one queue is spread over more QueueObjects. */
  shards: ShardPoint[] | null;
  /** drover's latency again with its state on disk (every commit an fsync), when the rest ran in memory. */
  diskLatency: { p50: Figure; p95: Figure; p99: Figure } | null;
  /** Seconds from npm start to a healthy hub: on an empty state directory, and again on the same one. */
  start: { first: Figure; warm: Figure } | null;
  /** µs of CPU the runtime (every workerd process: hub Worker, queue objects, local D1) used per task in the drain. */
  hubCpuUsPerTask: Figure | null;
  /** SQLite statements per task end to end (enqueue, claim, ack, the result in D1), from GET /metrics. */
  statementsPerTask: { object: Figure; d1: Figure; total: Figure } | null;
  /** The same, for the latency scenario's tasks: one at a time at its rate, so nothing shares a statement. */
  statementsAtRate: { object: Figure; d1: Figure; total: Figure } | null;
  /** Issue 32's goals, each met, short, or not measured in this run (met null). */
  goals: Goal[];
}

export interface ShardPoint {
  shards: number;
  drain: Figure;
  endToEnd: Figure;
}

const FULL = { batch: [20_000, 1000], single: [5000, 50], drain: 20_000, endToEnd: 20_000, latency: [100, 10], backlog: [1000, 100_000, 1_000_000], samples: 200 };
const QUICK = { batch: [2000, 1000], single: [300, 50], drain: 2000, endToEnd: 2000, latency: [100, 2], backlog: [1000, 10_000], samples: 30 };

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    out: { type: 'string', default: 'test-results/bench.json' },
    chart: { type: 'string', default: 'test-results/bench.svg' },
    only: { type: 'string', default: 'drover,drover-python,celery-drover,bullmq,celery' },
    'no-backlog': { type: 'boolean', default: false },
    'no-keys': { type: 'boolean', default: false },
    'no-shards': { type: 'boolean', default: false },
    'no-disk': { type: 'boolean', default: false },
    'no-start': { type: 'boolean', default: false },
  },
});
const quick = values.quick!;
const runs = Number(values.runs ?? (quick ? 1 : 3));
const size = quick ? QUICK : FULL;
const wanted = values.only!.split(',');
const log = (m: string) => console.log(m);
/** Read before the first run: the commit measured is the one checked out then, whatever changes while it runs. */
const measured = machine();

const missing = findMissing();
/** drover's own rows (the Node and the Python stacks, and Celery over drover): their ratios to the peers are printed. */
const ours = (name: string) => name === 'drover' || name === 'drover-python' || name === 'celery-drover';
/** The peers need Debian's redis-server and python3-celery; so does Celery over drover (Celery, and a redis-server to count in). */
const needsPackages = (name: string) => !ours(name) || name === 'celery-drover';
if (missing.length && wanted.some(needsPackages)) {
  log(`BullMQ and Celery need Debian packages that are missing: ${missing.join(', ')}`);
  log(`  install them with: apt-get install -y ${missing.join(' ')}`);
  if (process.env.CI || !quick) process.exit(2);
  log('  (quick mode outside CI: benching drover and drover-python alone)');
}
const systems: BenchSystem[] = [drover(), droverPython(), celeryDrover(), bullmq(), celery()].filter(
  (s) => wanted.includes(s.name) && (!needsPackages(s.name) || missing.length === 0),
);

const scenarios: Scenario[] = [
  { key: 'enqueueBatch', title: `enqueue ${size.batch[0].toLocaleString('en')} in batches of ${size.batch[1]}`, unit: 'tasks/s', figures: {} },
  { key: 'enqueueSingle', title: `enqueue ${size.single[0].toLocaleString('en')} singly, ${size.single[1]} in flight`, unit: 'tasks/s', figures: {} },
  { key: 'enqueueHttp', title: `enqueue ${size.single[0].toLocaleString('en')} singly over HTTP, ${size.single[1]} clients`, unit: 'tasks/s', droverOnly: true, figures: {} },
  { key: 'drain', title: `drain ${size.drain.toLocaleString('en')} waiting`, unit: 'tasks/s', figures: {} },
  { key: 'endToEnd', title: `end to end, ${size.endToEnd.toLocaleString('en')}`, unit: 'tasks/s', figures: {} },
  { key: 'latencyP50', title: `latency p50 at ${size.latency[0]}/s`, unit: 'ms', figures: {} },
  { key: 'latencyP95', title: `latency p95 at ${size.latency[0]}/s`, unit: 'ms', figures: {} },
  { key: 'latencyP99', title: `latency p99 at ${size.latency[0]}/s`, unit: 'ms', figures: {} },
];
const byKey = new Map(scenarios.map((s) => [s.key, s]));
const record = (key: string, system: string, value: number) => {
  const s = byKey.get(key)!;
  add((s.figures[system] ??= newFigure()), value);
};
const fmt = (v: number, unit: string) => (unit === 'ms' ? `${v.toFixed(1)} ms` : `${Math.round(v).toLocaleString('en')}/s`);

let backlogPoints: BacklogPoint[] | null = null;
let keysPoints: KeysPoint[] | null = null;
let diskLatency: Result['diskLatency'] = null;
const measuresDrover = wanted.includes('drover');
const hubCpuUsPerTask = measuresDrover ? newFigure() : null;
const statementsPerTask = measuresDrover ? { object: newFigure(), d1: newFigure(), total: newFigure() } : null;
const statementsAtRate = measuresDrover ? { object: newFigure(), d1: newFigure(), total: newFigure() } : null;
/** One queue over 1, 2, 4 and 8 QueueObjects (quick: 1 and 2), same sizes as drain and end to end. */
const shardCounts = quick ? [1, 2] : [1, ...SHARD_COUNTS];
const shardPoints: ShardPoint[] | null = values['no-shards'] || !wanted.includes('drover') ? null : shardCounts.map((shards) => ({ shards, drain: newFigure(), endToEnd: newFigure() }));
function newFigure(): Figure {
  return { median: 0, min: 0, max: 0, runs: [] };
}
function add(f: Figure, value: number): void {
  f.runs.push(value);
  f.median = median(f.runs);
  f.min = Math.min(...f.runs);
  f.max = Math.max(...f.runs);
}
const started = performance.now();
let start: Result['start'] = null;
if (wanted.includes('drover') && !values['no-start']) {
  log('\ndrover: npm start to a healthy hub, on an empty state directory and again on the same one (state on disk)');
  start = { first: newFigure(), warm: newFigure() };
  for (let run = 1; run <= runs; run++) {
    const t = await startTimes();
    add(start.first, t.first);
    add(start.warm, t.warm);
    log(`    ${'start: empty state, same state again'.padEnd(40)} ${t.first.toFixed(1)} s, ${t.warm.toFixed(1)} s`);
  }
}
for (const system of systems) {
  log(`\n${system.name}: ${system.setup}`);
  await system.start();
  try {
    for (let run = 1; run <= runs; run++) {
      log(`  run ${run}/${runs}`);
      const step = async (key: string, fn: () => Promise<number>) => {
        const v = await fn();
        record(key, system.name, v);
        log(`    ${byKey.get(key)!.title.padEnd(40)} ${fmt(v, byKey.get(key)!.unit)}`);
      };
      await step('enqueueBatch', () => system.enqueueBatch(size.batch[0], size.batch[1]));
      await step('enqueueSingle', () => system.enqueueSingle(size.single[0], size.single[1]));
      const d = system.name === 'drover' ? (system as DroverBench) : null;
      if (d) await step('enqueueHttp', () => d.enqueueHttp(size.single[0], size.single[1]));
      await step('drain', () => system.drain(size.drain));
      if (d && d.drainCpuUs !== null) {
        add(hubCpuUsPerTask!, d.drainCpuUs);
        log(`    ${'runtime CPU per task in the drain'.padEnd(40)} ${d.drainCpuUs.toFixed(1)} µs`);
      }
      if (d) {
        await step('endToEnd', async () => {
          const { value, perTask } = await d.statementsPerTask(size.endToEnd, () => d.endToEnd(size.endToEnd));
          add(statementsPerTask!.object, perTask.object);
          add(statementsPerTask!.d1, perTask.d1);
          add(statementsPerTask!.total, perTask.object + perTask.d1);
          log(`    ${'SQLite statements per task, end to end'.padEnd(40)} ${perTask.object.toFixed(2)} object + ${perTask.d1.toFixed(2)} D1`);
          return value;
        });
      } else await step('endToEnd', () => system.endToEnd(size.endToEnd));
      const latency = () => system.latency(size.latency[0], size.latency[1]);
      let l: Awaited<ReturnType<typeof latency>>;
      if (d) {
        const { value, perTask } = await d.statementsPerTask(size.latency[0] * size.latency[1], latency);
        l = value;
        add(statementsAtRate!.object, perTask.object);
        add(statementsAtRate!.d1, perTask.d1);
        add(statementsAtRate!.total, perTask.object + perTask.d1);
      } else l = await latency();
      for (const [key, v] of [['latencyP50', l.p50], ['latencyP95', l.p95], ['latencyP99', l.p99]] as const) {
        record(key, system.name, v);
        log(`    ${byKey.get(key)!.title.padEnd(40)} ${fmt(v, 'ms')}`);
      }
      if (d) {
        const p = statementsAtRate!;
        log(`    ${`SQLite statements per task at ${size.latency[0]}/s`.padEnd(40)} ${p.object.runs.at(-1)!.toFixed(2)} object + ${p.d1.runs.at(-1)!.toFixed(2)} D1`);
      }
      if (d && shardPoints) {
        for (const point of shardPoints) {
          const drain = await d.drainSharded(size.drain, point.shards);
          const e2e = await d.endToEndSharded(size.endToEnd, point.shards);
          add(point.drain, drain);
          add(point.endToEnd, e2e);
          log(`    ${`${point.shards} shard${point.shards > 1 ? 's' : ''}: drain, end to end`.padEnd(40)} ${fmt(drain, 'tasks/s')}, ${fmt(e2e, 'tasks/s')}`);
        }
      }
    }
  } finally {
    await system.stop();
  }
  if (system.name === 'drover' && (system as DroverBench).stateOn === 'memory' && !values['no-disk']) {
    log(`  latency again with the state on disk, on a fresh npm start`);
    const onDisk = drover('disk');
    await onDisk.start();
    try {
      diskLatency = { p50: newFigure(), p95: newFigure(), p99: newFigure() };
      for (let run = 1; run <= runs; run++) {
        const l = await onDisk.latency(size.latency[0], size.latency[1]);
        add(diskLatency.p50, l.p50);
        add(diskLatency.p95, l.p95);
        add(diskLatency.p99, l.p99);
        log(`    ${`latency at ${size.latency[0]}/s, state on disk`.padEnd(40)} ${[l.p50, l.p95, l.p99].map((v) => fmt(v, 'ms')).join(' / ')}`);
      }
    } finally {
      await onDisk.stop();
    }
  }
  if (system.name === 'drover' && (!values['no-backlog'] || !values['no-keys'])) {
    // On a fresh start, so the memory read is the backlog's and not the scenarios' before it.
    const fresh = drover();
    await fresh.start();
    try {
      if (!values['no-backlog']) {
        log(`  backlog, on a fresh npm start: claim+ack with ${size.backlog.map((n) => n.toLocaleString('en')).join(', ')} waiting`);
        backlogPoints = await fresh.backlog(size.backlog, size.samples, log);
      }
      if (!values['no-keys']) {
        log(`  rate keys: claim+ack with no keys, 1,000 keys, and 1,000 keys of which 900 are throttled`);
        keysPoints = await fresh.keys(size.samples, log);
      }
    } finally {
      await fresh.stop();
    }
  }
}

const result: Result = {
  date: new Date().toISOString().slice(0, 10),
  machine: measured,
  quick,
  runs,
  sizes: size as typeof FULL,
  systems: systems.map((s) => ({ name: s.name, setup: s.setup })),
  missing,
  scenarios,
  backlog: backlogPoints,
  keys: keysPoints,
  shards: shardPoints,
  diskLatency,
  start,
  hubCpuUsPerTask,
  statementsPerTask,
  statementsAtRate,
  goals: [],
};
result.goals = goals(result);

// The table: median (min-max) per system, then the ratio of each of drover's rows to each peer
// (throughput: drover/peer, higher is better; latency: drover/peer, lower is better). Celery over
// drover is set beside Celery only: the same app, the broker the one change.
const names = systems.map((s) => s.name);
const peers = names.filter((n) => !ours(n));
const peersOf = (d: string) => (d === 'celery-drover' ? peers.filter((p) => p === 'celery') : peers);
const pairs = names.filter(ours).flatMap((d) => peersOf(d).map((p) => [d, p] as const));
const cell = (f: Figure | undefined, unit: string) => (f ? `${fmt(f.median, unit)} (${fmt(f.min, unit).replace(/\/s| ms/, '')}-${fmt(f.max, unit).replace(/\/s| ms/, '')})` : '-');
const header = ['scenario', ...names, ...pairs.map(([d, p]) => `${d}/${p}`)];
const rows = scenarios.map((s) => [
  s.title,
  ...names.map((n) => cell(s.figures[n], s.unit)),
  ...pairs.map(([d, p]) => (s.figures[d] && s.figures[p] ? `${(s.figures[d].median / s.figures[p].median).toFixed(2)}x` : '-')),
]);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
log(`\n${result.machine.summary}, ${result.date}; median of ${runs} run(s), (min-max)`);
log(header.map((h, i) => h.padEnd(widths[i])).join('  '));
for (const r of rows) log(r.map((c, i) => c.padEnd(widths[i])).join('  '));
if (backlogPoints) {
  log(`\nbacklog (drover): claim+ack over HTTP, one at a time, the sizes in turn`);
  const first = backlogPoints[0];
  for (const p of backlogPoints) {
    log(`  ${p.waiting.toLocaleString('en').padStart(9)} waiting  ${p.claimAckMs.toFixed(2)} ms median  ${(p.claimAckMs / first.claimAckMs).toFixed(2)}x of ${first.waiting.toLocaleString('en')}  runtime RSS peak ${(p.peakRssBytes / 2 ** 20).toFixed(0)} MiB`);
  }
}
if (keysPoints) {
  log(`\nrate keys (drover): claim+ack over HTTP, one at a time, the queues in turn`);
  const plain = keysPoints[0];
  for (const p of keysPoints) log(`  ${p.label.padEnd(28)} ${p.claimAckMs.toFixed(2)} ms median  ${(p.claimAckMs / plain.claimAckMs).toFixed(2)}x of ${plain.label}`);
}
if (shardPoints) {
  log('\nshards (drover): one queue over several QueueObjects; median (min-max), ratio to one shard');
  const one = shardPoints[0];
  for (const p of shardPoints) {
    log(`  ${String(p.shards).padStart(2)} shard(s)  drain ${cell(p.drain, 'tasks/s')} ${(p.drain.median / one.drain.median).toFixed(2)}x  end to end ${cell(p.endToEnd, 'tasks/s')} ${(p.endToEnd.median / one.endToEnd.median).toFixed(2)}x`);
  }
}
if (diskLatency) {
  const l = diskLatency;
  log(`\nlatency at ${size.latency[0]}/s (drover, state on disk): p50 ${cell(l.p50, 'ms')}, p95 ${cell(l.p95, 'ms')}, p99 ${cell(l.p99, 'ms')}`);
}
if (start) {
  const secs = (f: Figure) => `${f.median.toFixed(1)} s (${f.min.toFixed(1)}-${f.max.toFixed(1)})`;
  log(`\nstart (drover): a healthy hub ${secs(start.first)} after npm start on an empty state directory, ${secs(start.warm)} on the same one again`);
}
if (hubCpuUsPerTask?.runs.length) {
  const f = hubCpuUsPerTask;
  log(`\nruntime CPU per task in the drain (drover): ${f.median.toFixed(1)} µs (${f.min.toFixed(1)}-${f.max.toFixed(1)}), the whole runtime: hub Worker, queue objects, local D1`);
}
if (statementsPerTask?.total.runs.length) {
  const p = statementsPerTask;
  log(`SQLite statements per task end to end (drover): ${p.total.median.toFixed(2)} (object ${p.object.median.toFixed(2)}, D1 ${p.d1.median.toFixed(2)}), from GET /metrics`);
}
if (statementsAtRate?.total.runs.length) {
  const p = statementsAtRate;
  log(`SQLite statements per task at ${size.latency[0]}/s, one at a time (drover): ${p.total.median.toFixed(2)} (object ${p.object.median.toFixed(2)}, D1 ${p.d1.median.toFixed(2)})`);
}
log(`\ngoals (issue 32), medians of this run; ratios to BullMQ's median in the same run:`);
for (const g of result.goals) log(goalLine(g));
log('');
for (const s of systems) log(`  ${s.name}: ${s.setup}`);
log(`\n(${((performance.now() - started) / 60_000).toFixed(1)} min)`);

for (const [file, text] of [[values.out!, JSON.stringify(result, null, 2)], [values.chart!, throughputChart(result)]] as const) {
  const path = resolve(file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  log(`wrote ${path}`);
}
