// The repository deploys unchanged: wrangler bundles and checks the hub and each regional consumer with no account.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { regionalConfigs } from '../../bin/deploy.ts';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');
/** The regional consumers npm start runs and npm run deploy deploys, relative to the repository. */
const regional = regionalConfigs(root).map((file) => relative(root, file));
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

describe('npm run deploy', () => {
  it('prints its plan with --dry-run, in order, and changes nothing', () => {
    const before = readFileSync(join(root, 'wrangler.toml'), 'utf8');
    const run = spawnSync('npm', ['run', '--silent', 'deploy', '--', '--dry-run', '--tokens', 'p1:enqueue,w1:consume@weur,a1:consume@apac,adm:admin'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    });
    expect(run.status, run.stderr).toBe(0);
    const steps = run.stdout.split('\n').filter((l) => /^\d+\. /.test(l));
    expect(run.stdout).toMatch(/dry run: nothing is created, changed or deployed/);
    expect(steps).toEqual([
      '1. D1 database "drover" (binding DB): create it if the account has none by that name, and write its id into wrangler.toml',
      '2. D1 database "drover-p1" (binding DB_P1): create it if the account has none by that name, and write its id into wrangler.toml',
      '3. D1 database "drover-p2" (binding DB_P2): create it if the account has none by that name, and write its id into wrangler.toml',
      '4. D1 database "drover-p3" (binding DB_P3): create it if the account has none by that name, and write its id into wrangler.toml',
      '5. D1 database "drover-eu" (binding DB_EU) in the eu jurisdiction: create it if the account has none by that name, and write its id into wrangler.toml',
      '6. Queue "drover-bus": create it if the account lacks it',
      '7. D1 migrations of "drover" (migrations): apply those the remote database lacks',
      '8. D1 migrations of "drover-p1" (migrations): apply those the remote database lacks',
      '9. D1 migrations of "drover-p2" (migrations): apply those the remote database lacks',
      '10. D1 migrations of "drover-p3" (migrations): apply those the remote database lacks',
      '11. D1 migrations of "drover-eu" (migrations): apply those the remote database lacks',
      '12. Secret DROVER_TOKENS of "drover": set to the 4 token(s) given',
      '13. Secret DROVER_TOKENS of regional consumer "drover-apac" (region apac): the 2 given token(s) that may consume from apac',
      '14. Deploy regional consumer "drover-apac" (examples/scrape/workers/apac/wrangler.toml), woken by the hub as region apac',
      '15. Secret DROVER_TOKENS of regional consumer "drover-weur" (region weur): the 2 given token(s) that may consume from weur',
      '16. Deploy regional consumer "drover-weur" (examples/scrape/workers/weur/wrangler.toml), woken by the hub as region weur',
      '17. Deploy the hub "drover" (wrangler.toml)',
    ]);
    expect(readFileSync(join(root, 'wrangler.toml'), 'utf8')).toBe(before);
  });

  it('leaves the secrets as they are without --tokens', () => {
    const run = spawnSync('npm', ['run', '--silent', 'deploy', '--', '--dry-run'], { cwd: root, encoding: 'utf8', env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Secret DROVER_TOKENS of "drover": left as it is \(no --tokens given\)/);
    expect(run.stdout).not.toMatch(/Secret DROVER_TOKENS of regional consumer/);
  });

  it('creates what the account lacks, writes the database id, sets each Worker its tokens and deploys consumers before the hub', () => {
    // A project whose wrangler is a stand-in: it reads configs as wrangler does, and its command line
    // records each call (and what was piped in) and answers as an account without the database and queue would.
    const project = mkdtempSync(join(tmpdir(), 'drover-deploy-project-'));
    const fake = join(project, 'node_modules', 'wrangler');
    mkdirSync(join(fake, 'bin'), { recursive: true });
    const realWrangler = createRequire(import.meta.url).resolve('wrangler');
    writeFileSync(join(fake, 'package.json'), JSON.stringify({ name: 'wrangler', main: 'index.cjs', exports: { '.': './index.cjs', './package.json': './package.json' } }));
    writeFileSync(join(fake, 'index.cjs'), `module.exports = require(${JSON.stringify(realWrangler)});`);
    writeFileSync(
      join(fake, 'bin', 'wrangler.js'),
      `const fs = require('node:fs');
const args = process.argv.slice(2);
const input = args[0] === 'secret' ? fs.readFileSync(0, 'utf8') : '';
fs.appendFileSync('calls.log', JSON.stringify({ args, input }) + '\\n');
const created = fs.existsSync('created') ? fs.readFileSync('created', 'utf8').split('\\n').filter(Boolean) : [];
const uuids = { 'my-hub': '11111111-2222-4333-8444-555555555555', 'my-hub-eu': '22222222-2222-4333-8444-555555555555' };
if (args[0] === 'd1' && args[1] === 'list') console.log(JSON.stringify(created.map((name) => ({ name, uuid: uuids[name] }))));
if (args[0] === 'd1' && args[1] === 'create') fs.appendFileSync('created', args[2] + '\\n');
`,
    );
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'my-hub', private: true }));
    writeFileSync(
      join(project, 'wrangler.toml'),
      `name = "my-hub"\nmain = "hub.ts"\ncompatibility_date = "2026-10-01"\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "my-hub"\ndatabase_id = "00000000-0000-4000-8000-000000000000"\n` +
        `[[d1_databases]]\nbinding = "DB_EU"\ndatabase_name = "my-hub-eu"\ndatabase_id = "00000000-0000-4000-8000-000000000001"\n` +
        `[[queues.producers]]\nbinding = "BUS"\nqueue = "my-bus"\n[[services]]\nbinding = "REGION_WEUR"\nservice = "my-weur"\n`,
    );
    mkdirSync(join(project, 'workers', 'weur'), { recursive: true });
    writeFileSync(join(project, 'workers', 'weur', 'wrangler.toml'), 'name = "my-weur"\nmain = "index.ts"\ncompatibility_date = "2026-10-01"\n');

    const run = spawnSync(process.execPath, [join(root, 'bin', 'drover.ts'), 'deploy', '--tokens', 'p:enqueue,w:consume@weur,x:consume@apac'], { cwd: project, encoding: 'utf8' });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    const calls = readFileSync(join(project, 'calls.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { args: string[]; input: string });
    const weur = join(project, 'workers', 'weur', 'wrangler.toml');
    const hub = join(project, 'wrangler.toml');
    expect(calls.map((c) => c.args.join(' '))).toEqual([
      'd1 list --json',
      'd1 create my-hub',
      'd1 list --json',
      'd1 list --json',
      'd1 create my-hub-eu --jurisdiction eu',
      'd1 list --json',
      'queues list',
      'queues create my-bus',
      `d1 migrations apply DB --remote -c ${hub}`,
      `d1 migrations apply DB_EU --remote -c ${hub}`,
      `secret put DROVER_TOKENS -c ${hub}`,
      `secret put DROVER_TOKENS -c ${weur}`,
      `deploy -c ${weur}`,
      `deploy -c ${hub}`,
    ]);
    expect(calls[10].input).toBe('p:enqueue,w:consume@weur,x:consume@apac');
    expect(calls[11].input).toBe('w:consume@weur');
    expect(readFileSync(hub, 'utf8')).toContain('database_id = "11111111-2222-4333-8444-555555555555"');
    expect(readFileSync(hub, 'utf8')).toContain('database_id = "22222222-2222-4333-8444-555555555555"');
  });
});
