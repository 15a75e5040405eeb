// `drover deploy`: a hub and its regional consumers onto Cloudflare in one command. Creates the D1
// database and the queues the hub's wrangler config names when the account lacks them, applies the
// remote D1 migrations, sets the token secrets it is given, deploys the regional consumers, then the
// hub. `--dry-run` prints that plan and touches nothing: no account is needed for it.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from './command.ts';

export interface DeployOptions {
  /** The project: its wrangler.toml is the hub's. */
  root: string;
  dryRun: boolean;
  /** DROVER_TOKENS for the hub (name:scope, comma-separated); absent: the secret is left as it is. */
  tokens?: string;
  log: (line: string) => void;
}

interface Config {
  name?: string;
  main?: string;
  d1_databases?: { binding: string; database_name?: string; database_id?: string; migrations_dir?: string }[];
  queues?: { producers?: { queue: string }[]; consumers?: { queue: string }[] };
  services?: { binding: string; service: string }[];
}

/**
 * The regional consumers deployed with the hub: one folder each with a wrangler.toml, a deployment's
 * own under workers/ and the examples' under examples/<name>/workers/ (npm start runs the same).
 */
export function regionalConfigs(root: string): string[] {
  const folders = (dir: string) => (existsSync(dir) ? readdirSync(dir).map((name) => join(dir, name)) : []);
  return [join(root, 'workers'), ...folders(join(root, 'examples')).map((example) => join(example, 'workers'))]
    .flatMap(folders)
    .map((dir) => join(dir, 'wrangler.toml'))
    .filter((file) => existsSync(file))
    .sort();
}

/** The hub's tokens a region's consumer lets in: those that may consume from that region. */
export function tokensForRegion(tokens: string, region: string): string {
  return tokens
    .split(',')
    .map((t) => t.trim())
    .filter((t) => {
      const scopes = t.slice(t.lastIndexOf(':') + 1).split('+');
      return scopes.some((s) => s === 'admin' || s === 'consume' || s === `consume@${region}`);
    })
    .join(',');
}

export function deploy(options: DeployOptions): void {
  const { root, dryRun, log } = options;
  const fromProject = createRequire(join(root, 'package.json'));
  const { unstable_readConfig: readConfig } = fromProject('wrangler') as typeof import('wrangler');
  const wranglerBin = join(fromProject.resolve('wrangler/package.json'), '..', 'bin', 'wrangler.js');
  const hubConfig = join(root, 'wrangler.toml');
  const hub = readConfig({ config: hubConfig }) as Config;
  const name = (p: string) => relative(root, p) || '.';

  function wrangler(args: string[], input?: string): string {
    const done = spawnSync(process.execPath, [wranglerBin, ...args], { cwd: root, encoding: 'utf8', input, stdio: [input === undefined ? 'inherit' : 'pipe', 'pipe', 'inherit'] });
    if (done.status !== 0) throw new Error(`wrangler ${args.join(' ')} failed:\n${done.stdout}`);
    return done.stdout;
  }

  // Which region each regional consumer serves: the hub wakes it through REGION_<REGION> (service = its name).
  const regionOf = new Map((hub.services ?? []).filter((s) => s.binding.startsWith('REGION_')).map((s) => [s.service, s.binding.slice(7).toLowerCase().replace(/_/g, '-')]));
  const regional = regionalConfigs(root).map((config) => ({ config, name: (readConfig({ config }) as Config).name! }));

  const steps: { say: string; run: () => void }[] = [];
  for (const db of hub.d1_databases ?? []) {
    const dbName = db.database_name!;
    // A jurisdiction's database (DB_EU, DB_FEDRAMP: see DROVER_JURISDICTIONS) is made inside it.
    const jurisdiction = jurisdictionOfBinding(db.binding);
    const within = jurisdiction ? ` in the ${jurisdiction} jurisdiction` : '';
    steps.push({
      say: `D1 database "${dbName}" (binding ${db.binding})${within}: create it if the account has none by that name, and write its id into ${name(hubConfig)}`,
      run: () => {
        const list = () => JSON.parse(wrangler(['d1', 'list', '--json'])) as { name: string; uuid: string }[];
        let found = list().find((d) => d.name === dbName);
        if (!found) {
          wrangler(['d1', 'create', dbName, ...(jurisdiction ? ['--jurisdiction', jurisdiction] : [])]);
          found = list().find((d) => d.name === dbName);
          if (!found) throw new Error(`D1 database "${dbName}" was created but is not listed`);
          log(`created D1 database "${dbName}" (${found.uuid})`);
        }
        if (db.database_id !== found.uuid) {
          writeFileSync(hubConfig, readFileSync(hubConfig, 'utf8').replace(`database_id = "${db.database_id}"`, `database_id = "${found.uuid}"`));
          log(`wrote database_id ${found.uuid} into ${name(hubConfig)}`);
        }
      },
    });
  }
  const queues = [...new Set([...(hub.queues?.producers ?? []), ...(hub.queues?.consumers ?? [])].map((q) => q.queue))];
  for (const queue of queues) {
    steps.push({
      say: `Queue "${queue}": create it if the account lacks it`,
      run: () => {
        const listed = wrangler(['queues', 'list']);
        if (new RegExp(`(^|[\\s│|])${queue.replace(/[-]/g, '\\-')}([\\s│|]|$)`, 'm').test(listed)) return;
        wrangler(['queues', 'create', queue]);
        log(`created queue "${queue}"`);
      },
    });
  }
  for (const db of hub.d1_databases ?? []) {
    steps.push({
      say: `D1 migrations of "${db.database_name}" (${db.migrations_dir ?? 'migrations'}): apply those the remote database lacks`,
      run: () => void wrangler(['d1', 'migrations', 'apply', db.binding, '--remote', '-c', hubConfig], ''),
    });
  }
  if (options.tokens !== undefined) {
    const tokens = options.tokens;
    steps.push({ say: `Secret DROVER_TOKENS of "${hub.name}": set to the ${tokens.split(',').length} token(s) given`, run: () => void wrangler(['secret', 'put', 'DROVER_TOKENS', '-c', hubConfig], tokens) });
  } else {
    steps.push({ say: `Secret DROVER_TOKENS of "${hub.name}": left as it is (no --tokens given)`, run: () => undefined });
  }
  for (const r of regional) {
    const region = regionOf.get(r.name);
    if (options.tokens !== undefined && region) {
      const theirs = tokensForRegion(options.tokens, region);
      steps.push({
        say: `Secret DROVER_TOKENS of regional consumer "${r.name}" (region ${region}): the ${theirs ? theirs.split(',').length : 0} given token(s) that may consume from ${region}`,
        run: () => void wrangler(['secret', 'put', 'DROVER_TOKENS', '-c', r.config], theirs),
      });
    }
    steps.push({ say: `Deploy regional consumer "${r.name}" (${name(r.config)})${region ? `, woken by the hub as region ${region}` : ', which the hub has no REGION_ binding for'}`, run: () => void wrangler(['deploy', '-c', r.config]) });
  }
  steps.push({ say: `Deploy the hub "${hub.name}" (${name(hubConfig)})`, run: () => void wrangler(['deploy', '-c', hubConfig]) });

  log(dryRun ? 'drover deploy: the plan (dry run: nothing is created, changed or deployed)' : 'drover deploy');
  steps.forEach((step, i) => {
    log(`${i + 1}. ${step.say}`);
    if (!dryRun) step.run();
  });
  if (!dryRun) log(`deployed "${hub.name}" and ${regional.length} regional consumer(s)`);
}

const usage = `usage: drover deploy [--dry-run] [--tokens TOKENS]
Deploys the hub of ./wrangler.toml and its regional consumers onto Cloudflare: creates its D1
database and queues if missing, applies remote migrations, sets DROVER_TOKENS to TOKENS (the
hub's; each regional consumer gets those that may consume from its region), deploys.
--dry-run prints the plan and changes nothing.`;

export const deployCommand: Command = {
  name: 'deploy',
  summary: 'deploy the hub and its regional consumers onto Cloudflare',
  usage,
  async run(args) {
    const { values } = parseArgs({ args, options: { 'dry-run': { type: 'boolean', default: false }, tokens: { type: 'string' } } });
    try {
      deploy({ root: resolve('.'), dryRun: values['dry-run'], tokens: values.tokens, log: (line) => process.stdout.write(`${line}\n`) });
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
      return 1;
    }
    return 0;
  },
};

/** The jurisdiction a D1 binding's database is made in: DB_EU in eu, DB_FEDRAMP in fedramp (src/core/jurisdictions.ts), none for others. */
export function jurisdictionOfBinding(binding: string): string | null {
  return { DB_EU: 'eu', DB_FEDRAMP: 'fedramp' }[binding] ?? null;
}
