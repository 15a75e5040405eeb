// A short soak, so `npm run soak` never rots: 45 s of mixed load with a worker killed every 10 s and the
// runtime killed (SIGKILL) and restarted once, then every check of the full soak. The ten-minute run is
// `npm run soak`; its figures are in SECURITY.md.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');
const out = resolve(root, 'test-results', 'soak-short.json');

describe('npm run soak, short', () => {
  it('loses nothing, records one result per task and answers no 5xx through a runtime kill and worker kills', async () => {
    rmSync(out, { force: true });
    const child = spawn(
      'npm',
      ['run', 'soak', '--silent', '--', '--minutes', '0.75', '--kill-runtime-every', '30', '--kill-worker-every', '10', '--out', out],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const code = await new Promise<number | null>((done) => child.once('exit', done));
    expect(code, output).toBe(0);

    const result = JSON.parse(readFileSync(out, 'utf8'));
    expect(result.ok).toBe(true);
    // The faults really happened: the runtime went down and came back, workers died mid-work.
    expect(result.runtimeKills).toHaveLength(1);
    expect(result.workerKills).toBeGreaterThanOrEqual(2);
    // Work of every kind was owed and ended: plain tasks, workflows, schedule slots.
    const f = result.figures;
    expect(f.owedTasks).toBeGreaterThan(200);
    expect(f.byEnd.succeeded).toBeGreaterThan(200);
    expect(f.workflows).toBeGreaterThan(0);
    expect(f.scheduleSlots).toBeGreaterThan(10);
    // The zero-loss figures.
    for (const key of ['lost', 'twoSuccesses', 'wrongRun', 'wrongEnd', 'workflows', 'serverErrors', 'slotsTwice', 'idempotency', 'storage']) {
      expect(result.violations[key].count, `${key}: ${JSON.stringify(result.violations[key].examples).slice(0, 2000)}`).toBe(0);
    }
    expect(output).toContain('soak passed');
  }, 300_000);
});
