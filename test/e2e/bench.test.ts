// The bench in quick mode, so it never rots: every system runs every scenario once and the
// figures, the table and the chart come out whole. drover-python (the hub with the Python
// package as producer and worker) needs only /usr/bin/python3, so it always runs; celery-drover
// (Celery with drover as its broker) needs Celery and a redis-server, as the peers do.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Result } from '../bench/run.ts';
import { findMissing } from '../bench/redis.ts';
import { defaultStateOn } from '../bench/drover.ts';

const root = resolve(import.meta.dirname, '..', '..');
const out = resolve(root, 'test-results', 'bench-quick.json');
const chart = resolve(root, 'test-results', 'bench-quick.svg');

describe('npm run bench --quick', () => {
  it('measures drover, drover-python, celery-drover, BullMQ and Celery on every scenario and writes the JSON and the chart', async () => {
    // CI installs the peers' Debian packages; elsewhere the bench says what is missing and runs drover alone.
    const packages = findMissing().length === 0 || !!process.env.CI;
    const peers = packages ? ['bullmq', 'celery'] : [];
    const ours = ['drover', 'drover-python', ...(packages ? ['celery-drover'] : [])];
    for (const f of [out, chart]) rmSync(f, { force: true });
    const child = spawn('npm', ['run', 'bench', '--silent', '--', '--quick', '--out', out, '--chart', chart, '--only', [...ours, ...peers].join(',')], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const code = await new Promise<number | null>((done) => child.once('exit', done));
    expect(code, output).toBe(0);

    const result = JSON.parse(readFileSync(out, 'utf8')) as Result;
    expect(result.systems.map((s) => s.name)).toEqual([...ours, ...peers]);
    for (const s of result.scenarios) {
      for (const name of s.droverOnly ? ['drover'] : [...ours, ...peers]) {
        const f = s.figures[name];
        expect(f, `${s.key} of ${name}`).toBeDefined();
        expect(f.runs).toHaveLength(1);
        expect(f.median).toBeGreaterThan(0);
        // Throughputs are tasks per second of tasks really run; nothing here is faster than light.
        if (s.unit === 'tasks/s') expect(f.median).toBeLessThan(1_000_000);
      }
    }
    // Singles over plain HTTP are drover's alone: the others' cells are "-".
    expect(result.scenarios.find((s) => s.key === 'enqueueHttp')?.droverOnly).toBe(true);
    expect(output).toMatch(/enqueue 300 singly over HTTP, 50 clients +[\d,]+\/s \([\d,]+-[\d,]+\) +-/);
    // The machine, the runtime's CPU per task in the drain and the statements per task end to end.
    expect(result.machine.cores).toBeGreaterThan(0);
    expect(result.machine.workerd).toMatch(/^\d+\.\d+/);
    expect(result.machine.commit).toMatch(/^[0-9a-f]{7,}(\+dirty)?$/);
    expect(result.hubCpuUsPerTask?.runs).toHaveLength(1);
    expect(result.hubCpuUsPerTask!.median).toBeGreaterThan(0);
    expect(result.statementsPerTask?.total.median).toBeGreaterThan(0);
    expect(result.statementsPerTask!.total.median).toBeCloseTo(result.statementsPerTask!.object.median + result.statementsPerTask!.d1.median);
    expect(output).toMatch(/SQLite statements per task end to end \(drover\): [\d.]+ \(object [\d.]+, D1 [\d.]+\)/);
    // At the latency scenario's rate each task goes alone: more statements a task than in batches.
    expect(result.statementsAtRate!.total.median).toBeGreaterThan(result.statementsPerTask!.total.median);
    expect(output).toMatch(/SQLite statements per task at 100\/s, one at a time \(drover\): [\d.]+ \(object [\d.]+, D1 [\d.]+\)/);
    // Every goal is met, short, or said to be unmeasured; quick mode runs no 4 shards.
    expect(result.goals.length).toBeGreaterThanOrEqual(13);
    for (const g of result.goals) expect(output).toContain(g.goal);
    expect(result.goals.find((g) => g.goal.startsWith('4 shards'))?.met).toBeNull();
    const measured = result.goals.filter((g) => g.met !== null);
    expect(measured.length).toBeGreaterThanOrEqual(packages ? 9 : 4);
    for (const g of measured) expect(output).toMatch(new RegExp(`${g.goal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +\\S.* (met|short by)`));
    expect(result.backlog?.map((p) => p.waiting)).toEqual([1000, 10_000]);
    for (const p of result.backlog!) {
      expect(p.claimAckMs).toBeGreaterThan(0);
      expect(p.peakRssBytes).toBeGreaterThan(10 * 2 ** 20);
    }
    // Claim cost under per-key limits: no keys, 1,000 keys, 1,000 keys of which 900 are throttled.
    expect(result.keys?.map((p) => [p.keys, p.throttled])).toEqual([[0, 0], [1000, 0], [1000, 900]]);
    for (const p of result.keys!) expect(p.claimAckMs).toBeGreaterThan(0);
    expect(output).toMatch(/1,000 keys, 900 throttled +[\d.]+ ms median +[\d.]+x of no keys/);
    // npm start's time to a healthy hub, on an empty state directory and again on the same one.
    for (const f of [result.start!.first, result.start!.warm]) {
      expect(f.runs).toHaveLength(1);
      expect(f.median).toBeGreaterThan(0);
    }
    expect(output).toMatch(/start \(drover\): a healthy hub [\d.]+ s \([\d.]+-[\d.]+\) after npm start on an empty state directory, [\d.]+ s/);
    // One queue over one and over two QueueObjects, each drained and run end to end.
    expect(result.shards?.map((p) => p.shards)).toEqual([1, 2]);
    for (const p of result.shards!) for (const f of [p.drain, p.endToEnd]) expect(f.median).toBeGreaterThan(0);
    expect(output).toMatch(/ 2 shard\(s\)  drain [\d,]+\/s/);
    // The state sits in /dev/shm (where there is one) as the peers' redis keeps none; latency is
    // then measured again with it on disk.
    if (defaultStateOn() === 'memory') {
      expect(result.systems[0].setup).toMatch(/^state in \/dev\/shm/);
      for (const q of ['p50', 'p95', 'p99'] as const) expect(result.diskLatency?.[q].runs).toHaveLength(1);
      expect(output).toMatch(/latency at 100\/s \(drover, state on disk\): p50 [\d.]+ ms/);
    }
    // The table names every scenario with a ratio to each peer (Celery over drover to Celery alone),
    // and the chart draws a bar per system.
    for (const peer of peers) for (const name of ours) if (name !== 'celery-drover' || peer === 'celery') expect(output).toContain(`${name}/${peer}`);
    if (packages) expect(output).not.toContain('celery-drover/bullmq');
    expect(output).toContain('drain 2,000 waiting');
    expect(existsSync(chart)).toBe(true);
    const svg = readFileSync(chart, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<rect class="bar"/g)?.length).toBe(4 * (ours.length + peers.length) + 1);
    expect(svg.match(/<rect class="shard-bar"/g)?.length).toBe(2 * 2);
  }, 600_000);
});
