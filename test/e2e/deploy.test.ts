// The repository deploys unchanged: wrangler bundles and checks the hub and each regional consumer with no account.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');
const configs = ['wrangler.toml', ...readdirSync(join(root, 'workers')).map((w) => `workers/${w}/wrangler.toml`)];

it.each(configs)('passes `wrangler deploy --dry-run -c %s`', (config) => {
  const outdir = mkdtempSync(join(tmpdir(), 'drover-deploy-'));
  const run = spawnSync('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', outdir, '-c', config], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
  });
  expect(run.status, run.stdout + run.stderr).toBe(0);
  expect(run.stdout + run.stderr).toMatch(/--dry-run: exiting now/);
  expect(readdirSync(outdir).some((f) => f.endsWith('.js'))).toBe(true);
  expect(existsSync(join(outdir, 'index.js'))).toBe(true);
});
