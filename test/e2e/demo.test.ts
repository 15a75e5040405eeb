// `npm run demo` keeps working: three regions, every page fetched from its own region, no internet.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';

it('runs the scraping demo to its per-region summary', () => {
  const run = spawnSync('npm', ['run', 'demo', '--silent'], { cwd: resolve(import.meta.dirname, '../..'), encoding: 'utf8', timeout: 150_000 });
  const out = run.stdout.replace(/\r[^\n]*/g, '');
  expect(run.status, out + run.stderr).toBe(0);
  expect(out).toMatch(/^cn\s+12\s+cn-pull-1\s+0\s/m);
  expect(out).toMatch(/^weur\s+12\s+weur-regional\s+0\s/m);
  expect(out).toMatch(/^apac\s+12\s+apac-regional\s+0\s/m);
  expect(out).toContain('every page was fetched from its own region');
});
