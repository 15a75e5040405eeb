// The repository deploys unchanged: wrangler bundles and checks the hub with no account.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';

it('passes `wrangler deploy --dry-run`', () => {
  const root = resolve(import.meta.dirname, '..', '..');
  const outdir = mkdtempSync(join(tmpdir(), 'drover-deploy-'));
  const run = spawnSync('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', outdir], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
  });
  expect(run.status, run.stdout + run.stderr).toBe(0);
  expect(run.stdout + run.stderr).toMatch(/--dry-run: exiting now/);
  expect(readdirSync(outdir).some((f) => f.endsWith('.js'))).toBe(true);
  expect(existsSync(join(outdir, 'index.js'))).toBe(true);
});
