// The repository deploys unchanged: wrangler bundles and checks the hub and each regional consumer with no account.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');
/** The regional consumers npm start runs: a deployment's own under workers/, the examples' under examples/<name>/workers/. */
const folders = (dir: string) => (existsSync(join(root, dir)) ? readdirSync(join(root, dir)).map((name) => `${dir}/${name}`) : []);
const regional = ['workers', ...folders('examples').map((e) => `${e}/workers`)]
  .flatMap(folders)
  .map((dir) => `${dir}/wrangler.toml`)
  .filter((file) => existsSync(join(root, file)));
const configs = ['wrangler.toml', ...regional];

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
  // The bundle is named after the config's entry: hub.js for the hub, index.js for a regional consumer.
  const main = basename(readConfig({ config: join(root, config) }).main!, '.ts');
  expect(existsSync(join(outdir, `${main}.js`))).toBe(true);
});

// A Worker without routes deploys to workers.dev unless workers_dev is false, and an unset preview_urls
// keeps whatever the account has: both must be false, read as deploy reads the config.
const { unstable_readConfig: readConfig } = createRequire(import.meta.url)('wrangler') as typeof import('wrangler');

it.each(regional)('deploys %s with no public address: workers_dev and preview_urls off', (config) => {
  const parsed = readConfig({ config: join(root, config) });
  expect(parsed.workers_dev).toBe(false);
  expect(parsed.preview_urls).toBe(false);
});

it('finds the regional consumers the scraping example ships, so the checks above are not run on nothing', () => {
  expect(regional).toEqual(expect.arrayContaining(['examples/scrape/workers/apac/wrangler.toml', 'examples/scrape/workers/weur/wrangler.toml']));
});
