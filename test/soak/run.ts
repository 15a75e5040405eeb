// npm run soak: the whole system under mixed load for a while, with pull workers and the runtime killed (SIGKILL)
// and restarted on the same state; then every owed task is checked to have ended, once. test/soak/check.ts says
// exactly what is checked.
//   node test/soak/run.ts [--minutes 10] [--workers 3] [--seed N] [--out test-results/soak.json]
//                         [--kill-runtime-every 120] [--kill-worker-every 45] [--rate 60] [--retention 60]
//                         [--drain 300] [--keep]
// Exit code 0: every check held; 1: a check failed (the JSON and the kept state directory say which task and why);
// 2: the soak could not run.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startSystem, TOKENS, type System } from '../e2e/system.ts';
import { judge, linesOf } from './check.ts';
import { Fleet } from './fleet.ts';
import { hubClient } from './http.ts';
import { Ledger } from './ledger.ts';
import { Load } from './load.ts';
import { progressPrinter, summary } from './report.ts';
import { d1Records, d1States, sampleStorage, type StorageSample } from './storage.ts';
import { Verifier } from './verify.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    workers: { type: 'string', default: '3' },
    seed: { type: 'string' },
    out: { type: 'string', default: 'test-results/soak.json' },
    'kill-runtime-every': { type: 'string', default: '120' },
    'kill-worker-every': { type: 'string', default: '45' },
    rate: { type: 'string', default: '60' },
    retention: { type: 'string', default: '60' },
    drain: { type: 'string', default: '300' },
    keep: { type: 'boolean', default: false },
  },
});
const num = (name: keyof typeof values, min: number) => {
  const v = Number(values[name]);
  if (!Number.isFinite(v) || v < min) {
    console.error(`--${name} must be a number of at least ${min}`);
    process.exit(2);
  }
  return v;
};
const opts = {
  minutes: num('minutes', 0.1),
  workers: Math.round(num('workers', 1)),
  seed: values.seed === undefined ? Math.floor(Math.random() * 1e9) : Math.round(num('seed', 0)),
  killRuntimeEveryS: num('kill-runtime-every', 5),
  killWorkerEveryS: num('kill-worker-every', 1),
  rate: num('rate', 1),
  retentionS: num('retention', 1),
  drainS: num('drain', 10),
};
const out = resolve(values.out!);
/** A finished record may outlive retention by the sweep's period (the cron trigger, once a minute) and a margin. */
const SLACK_MS = 90_000;
const QUEUE = 'soak';
const FLOW_QUEUE = 'soak-flow';
const SCHEDULE = 'soak-beat';

const work = mkdtempSync(join(tmpdir(), 'drover-soak-'));
const stateDir = join(work, 'state');
const journals = join(work, 'journals');
mkdirSync(journals, { recursive: true });
const env = { DROVER_LOG_LEVEL: 'warn' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const printer = progressPrinter(5);
const t0 = Date.now();
const elapsed = () => (Date.now() - t0) / 1000;

let system: System | null = null;
let fleet: Fleet | null = null;
const runtimeKills: { atS: number; downS: number }[] = [];
let runtimeGeneration = 0;
const saveLogs = (s: System) => writeFileSync(join(work, `runtime-${runtimeGeneration++}.log`), s.logs());

// An interrupted soak leaves no runtime or worker behind.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    void Promise.all([fleet?.stop(0), system?.kill()]).finally(() => {
      console.error(`\nsoak interrupted; its files are in ${work}`);
      process.exit(130);
    });
  });
}

/**
 * GET /v1/tasks/:id shows a live task's state from its queue's object; D1 is the record that stays.
 * Every task seen final must have its D1 record final too, with the same state and attempts, once the
 * objects' writes have landed (they batch them): waits up to a minute for that. A record may be
 * missing only when retention took it (not a dead letter, and finished longer ago than retention).
 */
async function recordsInD1(ledger: Ledger): Promise<unknown[]> {
  const settled = [...ledger.tasks.values()].filter((t) => t.end);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const rows = await d1States(stateDir, settled.map((t) => t.id));
    const behind = settled.flatMap((t) => {
      const row = rows.get(t.id);
      const prunable = t.end!.state !== 'failed' && Date.parse(t.end!.finishedAt ?? '') < Date.now() - opts.retentionS * 1000;
      if (row ? row.state === t.end!.state && row.attempts === t.end!.attempts : prunable) return [];
      return [{ id: t.id, hub: { state: t.end!.state, attempts: t.end!.attempts, finishedAt: t.end!.finishedAt }, d1: row ?? null }];
    });
    if (behind.length === 0 || Date.now() > deadline) return behind;
    await sleep(2000);
  }
}

try {
  printer.note(`soak: ${opts.minutes} min, ${opts.workers} workers, seed ${opts.seed}, ~${opts.rate} tasks/s; state and journals in ${work}`);
  system = await startSystem({ stateDir, env });
  const { port, url } = system;
  const ledger = new Ledger();
  let paused = false;
  let lastKillAt = 0;
  const admin = hubClient(url, TOKENS.admin, ledger, (t) => lastKillAt >= t);
  const hub = hubClient(url, TOKENS.enqueue, ledger, (t) => lastKillAt >= t);

  // A short retention on the soak's queues, so the run shows finished records leaving storage.
  for (const q of [QUEUE, FLOW_QUEUE]) {
    const res = await admin.call('PUT', `/v1/queues/${q}/config`, { retentionSeconds: opts.retentionS }, { count: false });
    if (res.status !== 200) throw new Error(`could not set the retention of ${q}: ${res.status} ${res.text}`);
  }
  const made = await admin.call('POST', '/v1/schedules', { id: SCHEDULE, every: 1, task: 'soak.beat', queue: FLOW_QUEUE, timeout: 10, retryDelay: 0.5 }, { count: false });
  if (made.status !== 201) throw new Error(`could not create the schedule: ${made.status} ${made.text}`);

  fleet = new Fleet({ url, token: TOKENS.consume, queues: [QUEUE, FLOW_QUEUE], concurrency: 8, dir: journals });
  for (let i = 0; i < opts.workers; i++) fleet.start();
  const verifier = new Verifier(hub, ledger);
  verifier.start(16);
  const load = new Load({ hub, ledger, seed: opts.seed, rate: opts.rate, producers: 4, maxOpen: Math.max(2000, opts.rate * 60), queue: QUEUE, flowQueue: FLOW_QUEUE, paused: () => paused });
  const loadStart = Date.now();
  load.start();

  let phase = 'load';
  const samples: StorageSample[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      samples.push(await sampleStorage(stateDir, Math.round(elapsed()), opts.retentionS * 1000, SLACK_MS));
      for (let i = 0; i < 100 && sampling; i++) await sleep(100);
    }
  })();
  const progress = setInterval(() => {
    printer.show({
      elapsedS: elapsed(), phase, enqueued: ledger.enqueued, done: ledger.done, open: ledger.open, workflowsOpen: verifier.open.workflows,
      runtimeKills: runtimeKills.length, workerKills: fleet!.kills, noAnswer: ledger.answered.byStatus['no answer'] ?? 0,
      serverErrors: ledger.answered.serverErrors.length,
    });
  }, 1000);

  // The faults: a worker killed every so often, the whole runtime killed and restarted on the same state and port.
  const loadEnds = loadStart + opts.minutes * 60_000;
  let nextWorkerKill = loadStart + opts.killWorkerEveryS * 1000;
  let nextRuntimeKill = loadStart + opts.killRuntimeEveryS * 1000;
  while (Date.now() < loadEnds) {
    await sleep(200);
    if (Date.now() >= nextWorkerKill) {
      fleet.killOne();
      nextWorkerKill += opts.killWorkerEveryS * 1000;
    }
    if (Date.now() >= nextRuntimeKill && Date.now() < loadEnds) {
      paused = true;
      const at = Date.now();
      lastKillAt = at;
      saveLogs(system);
      await system.kill();
      const kill = { atS: Math.round((at - t0) / 1000), downS: 0 };
      runtimeKills.push(kill);
      printer.note(`[soak ${elapsed().toFixed(0)} s] runtime killed (SIGKILL); restarting on the same state`);
      system = await startSystem({ stateDir, port, env });
      paused = false;
      kill.downS = Math.round((Date.now() - at) / 100) / 10;
      printer.note(`[soak ${elapsed().toFixed(0)} s] runtime back after ${kill.downS} s`);
      nextRuntimeKill = Date.now() + opts.killRuntimeEveryS * 1000;
    }
  }

  // The end: no more load, the schedule removed (its last slots read), then every owed task followed to its end.
  phase = 'drain';
  const drainEnds = Date.now() + opts.drainS * 1000;
  await load.stop(drainEnds);
  await admin.call('DELETE', `/v1/schedules/${SCHEDULE}`, undefined, { count: false });
  await sleep(2000);
  await verifier.readSlots();
  while (Date.now() < drainEnds && (verifier.open.tasks > 0 || verifier.open.workflows > 0)) await sleep(500);
  // Workflows that finished in the last poll made their last members owed: one more look at those.
  while (Date.now() < drainEnds && verifier.open.tasks > 0) await sleep(500);
  phase = 'check';
  await verifier.stop();
  // Every task seen final within retention, read again: a final state is final.
  const changedAfterFinal = await verifier.recheck(Date.now() - (opts.retentionS - 10) * 1000);
  const notInD1 = await recordsInD1(ledger);
  sampling = false;
  await sampler;
  samples.push(await sampleStorage(stateDir, Math.round(elapsed()), opts.retentionS * 1000, SLACK_MS));
  clearInterval(progress);
  await fleet.stop();
  const workerKills = fleet.kills;
  const journal = Fleet.read(journals);
  const verdict = judge({ ledger, journal, samples, workerCrashes: fleet.crashes, changedAfterFinal, notInD1 });

  // A task that never ended is reported with its D1 record (version 0: the bus never carried it to its
  // object) and every journal line about it, so the path that lost it can be named.
  const lost = verdict.violations.lost.examples as { id: string }[];
  const records = await d1Records(stateDir, lost.map((l) => l.id));
  verdict.violations.lost.examples = lost.map((l, i) => ({ ...l, d1: records[i], journal: linesOf(journal, l.id, verdict.folded.leases) }));
  saveLogs(system);
  await system.stop();
  system = null;

  const cpu = cpus();
  const ok = Object.values(verdict.violations).every((v) => v.count === 0);
  const keep = !ok || values.keep!;
  const result = {
    date: new Date().toISOString(),
    machine: `${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    options: { ...opts, slackS: SLACK_MS / 1000, queues: [QUEUE, FLOW_QUEUE], schedule: SCHEDULE },
    ok,
    durationS: Math.round(elapsed()),
    loadS: Math.round((loadEnds - loadStart) / 1000),
    sent: ledger.sent,
    enqueued: ledger.enqueued,
    answered: ledger.answered.byStatus,
    runtimeKills,
    workerKills,
    figures: verdict.figures,
    violations: verdict.violations,
    samples,
    /** The state, runtime logs and worker journals: kept when a check failed (or with --keep). */
    files: keep ? work : null,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  printer.note(summary(verdict, { minutes: opts.minutes, seed: opts.seed, out, runtimeKills: runtimeKills.length, workerKills, answered: ledger.answered.byStatus }));
  if (keep) printer.note(`state, runtime logs and worker journals kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
  process.exit(ok ? 0 : 1);
} catch (err) {
  console.error(`\nthe soak could not run: ${(err as Error).stack ?? err}`);
  await fleet?.stop(0);
  if (system) {
    saveLogs(system);
    await system.kill();
  }
  console.error(`its files are in ${work}`);
  process.exit(2);
}
